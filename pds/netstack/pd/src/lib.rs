//! The network stack PD's wiring to the PD runtime, shared by the `netstack` binary (a client
//! PD such as the echo over a session, `system.xml`) and PDs that host an application in the
//! stack (`examples/echo-in-netstack`). At start it reads its setvars (regions, IPv4
//! settings), opens a session with the driver over channel 1 (the reply names the NIC's MAC),
//! builds the stack over the driver's queues and the packet buffers, attaches the client
//! session (channel 2) or hosts the application, and then polls on every notification
//! ([`netstack::Runner`]); channel 2's PPCs bind ports.
#![no_std]

use netstack::runner::{Platform, Runner};
use socket_api::UdpApp;
use netstack::session::{self, DriverSession};
use netstack::{Config, Netstack};
use pd::{debug_println, Channel, ChannelSet, Handler, Message, Refusal};
use socket_api::Region;
use static_cell::StaticCell;

// Regions (system.xml maps them; the image tool writes their addresses and sizes).
pd::setvar!(rx_queues: u64 = 0);
pd::setvar!(rx_queues_size: u64 = 0);
pd::setvar!(tx_queues: u64 = 0);
pd::setvar!(tx_queues_size: u64 = 0);
pd::setvar!(net_buffers: u64 = 0);
pd::setvar!(net_buffers_size: u64 = 0);
pd::setvar!(echo_queues: u64 = 0);
pd::setvar!(echo_queues_size: u64 = 0);
pd::setvar!(echo_data: u64 = 0);
pd::setvar!(echo_data_size: u64 = 0);
// IPv4 settings: dotted addresses in the system file, packed by the image tool.
pd::setvar!(ip_addr: u64 = 0x0a00_020f);
pd::setvar!(prefix_len: u64 = 24);
pd::setvar!(gateway: u64 = 0x0a00_0202);
// The packet buffers' dataspace id (what the session with the driver names them).
pd::setvar!(net_buffers_ds: u64 = 0);
// At most one statistics line per this many milliseconds (only after activity).
pd::setvar!(stats_interval_ms: u64 = 1000);

const DRIVER: Channel = Channel::new(1);
const CLIENT: Channel = Channel::new(2);

/// The kernel calls the runner makes, through the PD runtime.
pub struct Kernel;

impl Platform for Kernel {
    fn notify_driver(&mut self) {
        if let Err(e) = DRIVER.notify() {
            debug_println!("{}: cannot signal the driver: {e}", pd::name());
        }
    }
    fn notify_client(&mut self) {
        if let Err(e) = CLIENT.notify() {
            debug_println!("{}: cannot signal the client: {e}", pd::name());
        }
    }
    fn now_tsc(&mut self) -> u64 {
        pd::tsc()
    }
    fn print(&mut self, line: core::fmt::Arguments<'_>) {
        debug_println!("{}: {}", pd::name(), line);
    }
}

/// Prints the statistics of an application hosted in the stack (after the stack's own line).
pub trait HostedReport {
    /// Print one line.
    fn print(&self);
}

/// Who the stack serves UDP to.
pub enum Mode {
    /// A client PD over the session regions `echo_queues` / `echo_data` (channel 2).
    Client,
    /// An application compiled into this PD (the paper's configuration).
    Hosted {
        /// The application.
        app: &'static mut dyn UdpApp,
        /// Its statistics line.
        report: &'static dyn HostedReport,
    },
}

/// The PD's handler.
pub enum NetstackPd {
    /// Running.
    Up {
        /// The stack and its counters.
        runner: &'static mut Runner<'static>,
        /// A hosted application's statistics.
        report: Option<&'static dyn HostedReport>,
    },
    /// Start-up failed (the reason was printed); the PD answers nothing.
    Down,
}

static RUNNER: StaticCell<Runner<'static>> = StaticCell::new();

/// A protected call to the driver (channel 1).
fn call_driver(msg: &Message) -> Result<Message, session::CallError> {
    DRIVER.pp_call(msg).map_err(|e| match e {
        pd::Error::Refused { code, .. } => session::CallError::Refused(code),
        _ => session::CallError::Kernel,
    })
}

/// The region a pair of setvars names, or an error naming the setvar.
fn region(name: &'static str, vaddr: u64, size: u64) -> Result<(*mut u8, usize), session::StartError> {
    if vaddr == 0 || size == 0 {
        return Err(session::StartError::MissingRegion(name));
    }
    Ok((vaddr as *mut u8, size as usize))
}

