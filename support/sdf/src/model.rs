//! The typed model of a validated system file: what the image tool, the initialiser's spec
//! writer and the tests consume. Every item keeps the source position it came from, so a
//! later tool can report its own errors (a missing ELF symbol, say) at the right line.

use std::fmt;

/// A 1-based line and column (columns count characters, like roxmltree's `TextPos`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Pos {
    pub line: u32,
    pub col: u32,
}

impl fmt::Display for Pos {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.line, self.col)
    }
}

/// A whole system: `<system>` with its protection domains, memory regions and channels,
/// each list in document order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct System {
    pub pds: Vec<ProtectionDomain>,
    pub regions: Vec<MemoryRegion>,
    pub channels: Vec<Channel>,
    /// `<system fault_injection=..>` (default true): whether the monitor's console may inject
    /// faults (`inject <pd>`).
    pub fault_injection: bool,
    /// Things that are legal but probably not meant (e.g. a region nobody maps).
    pub warnings: Vec<crate::Diagnostic>,
}

impl System {
    /// The PD called `name`, if any.
    pub fn pd(&self, name: &str) -> Option<&ProtectionDomain> {
        self.pds.iter().find(|pd| pd.name == name)
    }

    /// The index of the PD called `name` in [`System::pds`], if any.
    pub fn pd_index(&self, name: &str) -> Option<usize> {
        self.pds.iter().position(|pd| pd.name == name)
    }

    /// The memory region called `name`, if any.
    pub fn region(&self, name: &str) -> Option<&MemoryRegion> {
        self.regions.iter().find(|mr| mr.name == name)
    }

    /// Number of IRQs over all PDs.
    pub fn irq_count(&self) -> usize {
        self.pds.iter().map(|pd| pd.irqs.len()).sum()
    }

    /// Number of I/O port ranges over all PDs.
    pub fn ioport_count(&self) -> usize {
        self.pds.iter().map(|pd| pd.ioports.len()).sum()
    }

    /// The one-line summary `sdf-check` prints, e.g.
    /// `4 PDs, 7 memory regions, 3 channels, 1 IRQ, 0 I/O port ranges`.
    pub fn summary(&self) -> String {
        fn n(count: usize, one: &str, many: &str) -> String {
            format!("{count} {}", if count == 1 { one } else { many })
        }
        format!(
            "{}, {}, {}, {}, {}",
            n(self.pds.len(), "PD", "PDs"),
            n(self.regions.len(), "memory region", "memory regions"),
            n(self.channels.len(), "channel", "channels"),
            n(self.irq_count(), "IRQ", "IRQs"),
            n(self.ioport_count(), "I/O port range", "I/O port ranges"),
        )
    }
}

/// `<protection_domain>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProtectionDomain {
    pub name: String,
    /// 0..=254 (255 is the monitor's).
    pub priority: u8,
    /// Bytes, a multiple of 4 KiB in `MIN_STACK_SIZE..=MAX_STACK_SIZE`.
    pub stack_size: u64,
    pub program_image: ProgramImage,
    pub maps: Vec<Map>,
    pub irqs: Vec<Irq>,
    pub ioports: Vec<IoPort>,
    /// Every symbol this PD's ELF gets patched with, from `setvar` elements and from the
    /// `setvar_*` attributes of `map`, `irq`, `ioport` and channel `end`s, in document order.
    pub setvars: Vec<SetVar>,
    /// `fault="stop|restart"` (our extension; default stop): what the monitor does when this
    /// PD faults.
    pub fault: FaultPolicy,
    /// `<fault_notify pd id/>` children (our extension): whom the monitor signals when this
    /// PD faults.
    pub fault_notifies: Vec<FaultNotify>,
    pub pos: Pos,
}

/// What the monitor does with a PD that faults (`<protection_domain fault="..">`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum FaultPolicy {
    /// Report the fault and suspend the PD; the others keep running (the default).
    #[default]
    Stop,
    /// Report the fault and restart the PD from a clean copy of its program image (writable
    /// segments restored, registers reset; caps and maps stay). Restarts are bounded.
    Restart,
}

/// `<fault_notify pd="target" id="N"/>` inside a PD's element: when that PD faults, the
/// monitor signals `target` on `target`'s channel id `id` (which counts as a channel end of
/// `target` for id clashes and the 0..26 notification badge limit).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FaultNotify {
    /// The PD that is told.
    pub pd: String,
    /// Index of `pd` in [`System::pds`] (filled in by the cross-element checks).
    pub pd_index: usize,
    /// The id in `pd`'s id space on which the notice arrives.
    pub id: u8,
    pub pos: Pos,
}

