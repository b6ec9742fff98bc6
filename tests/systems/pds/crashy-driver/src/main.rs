//! Test-only PD (`driver_crashy.elf`, tests/systems/loopback-restart.xml): the production
//! driver wiring (`driver_pd`) with its backend wrapped in the crash hook: with
//! `crash_on_ethertype` set and the client's buffers mapped read-only (`crash_peek`,
//! `crash_peek_size`, `crash_peek_paddr`), a received frame of that EtherType makes the driver
//! panic, i.e. fault, in its interrupt path, so the monitor's restart path can be tested.
#![no_std]
#![no_main]

use driver::pd::hooks::{Hooked, Tripwire};
use driver::pd::{start, AnyNic, DriverPd, State};
use driver_pd::{Kernel, Pd};
use static_cell::StaticCell;

pd::setvar!(crash_on_ethertype: u64 = 0);
pd::setvar!(crash_peek_paddr: u64 = 0);

static STATE: StaticCell<State<Hooked<AnyNic>, Kernel>> = StaticCell::new();

fn init() -> Pd<Hooked<AnyNic>> {
    let settings = driver_pd::settings();
    let parts = start::parts(driver_pd::regions(), &settings, &Kernel).map(|p| {
        let peek = pd::region!(crash_peek);
        let tripwire = Tripwire::new(crash_on_ethertype.get(), peek, crash_peek_paddr.get(), &Kernel);
        p.map_nic(|nic| Hooked::new(nic, tripwire))
    });
    Pd::new(DriverPd::new(parts, &settings, Kernel, |s| STATE.init(s)))
}

pd::protection_domain!(init);
