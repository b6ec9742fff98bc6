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
#![no_std]
#![forbid(unsafe_code)]

use core::fmt;
use zerocopy::little_endian::{U16, U32, U64};
use zerocopy::{FromBytes, Immutable, IntoBytes, KnownLayout};

/// First bytes of a system spec.
pub const MAGIC: [u8; 8] = *b"ULDFSPEC";
/// Bumped whenever a record layout changes (2: fault policies and the fault-notice table).
pub const VERSION: u32 = 2;
/// Most PDs a system may have (channel badges and ids fit in 63 bits).
pub const MAX_PDS: usize = 63;
/// Channel, IRQ and I/O port ids are `0..MAX_IDS`.
pub const MAX_IDS: usize = 63;

/// Where each kind of capability sits in a PD's CSpace. The PD's CNode has
/// `2^CNODE_BITS` slots and a guard that makes it resolve a whole 64-bit cptr.
pub mod pools;

pub mod cspace {
    /// Size of every PD's CNode, in bits.
    pub const CNODE_BITS: u8 = 9;
    /// The PD's own notification (bound to its TCB): what a non-server PD waits on.
    pub const NOTIFICATION: u64 = 1;
    /// The PD's own endpoint, present only when some channel lets a peer `pp` into it.
    pub const ENDPOINT: u64 = 2;
    /// The monitor's fault endpoint, badged with the PD's index (used by the kernel only).
    pub const FAULT_EP: u64 = 3;
    /// `NOTIFY_BASE + id`: the peer's notification, badged with `1 << peer_id`.
    pub const NOTIFY_BASE: u64 = 10;
    /// `PP_BASE + id`: the peer's endpoint, badged with `PP_BADGE | peer_id`.
    pub const PP_BASE: u64 = 74;
    /// `IRQ_BASE + id`: the IRQ handler cap of the PD's IRQ `id`.
    pub const IRQ_BASE: u64 = 138;
    /// `IOPORT_BASE + id`: an I/O port cap restricted to the PD's range `id`.
    pub const IOPORT_BASE: u64 = 202;
    /// Badge bit that marks a message on a server's endpoint as a PPC (not a notification).
    ///
    /// seL4 5.0 badges are only [`BADGE_BITS`] wide (`seL4_BadgeBits`; `CNode_Mint` rejects
    /// wider ones and a debug kernel asserts), so this is the top badge bit, and notification
    /// and IRQ badges (`1 << id`) use only ids below [`NOTIFY_ID_LIMIT`]: on a server, whose
    /// bound notification's word arrives as the badge of a `Recv` on its endpoint, the two
    /// kinds can then never be confused.
    pub const PP_BADGE: u64 = 1 << (BADGE_BITS - 1);
    /// Width of a badge in seL4 5.0 (`seL4_BadgeBits`).
    pub const BADGE_BITS: u32 = 28;
    /// Channel ids that notify, and IRQ ids, must be below this (their badge bit must fit
    /// below [`PP_BADGE`]).
    pub const NOTIFY_ID_LIMIT: u8 = (BADGE_BITS - 1) as u8;
}

// Every badge the initialiser mints must fit seL4 5.0's 28 badge bits, and a PPC badge
// (PP_BADGE | id) must never look like a set of notification bits: checked at compile time.
const _: () = {
    use cspace::*;
    assert!(PP_BADGE >> BADGE_BITS == 0);
    assert!((PP_BADGE | (MAX_IDS as u64 - 1)) >> BADGE_BITS == 0);
    assert!(1u64 << (NOTIFY_ID_LIMIT - 1) < PP_BADGE);
    assert!(((1u64 << NOTIFY_ID_LIMIT) - 1) & PP_BADGE == 0);
};

/// A string in the blob.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, FromBytes, IntoBytes, KnownLayout, Immutable)]
#[repr(C)]
pub struct StrRef {
    pub offset: U32,
    pub len: U32,
}

/// A run of records in one table: `first .. first + count`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, FromBytes, IntoBytes, KnownLayout, Immutable)]
#[repr(C)]
pub struct Range {
    pub first: U32,
    pub count: U32,
}

impl Range {
    fn span(&self) -> Option<core::ops::Range<usize>> {
        let first = self.first.get() as usize;
        Some(first..first.checked_add(self.count.get() as usize)?)
    }
}

