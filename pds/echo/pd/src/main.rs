//! The UDP echo PD (`echo.elf` in `system.xml`): wires the host-tested `echo` library
//! ([`echo::service`]) to the PD runtime. It binds port 7 with a protected call to the network
//! stack (channel 1), then on every notification echoes what the stack delivered, signalling
//! the stack only when the suppressed-notification protocol says it waits for it. One
//! statistics line at most every `stats_interval_ms`, after activity. Id 2 is the monitor's
//! notice that the stack faulted (bind again); its reply slots are the pool `reply`.
#![no_std]
#![no_main]

use echo::service::{self, CallFailed, EchoPd, Platform};
use pd::{debug_println, Channel, ChannelSet, Handler, Message, Refusal};

pd::setvar!(stats_interval_ms: u64 = 1000);

const NETSTACK: Channel = Channel::new(1);
const NETSTACK_FAULT: Channel = Channel::new(2);

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
    fn yield_now(&mut self) {
        pd::yield_now();
    }
    fn call_netstack(&mut self, m: &Message) -> Result<Message, CallFailed> {
        NETSTACK.pp_call(m).map_err(|e| match e {
            pd::Error::Refused { code, .. } if code == Refusal::RESTARTED.0 => CallFailed::Restarted,
            e => {
                debug_println!("{}: calling the network stack: {e}", pd::name());
                CallFailed::Failed
            }
        })
    }
}

/// The PD's handler: running, or down after a start-up failure (the reason was printed).
struct Echo(Option<EchoPd<'static>>, pd::Pool);

fn start() -> Result<EchoPd<'static>, service::StartError> {
    let queues = pd::region!(echo_queues)?;
    let data = pd::region!(echo_data)?;
    let echo = service::start(&queues, data, |m| NETSTACK.pp_call(m), &mut Kernel)?;
    Ok(EchoPd::new(echo, pd::tsc_hz(), stats_interval_ms.get()).with_queues(queues))
}

fn init() -> Echo {
    let pool = pd::Pool::register("reply");
    let up = start().map_err(|e| debug_println!("{}: cannot start: {e}", pd::name())).ok();
    let mut echo = Echo(up, pool);
    if let Some(up) = &mut echo.0 {
        up.started(&mut Kernel);
    }
    echo.report();
    echo
}

impl Echo {
    fn report(&self) {
        if let Some(up) = &self.0 {
            let (size, free, posted) = up.echo().pool();
            self.1.report(size, free, posted);
        }
    }
}

impl Handler for Echo {
    fn notified(&mut self, channels: ChannelSet) {
        if let Some(up) = &mut self.0 {
            if channels.contains(NETSTACK_FAULT) {
                up.netstack_faulted(&mut Kernel);
            }
            up.notified(&mut Kernel);
        }
        self.report();
    }
}

pd::protection_domain!(init);
