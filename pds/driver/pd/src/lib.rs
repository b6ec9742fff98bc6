//! The driver PD's wiring to the runtime, shared by `driver.elf` (src/main.rs) and the test
//! PD `driver_crashy.elf` (tests/systems/pds/crashy-driver): the setvars and region views the
//! system file fills, the platform adapter (channels, PPC to the manager, TSC, console) and a
//! `Handler` that forwards to the host-tested `driver::pd::DriverPd`.
#![no_std]

use driver::engine::SessionSet;
use driver::pd::{
    client_channel, fault_channel, DriverPd, Nic, Platform, Regions, SessionRegions, Settings, MAX_SESSIONS,
};
use pd::{debug_println, Channel, ChannelSet, Handler, Message, Refusal};

pd::setvar!(holdoff_us: u64 = 100);
pd::setvar!(sessions: u64 = 1);
pd::setvar!(client_pd: u64 = 2);
pd::setvar!(client_pd1: u64 = u64::MAX);
pd::setvar!(client_pd2: u64 = u64::MAX);
pd::setvar!(client_pd3: u64 = u64::MAX);
pd::setvar!(mac: u64 = 0);
pd::setvar!(mac1: u64 = 0);
pd::setvar!(mac2: u64 = 0);
pd::setvar!(mac3: u64 = 0);
pd::setvar!(stats_every_irqs: u64 = 0);
pd::setvar!(nic_pci_id: u64 = 0);
pd::setvar!(driver_pd: u64 = u64::MAX);

/// Channel 0: the NIC's IRQ.
pub const IRQ: Channel = Channel::new(0);
/// Channel 2: the dataspace manager.
pub const MANAGER: Channel = Channel::new(2);

/// Session `k`'s client: channel `1 + 4k` (1 = the netstack or loopback test PD of a
/// single-session system).
pub fn client(k: usize) -> Channel {
    Channel::new(client_channel(k))
}

/// The monitor's notice that session `k`'s client faulted: id `3 + 4k`
/// (`<fault_notify pd="driver" id=".."/>` in the client's element; absent for clients that
/// are not restarted).
pub fn client_fault(k: usize) -> Channel {
    Channel::new(fault_channel(k))
}

/// The setvars (see pds/driver/README.md).
pub fn settings() -> Settings {
    Settings {
        nic_pci_id: nic_pci_id.get(),
        holdoff_us: holdoff_us.get(),
        sessions: sessions.get(),
        client_pds: [client_pd.get(), client_pd1.get(), client_pd2.get(), client_pd3.get()],
        macs: [mac.get(), mac1.get(), mac2.get(), mac3.get()],
        driver_pd: driver_pd.get(),
        stats_every_irqs: stats_every_irqs.get(),
        tsc_hz: pd::tsc_hz(),
        generation: pd::generation(),
    }
}

const _: () = assert!(MAX_SESSIONS == 4, "one set of session symbols per session below");

/// The regions the system file maps (each an error naming its `<map>` if missing; the
/// regions of sessions beyond `sessions` are not used).
pub fn regions() -> Regions {
    Regions {
        nic_regs: pd::region!(nic_regs),
        driver_dma: pd::dma_region!(driver_dma),
        translation_cache: pd::region!(translation_cache),
        sessions: [
            SessionRegions {
                rx_queues: pd::region!(rx_queues),
                tx_queues: pd::region!(tx_queues),
                buffers: pd::dma_region!(client_buffers),
            },
            SessionRegions {
                rx_queues: pd::region!(rx_queues1),
                tx_queues: pd::region!(tx_queues1),
                buffers: pd::dma_region!(client_buffers1),
            },
            SessionRegions {
                rx_queues: pd::region!(rx_queues2),
                tx_queues: pd::region!(tx_queues2),
                buffers: pd::dma_region!(client_buffers2),
            },
            SessionRegions {
                rx_queues: pd::region!(rx_queues3),
                tx_queues: pd::region!(tx_queues3),
                buffers: pd::dma_region!(client_buffers3),
            },
        ],
    }
}

/// The kernel and console, as `driver::pd` needs them.
#[derive(Clone, Copy)]
pub struct Kernel;

impl Platform for Kernel {
    type CallError = pd::Error;

    fn notify_client(&mut self, k: usize) {
        if let Err(e) = client(k).notify() {
            debug_println!("{}: cannot signal session {}'s client: {e}", pd::name(), k + 1);
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
        let mut clients = SessionSet::EMPTY;
        for k in 0..MAX_SESSIONS {
            if channels.contains(client_fault(k)) {
                self.driver.client_faulted(k);
            }
            if channels.contains(client(k)) {
                clients = clients.with(k);
            }
        }
        self.driver.notified(channels.contains(IRQ), clients);
        self.report();
    }

    fn protected(&mut self, channel: Channel, msg: Message) -> Result<Message, Refusal> {
        let Some(k) = (0..MAX_SESSIONS).find(|&k| channel == client(k)) else {
            return Err(Refusal::UNSUPPORTED);
        };
        let reply = self.driver.protected(k, &msg);
        self.report();
        reply
    }
}
