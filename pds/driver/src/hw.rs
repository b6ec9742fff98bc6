//! The hardware the driver touches, behind traits a test can fake (Tock style): device
//! registers, the driver's own descriptor memory, and the translation/pinning of client
//! buffers. The PD wires real implementations (`region::Mmio`, `region::DmaRegion`, the
//! dataspace manager's translation cache); the host tests wire the behavioural models in `model`.

/// Page size of the translation cache (x86 small pages).
pub const PAGE_SIZE: u64 = 4096;

/// 32-bit device registers at byte offsets from the start of a memory BAR. Both supported chips
/// (e1000 BAR0, DP83820 memory BAR 1) are programmed with 32-bit MMIO accesses only.
///
/// `&self`: a register file is shared, interior-mutable state (the device changes it too).
pub trait Regs {
    /// Reads the register at byte `offset`. May have side effects (e.g. read-to-clear ISR/ICR).
    fn read32(&self, offset: usize) -> u32;
    /// Writes the register at byte `offset`.
    fn write32(&self, offset: usize, value: u32);
}

/// Memory the driver owns for its descriptor rings: readable and writable by the CPU through
/// these accessors and by the device at `phys_base() + offset`. Accessors (rather than a slice)
/// because the device writes the memory behind the compiler's back: a real implementation uses
/// volatile accesses; the model implementation goes to the fake physical memory.
pub trait DmaMem {
    /// Physical (bus) address of byte 0, as the device must be told.
    fn phys_base(&self) -> u64;
    /// Size in bytes.
    fn len(&self) -> usize;
    /// Whether the region is empty (no room for any descriptor).
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// Reads the little-endian u32 at `offset` (4-byte aligned, inside `len`).
    fn read32(&self, offset: usize) -> u32;
    /// Writes the little-endian u32 at `offset` (4-byte aligned, inside `len`).
    fn write32(&mut self, offset: usize, value: u32);
    /// Orders the CPU's descriptor writes before a following register write that hands them to
    /// the device (a `wmb`). x86 keeps stores in order, so the default is a compiler fence.
    fn barrier(&self) {
        core::sync::atomic::fence(core::sync::atomic::Ordering::SeqCst);
    }
    /// Reads a little-endian u64 as two u32s (low word first).
    fn read64(&self, offset: usize) -> u64 {
        u64::from(self.read32(offset)) | (u64::from(self.read32(offset + 4)) << 32)
    }
    /// Writes a little-endian u64 as two u32s (low word first).
    fn write64(&mut self, offset: usize, value: u64) {
        self.write32(offset, value as u32);
        self.write32(offset + 4, (value >> 32) as u32);
    }
}

/// Why a client page could not be translated or pinned. Either way the buffer is refused and
/// counted against the client; the driver itself carries on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum XlateError {
    /// The dataspace manager does not know this page of this dataspace (the client named a
    /// dataspace it does not share with the driver, or the manager revoked it).
    NoMapping { dataspace: u32, page: u64 },
    /// The manager refused to pin the page: the driver's pin quota is used up.
    PinQuota { dataspace: u32, page: u64 },
    /// The manager refused for a reason of its own (e.g. the driver is marked faulted, the
    /// dataspace is no longer attached), or could not be reached at all.
    Unavailable { dataspace: u32, page: u64 },
}

impl XlateError {
    /// Whether the failure is the client's doing (a buffer in memory the manager does not
    /// share with the driver), as opposed to the driver's or the manager's state (pin quota,
    /// a refusal of the manager's own, the manager unreachable), which may pass.
    pub const fn is_client_fault(&self) -> bool {
        matches!(self, Self::NoMapping { .. })
    }
}

impl core::fmt::Display for XlateError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match *self {
            Self::NoMapping { dataspace, page } => write!(
                f,
                "dataspace {dataspace} page {page} has no physical frame: the dataspace manager \
                 does not share it with the driver"
            ),
            Self::PinQuota { dataspace, page } => write!(
                f,
                "cannot pin dataspace {dataspace} page {page}: the driver's pin quota is used up \
                 (raise it in the system file or post fewer buffers)"
            ),
            Self::Unavailable { dataspace, page } => write!(
                f,
                "dataspace {dataspace} page {page}: the dataspace manager refused or could not be \
                 reached (see the driver's call errors and the manager's log)"
            ),
        }
    }
}

/// The dataspace manager's translation cache as the driver sees it (DESIGN.md §6): entries map
/// (dataspace, page) to a physical frame; the driver looks up with plain loads, refills a miss
/// through the manager (a PPC in the PD), and pins pages while the device may DMA to them.
pub trait Translate {
    /// Looks the page up in the shared cache: the frame's physical address, or `None` on a
    /// miss. No side effects (no kernel call).
    fn lookup(&self, dataspace: u32, page: u64) -> Option<u64>;
    /// Asks the manager to fill the entry (on-demand refill) and returns the frame.
    fn refill(&mut self, dataspace: u32, page: u64) -> Result<u64, XlateError>;
    /// Pins the page: the manager will not reclaim or move it until [`Translate::unpin`].
    fn pin(&mut self, dataspace: u32, page: u64) -> Result<(), XlateError>;
    /// Releases one pin taken with [`Translate::pin`].
    fn unpin(&mut self, dataspace: u32, page: u64);
}

/// Device registers through the runtime's MMIO view (the PD side of [`Regs`]): a register
/// outside the BAR reads as all-ones, as a PCI master abort would, and writes there are dropped.
impl Regs for region::Mmio {
    fn read32(&self, offset: usize) -> u32 {
        region::Mmio::read32(self, offset)
    }

    fn write32(&self, offset: usize, value: u32) {
        region::Mmio::write32(self, offset, value)
    }
}

/// Descriptor memory through the runtime's DMA view (the PD side of [`DmaMem`]): volatile,
/// bounds-checked 32-bit accesses; the device sees it at `phys_base()`.
impl DmaMem for region::DmaRegion {
    fn phys_base(&self) -> u64 {
        region::DmaRegion::phys_base(self)
    }

    fn len(&self) -> usize {
        region::DmaRegion::len(self)
    }

    fn read32(&self, offset: usize) -> u32 {
        region::DmaRegion::read32(self, offset)
    }

    fn write32(&mut self, offset: usize, value: u32) {
        region::DmaRegion::write32(self, offset, value)
    }
}
