//! Test-only PD (`driver_crashy.elf`, tests/systems/loopback-restart.xml): the production
//! driver wiring (`driver_pd`) with its backend wrapped in the crash hook: with
//! `crash_on_ethertype` set and the client's buffers mapped read-only (`crash_peek`,
//! `crash_peek_size`, `crash_peek_paddr`), a received frame of that EtherType makes the driver
//! panic, i.e. fault, in its interrupt path, so the monitor's restart path can be tested.
//! With `stray_rx_paddr` set (tests/systems/iommu-stray.xml), its first receive buffer goes to
//! the device at that physical address, outside its DMA grant; when the device completes it,
//! the driver notifies channel 4 (the victim PD, which checks its page).
#![no_std]
#![no_main]

use driver::pd::hooks::{Hooked, Stray, StrayEvent, Tripwire};
use driver::pd::{start, AnyNic, DriverPd, State};
use driver_pd::{Kernel, Pd};
use static_cell::StaticCell;

pd::setvar!(crash_on_ethertype: u64 = 0);
pd::setvar!(crash_peek_paddr: u64 = 0);
pd::setvar!(stray_rx_paddr: u64 = 0);

/// Channel 4: the victim PD whose page the stray buffer points at.
const VICTIM: pd::Channel = pd::Channel::new(4);

fn stray_report(e: StrayEvent) {
    match e {
        StrayEvent::Posted { slot, paddr } => pd::debug_println!(
            "{}: TEST HOOK: receive slot {slot} given to the device at physical {paddr:#x}, outside this driver's DMA grant",
            pd::name()
        ),
        StrayEvent::Completed { slot, paddr } => {
            pd::debug_println!(
                "{}: TEST HOOK: the device completed receive slot {slot} (buffer at physical {paddr:#x}); telling the victim",
                pd::name()
            );
            if let Err(e) = VICTIM.notify() {
                pd::debug_println!("{}: TEST HOOK: notifying the victim failed: {e:?}", pd::name());
            }
        }
    }
}

static STATE: StaticCell<State<Hooked<AnyNic>, Kernel>> = StaticCell::new();

fn init() -> Pd<Hooked<AnyNic>> {
    let settings = driver_pd::settings();
    let parts = start::parts(driver_pd::regions(), &settings, &Kernel).map(|p| {
        let peek = pd::region!(crash_peek);
        let tripwire = Tripwire::new(crash_on_ethertype.get(), peek, crash_peek_paddr.get(), &Kernel);
        let stray = Stray::new(stray_rx_paddr.get(), stray_report);
        p.map_nic(|nic| Hooked::new(nic, tripwire).with_stray(stray))
    });
    Pd::new(DriverPd::new(parts, &settings, Kernel, |s| STATE.init(s)))
}

pd::protection_domain!(init);
