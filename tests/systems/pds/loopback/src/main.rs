//! Test-only PD: the NIC driver's loopback client (tests/systems/loopback*.xml): channel 1 is
//! the driver, 2 the dataspace manager (admin), 3 the monitor's notice that the driver faulted
//! (loopback-restart.xml). The logic is this crate's library (`test_loopback::Loopback`).
#![no_std]
#![no_main]

use nic_api::client::CallError;
use pd::{debug_println, Channel, ChannelSet, Handler, Message};
use test_loopback::{Loopback, Platform, Regions};

pd::setvar!(net_buffers_ds: u64 = 0);
pd::setvar!(rx_buffers: u64 = 128);

const DRIVER: Channel = Channel::new(1);
const MANAGER: Channel = Channel::new(2);
/// The monitor's notice that the driver faulted.
const DRIVER_FAULT: Channel = Channel::new(3);

struct Kernel;

fn call(ch: Channel, m: &Message) -> Result<Message, CallError> {
    ch.pp_call(m).map_err(|e| {
        debug_println!("{}: call on {ch} failed: {e}", pd::name());
        match e {
            pd::Error::Refused { code, .. } => CallError::Refused(code),
            _ => CallError::Kernel,
        }
    })
}

impl Platform for Kernel {
    fn call_driver(&mut self, m: &Message) -> Result<Message, CallError> {
        call(DRIVER, m)
    }
    fn call_manager(&mut self, m: &Message) -> Result<Message, CallError> {
        call(MANAGER, m)
    }
    fn notify_driver(&mut self) {
        let _ = DRIVER.notify();
    }
    fn print(&self, line: core::fmt::Arguments<'_>) {
        debug_println!("{}: {}", pd::name(), line);
    }
}

struct Pd(Option<Loopback<Kernel>>);

fn init() -> Pd {
    let regions = (pd::region!(rx_queues), pd::region!(tx_queues), pd::region!(net_buffers));
    let (Ok(rx_queues), Ok(tx_queues), Ok(net_buffers)) = regions else {
        debug_println!("{}: a region is not mapped: {regions:?}", pd::name());
        return Pd(None);
    };
    let regions = Regions { rx_queues, tx_queues, net_buffers };
    Pd(Some(Loopback::start(Kernel, regions, net_buffers_ds.get() as u32, rx_buffers.get())))
}

impl Handler for Pd {
    fn notified(&mut self, channels: ChannelSet) {
        let Some(lb) = &mut self.0 else { return };
        if channels.contains(DRIVER_FAULT) {
            lb.driver_faulted();
        } else if channels.contains(DRIVER) {
            lb.driver_notified();
        }
    }
}

pd::protection_domain!(init);
