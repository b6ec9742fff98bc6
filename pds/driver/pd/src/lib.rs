//! The driver PD's wiring to the runtime, shared by `driver.elf` (src/main.rs) and the test
//! PD `driver_crashy.elf` (tests/systems/pds/crashy-driver): the setvars and region views the
//! system file fills, the platform adapter (channels, PPC to the manager, TSC, console) and a
//! `Handler` that forwards to the host-tested `driver::pd::DriverPd`.
#![no_std]

use driver::pd::{DriverPd, Nic, Platform, Regions, Settings};
use pd::{debug_println, Channel, ChannelSet, Handler, Message, Refusal};

pd::setvar!(holdoff_us: u64 = 100);
pd::setvar!(client_pd: u64 = 2);
pd::setvar!(stats_every_irqs: u64 = 0);
pd::setvar!(nic_pci_id: u64 = 0);
pd::setvar!(driver_pd: u64 = u64::MAX);

/// Channel 0: the NIC's IRQ.
pub const IRQ: Channel = Channel::new(0);
/// Channel 1: the client (netstack or the loopback test PD).
pub const CLIENT: Channel = Channel::new(1);
/// Channel 2: the dataspace manager.
pub const MANAGER: Channel = Channel::new(2);
/// Id 3: the monitor's notice that the client faulted (`<fault_notify pd="driver" id="3"/>`
/// in the client's element; absent in systems whose client is not restarted).
pub const CLIENT_FAULT: Channel = Channel::new(3);

/// The setvars (see pds/driver/README.md).
pub fn settings() -> Settings {
    Settings {
        nic_pci_id: nic_pci_id.get(),
        holdoff_us: holdoff_us.get(),
        client_pd: client_pd.get(),
        driver_pd: driver_pd.get(),
        stats_every_irqs: stats_every_irqs.get(),
        tsc_hz: pd::tsc_hz(),
        generation: pd::generation(),
    }
}

/// The regions the system file maps (each an error naming its `<map>` if missing).
pub fn regions() -> Regions {
    Regions {
        nic_regs: pd::region!(nic_regs),
        driver_dma: pd::dma_region!(driver_dma),
        rx_queues: pd::region!(rx_queues),
        tx_queues: pd::region!(tx_queues),
        translation_cache: pd::region!(translation_cache),
    }
}

/// The kernel and console, as `driver::pd` needs them.
#[derive(Clone, Copy)]
pub struct Kernel;

impl Platform for Kernel {
    type CallError = pd::Error;

    fn notify_client(&mut self) {
        if let Err(e) = CLIENT.notify() {
            debug_println!("{}: cannot signal the client: {e}", pd::name());
        }
    }
    fn irq_ack(&mut self) {
        if let Err(e) = IRQ.irq_ack() {
            debug_println!("{}: cannot ack the IRQ: {e}", pd::name());
        }
    }
    fn call_manager(&mut self, request: &Message) -> Result<Message, pd::Error> {
        MANAGER.pp_call(request)
    }
    fn now(&self) -> u64 {
        pd::tsc()
    }
    fn print(&self, line: core::fmt::Arguments<'_>) {
        debug_println!("{}: {}", pd::name(), line);
    }
    fn is_stopped(e: &pd::Error) -> bool {
        matches!(e, pd::Error::Refused { code, .. } if *code == Refusal::STOPPED.0)
    }
}

/// The PD's handler: forwards notifications and the client's PPCs, and reports the receive
/// ring (`rx`) to the monitor's `status` after each.
pub struct Pd<B: Nic + 'static> {
    driver: DriverPd<B, Kernel>,
    rx: pd::Pool,
}

impl<B: Nic + 'static> Pd<B> {
    /// The handler around a started driver.
    pub fn new(driver: DriverPd<B, Kernel>) -> Self {
        let pd = Self { driver, rx: pd::Pool::register("rx") };
        pd.report();
        pd
    }

    fn report(&self) {
        let (size, free, posted) = self.driver.rx_pool();
        self.rx.report(size, free, posted);
    }
}

impl<B: Nic + 'static> Handler for Pd<B> {
    fn notified(&mut self, channels: ChannelSet) {
        if channels.contains(CLIENT_FAULT) {
            self.driver.client_faulted();
        }
        self.driver.notified(channels.contains(IRQ), channels.contains(CLIENT));
        self.report();
    }

    fn protected(&mut self, channel: Channel, msg: Message) -> Result<Message, Refusal> {
        if channel != CLIENT {
            return Err(Refusal::UNSUPPORTED);
        }
        let reply = self.driver.protected(&msg);
        self.report();
        reply
    }
}
