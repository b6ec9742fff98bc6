//! Region views from setvars: [`region!`](crate::region) and
//! [`dma_region!`](crate::dma_region) declare the `NAME` / `NAME_size` (and `NAME_paddr`)
//! setvars that the image tool fills from the PD's `<map setvar_vaddr="NAME"
//! setvar_size="NAME_size">`, and return the region as a [`MappedRegion`] (or an error naming
//! the missing `<map>`). This is the only place a PD turns an address into memory; the views
//! themselves (`MappedRegion`, `Mmio`, `DmaRegion`) live in `support/region`.
//!
//! ```ignore
//! let queues = pd::region!(rx_queues)?;              // MappedRegion
//! let regs = pd::Mmio::new(pd::region!(nic_regs)?);  // device registers
//! let dma = pd::dma_region!(driver_dma)?;            // DmaRegion (needs `driver_dma_paddr`)
//! ```
//! Each region has one owner: a macro call site yields its region once (a second run of the
//! same call is [`RegionError::AlreadyTaken`]), and two call sites for the same name would
//! define the same symbol twice, which the linker refuses.

use core::sync::atomic::{AtomicBool, Ordering};

use crate::SetVar;
pub use region::{DmaRegion, MappedRegion, Mmio, OutOfBounds, RegionError};

/// What `region!` expands to; not for direct use.
#[doc(hidden)]
pub fn take(
    name: &'static str,
    vaddr: &SetVar<u64>,
    size: &SetVar<u64>,
    taken: &AtomicBool,
) -> Result<MappedRegion, RegionError> {
    if taken.swap(true, Ordering::Relaxed) {
        return Err(RegionError::AlreadyTaken { name });
    }
    // SAFETY: the image tool writes `vaddr` and `size` only from a `<map>` of this PD, which
    // the initialiser maps before the PD starts and never unmaps while it runs; this is the
    // only view of that mapping in the PD (`taken` admits one per `region!` call site, and the
    // setvar symbols admit one call site per name). A setvar left at 0 is refused by `new`.
    unsafe { MappedRegion::new(name, vaddr.get() as usize, size.get() as usize) }
}

/// What `dma_region!` expands to; not for direct use.
#[doc(hidden)]
pub fn take_dma(
    name: &'static str,
    vaddr: &SetVar<u64>,
    size: &SetVar<u64>,
    paddr: &SetVar<u64>,
    taken: &AtomicBool,
) -> Result<DmaRegion, RegionError> {
    let region = take(name, vaddr, size, taken)?;
    if paddr.get() == 0 {
        // A DMA region needs its bus address (`<setvar symbol="NAME_paddr" region_paddr=..>`).
        return Err(RegionError::NotMapped { name });
    }
    Ok(DmaRegion::new(region, paddr.get()))
}

/// One setvar static of a region (what `region!` and `dma_region!` declare); not for
/// direct use.
#[doc(hidden)]
#[macro_export]
macro_rules! __region_setvar {
    ($static:ident, $symbol:expr) => {
        #[export_name = $symbol]
        #[used]
        #[link_section = ".data.setvar"]
        static $static: $crate::SetVar<u64> = $crate::SetVar::new(0);
    };
}

/// The region the system file maps at setvars `NAME` / `NAME_size`: `pd::region!(NAME)`
/// gives `Result<MappedRegion, RegionError>`.
#[macro_export]
macro_rules! region {
    ($name:ident) => {{
        $crate::__region_setvar!(VADDR, stringify!($name));
        $crate::__region_setvar!(SIZE, concat!(stringify!($name), "_size"));
        static TAKEN: ::core::sync::atomic::AtomicBool = ::core::sync::atomic::AtomicBool::new(false);
        $crate::region::take(stringify!($name), &VADDR, &SIZE, &TAKEN)
    }};
}

/// Device-visible memory: like [`region!`](crate::region), plus the setvar `NAME_paddr`
/// (`<setvar symbol="NAME_paddr" region_paddr="..."/>`); gives
/// `Result<DmaRegion, RegionError>`.
#[macro_export]
macro_rules! dma_region {
    ($name:ident) => {{
        $crate::__region_setvar!(VADDR, stringify!($name));
        $crate::__region_setvar!(SIZE, concat!(stringify!($name), "_size"));
        $crate::__region_setvar!(PADDR, concat!(stringify!($name), "_paddr"));
        static TAKEN: ::core::sync::atomic::AtomicBool = ::core::sync::atomic::AtomicBool::new(false);
        $crate::region::take_dma(stringify!($name), &VADDR, &SIZE, &PADDR, &TAKEN)
    }};
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unset_setvars_name_the_missing_map() {
        let r = crate::region!(test_missing_region);
        assert_eq!(r.unwrap_err(), RegionError::NotMapped { name: "test_missing_region" });
        let d = crate::dma_region!(test_missing_dma);
        assert_eq!(d.unwrap_err(), RegionError::NotMapped { name: "test_missing_dma" });
    }

    #[test]
    fn a_region_is_taken_once() {
        let backing: &'static mut [u8] = Vec::leak(vec![0u8; 64]);
        let vaddr = SetVar::new(backing.as_mut_ptr() as u64);
        let size = SetVar::new(64u64);
        let taken = AtomicBool::new(false);
        let r = take("t", &vaddr, &size, &taken).unwrap();
        assert_eq!((r.vaddr() as u64, r.size()), (vaddr.get(), 64));
        assert_eq!(take("t", &vaddr, &size, &taken).unwrap_err(), RegionError::AlreadyTaken { name: "t" });
        let no_paddr = SetVar::new(0u64);
        assert_eq!(
            take_dma("t", &vaddr, &size, &no_paddr, &AtomicBool::new(false)).unwrap_err(),
            RegionError::NotMapped { name: "t" }
        );
    }
}
