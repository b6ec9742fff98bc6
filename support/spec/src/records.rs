//! The spec's byte layouts: the header, its table entries and one fixed-size record type per
//! table, with the flag and kind values their fields take. All little-endian, alignment 1.

use zerocopy::little_endian::{U16, U32, U64};
use zerocopy::{FromBytes, Immutable, IntoBytes, KnownLayout};

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
    pub(crate) fn span(&self) -> Option<core::ops::Range<usize>> {
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
    /// `REGION_*` flags: [`REGION_IOMMU_REQUIRED`].
    pub flags: u8,
    /// The PCI function (kind `REGION_PCI`): the first of the system file's alternatives.
    pub pci: PciId,
    /// The further alternatives in order (`pci="a|b|c"`), unused entries zero (vendor 0);
    /// the initialiser binds the first of `pci`, `pci_alt[..]` that is present. Version 4.
    pub pci_alt: [PciId; PCI_ALTERNATIVES - 1],
    /// The BAR of each of `pci_alt` (as `bar` is `pci`'s). Version 4.
    pub pci_alt_bar: [u8; PCI_ALTERNATIVES - 1],
    pub _pad: [u8; 5],
    /// Physical address (kind `REGION_PHYS`).
    pub phys_addr: U64,
    /// Kind `REGION_RAM`: 1 + the index of the `REGION_PCI` region whose device may DMA into
    /// this region (the system file's `dma=`); 0: no device may. Added in version 3; read it
    /// with [`RegionRec::dma_device`].
    pub dma_to: U32,
}

/// `RegionRec::flags` (kind `REGION_PCI`): the device must not start unless an IOMMU confines
/// its DMA (the system file's `iommu="required"`).
pub const REGION_IOMMU_REQUIRED: u8 = 1;
impl RegionRec {
    /// The index of the `REGION_PCI` region whose device may DMA into this region, if any.
    pub fn dma_device(&self) -> Option<usize> {
        (self.dma_to.get() as usize).checked_sub(1)
    }

    /// The PCI functions this region may bind (kind `REGION_PCI`), in order of preference.
    pub fn pci_candidates(&self) -> impl Iterator<Item = &PciId> {
        candidates(&self.pci, &self.pci_alt)
    }

    /// The BAR of the `n`-th of [`RegionRec::pci_candidates`].
    pub fn bar_of(&self, n: usize) -> u8 {
        match n {
            0 => self.bar,
            n => self.pci_alt_bar.get(n - 1).copied().unwrap_or(self.bar),
        }
    }
}

/// Most PCI ids one region or irq may list (`pci="a|b|c|d"`).
pub const PCI_ALTERNATIVES: usize = 4;

fn candidates<'a>(first: &'a PciId, alt: &'a [PciId]) -> impl Iterator<Item = &'a PciId> {
    core::iter::once(first).chain(alt.iter().take_while(|p| p.vendor.get() != 0))
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
    /// Channel id in `target`'s id space (below [`cspace::NOTIFY_ID_LIMIT`](crate::cspace::NOTIFY_ID_LIMIT)).
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
    /// Kind `IRQ_PCI`: 1 = use the device's MSI (the system file's `msi="true"`), INTx if it
    /// has no MSI capability; 0 = INTx.
    pub msi: u8,
    /// Kind `IRQ_PCI`: the device, as [`RegionRec::pci`]; alternatives as [`RegionRec::pci_alt`].
    pub pci: PciId,
    pub pci_alt: [PciId; PCI_ALTERNATIVES - 1],
}

impl IrqRec {
    /// The PCI functions this irq may come from (kind `IRQ_PCI`), in order of preference.
    pub fn pci_candidates(&self) -> impl Iterator<Item = &PciId> {
        candidates(&self.pci, &self.pci_alt)
    }
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

/// A value the initialiser writes into a PD's memory at boot, once it is known, as a
/// little-endian u64 at `vaddr` in PD `pd` (inside one of its loaded segments): by `kind`,
/// the physical address of memory region `region` (a `<setvar region_paddr=..>`) or the
/// `vendor << 16 | device` of the PCI function bound to `pci=` region `region` (a `<setvar
/// region_pci_id=..>`). `region ==` [`PATCH_TSC_HZ`] (kind [`PATCH_PADDR`]) instead means the
/// TSC frequency in Hz (bootinfo's archInfo MHz * 10^6): the image tool emits one such patch
/// per PD, for [`PdInfo::tsc_hz`](crate::PdInfo::tsc_hz).
#[derive(Clone, Copy, Debug, FromBytes, IntoBytes, KnownLayout, Immutable)]
#[repr(C)]
pub struct PatchRec {
    pub pd: U32,
    pub region: U32,
    pub vaddr: U64,
    /// [`PATCH_PADDR`] or [`PATCH_PCI_ID`] (version 4).
    pub kind: U32,
    pub _pad: U32,
}

/// [`PatchRec::kind`]: the region's physical address.
pub const PATCH_PADDR: u32 = 0;
/// [`PatchRec::kind`]: the PCI id of the function bound to the (`REGION_PCI`) region.
pub const PATCH_PCI_ID: u32 = 1;

/// [`PatchRec::region`] value meaning "the TSC frequency in Hz" rather than a region's address.
pub const PATCH_TSC_HZ: u32 = u32::MAX;