/// Where a table lives: byte offset from the start of the spec and number of entries
/// (bytes, for the blob).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, FromBytes, IntoBytes, KnownLayout, Immutable)]
#[repr(C)]
pub struct Table {
    pub offset: U64,
    pub count: U64,
}

/// The spec's header.
#[derive(Clone, Copy, Debug, FromBytes, IntoBytes, KnownLayout, Immutable)]
#[repr(C)]
pub struct Header {
    pub magic: [u8; 8],
    pub version: U32,
    /// System-wide flags (`SYS_*`).
    pub flags: U32,
    /// Length of the whole spec (header, tables and blob) in bytes.
    pub total_len: U64,
    pub pds: Table,
    pub regions: Table,
    pub maps: Table,
    pub segments: Table,
    pub channels: Table,
    pub irqs: Table,
    pub ioports: Table,
    pub patches: Table,
    pub blob: Table,
    /// [`FaultNotifyRec`]s (added in version 2, after the blob's entry so the older fields
    /// keep their offsets).
    pub fault_notifies: Table,
}

/// How a PD's entry is started, in `rdi` at `_start` (the initialiser sets it; a fresh thread
/// has every register zero): the first start after boot.
pub const START_FIRST: u64 = 0;
/// Restarted by the monitor from a clean image after a fault: the runtime first answers any
/// protected call the old instance was serving with a refusal, so that caller never hangs.
pub const START_RESTARTED: u64 = 1;
/// Stopped by the monitor after a fault (a server): the runtime refuses every protected call
/// from then on and runs none of the PD's code, so no caller of a dead server hangs.
pub const START_STOPPED: u64 = 2;

/// `Header::flags`: the monitor's console refuses `inject` (`<system fault_injection="false">`).
pub const SYS_NO_FAULT_INJECTION: u32 = 1;
/// `Header::flags`: the image was built for the benchmark kernel (per-thread utilisation
/// accounting), so the monitor may use its utilisation syscalls (the console's `cpu`). On any
/// other kernel those syscalls would fault the monitor, so the flag is never guessed.
pub const SYS_BENCH_KERNEL: u32 = 2;

/// `PdRec::flags`: the PD serves PPCs and so has an endpoint.
pub const PD_HAS_ENDPOINT: u8 = 1;

/// `PdRec::fault`: when the PD faults, the monitor reports it and suspends it (the default).
pub const FAULT_STOP: u8 = 0;
/// `PdRec::fault`: when the PD faults, the monitor reports it and restarts it from a clean copy
/// of its program image (writable segments re-copied from the spec, `.bss` zeroed, registers
/// reset to entry and stack top); caps and mappings stay as built. Restarts are bounded.
pub const FAULT_RESTART: u8 = 1;

/// One protection domain.
#[derive(Clone, Copy, Debug, FromBytes, IntoBytes, KnownLayout, Immutable)]
#[repr(C)]
pub struct PdRec {
    pub name: StrRef,
    pub priority: u8,
    pub flags: u8,
    /// Fault policy: [`FAULT_STOP`] or [`FAULT_RESTART`] (the system file's `fault=`).
    pub fault: u8,
    pub _pad: [u8; 5],
    /// ELF entry point.
    pub entry: U64,
    /// Lowest mapped stack address; the page below it is left unmapped as a guard.
    pub stack_bottom: U64,
    /// Stack size in bytes (a multiple of 4 KiB); the initial stack pointer is
    /// `stack_bottom + stack_size`.
    pub stack_size: U64,
    /// Vaddr of the PD's IPC buffer page.
    pub ipc_buffer: U64,
    /// Into the maps table.
    pub maps: Range,
    /// Into the segments table.
    pub segments: Range,
    /// Into the IRQ table.
    pub irqs: Range,
    /// Into the I/O port table.
    pub ioports: Range,
}

/// `RegionRec::kind` values.
pub const REGION_RAM: u8 = 0;
pub const REGION_PHYS: u8 = 1;
pub const REGION_PCI: u8 = 2;