impl ProtectionDomain {
    /// The channel ends of `system` that belong to this PD (`pd_index` is this PD's index).
    pub fn channel_ends<'a>(
        &self,
        system: &'a System,
        pd_index: usize,
    ) -> impl Iterator<Item = (&'a Channel, &'a ChannelEnd)> + 'a {
        system
            .channels
            .iter()
            .flat_map(|ch| ch.ends.iter().map(move |end| (ch, end)))
            .filter(move |(_, end)| end.pd_index == pd_index)
    }
}

/// `<program_image path=".."/>`: the path as written (the image tool resolves it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProgramImage {
    pub path: String,
    pub pos: Pos,
}

/// Access rights of a mapping. Always readable: seL4 on x86 has no write-only pages, and
/// the validator rejects perms without `r`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Perms {
    pub read: bool,
    pub write: bool,
    pub execute: bool,
}

impl Perms {
    pub const RW: Perms = Perms { read: true, write: true, execute: false };
}

impl fmt::Display for Perms {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (on, c) in [(self.read, 'r'), (self.write, 'w'), (self.execute, 'x')] {
            if on {
                write!(f, "{c}")?;
            }
        }
        Ok(())
    }
}

/// `<map mr vaddr perms cached setvar_vaddr setvar_size/>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Map {
    /// Name of the memory region (guaranteed to exist in [`System::regions`]).
    pub mr: String,
    pub vaddr: u64,
    pub perms: Perms,
    /// Default true; device registers want `cached="false"`.
    pub cached: bool,
    /// Symbol that receives `vaddr` (also listed in the PD's `setvars`).
    pub setvar_vaddr: Option<String>,
    /// Symbol that receives the region's size (also listed in the PD's `setvars`).
    pub setvar_size: Option<String>,
    pub pos: Pos,
}

/// IOAPIC trigger mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Trigger {
    Level,
    Edge,
}

/// IOAPIC pin polarity.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Polarity {
    High,
    Low,
}

/// A PCI function named by vendor and device id: `vvvv:dddd[@index]`, where `index` picks
/// the n-th matching function in bus scan order (default 0). Resolved at boot by the
/// initialiser from PCI configuration space.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PciDevice {
    pub vendor: u16,
    pub device: u16,
    pub index: u32,
}

impl fmt::Display for PciDevice {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04x}:{:04x}", self.vendor, self.device)?;
        if self.index != 0 {
            write!(f, "@{}", self.index)?;
        }
        Ok(())
    }
}

/// Most alternatives one `pci=` may list.
pub const MAX_PCI_ALTERNATIVES: usize = 4;

/// `pci="a|b|c"` (our extension): the PCI functions a region or irq may bind, in order of
/// preference; the initialiser binds the first that is present. One entry is the common case.
/// Never empty, no entry twice.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct PciMatch {
    ids: [PciDevice; MAX_PCI_ALTERNATIVES],
    len: u8,
}

impl PciMatch {
    /// Exactly one device.
    pub fn one(d: PciDevice) -> PciMatch {
        PciMatch { ids: [d; MAX_PCI_ALTERNATIVES], len: 1 }
    }

    /// The alternatives in order; `None` if `ids` is empty, too long or repeats an entry.
    pub fn new(ids: &[PciDevice]) -> Option<PciMatch> {
        let first = *ids.first()?;
        if ids.len() > MAX_PCI_ALTERNATIVES || ids.iter().enumerate().any(|(i, d)| ids[..i].contains(d)) {
            return None;
        }
        let mut m = PciMatch::one(first);
        m.ids[..ids.len()].copy_from_slice(ids);
        m.len = ids.len() as u8;
        Some(m)
    }

    /// The alternatives, in order of preference.
    pub fn ids(&self) -> &[PciDevice] {
        &self.ids[..self.len as usize]
    }

    /// The preferred one.
    pub fn first(&self) -> PciDevice {
        self.ids[0]
    }

    /// Whether the two may bind the same function (they share an entry).
    pub fn overlaps(&self, other: &PciMatch) -> bool {
        self.ids().iter().any(|d| other.ids().contains(d))
    }
}

