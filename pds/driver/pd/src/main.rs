//! The NIC driver PD (`driver.elf` in `system.xml`): the backend for the chip the initialiser
//! bound (the `nic_pci_id` setvar: e1000, e1000e or DP83820) on the BAR the system file maps, its
//! rings in `driver_dma`; the IRQ is channel 0, the dataspace manager channel 2, session `k`'s
//! client channel `1 + 4k` (`sessions` of them, 1 unless the file says more). All logic is the
//! host-tested `driver::pd`; the wiring is this crate's library.
#![no_std]
#![no_main]

use driver::pd::{start, AnyNic, DriverPd, State};
use driver_pd::{Kernel, Pd};
use static_cell::StaticCell;

/// The driver's state: large, so it lives here rather than on the stack.
static STATE: StaticCell<State<AnyNic, Kernel>> = StaticCell::new();

fn init() -> Pd<AnyNic> {
    let settings = driver_pd::settings();
    let parts = start::parts(driver_pd::regions(), &settings, &Kernel);
    Pd::new(DriverPd::new(parts, &settings, Kernel, |s| STATE.init(s)))
}

pd::protection_domain!(init);