/// One memory region.
#[derive(Clone, Copy, Debug, FromBytes, IntoBytes, KnownLayout, Immutable)]
#[repr(C)]
pub struct RegionRec {
    pub name: StrRef,
    pub size: U64,
    /// 12 (4 KiB) or 21 (2 MiB).
    pub page_bits: u8,
    /// `REGION_RAM`, `REGION_PHYS` or `REGION_PCI`.
    pub kind: u8,
    /// PCI BAR number (kind `REGION_PCI`).
    pub bar: u8,
    pub _pad: u8,
    pub pci: PciId,
    /// Physical address (kind `REGION_PHYS`).
    pub phys_addr: U64,
}

/// A PCI device named by vendor:device and the index among devices with that id.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, FromBytes, IntoBytes, KnownLayout, Immutable)]
#[repr(C)]
pub struct PciId {
    pub vendor: U16,
    pub device: U16,
    pub index: U16,
    pub _pad: U16,
}

/// Map permission bits.
pub const PERM_R: u8 = 1;
pub const PERM_W: u8 = 2;
pub const PERM_X: u8 = 4;

/// A region mapped into a PD.
#[derive(Clone, Copy, Debug, FromBytes, IntoBytes, KnownLayout, Immutable)]
#[repr(C)]
pub struct MapRec {
    pub region: U32,
    pub perms: u8,
    pub cached: u8,
    pub _pad: [u8; 2],
    pub vaddr: U64,
}

/// One loadable ELF segment of a PD (setvars already patched in).
#[derive(Clone, Copy, Debug, FromBytes, IntoBytes, KnownLayout, Immutable)]
#[repr(C)]
pub struct SegmentRec {
    pub vaddr: U64,
    pub mem_size: U64,
    /// Offset of the file bytes in the blob.
    pub data_offset: U64,
    /// Bytes present in the file; the rest up to `mem_size` is zero.
    pub file_size: U64,
    pub perms: u8,
    pub _pad: [u8; 7],
}

/// One end of a channel.
#[derive(Clone, Copy, Debug, FromBytes, IntoBytes, KnownLayout, Immutable)]
#[repr(C)]
pub struct EndRec {
    pub pd: U32,
    pub id: u8,
    /// This end may notify the other.
    pub notify: u8,
    /// This end may make a PPC to the other.
    pub pp: u8,
    pub _pad: u8,
}

/// A channel between two PDs.
#[derive(Clone, Copy, Debug, FromBytes, IntoBytes, KnownLayout, Immutable)]
#[repr(C)]
pub struct ChannelRec {
    pub ends: [EndRec; 2],
}

/// "When PD `pd` faults, the monitor signals PD `target` on `target`'s channel id `id`" (the
/// system file's `<fault_notify pd="target" id="id"/>` inside `pd`'s element). The monitor
/// holds a notification cap to `target`'s notification badged `1 << id`, so the target's
/// runtime hands it to `notified` like any channel; `id` is in the target's id space.
#[derive(Clone, Copy, Debug, FromBytes, IntoBytes, KnownLayout, Immutable)]
#[repr(C)]
pub struct FaultNotifyRec {
    /// The PD whose fault is announced.
    pub pd: U32,
    /// The PD that is told.
    pub target: U32,
    /// Channel id in `target`'s id space (below [`cspace::NOTIFY_ID_LIMIT`]).
    pub id: u8,
    pub _pad: [u8; 7],
}

/// `IrqRec::kind` values.
pub const IRQ_IOAPIC: u8 = 0;
pub const IRQ_PCI: u8 = 1;

/// An interrupt delivered to a PD as a notification on channel `id`.
#[derive(Clone, Copy, Debug, FromBytes, IntoBytes, KnownLayout, Immutable)]
#[repr(C)]
pub struct IrqRec {
    pub id: u8,
    /// `IRQ_IOAPIC` or `IRQ_PCI` (INTx line of the device, resolved at boot).
    pub kind: u8,
    pub ioapic: u8,
    pub pin: u8,
    /// Kernel vector number `0..=107` (the CPU vector is `0x30 +` this).
    pub vector: u8,
    /// 1 = level triggered, 0 = edge.
    pub level: u8,
    /// 1 = active low, 0 = active high.
    pub active_low: u8,
    pub _pad: u8,
    pub pci: PciId,
}

