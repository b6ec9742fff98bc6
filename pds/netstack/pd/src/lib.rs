//! The network stack PD's wiring to the PD runtime, shared by the `netstack` binary (a client
//! PD such as the echo over a session, `system.xml`) and PDs that host an application in the
//! stack (`examples/echo-in-netstack`): setvars, region views, the [`Kernel`] adapter and a
//! `Handler` that forwards to [`netstack::startup::NetstackPd`], where all the logic is.
#![no_std]

use core::fmt::Display;

use netstack::runner::{Platform, Runner};
use netstack::session::CallError;
use netstack::startup::{self, NetstackPd, Regions, Settings};
use pd::{debug_println, Channel, ChannelSet, Handler, Message, Refusal};
use socket_api::UdpApp;
use static_cell::StaticCell;

// IPv4 settings (dotted in the system file, packed by the image tool), the packet buffers'
// dataspace id (named in the driver session), at most one stats line per this many ms.
pd::setvar!(ip_addr: u64 = 0x0a00_020f);
pd::setvar!(prefix_len: u64 = 24);
pd::setvar!(gateway: u64 = 0x0a00_0202);
pd::setvar!(net_buffers_ds: u64 = 0);
pd::setvar!(echo_data_ds: u64 = u64::MAX);
pd::setvar!(stats_interval_ms: u64 = 1000);

const DRIVER: Channel = Channel::new(1);
const CLIENT: Channel = Channel::new(2);
/// The monitor's notices (`<fault_notify>` ids): the driver faulted, the client faulted.
const DRIVER_FAULT: Channel = Channel::new(3);
const CLIENT_FAULT: Channel = Channel::new(4);

/// The kernel calls the stack makes, through the PD runtime.
pub struct Kernel;

impl Platform for Kernel {
    fn notify_driver(&mut self) {
        DRIVER.notify().unwrap_or_else(|e| debug_println!("{}: cannot signal the driver: {e}", pd::name()));
    }
    fn notify_client(&mut self) {
        CLIENT.notify().unwrap_or_else(|e| debug_println!("{}: cannot signal the client: {e}", pd::name()));
    }
    fn now_tsc(&mut self) -> u64 {
        pd::tsc()
    }
    fn print(&mut self, line: core::fmt::Arguments<'_>) {
        debug_println!("{}: {}", pd::name(), line);
    }
    fn yield_now(&mut self) {
        pd::yield_now();
    }
}

impl startup::Kernel for Kernel {
    fn call_driver(&mut self, request: &Message) -> Result<Message, CallError> {
        DRIVER.pp_call(request).map_err(|e| match e {
            pd::Error::Refused { code, .. } => CallError::Refused(code),
            _ => CallError::Kernel,
        })
    }
}

/// Who the stack serves UDP to.
pub enum Mode {
    /// A client PD over the session regions `echo_queues` / `echo_data` (channel 2).
    Client,
    /// An application compiled into this PD, with its statistics line.
    Hosted { app: &'static mut dyn UdpApp, report: &'static dyn Display },
}

/// The PD's handler: running, or down after a start-up failure (the reason was printed); and
/// its buffer pools as the monitor's `status` shows them (`rx`, `tx`, `client`).
pub struct NetstackHandler(Option<NetstackPd<'static>>, [Option<pd::Pool>; 3]);

impl NetstackHandler {
    fn report(&self) {
        let Some(ns) = &self.0 else { return };
        let p = ns.runner().stack().pools();
        for (pool, c) in self.1.iter().zip([Some(p.rx), Some(p.tx), p.client]) {
            if let (Some(pool), Some(c)) = (pool, c) {
                pool.report(c.size, c.free, c.posted);
            }
        }
    }
}

static RUNNER: StaticCell<Runner<'static>> = StaticCell::new();

fn start(mode: Mode) -> Result<NetstackPd<'static>, startup::StartError> {
    let regions = Regions {
        rx_queues: pd::region!(rx_queues)?,
        tx_queues: pd::region!(tx_queues)?,
        net_buffers: pd::region!(net_buffers)?,
    };
    let (ip, prefix, gw, ds, interval) =
        (ip_addr.get(), prefix_len.get(), gateway.get(), net_buffers_ds.get(), stats_interval_ms.get());
    let settings = Settings {
        ip_addr: ip,
        prefix_len: prefix,
        gateway: gw,
        net_buffers_ds: ds,
        echo_data_ds: echo_data_ds.get(),
        stats_interval_ms: interval,
        tsc_hz: pd::tsc_hz(),
    };
    let (mode, report) = match mode {
        Mode::Client => {
            (startup::Mode::Client { queues: pd::region!(echo_queues)?, data: pd::region!(echo_data)? }, None)
        }
        Mode::Hosted { app, report } => (startup::Mode::Hosted { app, report }, Some(report)),
    };
    let runner = RUNNER.init(startup::start(regions, settings, mode, &mut Kernel)?);
    Ok(NetstackPd::new(runner, report, &mut Kernel))
}

/// Starts the stack (call from the PD's `init`); on failure prints why.
pub fn init(mode: Mode) -> NetstackHandler {
    let ns = start(mode).map_err(|e| debug_println!("{}: cannot start: {e}", pd::name())).ok();
    let client = ns.as_ref().is_some_and(|n| n.runner().stack().pools().client.is_some());
    let pools =
        [Some(pd::Pool::register("rx")), Some(pd::Pool::register("tx")), client.then(|| pd::Pool::register("client"))];
    let h = NetstackHandler(ns, pools);
    h.report();
    h
}

impl Handler for NetstackHandler {
    fn notified(&mut self, channels: ChannelSet) {
        if let Some(ns) = &mut self.0 {
            if channels.contains(DRIVER_FAULT) {
                ns.driver_faulted(&mut Kernel);
            }
            if channels.contains(CLIENT_FAULT) {
                ns.client_faulted(&mut Kernel);
            }
            ns.notified(&mut Kernel, channels.contains(DRIVER), channels.contains(CLIENT));
        }
        self.report();
    }

    fn protected(&mut self, channel: Channel, msg: Message) -> Result<Message, Refusal> {
        let reply = match &mut self.0 {
            Some(ns) if channel == CLIENT => Ok(ns.protected(&mut Kernel, &msg)),
            _ => Err(Refusal::UNSUPPORTED),
        };
        self.report();
        reply
    }
}