impl fmt::Display for PciMatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, d) in self.ids().iter().enumerate() {
            if i > 0 {
                f.write_str("|")?;
            }
            write!(f, "{d}")?;
        }
        Ok(())
    }
}

/// Where an IRQ comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum IrqKind {
    /// `<irq id pin vector [ioapic] [trigger] [polarity]/>`: an IOAPIC pin, delivered on
    /// CPU vector 0x30 + `vector` (seL4's `IRQControl_GetIOAPIC`).
    Ioapic { ioapic: u8, pin: u8, vector: u8, trigger: Trigger, polarity: Polarity },
    /// `<irq id pci="vvvv:dddd[@n]|..."/>` (our extension): the device's INTx line (of the
    /// first alternative present). The initialiser reads the pin from configuration space,
    /// routes it level/active-low and picks a vector that no IOAPIC `irq` of the file uses.
    /// `msi="true"`: the device's MSI instead (seL4's `IRQControl_GetMSI`; the initialiser
    /// programs the MSI capability), INTx if the device has no MSI capability.
    Pci { device: PciMatch, msi: bool },
}

/// `<irq>`: delivered as a notification on channel id `id` of its PD.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Irq {
    /// 0..=62, shared with the PD's channel ids.
    pub id: u8,
    pub kind: IrqKind,
    pub setvar_id: Option<String>,
    pub pos: Pos,
}

/// `<ioport id addr size/>`: the PD gets a capability for ports `addr..addr+size`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IoPort {
    /// 0..=62, unique among this PD's I/O port ranges (a separate id space from channels).
    pub id: u8,
    pub addr: u16,
    /// 1..=0x10000; `addr + size <= 0x10000`.
    pub size: u32,
    pub setvar_id: Option<String>,
    pub setvar_addr: Option<String>,
    pub pos: Pos,
}

/// What a setvar symbol receives. The image tool writes it as a little-endian u64.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum SetVarValue {
    /// Known now: a `value=`, a mapping's vaddr or size, an irq/channel/ioport id, an I/O
    /// port address.
    Number(u64),
    /// `region_paddr="mr"`: the physical address of memory region `mr`, known only once
    /// its frames are allocated (by the image tool, or at boot by the initialiser).
    RegionPaddr(String),
    /// `region_pci_id="mr"` (our extension): `vendor << 16 | device` of the PCI function the
    /// initialiser bound to `pci=` region `mr` (the first of its alternatives present), so a
    /// driver learns which chip it drives; known only at boot.
    RegionPciId(String),
}

/// Which attribute or element a setvar came from (for error messages and reports).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SetVarSource {
    /// `<setvar symbol value=..>` (our extension: a number or a dotted IPv4 address).
    Value,
    /// `<setvar symbol value="aa:bb:cc:dd:ee:ff">` (our extension): a unicast MAC address;
    /// the value is its [`MacAddr::to_word`].
    ValueMac,
    /// `<setvar symbol region_paddr=..>`.
    RegionPaddr,
    /// `<setvar symbol region_pci_id=..>`.
    RegionPciId,
    /// `<setvar symbol region_size="mr">` (our extension): the size of memory region `mr` in
    /// bytes, for a PD that needs it without mapping the region.
    RegionSize,
    /// `<setvar symbol pd_index="pd">` (our extension): the PD's index in the file (its
    /// position among the `protection_domain`s, from 0), so no index is written by hand.
    PdIndex,
    /// `<setvar symbol region_sharers="mr">` (our extension): a mask with bit `i` set for
    /// every PD `i` that maps region `mr`.
    RegionSharers,
    MapVaddr,
    MapSize,
    IrqId,
    ChannelId,
    IoPortId,
    IoPortAddr,
}

/// An Ethernet station address given as a setvar `value="aa:bb:cc:dd:ee:ff"`. The parser
/// accepts only unicast, non-zero addresses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct MacAddr(pub [u8; 6]);

impl MacAddr {
    /// The word the image tool patches (the same as `nic_api::MacAddr::to_word`): byte `i` in
    /// bits `8 * i .. 8 * i + 8`, bits 48..64 zero.
    pub fn to_word(self) -> u64 {
        let mut b = [0u8; 8];
        b[..6].copy_from_slice(&self.0);
        u64::from_le_bytes(b)
    }

    /// The address in a word made by [`MacAddr::to_word`]; `None` if bits 48..64 are not zero.
    pub fn from_word(word: u64) -> Option<MacAddr> {
        if word >> 48 != 0 {
            return None;
        }
        let b = word.to_le_bytes();
        Some(MacAddr([b[0], b[1], b[2], b[3], b[4], b[5]]))
    }

