//! Behavioural device models for host tests (feature `model`, or `cfg(test)`): a fake physical
//! memory the models DMA into, a virtual clock, an interrupt gate with hold-off timing, a fake
//! translation cache with pin accounting, and the e1000 and DP83820 register-level models.
//! Written from the same documentation as the backends (see each model's header); they are
//! behavioural (no FIFOs, no line-rate timing), which is stated where it matters.

extern crate std;

pub mod dp83820;
pub mod e1000;
pub mod rig;

use crate::hw::{DmaMem, Regs, Translate, XlateError, PAGE_SIZE};
use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::rc::Rc;
use std::vec;
use std::vec::Vec;

/// A flat fake physical memory starting at `base`. Accesses outside it are counted as DMA
/// faults (a real bus would master-abort) instead of panicking.
pub struct PhysMem {
    base: u64,
    bytes: Vec<u8>,
    /// Accesses that fell outside the memory.
    pub faults: u64,
}

/// Shared handle to the fake physical memory.
pub type Phys = Rc<RefCell<PhysMem>>;

impl PhysMem {
    /// `size` bytes of zeroed memory at physical `base`.
    pub fn new(base: u64, size: usize) -> Phys {
        Rc::new(RefCell::new(Self { base, bytes: vec![0; size], faults: 0 }))
    }

    fn range(&mut self, addr: u64, len: usize) -> Option<core::ops::Range<usize>> {
        let start = addr.checked_sub(self.base)? as usize;
        let end = start.checked_add(len)?;
        if end > self.bytes.len() {
            self.faults += 1;
            return None;
        }
        Some(start..end)
    }

    /// Copies `buf.len()` bytes from physical `addr`; false (and a fault) if out of range.
    pub fn read(&mut self, addr: u64, buf: &mut [u8]) -> bool {
        match self.range(addr, buf.len()) {
            Some(r) => {
                buf.copy_from_slice(&self.bytes[r]);
                true
            }
            None => false,
        }
    }

    /// Copies `data` to physical `addr`; false (and a fault) if out of range.
    pub fn write(&mut self, addr: u64, data: &[u8]) -> bool {
        match self.range(addr, data.len()) {
            Some(r) => {
                self.bytes[r].copy_from_slice(data);
                true
            }
            None => false,
        }
    }

    /// Little-endian u32 at `addr` (0 on a fault).
    pub fn read32(&mut self, addr: u64) -> u32 {
        let mut b = [0; 4];
        self.read(addr, &mut b);
        u32::from_le_bytes(b)
    }

    /// Little-endian u32 to `addr`.
    pub fn write32(&mut self, addr: u64, v: u32) {
        self.write(addr, &v.to_le_bytes());
    }
}

/// A window of the fake physical memory used as the driver's descriptor memory.
pub struct PhysWindow {
    mem: Phys,
    base: u64,
    len: usize,
}

impl PhysWindow {
    /// The `len` bytes at physical `base`.
    pub fn new(mem: &Phys, base: u64, len: usize) -> Self {
        Self { mem: mem.clone(), base, len }
    }
}

impl DmaMem for PhysWindow {
    fn phys_base(&self) -> u64 {
        self.base
    }
    fn len(&self) -> usize {
        self.len
    }
    fn read32(&self, offset: usize) -> u32 {
        if offset + 4 > self.len {
            return u32::MAX;
        }
        self.mem.borrow_mut().read32(self.base + offset as u64)
    }
    fn write32(&mut self, offset: usize, value: u32) {
        if offset + 4 <= self.len {
            self.mem.borrow_mut().write32(self.base + offset as u64, value);
        }
    }
}

/// Virtual time in nanoseconds, shared by a model and the test driving it.
#[derive(Clone, Default)]
pub struct Clock(Rc<Cell<u64>>);

impl Clock {
    /// Now, in ns.
    pub fn now(&self) -> u64 {
        self.0.get()
    }
    /// Moves time forward.
    pub fn advance(&self, ns: u64) {
        self.0.set(self.0.get() + ns);
    }
    /// Sets the time (never backwards).
    pub fn set(&self, ns: u64) {
        self.0.set(self.0.get().max(ns));
    }
}

