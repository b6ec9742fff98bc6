//! The network stack PD's start-up and event handling, kept out of the binary so the host can
//! test it: build the stack from the PD's regions and setvars (open the driver session, learn
//! the MAC, post receive buffers), attach the client session or host an application
//! ([`Mode`]), then forward every wake-up and protected call ([`NetstackPd`]), printing the
//! stack's, the hosted application's and the driver's statistics lines together. The PD
//! binary supplies a [`Kernel`] (the runner's [`Platform`] plus the protected call to the
//! driver); tests supply a fake. Recovery after a peer's restart is `startup/recover.rs`.

use core::fmt;

use message::Message;
use region::{MappedRegion, RegionError};
use socket_api::{Region, UdpApp};

use crate::runner::{Platform, Runner};
use crate::session::{self, CallError, DriverSession};
use crate::{Config, Netstack, DRIVER_QUEUE_CAPACITY};

/// The kernel calls of the network stack PD.
pub trait Kernel: Platform {
    /// A protected call to the driver (channel 1).
    fn call_driver(&mut self, request: &Message) -> Result<Message, CallError>;
}

/// The regions every network stack PD maps (setvars of the same names).
pub struct Regions {
    /// The driver's receive queue pair (the stack is its Receiver).
    pub rx_queues: MappedRegion,
    /// The driver's transmit queue pair (the stack is its Sender).
    pub tx_queues: MappedRegion,
    /// The packet buffers (dataspace `net_buffers_ds`).
    pub net_buffers: MappedRegion,
}

/// The PD's setvars other than regions.
#[derive(Clone, Copy, Debug)]
pub struct Settings {
    /// IPv4 address (packed by the image tool from dotted form).
    pub ip_addr: u64,
    /// Prefix length.
    pub prefix_len: u64,
    /// Gateway (packed IPv4).
    pub gateway: u64,
    /// The packet buffers' dataspace id, named in the driver session.
    pub net_buffers_ds: u64,
    /// The client data region's dataspace id (`echo_data_ds`), named in the driver session
    /// too, so the client's datagrams are sent from its own slots by reference; [`NO_DS`] =
    /// not a dataspace (they are copied into the stack's transmit frames).
    pub echo_data_ds: u64,
    /// At most one statistics line per this many milliseconds (after activity).
    pub stats_interval_ms: u64,
    /// The TSC frequency.
    pub tsc_hz: u64,
}

/// [`Settings::echo_data_ds`]: none.
pub const NO_DS: u64 = u64::MAX;

/// Who the stack serves UDP to.
pub enum Mode<'a> {
    /// A client PD over a session (`echo_queues` / `echo_data`, channel 2).
    Client {
        /// The session's queue region.
        queues: MappedRegion,
        /// The session's data region.
        data: MappedRegion,
    },
    /// An application compiled into this PD (the paper's configuration).
    Hosted {
        /// The application.
        app: &'a mut dyn UdpApp,
        /// Its statistics line, printed after the stack's.
        report: &'a dyn fmt::Display,
    },
}

/// Why the stack could not start (printed as `netstack: cannot start: ...`).
#[derive(Debug)]
pub enum StartError {
    /// A region is not mapped (the error names the `<map>` to add).
    Region(RegionError),
    /// The driver session, the configuration or a region's layout.
    Session(session::StartError),
}

impl fmt::Display for StartError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Region(e) => write!(f, "{e}"),
            Self::Session(e) => write!(f, "{e}"),
        }
    }
}

impl From<RegionError> for StartError {
    fn from(e: RegionError) -> Self {
        Self::Region(e)
    }
}

impl From<session::StartError> for StartError {
    fn from(e: session::StartError) -> Self {
        Self::Session(e)
    }
}

/// The driver call as the session helper takes it.
fn driver_call(k: &mut impl Kernel) -> impl FnMut(&Message) -> Result<Message, CallError> + '_ {
    |request| k.call_driver(request)
}