/// An I/O port range granted to a PD.
#[derive(Clone, Copy, Debug, FromBytes, IntoBytes, KnownLayout, Immutable)]
#[repr(C)]
pub struct IoPortRec {
    pub id: u8,
    pub _pad: [u8; 3],
    pub size: U32,
    pub addr: U16,
    pub _pad2: [u8; 6],
}

/// A value the initialiser writes into a PD's memory at boot, once it is known: the
/// physical address of memory region `region` (a `<setvar region_paddr=..>`), stored as a
/// little-endian u64 at `vaddr` in PD `pd` (inside one of its loaded segments). `region ==`
/// [`PATCH_TSC_HZ`] instead means the TSC frequency in Hz (bootinfo's archInfo MHz * 10^6):
/// the image tool emits one such patch per PD, for [`PdInfo::tsc_hz`].
#[derive(Clone, Copy, Debug, FromBytes, IntoBytes, KnownLayout, Immutable)]
#[repr(C)]
pub struct PatchRec {
    pub pd: U32,
    pub region: U32,
    pub vaddr: U64,
}

/// [`PatchRec::region`] value meaning "the TSC frequency in Hz" rather than a region's address.
pub const PATCH_TSC_HZ: u32 = u32::MAX;

/// Why a spec could not be opened.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SpecError {
    TooShort,
    BadMagic,
    BadVersion(u32),
    /// A table or string lies outside the spec or is misaligned in size.
    BadTable(&'static str),
    /// A record refers to something that does not exist.
    BadReference(&'static str),
}

impl fmt::Display for SpecError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SpecError::TooShort => write!(f, "system spec is shorter than its header"),
            SpecError::BadMagic => write!(f, "system spec has a bad magic number (not built by the image tool?)"),
            SpecError::BadVersion(v) => {
                write!(f, "system spec version {v}, this build reads version {VERSION}: rebuild the image")
            }
            SpecError::BadTable(t) => write!(f, "system spec table `{t}` lies outside the spec"),
            SpecError::BadReference(t) => write!(f, "system spec `{t}` refers to a missing record"),
        }
    }
}

/// A validated view of a system spec.
#[derive(Clone, Copy, Debug)]
pub struct Spec<'a> {
    pub pds: &'a [PdRec],
    pub regions: &'a [RegionRec],
    pub maps: &'a [MapRec],
    pub segments: &'a [SegmentRec],
    pub channels: &'a [ChannelRec],
    pub irqs: &'a [IrqRec],
    pub ioports: &'a [IoPortRec],
    pub patches: &'a [PatchRec],
    pub blob: &'a [u8],
    pub fault_notifies: &'a [FaultNotifyRec],
    /// System-wide flags (`SYS_*`).
    pub flags: u32,
}

fn table<'a, T: FromBytes + KnownLayout + Immutable>(
    bytes: &'a [u8],
    t: &Table,
    name: &'static str,
) -> Result<&'a [T], SpecError> {
    let start = usize::try_from(t.offset.get()).map_err(|_| SpecError::BadTable(name))?;
    let count = usize::try_from(t.count.get()).map_err(|_| SpecError::BadTable(name))?;
    let len = count.checked_mul(core::mem::size_of::<T>()).ok_or(SpecError::BadTable(name))?;
    let end = start.checked_add(len).ok_or(SpecError::BadTable(name))?;
    let raw = bytes.get(start..end).ok_or(SpecError::BadTable(name))?;
    <[T]>::ref_from_bytes(raw).map_err(|_| SpecError::BadTable(name))
}

impl<'a> Spec<'a> {
    /// Opens and fully checks a spec: tables in bounds, every range and index pointing at
    /// existing records, every string and segment inside the blob.
    pub fn parse(bytes: &'a [u8]) -> Result<Self, SpecError> {
        let (header, _) = Header::ref_from_prefix(bytes).map_err(|_| SpecError::TooShort)?;
        if header.magic != MAGIC {
            return Err(SpecError::BadMagic);
        }
        if header.version.get() != VERSION {
            return Err(SpecError::BadVersion(header.version.get()));
        }
        let total = usize::try_from(header.total_len.get()).map_err(|_| SpecError::TooShort)?;
        let bytes = bytes.get(..total).ok_or(SpecError::TooShort)?;
        let spec = Spec {
            pds: table(bytes, &header.pds, "pds")?,
            regions: table(bytes, &header.regions, "regions")?,
            maps: table(bytes, &header.maps, "maps")?,
            segments: table(bytes, &header.segments, "segments")?,
            channels: table(bytes, &header.channels, "channels")?,
            irqs: table(bytes, &header.irqs, "irqs")?,
            ioports: table(bytes, &header.ioports, "ioports")?,
            patches: table(bytes, &header.patches, "patches")?,
            blob: table(bytes, &header.blob, "blob")?,
            fault_notifies: table(bytes, &header.fault_notifies, "fault_notifies")?,
            flags: header.flags.get(),
        };
        spec.check()?;
        Ok(spec)
    }