/// Interrupt assertion with hold-off: a new assertion (edge) may happen no sooner than
/// `holdoff_ns` after the previous one; pending causes wait until then. This is how e1000's
/// ITR (minimum inter-interrupt interval, QEMU's mitigation timer) and our reading of DP83820's
/// IHR behave; 0 disables the hold-off.
#[derive(Clone, Copy, Debug, Default)]
pub struct IrqGate {
    asserted: bool,
    last_edge: Option<u64>,
    /// Assertion edges so far (what the CPU sees as interrupts).
    pub edges: u64,
}

impl IrqGate {
    /// The line level given whether an unmasked cause is pending.
    pub fn level(&mut self, pending: bool, now: u64, holdoff_ns: u64) -> bool {
        if !pending {
            self.asserted = false;
            return false;
        }
        if self.asserted {
            return true;
        }
        let allowed = self.last_edge.is_none_or(|t| now >= t + holdoff_ns);
        if allowed {
            self.asserted = true;
            self.last_edge = Some(now);
            self.edges += 1;
        }
        self.asserted
    }

    /// Forgets hold-off history (device reset).
    pub fn reset(&mut self) {
        *self = Self { edges: self.edges, ..Self::default() };
    }
}

/// A register-level device model.
pub trait MmioDevice {
    /// A 32-bit register read (may have side effects).
    fn mmio_read(&mut self, offset: usize) -> u32;
    /// A 32-bit register write.
    fn mmio_write(&mut self, offset: usize, value: u32);
}

/// [`Regs`] over a shared model, as the backend sees it.
pub struct SharedRegs<D>(pub Rc<RefCell<D>>);

impl<D> Clone for SharedRegs<D> {
    fn clone(&self) -> Self {
        Self(self.0.clone())
    }
}

impl<D: MmioDevice> Regs for SharedRegs<D> {
    fn read32(&self, offset: usize) -> u32 {
        self.0.borrow_mut().mmio_read(offset)
    }
    fn write32(&self, offset: usize, value: u32) {
        self.0.borrow_mut().mmio_write(offset, value)
    }
}

/// What the test harness needs from a NIC model besides registers: the wire and the line.
pub trait NicModel: MmioDevice {
    /// A frame arrives from the wire (no FCS).
    fn deliver(&mut self, frame: &[u8]);
    /// Frames the device transmitted since the last call.
    fn take_sent(&mut self) -> Vec<Vec<u8>>;
    /// The interrupt line level now (evaluates hold-off against the model's clock).
    fn irq_line(&mut self) -> bool;
    /// Whether an unmasked cause is pending (the line may still be held off).
    fn cause_pending(&self) -> bool;
    /// Interrupt assertions so far.
    fn irq_edges(&self) -> u64;
    /// Frames dropped for lack of a receive descriptor (overrun), total.
    fn rx_overruns(&self) -> u64;
    /// The station address the model's EEPROM holds.
    fn eeprom_mac(&self) -> [u8; 6];
    /// The interrupt hold-off the driver programmed, in ns.
    fn programmed_holdoff_ns(&self) -> u64;
}

/// A fake translation cache: each dataspace is a run of frames in the fake physical memory
/// (optionally with two pages swapped, to make a buffer physically discontiguous). The cache
/// starts empty, so first touches miss; pins are counted per page with a quota.
pub struct FakeXlate {
    spaces: HashMap<u32, (u64, u64)>,
    swapped: Option<(u32, u64, u64)>,
    cache: RefCell<HashMap<(u32, u64), u64>>,
    pins: HashMap<(u32, u64), u32>,
    /// Most pages pinned at once (across all pins).
    pub quota: u32,
    /// Refill calls (misses served by the "manager").
    pub refills: u64,
    pinned_now: u32,
    /// Highest number of simultaneously pinned pages.
    pub max_pinned: u32,
}