/// Builds the stack: opens the driver session, configures the stack over the regions, and
/// attaches the client or hosts the application. Prints the `up:` line.
pub fn start<'a>(regions: Regions, s: Settings, mode: Mode<'a>, k: &mut impl Kernel) -> Result<Runner<'a>, StartError> {
    use session::StartError as E;
    let ds = u32::try_from(s.net_buffers_ds)
        .map_err(|_| E::BadDataspace { setvar: "net_buffers_ds", value: s.net_buffers_ds })?;
    let client_ds = match (&mode, s.echo_data_ds) {
        (Mode::Client { .. }, NO_DS) | (Mode::Hosted { .. }, _) => None,
        (Mode::Client { .. }, v) => {
            Some(u32::try_from(v).map_err(|_| E::BadDataspace { setvar: "echo_data_ds", value: v })?)
        }
    };
    let DriverSession { session, mac } = session::open(ds, client_ds, driver_call(k))?;
    let mut cfg = Config::from_setvars(mac, s.ip_addr, s.prefix_len, s.gateway, s.tsc_hz).map_err(E::Config)?;
    cfg.pool.dataspace = ds;
    let rx = ring::Receiver::from_region(&regions.rx_queues, DRIVER_QUEUE_CAPACITY).map_err(E::Queue)?;
    let tx = ring::Sender::from_region(&regions.tx_queues, DRIVER_QUEUE_CAPACITY).map_err(E::Queue)?;
    let mut ns =
        Netstack::new(cfg, Region::from_mapped(regions.net_buffers), rx, tx, k.now_tsc()).map_err(E::Config)?;
    let mut kept = SessionRegions {
        rx_queues: regions.rx_queues,
        tx_queues: regions.tx_queues,
        client_queues: None,
        ds,
        client_ds,
    };
    match mode {
        Mode::Client { queues, data } => {
            // A restarted stack finds the old instance's queue state: start from zero.
            recover::zero(&queues);
            let end = socket_api::server_from_region(&queues).map_err(E::Queue)?;
            ns.attach_client(end, Region::from_mapped(data)).map_err(E::ClientRegion)?;
            if let Some(cds) = client_ds {
                ns.send_client_by_reference(cds);
            }
            kept.client_queues = Some(queues);
        }
        Mode::Hosted { app, .. } => {
            let port = app.port();
            ns.host_app(app).map_err(|_| E::AppPort(port))?;
            k.print(format_args!("hosting an application on UDP port {port}"));
        }
    }
    let [a, b, c, d] = cfg.ip;
    k.print(format_args!(
        "up: {a}.{b}.{c}.{d}/{} mac {} driver session {session}, {} rx buffers posted, TSC {} MHz",
        cfg.prefix_len,
        session::MacDisplay(cfg.mac),
        ns.rx_posted(),
        cfg.tsc_hz / 1_000_000
    ));
    Ok(Runner::new(ns, s.stats_interval_ms).with_regions(kept))
}

/// The running network stack PD: what its `Handler` forwards to.
pub struct NetstackPd<'a> {
    runner: &'a mut Runner<'a>,
    report: Option<&'a dyn fmt::Display>,
    recovery: recover::Recovery,
}

impl<'a> NetstackPd<'a> {
    /// After [`start`]: the first poll publishes the posted receive buffers; the driver is
    /// signalled even if it did not ask (it may have blocked before its ring existed for it).
    /// `report` is the hosted application's statistics line, if any.
    pub fn new(runner: &'a mut Runner<'a>, report: Option<&'a dyn fmt::Display>, k: &mut impl Kernel) -> Self {
        k.notify_driver();
        let _ = runner.wakeup(k, false, false);
        let recovery = recover::Recovery::new(runner.take_regions());
        Self { runner, report, recovery }
    }

    /// The stack and its counters.
    pub fn runner(&self) -> &Runner<'a> {
        self.runner
    }

    /// A notification batch (`driver` / `client`: whether those channels signalled): poll
    /// until idle, then maybe print the statistics lines (stack, hosted application, driver).
    pub fn notified(&mut self, k: &mut impl Kernel, driver: bool, client: bool) {
        if self.recovery.driver_down {
            self.reopen(k);
        }
        let _ = self.runner.wakeup(k, driver, client);
        if self.runner.maybe_report(k) && !self.recovery.driver_down {
            if let Some(r) = self.report {
                k.print(format_args!("{r}"));
            }
            // The driver's side of the same period: its interrupts and signals.
            match session::driver_stats(driver_call(k)) {
                Ok(s) => k.print(format_args!("{}", session::DriverStatsLine(s))),
                Err(e) => k.print(format_args!("no driver statistics: {e}")),
            }
        }
    }

    /// The client's protected call (BIND / UNBIND on channel 2). A BIND from a new client
    /// instance resets its session first (see `startup/recover.rs`).
    pub fn protected(&mut self, k: &mut impl Kernel, request: &Message) -> Message {
        let reset = self.before_client_call(k, request);
        let reply = self.runner.protected(request);
        if reset {
            // The zeroed queues lost our signal requests: ask again.
            let _ = self.runner.poll_until_idle(k);
        }
        reply
    }
}

mod recover;
pub use recover::SessionRegions;

#[cfg(test)]
mod tests;
