//! The one backend type the PD runs: the chip the initialiser bound (`nic_pci_id`), chosen once
//! at start, so the PD is monomorphised once rather than once per chip. Also the hold-off
//! register read-back the session line prints.

use crate::backend::{Cause, FilterError, HwCounters, InitError, MacAddr, NicBackend, RxDone, TxDone};
use crate::dp83820::{self, Dp83820};
use crate::e1000::{self, E1000};
use crate::hw::{DmaMem, Regs};

/// A backend the PD can run: the device-neutral `NicBackend` plus its hold-off register, read
/// back for the log.
pub trait Nic: NicBackend {
    /// The hold-off register's name and value (e1000 ITR, DP83820 IHR).
    fn holdoff_register(&self) -> (&'static str, u32);
}

impl<R: Regs, M: DmaMem> Nic for E1000<R, M> {
    fn holdoff_register(&self) -> (&'static str, u32) {
        ("ITR", self.regs().read32(e1000::regs::ITR))
    }
}

impl<R: Regs, M: DmaMem> Nic for Dp83820<R, M> {
    fn holdoff_register(&self) -> (&'static str, u32) {
        ("IHR", self.regs().read32(dp83820::regs::IHR))
    }
}

/// The NIC, whichever chip it is.
pub enum AnyNic<R: Regs = region::Mmio, M: DmaMem = region::DmaRegion> {
    /// Intel 82540EM or 82574L (QEMU's `e1000`, `e1000e`).
    E1000(E1000<R, M>),
    /// NatSemi DP83820.
    Dp83820(Dp83820<R, M>),
}

macro_rules! each {
    ($self:expr, $n:ident => $e:expr) => {
        match $self {
            AnyNic::E1000($n) => $e,
            AnyNic::Dp83820($n) => $e,
        }
    };
}

impl<R: Regs, M: DmaMem> NicBackend for AnyNic<R, M> {
    const NAME: &'static str = "NIC (e1000, e1000e or DP83820)";

    fn chip(&self) -> &'static str {
        each!(self, n => n.chip())
    }
    fn init(&mut self, rx_slots: u16, tx_slots: u16, holdoff: u32) -> Result<MacAddr, InitError> {
        each!(self, n => n.init(rx_slots, tx_slots, holdoff))
    }
    fn irq_mask(&mut self) {
        each!(self, n => n.irq_mask())
    }
    fn irq_unmask(&mut self) {
        each!(self, n => n.irq_unmask())
    }
    fn read_cause(&mut self) -> Cause {
        each!(self, n => n.read_cause())
    }
    fn rx_post(&mut self, slot: u16, phys: u64, len: u32) {
        each!(self, n => n.rx_post(slot, phys, len))
    }
    fn rx_poll(&self, slot: u16) -> Option<RxDone> {
        each!(self, n => n.rx_poll(slot))
    }
    fn rx_clear(&mut self, slot: u16) {
        each!(self, n => n.rx_clear(slot))
    }
    fn rx_kick(&mut self, tail: u16) {
        each!(self, n => n.rx_kick(tail))
    }
    fn tx_post(&mut self, slot: u16, phys: u64, len: u32, interrupt: bool) {
        each!(self, n => n.tx_post(slot, phys, len, interrupt))
    }
    fn tx_poll(&self, slot: u16) -> Option<TxDone> {
        each!(self, n => n.tx_poll(slot))
    }
    fn tx_kick(&mut self, tail: u16) {
        each!(self, n => n.tx_kick(tail))
    }
    fn read_counters(&mut self) -> HwCounters {
        each!(self, n => n.read_counters())
    }
    fn dma_limit(&self) -> u64 {
        each!(self, n => n.dma_limit())
    }
    fn set_unicast_filter(&mut self, macs: &[MacAddr]) -> Result<(), FilterError> {
        each!(self, n => n.set_unicast_filter(macs))
    }
}

impl<R: Regs, M: DmaMem> Nic for AnyNic<R, M> {
    fn holdoff_register(&self) -> (&'static str, u32) {
        each!(self, n => n.holdoff_register())
    }
}