impl FakeXlate {
    /// An empty cache with a generous pin quota.
    pub fn new() -> Self {
        Self {
            spaces: HashMap::new(),
            swapped: None,
            cache: RefCell::new(HashMap::new()),
            pins: HashMap::new(),
            quota: 1 << 20,
            refills: 0,
            pinned_now: 0,
            max_pinned: 0,
        }
    }
    /// Dataspace `id` of `size` bytes backed by contiguous frames from `phys`.
    pub fn add(&mut self, id: u32, phys: u64, size: u64) {
        self.spaces.insert(id, (phys, size));
    }
    /// Makes pages `a` and `b` of dataspace `id` swap frames (discontiguous buffers).
    pub fn swap_pages(&mut self, id: u32, a: u64, b: u64) {
        self.swapped = Some((id, a, b));
    }
    /// Pages pinned right now.
    pub fn pinned_now(&self) -> u32 {
        self.pinned_now
    }
    fn frame(&self, id: u32, page: u64) -> Option<u64> {
        let &(phys, size) = self.spaces.get(&id)?;
        if page * PAGE_SIZE >= size {
            return None;
        }
        let page = match self.swapped {
            Some((s, a, b)) if s == id && page == a => b,
            Some((s, a, b)) if s == id && page == b => a,
            _ => page,
        };
        Some(phys + page * PAGE_SIZE)
    }
}

impl Default for FakeXlate {
    fn default() -> Self {
        Self::new()
    }
}

impl Translate for FakeXlate {
    fn lookup(&self, dataspace: u32, page: u64) -> Option<u64> {
        self.cache.borrow().get(&(dataspace, page)).copied()
    }
    fn refill(&mut self, dataspace: u32, page: u64) -> Result<u64, XlateError> {
        self.refills += 1;
        let f = self.frame(dataspace, page).ok_or(XlateError::NoMapping { dataspace, page })?;
        self.cache.borrow_mut().insert((dataspace, page), f);
        Ok(f)
    }
    fn pin(&mut self, dataspace: u32, page: u64) -> Result<(), XlateError> {
        if self.pinned_now >= self.quota {
            return Err(XlateError::PinQuota { dataspace, page });
        }
        *self.pins.entry((dataspace, page)).or_default() += 1;
        self.pinned_now += 1;
        self.max_pinned = self.max_pinned.max(self.pinned_now);
        Ok(())
    }
    fn unpin(&mut self, dataspace: u32, page: u64) {
        if let Some(n) = self.pins.get_mut(&(dataspace, page)) {
            if *n > 0 {
                *n -= 1;
                self.pinned_now -= 1;
            }
        }
    }
}

/// A multi-session driver's receive pool in the fake physical memory, copying into the client
/// dataspaces listed as its windows (what the PD's `client_buffers<k>` maps are).
pub struct PhysPool {
    phys: Phys,
    base: u64,
    len: usize,
    windows: Vec<(u64, u64)>,
    /// Frames copied into a client so far.
    pub copies: u64,
}

impl PhysPool {
    /// The pool of `len` bytes at `base`, copying into `windows` (physical base, size).
    pub fn new(phys: &Phys, base: u64, len: usize, windows: Vec<(u64, u64)>) -> Self {
        Self { phys: phys.clone(), base, len, windows, copies: 0 }
    }
}

impl crate::engine::RxPool for PhysPool {
    fn phys_base(&self) -> u64 {
        self.base
    }
    fn len(&self) -> usize {
        self.len
    }
    fn read(&self, offset: usize, buf: &mut [u8]) -> bool {
        offset + buf.len() <= self.len && self.phys.borrow_mut().read(self.base + offset as u64, buf)
    }
    fn copy_to_client(&mut self, offset: usize, len: usize, phys: u64) -> bool {
        let in_window = self.windows.iter().any(|&(b, n)| phys >= b && phys + len as u64 <= b + n);
        if !in_window || offset + len > self.len {
            return false;
        }
        let mut tmp = std::vec![0u8; len];
        let mut mem = self.phys.borrow_mut();
        self.copies += 1;
        mem.read(self.base + offset as u64, &mut tmp) && mem.write(phys, &tmp)
    }
}

/// Builds an Ethernet frame of `len` bytes (60..=1514) to `dst` with a recognisable payload.
pub fn test_frame(dst: [u8; 6], src: [u8; 6], len: usize, seq: u32) -> Vec<u8> {
    let mut f = Vec::with_capacity(len);
    f.extend_from_slice(&dst);
    f.extend_from_slice(&src);
    f.extend_from_slice(&[0x88, 0xb5]); // local experimental ethertype
    f.extend_from_slice(&seq.to_be_bytes());
    while f.len() < len {
        f.push((f.len() as u32 ^ seq) as u8);
    }
    f.truncate(len);
    f
}