    fn check(&self) -> Result<(), SpecError> {
        if self.pds.len() > MAX_PDS {
            return Err(SpecError::BadTable("pds"));
        }
        for pd in self.pds {
            self.try_str(&pd.name).ok_or(SpecError::BadReference("pd name"))?;
            if pd.fault > FAULT_RESTART {
                return Err(SpecError::BadReference("pd fault policy"));
            }
            fits(&pd.maps, self.maps.len(), "pd maps")?;
            fits(&pd.segments, self.segments.len(), "pd segments")?;
            fits(&pd.irqs, self.irqs.len(), "pd irqs")?;
            fits(&pd.ioports, self.ioports.len(), "pd ioports")?;
        }
        for r in self.regions {
            self.try_str(&r.name).ok_or(SpecError::BadReference("region name"))?;
        }
        for m in self.maps {
            if m.region.get() as usize >= self.regions.len() {
                return Err(SpecError::BadReference("map region"));
            }
        }
        for s in self.segments {
            let start = s.data_offset.get();
            let end = start.checked_add(s.file_size.get());
            if end.is_none_or(|e| e > self.blob.len() as u64) || s.file_size.get() > s.mem_size.get() {
                return Err(SpecError::BadReference("segment data"));
            }
        }
        for p in self.patches {
            let region_ok = p.region.get() == PATCH_TSC_HZ || (p.region.get() as usize) < self.regions.len();
            if p.pd.get() as usize >= self.pds.len() || !region_ok {
                return Err(SpecError::BadReference("patch"));
            }
        }
        for f in self.fault_notifies {
            let (pd, target) = (f.pd.get() as usize, f.target.get() as usize);
            if pd >= self.pds.len() || target >= self.pds.len() || pd == target || f.id >= cspace::NOTIFY_ID_LIMIT {
                return Err(SpecError::BadReference("fault notice"));
            }
        }
        for c in self.channels {
            for e in &c.ends {
                if e.pd.get() as usize >= self.pds.len() || e.id as usize >= MAX_IDS {
                    return Err(SpecError::BadReference("channel end"));
                }
            }
        }
        Ok(())
    }

    fn try_str(&self, s: &StrRef) -> Option<&'a str> {
        let start = s.offset.get() as usize;
        let raw = self.blob.get(start..start.checked_add(s.len.get() as usize)?)?;
        core::str::from_utf8(raw).ok()
    }

    /// A string of the spec (all were checked by `parse`; a foreign `StrRef` gives `"?"`).
    pub fn str(&self, s: &StrRef) -> &'a str {
        self.try_str(s).unwrap_or("?")
    }

    /// The file bytes of a segment (checked by `parse`).
    pub fn segment_data(&self, s: &SegmentRec) -> &'a [u8] {
        let start = s.data_offset.get() as usize;
        self.blob.get(start..start + s.file_size.get() as usize).unwrap_or(&[])
    }

    /// The maps of a PD.
    pub fn pd_maps(&self, pd: &PdRec) -> &'a [MapRec] {
        pd.maps.span().and_then(|r| self.maps.get(r)).unwrap_or(&[])
    }

    /// The segments of a PD.
    pub fn pd_segments(&self, pd: &PdRec) -> &'a [SegmentRec] {
        pd.segments.span().and_then(|r| self.segments.get(r)).unwrap_or(&[])
    }

    /// The IRQs of a PD.
    pub fn pd_irqs(&self, pd: &PdRec) -> &'a [IrqRec] {
        pd.irqs.span().and_then(|r| self.irqs.get(r)).unwrap_or(&[])
    }

    /// The fault notices of PD `index`: whom the monitor signals when it faults.
    pub fn pd_fault_notifies(&self, index: usize) -> impl Iterator<Item = &'a FaultNotifyRec> + 'a {
        self.fault_notifies.iter().filter(move |f| f.pd.get() as usize == index)
    }

    /// The I/O port ranges of a PD.
    pub fn pd_ioports(&self, pd: &PdRec) -> &'a [IoPortRec] {
        pd.ioports.span().and_then(|r| self.ioports.get(r)).unwrap_or(&[])
    }
}

