//! Test hooks (feature `test-hooks`, used only by the test PD tests/systems/pds/crashy-driver,
//! never by `driver.elf`), in a backend wrapper:
//!
//! * the tripwire: it remembers the physical address of each posted receive buffer and, when
//!   the device completes one holding a frame of the tripwire's EtherType, panics, which faults
//!   the PD in the middle of its interrupt path as a driver bug would (pins held, IRQ not acked);
//! * the stray buffer (issue 12, `make test-iommu`): the first receive buffer posted after
//!   start is given to the device at a physical address outside the driver's DMA grant instead
//!   of the client's buffer, as a driver bug writing a wrong descriptor would; the test then
//!   sees whether the frame the device receives there lands (no IOMMU) or is blocked (VT-d).
//!
//! Without either it only forwards.

use nic_api::QUEUE_CAPACITY;
use region::MappedRegion;

use super::{say, Nic, Platform};
use crate::backend::{Cause, FilterError, HwCounters, InitError, MacAddr, NicBackend, RxDone, TxDone};

/// The hook's view of received frames: the client's buffer region (mapped read-only), its
/// physical base, and the EtherType that makes the driver fault.
pub struct Tripwire {
    peek: MappedRegion,
    paddr: u64,
    ethertype: u16,
}

impl Tripwire {
    /// The tripwire the setvars describe (`crash_on_ethertype`, region `crash_peek`, its base
    /// `crash_peek_paddr`), or `None` (printing why) when it is off or incomplete.
    pub fn new<P: Platform>(
        ethertype: u64,
        peek: Result<MappedRegion, region::RegionError>,
        paddr: u64,
        p: &P,
    ) -> Option<Self> {
        if ethertype == 0 {
            return None;
        }
        let Ok(ethertype) = u16::try_from(ethertype) else {
            say!(p, "crash_on_ethertype = {ethertype:#x} is not an EtherType; test hook off");
            return None;
        };
        let (Ok(peek), true) = (peek, paddr != 0) else {
            say!(
                p,
                "crash_on_ethertype needs the client's buffers mapped read-only (setvar_vaddr/setvar_size crash_peek, region_paddr crash_peek_paddr); test hook off"
            );
            return None;
        };
        say!(p, "TEST HOOK: a received frame with EtherType {ethertype:#06x} makes this driver fault");
        Some(Self { peek, paddr, ethertype })
    }
}

/// What the stray-buffer hook reports to the PD binary (which prints it and, on completion,
/// tells the test's victim PD to check its memory).
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum StrayEvent {
    /// Receive slot `slot` was given to the device at `paddr` (outside the grant).
    Posted { slot: u16, paddr: u64 },
    /// The device completed that slot: its frame went to `paddr`, or was blocked.
    Completed { slot: u16, paddr: u64 },
}

/// The stray-buffer hook: where the first posted receive buffer really goes.
pub struct Stray {
    paddr: u64,
    report: fn(StrayEvent),
    /// The slot given the stray address, once posted.
    slot: Option<u16>,
    completed: core::cell::Cell<bool>,
}

impl Stray {
    /// The hook for physical address `paddr` (the `stray_rx_paddr` setvar), or `None` when it
    /// is 0 (off). `report` is called once per event.
    pub fn new(paddr: u64, report: fn(StrayEvent)) -> Option<Self> {
        (paddr != 0).then_some(Self { paddr, report, slot: None, completed: core::cell::Cell::new(false) })
    }
}

/// A backend with the test hooks.
pub struct Hooked<B> {
    nic: B,
    tripwire: Option<Tripwire>,
    stray: Option<Stray>,
    rx_phys: [u64; QUEUE_CAPACITY as usize],
}

impl<B: Nic> Hooked<B> {
    /// `nic` with `tripwire` (none: forwards only).
    pub fn new(nic: B, tripwire: Option<Tripwire>) -> Self {
        Self { nic, tripwire, stray: None, rx_phys: [0; QUEUE_CAPACITY as usize] }
    }

    /// Adds the stray-buffer hook.
    pub fn with_stray(mut self, stray: Option<Stray>) -> Self {
        self.stray = stray;
        self
    }

    fn stray_completed(&self, slot: u16) {
        let Some(s) = &self.stray else { return };
        if s.slot == Some(slot) && !s.completed.replace(true) {
            (s.report)(StrayEvent::Completed { slot, paddr: s.paddr });
        }
    }

    fn check(&self, slot: u16, len: u32) {
        let Some(t) = &self.tripwire else { return };
        let Some(&phys) = self.rx_phys.get(usize::from(slot)) else {
            return;
        };
        let mut ty = [0u8; 2];
        let readable = phys
            .checked_sub(t.paddr)
            .and_then(|off| usize::try_from(off).ok())
            .is_some_and(|off| len >= 14 && t.peek.read(off + 12, &mut ty).is_ok());
        if readable && u16::from_be_bytes(ty) == t.ethertype {
            panic!(
                "crash_on_ethertype: received a frame with EtherType {:#06x} in receive slot {slot}; faulting on purpose (test hook)",
                t.ethertype
            );
        }
    }
}

impl<B: Nic> NicBackend for Hooked<B> {
    const NAME: &'static str = B::NAME;

    fn chip(&self) -> &'static str {
        self.nic.chip()
    }
    fn init(&mut self, rx_slots: u16, tx_slots: u16, holdoff: u32) -> Result<MacAddr, InitError> {
        self.nic.init(rx_slots, tx_slots, holdoff)
    }
    fn irq_mask(&mut self) {
        self.nic.irq_mask()
    }
    fn irq_unmask(&mut self) {
        self.nic.irq_unmask()
    }
    fn read_cause(&mut self) -> Cause {
        self.nic.read_cause()
    }
    fn rx_post(&mut self, slot: u16, phys: u64, len: u32) {
        if let Some(p) = self.rx_phys.get_mut(usize::from(slot)) {
            *p = phys;
        }
        if let Some(s) = self.stray.as_mut().filter(|s| s.slot.is_none()) {
            s.slot = Some(slot);
            (s.report)(StrayEvent::Posted { slot, paddr: s.paddr });
            return self.nic.rx_post(slot, s.paddr, len);
        }
        self.nic.rx_post(slot, phys, len)
    }
    fn rx_poll(&self, slot: u16) -> Option<RxDone> {
        let done = self.nic.rx_poll(slot)?;
        self.stray_completed(slot);
        if done.ok {
            self.check(slot, done.len);
        }
        Some(done)
    }
    fn rx_clear(&mut self, slot: u16) {
        self.nic.rx_clear(slot)
    }
    fn rx_kick(&mut self, tail: u16) {
        self.nic.rx_kick(tail)
    }
    fn tx_post(&mut self, slot: u16, phys: u64, len: u32, interrupt: bool) {
        self.nic.tx_post(slot, phys, len, interrupt)
    }
    fn tx_poll(&self, slot: u16) -> Option<TxDone> {
        self.nic.tx_poll(slot)
    }
    fn tx_kick(&mut self, tail: u16) {
        self.nic.tx_kick(tail)
    }
    fn read_counters(&mut self) -> HwCounters {
        self.nic.read_counters()
    }
    fn dma_limit(&self) -> u64 {
        self.nic.dma_limit()
    }
    fn set_unicast_filter(&mut self, macs: &[MacAddr]) -> Result<(), FilterError> {
        self.nic.set_unicast_filter(macs)
    }
}

impl<B: Nic> Nic for Hooked<B> {
    fn holdoff_register(&self) -> (&'static str, u32) {
        self.nic.holdoff_register()
    }
}