    /// A usable station address: not multicast or broadcast (bit 0 of the first byte clear)
    /// and not all zeros.
    pub fn is_unicast_station(self) -> bool {
        self.0[0] & 1 == 0 && self.0 != [0; 6]
    }
}

impl fmt::Display for MacAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let m = self.0;
        write!(f, "{:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}", m[0], m[1], m[2], m[3], m[4], m[5])
    }
}

/// One symbol to patch in a PD's ELF.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SetVar {
    pub symbol: String,
    pub value: SetVarValue,
    pub source: SetVarSource,
    /// Position of the attribute that named the symbol.
    pub pos: Pos,
}

/// Supported page sizes on x86_64.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum PageSize {
    /// 4 KiB.
    Small,
    /// 2 MiB.
    Large,
}

impl PageSize {
    pub const fn bytes(self) -> u64 {
        match self {
            PageSize::Small => 0x1000,
            PageSize::Large => 0x20_0000,
        }
    }
}

/// A PCI device's base address register, backing a device memory region.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct PciBar {
    /// The device (the first of the alternatives present at boot).
    pub device: PciMatch,
    /// 0..=5, per alternative (`bar="0|0|1"`; one `bar="N"` is N for all); entries past the
    /// alternatives repeat the last.
    pub bars: [u8; MAX_PCI_ALTERNATIVES],
}

impl PciBar {
    /// One device, one BAR.
    pub fn one(device: PciDevice, bar: u8) -> PciBar {
        PciBar { device: PciMatch::one(device), bars: [bar; MAX_PCI_ALTERNATIVES] }
    }

    /// The BAR of the first alternative.
    pub fn bar(&self) -> u8 {
        self.bars[0]
    }

    /// Each alternative with its BAR, in order of preference.
    pub fn choices(&self) -> impl Iterator<Item = (PciDevice, u8)> + '_ {
        self.device.ids().iter().copied().zip(self.bars)
    }
}

/// Where a memory region's frames come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Backing {
    /// Ordinary RAM, allocated by the tools (zeroed).
    Allocated,
    /// `phys_addr=`: fixed physical frames (device memory or reserved RAM).
    Fixed { phys_addr: u64 },
    /// `pci=".." bar="N"` (our extension): the BAR's frames, found at boot.
    Pci(PciBar),
}

/// `<memory_region name size page_size phys_addr | pci bar/>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemoryRegion {
    pub name: String,
    /// Bytes, a non-zero multiple of `page_size`.
    pub size: u64,
    pub page_size: PageSize,
    pub backing: Backing,
    /// `dma="<pci region>"` (RAM regions, our extension): the PCI device whose BAR that region
    /// is may DMA into this region. With an IOMMU these are the only memory the device reaches.
    pub dma: Option<String>,
    /// `iommu="required"` (pci regions, our extension): the device is not started unless its
    /// DMA is confined by an IOMMU. Default `optional`.
    pub iommu_required: bool,
    pub pos: Pos,
}

impl MemoryRegion {
    /// Number of pages of `page_size`.
    pub fn page_count(&self) -> u64 {
        self.size / self.page_size.bytes()
    }

    /// The fixed physical address, if `phys_addr` was given.
    pub fn phys_addr(&self) -> Option<u64> {
        match self.backing {
            Backing::Fixed { phys_addr } => Some(phys_addr),
            _ => None,
        }
    }

    /// The PCI BAR, if this is a `pci=` region.
    pub fn pci(&self) -> Option<PciBar> {
        match self.backing {
            Backing::Pci(bar) => Some(bar),
            _ => None,
        }
    }
}

/// `<channel>` with its two `<end>`s.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Channel {
    pub ends: [ChannelEnd; 2],
    pub pos: Pos,
}

/// `<end pd id pp notify setvar_id/>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChannelEnd {
    pub pd: String,
    /// Index of `pd` in [`System::pds`].
    pub pd_index: usize,
    /// 0..=62, shared with the PD's irq ids.
    pub id: u8,
    /// This end may make protected procedure calls to the other end's PD (which has a
    /// strictly higher priority). Default false; never true on both ends.
    pub pp: bool,
    /// This end may notify the other. Default true.
    pub notify: bool,
    pub setvar_id: Option<String>,
    pub pos: Pos,
}