fn fits(r: &Range, len: usize, what: &'static str) -> Result<(), SpecError> {
    match r.span() {
        Some(span) if span.end <= len => Ok(()),
        _ => Err(SpecError::BadReference(what)),
    }
}

/// Symbols in the initialiser's ELF (each a u64) that the image tool sets to the vaddr and
/// length of the spec it appends as an extra loadable segment.
pub const SPEC_VADDR_SYMBOL: &str = "__system_spec_vaddr";
pub const SPEC_LEN_SYMBOL: &str = "__system_spec_len";

/// Symbol in every PD ELF that the image tool fills with a [`PdInfo`].
pub const PD_INFO_SYMBOL: &str = "__pd_info";
/// First bytes of a filled [`PdInfo`] (an unfilled one is all zero).
pub const PD_INFO_MAGIC: [u8; 8] = *b"ULDFPDIN";
/// Longest PD name kept in [`PdInfo`] (longer names are truncated there only).
pub const PD_NAME_MAX: usize = 48;

/// What the runtime of one PD knows about its grants, patched into its ELF.
#[derive(Clone, Copy, Debug, FromBytes, IntoBytes, KnownLayout, Immutable)]
#[repr(C)]
pub struct PdInfo {
    pub magic: [u8; 8],
    /// NUL-padded PD name.
    pub name: [u8; PD_NAME_MAX],
    /// Bit `id` set: channel `id` may be notified.
    pub notify: U64,
    /// Bit `id` set: channel `id` may be PPC-called.
    pub pp: U64,
    /// Bit `id` set: IRQ `id` is granted (and may be acked).
    pub irqs: U64,
    /// Bit `id` set: I/O port range `id` is granted.
    pub ioport_mask: U64,
    /// Vaddr of the IPC buffer.
    pub ipc_buffer: U64,
    /// The PD receives on an endpoint (it serves PPCs) rather than on its notification.
    pub has_endpoint: U64,
    /// I/O port range `id`: first port and size.
    pub ioport_addr: [U16; MAX_IDS],
    pub _pad: U16,
    pub ioport_size: [U32; MAX_IDS],
    pub _pad2: U32,
    /// TSC ticks per second, written by the initialiser at boot (a [`PATCH_TSC_HZ`] patch):
    /// what a PD needs to turn `rdtsc` into time. 0 if the block was never patched.
    pub tsc_hz: U64,
}

impl PdInfo {
    /// The PD's name, or `"?"` when the info block was never filled.
    pub fn name(&self) -> &str {
        let len = self.name.iter().position(|&b| b == 0).unwrap_or(PD_NAME_MAX);
        core::str::from_utf8(&self.name[..len]).unwrap_or("?")
    }

    /// Whether the image tool filled this block.
    pub fn is_filled(&self) -> bool {
        self.magic == PD_INFO_MAGIC
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn record_sizes_are_stable() {
        // The layout is an ABI between two separately built programs: sizes must not drift.
        assert_eq!(core::mem::size_of::<Header>(), 24 + 10 * 16);
        assert_eq!(core::mem::size_of::<FaultNotifyRec>(), 16);
        assert_eq!(core::mem::size_of::<PatchRec>(), 16);
        assert_eq!(core::mem::size_of::<PdRec>(), 8 + 8 + 8 * 4 + 4 * 8);
        assert_eq!(core::mem::size_of::<RegionRec>(), 8 + 8 + 4 + 8 + 8);
        assert_eq!(core::mem::size_of::<MapRec>(), 16);
        assert_eq!(core::mem::size_of::<SegmentRec>(), 40);
        assert_eq!(core::mem::size_of::<ChannelRec>(), 16);
        assert_eq!(core::mem::size_of::<IrqRec>(), 16);
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
