//! The UDP echo PD (`echo.elf` in `system.xml`): wires the host-tested `echo` library
//! ([`echo::service`]) to the PD runtime. It binds port 7 with a protected call to the network
//! stack (channel 1), then on every notification echoes what the stack delivered, signalling
//! the stack only when the suppressed-notification protocol says it waits for it. One
//! statistics line at most every `stats_interval_ms`, after activity.
#![no_std]
#![no_main]

use echo::service::{self, EchoPd, Platform};
use pd::{debug_println, Channel, ChannelSet, Handler};

pd::setvar!(stats_interval_ms: u64 = 1000);

const NETSTACK: Channel = Channel::new(1);

/// The kernel calls the echo makes.
struct Kernel;

impl Platform for Kernel {
    fn notify_netstack(&mut self) {
        if let Err(e) = NETSTACK.notify() {
            debug_println!("{}: cannot signal the network stack: {e}", pd::name());
        }
    }
    fn now_tsc(&mut self) -> u64 {
        pd::tsc()
    }
    fn print(&mut self, line: core::fmt::Arguments<'_>) {
        debug_println!("{}: {line}", pd::name());
    }
}

/// The PD's handler: running, or down after a start-up failure (the reason was printed).
struct Echo(Option<EchoPd<'static>>);

fn start() -> Result<EchoPd<'static>, service::StartError> {
    let queues = pd::region!(echo_queues)?;
    let data = pd::region!(echo_data)?;
    let echo = service::start(&queues, data, |m| NETSTACK.pp_call(m), &mut Kernel)?;
    Ok(EchoPd::new(echo, pd::tsc_hz(), stats_interval_ms.get()))
}

fn init() -> Echo {
    match start() {
        Ok(mut up) => {
            up.started(&mut Kernel);
            Echo(Some(up))
        }
        Err(e) => {
            debug_println!("{}: cannot start: {e}", pd::name());
            Echo(None)
        }
    }
}

impl Handler for Echo {
    fn notified(&mut self, _channels: ChannelSet) {
        if let Some(up) = &mut self.0 {
            up.notified(&mut Kernel);
        }
    }
}

pd::protection_domain!(init);
