//! The packed system spec: the one definition of the bytes the image tool writes and the
//! initialiser (root task) and PD runtime read.
//!
//! Two artefacts live here:
//!
//! * the **system spec** — a header followed by fixed-size little-endian record tables (PDs,
//!   memory regions, maps, ELF segments, channels, IRQs, I/O port ranges, fault notices) and
//!   a byte blob
//!   (names and segment contents). The image tool builds it (`mkimage`'s `SpecWriter`);
//!   the initialiser opens it with [`Spec::parse`], which checks every
//!   offset, count and cross-reference so a corrupt image gives an error, never a panic;
//! * the **PD info block** [`PdInfo`] the image tool patches into each PD's ELF at the symbol
//!   [`PD_INFO_SYMBOL`]: the PD's name and which channels, IRQs and I/O ports the system file
//!   granted, so the runtime can refuse an ungranted channel with an error.
//!
//! The capability layout of a PD's CSpace ([`cspace`]) is here too: the initialiser places caps
//! by it and the runtime invokes by it.
//!
//! All integers are little-endian zerocopy types (alignment 1), so records have no padding
//! and can be viewed in place in any byte buffer.
//!
//! Where each part lives: `records.rs` the header and record layouts, `parse.rs` the checked
//! view [`Spec`] and its errors, `pd_info.rs` the PD info block and how a PD is started,
//! `cspace.rs` the CSpace layout, `pools.rs` the buffer-pool records, `bench.rs` the names of
//! the bench kernel's kernel-entry classes.
#![no_std]
#![forbid(unsafe_code)]

mod parse;
mod pd_info;
mod records;

pub mod bench;
pub mod cspace;
pub mod notices;
pub mod pools;

pub use parse::{Spec, SpecError};
pub use pd_info::*;
pub use records::*;

/// First bytes of a system spec.
pub const MAGIC: [u8; 8] = *b"ULDFSPEC";
/// Bumped whenever a record layout changes (2: fault policies and the fault-notice table;
/// 3: DMA grants and the IOMMU requirement in the region record; 4: PCI alternatives in the
/// region and irq records, patch kinds for the bound PCI id).
pub const VERSION: u32 = 4;
/// Most PDs a system may have (channel badges and ids fit in 63 bits).
pub const MAX_PDS: usize = 63;
/// Channel, IRQ and I/O port ids are `0..MAX_IDS`.
pub const MAX_IDS: usize = 63;

/// Symbols in the initialiser's ELF (each a u64) that the image tool sets to the vaddr and
/// length of the spec it appends as an extra loadable segment.
pub const SPEC_VADDR_SYMBOL: &str = "__system_spec_vaddr";
pub const SPEC_LEN_SYMBOL: &str = "__system_spec_len";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn record_sizes_are_stable() {
        // The layout is an ABI between two separately built programs: sizes must not drift.
        assert_eq!(core::mem::size_of::<Header>(), 24 + 10 * 16);
        assert_eq!(core::mem::size_of::<FaultNotifyRec>(), 16);
        assert_eq!(core::mem::size_of::<PatchRec>(), 24);
        assert_eq!(core::mem::size_of::<PdRec>(), 8 + 8 + 8 * 4 + 4 * 8);
        assert_eq!(core::mem::size_of::<RegionRec>(), 8 + 8 + 4 + 8 + 3 * 8 + 3 + 5 + 8 + 4);
        assert_eq!(core::mem::size_of::<MapRec>(), 16);
        assert_eq!(core::mem::size_of::<SegmentRec>(), 40);
        assert_eq!(core::mem::size_of::<ChannelRec>(), 16);
        assert_eq!(core::mem::size_of::<IrqRec>(), 16 + 3 * 8);
        assert_eq!(core::mem::size_of::<IoPortRec>(), 16);
        assert_eq!(core::mem::size_of::<PdInfo>() % 8, 0);
    }

    #[test]
    fn garbage_is_rejected_not_panicking() {
        assert_eq!(Spec::parse(&[]).unwrap_err(), SpecError::TooShort);
        assert_eq!(Spec::parse(&[0u8; 200]).unwrap_err(), SpecError::BadMagic);
        let mut h = [0u8; 200];
        h[..8].copy_from_slice(&MAGIC);
        h[8] = 9;
        assert_eq!(Spec::parse(&h).unwrap_err(), SpecError::BadVersion(9));
    }
}