fn start(mode: Mode) -> Result<Runner<'static>, session::StartError> {
    use session::StartError as E;
    let rxq = region("rx_queues", rx_queues.get(), rx_queues_size.get())?;
    let txq = region("tx_queues", tx_queues.get(), tx_queues_size.get())?;
    let bufs = region("net_buffers", net_buffers.get(), net_buffers_size.get())?;
    let ds = u32::try_from(net_buffers_ds.get()).map_err(|_| E::BadDataspace(net_buffers_ds.get()))?;

    let DriverSession { session, mac } = session::open(ds, call_driver)?;
    let mut cfg = Config::from_setvars(mac, ip_addr.get(), prefix_len.get(), gateway.get(), pd::tsc_hz()).map_err(E::Config)?;
    cfg.pool.dataspace = ds;

    // SAFETY: system.xml maps these regions read-write into this PD at the addresses and sizes
    // the image tool wrote into the setvars; each is used only through the one view made here
    // (the driver's queue pairs, the packet buffers) for the rest of the PD's life.
    let (rx, tx, buffers) = unsafe {
        (
            ring::Receiver::from_raw(rxq.0, rxq.1, netstack::DRIVER_QUEUE_CAPACITY).map_err(E::Queue)?,
            ring::Sender::from_raw(txq.0, txq.1, netstack::DRIVER_QUEUE_CAPACITY).map_err(E::Queue)?,
            Region::from_raw(bufs.0, bufs.1),
        )
    };
    let mut ns = Netstack::new(cfg, buffers, rx, tx, pd::tsc()).map_err(E::Config)?;

    match mode {
        Mode::Client => {
            let q = region("echo_queues", echo_queues.get(), echo_queues_size.get())?;
            let d = region("echo_data", echo_data.get(), echo_data_size.get())?;
            // SAFETY: as above, for the client session's two regions (mapped rw, used only here).
            let (end, data) = unsafe { (socket_api::server_from_raw(q.0, q.1).map_err(E::Queue)?, Region::from_raw(d.0, d.1)) };
            ns.attach_client(end, data).map_err(E::ClientRegion)?;
        }
        Mode::Hosted { app, .. } => {
            let port = app.port();
            ns.host_app(app).map_err(|_| E::AppPort(port))?;
            debug_println!("{}: hosting an application on UDP port {port}", pd::name());
        }
    }
    let [a, b, c, d] = cfg.ip;
    debug_println!(
        "{}: up: {a}.{b}.{c}.{d}/{} mac {} driver session {session}, {} rx buffers posted, TSC {} MHz",
        pd::name(),
        cfg.prefix_len,
        session::MacDisplay(cfg.mac),
        ns.rx_posted(),
        cfg.tsc_hz / 1_000_000
    );
    Ok(Runner::new(ns, stats_interval_ms.get()))
}

/// Starts the stack (call from the PD's `init`); on failure prints why and returns
/// [`NetstackPd::Down`].
pub fn init(mode: Mode) -> NetstackPd {
    let report = match &mode {
        Mode::Client => None,
        Mode::Hosted { report, .. } => Some(*report),
    };
    match start(mode) {
        Ok(r) => {
            let runner = RUNNER.init(r);
            // The first poll publishes the posted receive buffers; signal the driver even if it
            // did not ask (it may have blocked before its ring existed for it).
            Kernel.notify_driver();
            let _ = runner.wakeup(&mut Kernel, false, false);
            NetstackPd::Up { runner, report }
        }
        Err(e) => {
            debug_println!("{}: cannot start: {e}", pd::name());
            NetstackPd::Down
        }
    }
}

impl Handler for NetstackPd {
    fn notified(&mut self, channels: ChannelSet) {
        if let NetstackPd::Up { runner, report } = self {
            let _ = runner.wakeup(&mut Kernel, channels.contains(DRIVER), channels.contains(CLIENT));
            if runner.maybe_report(&mut Kernel) {
                if let Some(r) = report {
                    r.print();
                }
                // The driver's side of the same period: its interrupts and signals.
                match session::driver_stats(call_driver) {
                    Ok(s) => debug_println!("{}: {}", pd::name(), session::DriverStatsLine(s)),
                    Err(e) => debug_println!("{}: no driver statistics: {e}", pd::name()),
                }
            }
        }
    }

    fn protected(&mut self, channel: Channel, msg: Message) -> Result<Message, Refusal> {
        match self {
            NetstackPd::Up { runner, .. } if channel == CLIENT => {
                let reply = runner.protected(msg.label(), msg.words());
                Message::new(reply.label, reply.mrs()).map_err(|_| Refusal::BAD_MESSAGE)
            }
            _ => Err(Refusal::UNSUPPORTED),
        }
    }
}
