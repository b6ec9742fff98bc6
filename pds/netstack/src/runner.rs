//! The network stack PD's event handling, kept out of the binary so the host can test it: what
//! to do on a wake-up (poll until the stack has no more work, performing the signals its
//! [`Actions`] ask for), wake-up counters, and a rate-limited statistics line. The PD binary
//! supplies a [`Platform`] (the kernel calls: notify, clock, console); tests supply a fake.
//!
//! **Timers.** seL4 5.0 gives this system no timer service, so the PD never sleeps with a
//! deadline: `Actions::next_wakeup_tsc` (smoltcp's ARP retries and neighbour-cache expiry) is
//! served at the next wake-up, which any frame or client signal brings. Nothing is lost by it:
//! a datagram or ping whose destination MAC is unknown is dropped while the ARP request goes
//! out (smoltcp does the same with a timer), and the peer's retry finds the neighbour known.
//! The fast path learns MACs from every datagram it takes, so echo replies never wait for ARP.

use core::fmt;

use crate::stack::{Actions, Netstack, Stats};
use crate::DeviceStats;

/// The kernel calls the runner needs; the PD binary implements them with `support/pd`.
pub trait Platform {
    /// Signal the driver (channel 1 in `system.xml`).
    fn notify_driver(&mut self);
    /// Signal the session client (the echo PD, channel 2).
    fn notify_client(&mut self);
    /// The TSC now.
    fn now_tsc(&mut self) -> u64;
    /// Print one line on the console.
    fn print(&mut self, line: fmt::Arguments<'_>);
    /// Called between bounded polls while a backlog remains: let other PDs of this priority
    /// (e.g. a second stack on the same NIC) run before the next batch. Default: nothing.
    fn yield_now(&mut self) {}
}

/// Counters of the PD around the stack: what woke it and what it signalled.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PdCounters {
    /// Wake-ups (notification batches) handled.
    pub wakeups: u64,
    /// Wake-ups that included the driver's signal.
    pub from_driver: u64,
    /// Wake-ups that included the client's signal.
    pub from_client: u64,
    /// Protected calls served (the client's BIND/UNBIND).
    pub ppcs: u64,
    /// `poll` calls that followed another in the same wake-up (work arrived meanwhile).
    pub repolls: u64,
    /// Signals sent to the driver.
    pub to_driver: u64,
    /// Signals sent to the client.
    pub to_client: u64,
}

/// Prints at most one line per interval, and only when something changed.
#[derive(Clone, Copy, Debug)]
pub struct RateLimit {
    interval_tsc: u64,
    last_tsc: Option<u64>,
    last_mark: u64,
}

impl RateLimit {
    /// At most one line per `interval_ms` milliseconds of a `tsc_hz` clock.
    pub fn new(tsc_hz: u64, interval_ms: u64) -> Self {
        let interval_tsc = u64::try_from(u128::from(tsc_hz) * u128::from(interval_ms) / 1000).unwrap_or(u64::MAX);
        Self { interval_tsc, last_tsc: None, last_mark: 0 }
    }

    /// Whether to print now: `mark` is any value that changes with activity (e.g. a count of
    /// wake-ups); nothing is printed while it stays the same.
    pub fn due(&mut self, now_tsc: u64, mark: u64) -> bool {
        if mark == self.last_mark {
            return false;
        }
        if let Some(t) = self.last_tsc {
            if now_tsc.wrapping_sub(t) < self.interval_tsc {
                return false;
            }
        }
        self.last_tsc = Some(now_tsc);
        self.last_mark = mark;
        true
    }
}

/// The stack with its PD-level counters and statistics output.
pub struct Runner<'a> {
    ns: Netstack<'a>,
    counters: PdCounters,
    report: RateLimit,
    regions: Option<crate::startup::SessionRegions>,
}

impl<'a> Runner<'a> {
    /// Wraps a built stack; statistics lines at most every `stats_interval_ms` (0 = after every
    /// wake-up that did something).
    pub fn new(ns: Netstack<'a>, stats_interval_ms: u64) -> Self {
        let hz = ns.config().tsc_hz;
        Self { ns, counters: PdCounters::default(), report: RateLimit::new(hz, stats_interval_ms), regions: None }
    }

    /// The same runner keeping the session regions (what recovery lays new queue ends over).
    pub fn with_regions(mut self, regions: crate::startup::SessionRegions) -> Self {
        self.regions = Some(regions);
        self
    }

    /// Hands the session regions over (once; `None` if none were given).
    pub fn take_regions(&mut self) -> Option<crate::startup::SessionRegions> {
        self.regions.take()
    }

    /// The stack, to reset a session after a peer's restart.
    pub fn stack_mut(&mut self) -> &mut Netstack<'a> {
        &mut self.ns
    }

    /// The stack.
    pub fn stack(&self) -> &Netstack<'a> {
        &self.ns
    }

    /// The PD counters.
    pub fn counters(&self) -> PdCounters {
        self.counters
    }

    /// Polls until the stack has no more work, performing its signals. Call after `init`
    /// (`driver`/`client` false) and on every notification. Each poll is bounded (one ring's
    /// worth); the loop ends only when the stack has asked for the signals it waits for and
    /// re-checked its queues (the suppressed-notification protocol), so returning to the event
    /// loop can never lose a wake-up. A peer that floods the stack keeps it here, which is what
    /// its priority says (the driver, above it, still runs).
    pub fn wakeup(&mut self, p: &mut impl Platform, driver: bool, client: bool) -> Actions {
        self.counters.wakeups += 1;
        self.counters.from_driver += u64::from(driver);
        self.counters.from_client += u64::from(client);
        self.poll_until_idle(p)
    }

    /// Polls until idle as [`Runner::wakeup`] does, but not counted as a wake-up (after a
    /// session reset, to publish buffers and ask for signals again).
    pub fn poll_until_idle(&mut self, p: &mut impl Platform) -> Actions {
        let mut first = true;
        loop {
            if !core::mem::take(&mut first) {
                self.counters.repolls += 1;
            }
            let a = self.ns.poll(p.now_tsc());
            if a.notify_driver() {
                p.notify_driver();
                self.counters.to_driver += 1;
            }
            if a.notify_client {
                p.notify_client();
                self.counters.to_client += 1;
            }
            if !a.more_work {
                return a;
            }
            p.yield_now();
        }
    }

    /// Serves the client's protected call (BIND/UNBIND) and returns the reply.
    pub fn protected(&mut self, request: &socket_api::msg::Message) -> socket_api::msg::Message {
        self.counters.ppcs += 1;
        self.ns.protected(request)
    }

    /// Prints the statistics line if the interval passed and something happened since; true
    /// if it printed.
    pub fn maybe_report(&mut self, p: &mut impl Platform) -> bool {
        let now = p.now_tsc();
        let due = self.report.due(now, self.counters.wakeups + self.counters.ppcs);
        if due {
            self.print_stats(p);
        }
        due
    }

    /// Prints the statistics line now.
    pub fn print_stats(&self, p: &mut impl Platform) {
        p.print(format_args!(
            "{}",
            StatsLine { pd: &self.counters, stack: &self.ns.stats(), dev: &self.ns.device_stats() }
        ));
    }
}

/// One line with every counter, `key=value` separated by spaces (tests parse it).
pub struct StatsLine<'s> {
    /// PD counters.
    pub pd: &'s PdCounters,
    /// Stack counters.
    pub stack: &'s Stats,
    /// Device counters.
    pub dev: &'s DeviceStats,
}

impl fmt::Display for StatsLine<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (p, s, d) = (self.pd, self.stack, self.dev);
        write!(
            f,
            "stats wakeups={} from_driver={} from_client={} ppcs={} repolls={} to_driver={} to_client={} \
             frames_in={} frames_out={} udp_in={} udp_out={} to_smoltcp={} drop_malformed={} \
             drop_bad_checksum={} drop_other_mac={} drop_no_tx_buffer={} drop_client_full={} \
             drop_no_neighbour={} drop_app={} client_backpressure={} rx_bad_desc={} tx_bad_desc={} \
             tx_refused={} tx_no_buffer={} queue_corrupt={} copies_to_client={} copies_from_client={} \
             sent_by_reference={} drop_bad_range={}",
            p.wakeups,
            p.from_driver,
            p.from_client,
            p.ppcs,
            p.repolls,
            p.to_driver,
            p.to_client,
            d.frames_in,
            d.frames_out,
            s.udp_in,
            s.udp_out,
            s.to_smoltcp,
            s.drop_malformed,
            s.drop_bad_checksum,
            s.drop_other_mac,
            s.drop_no_tx_buffer,
            s.drop_client_full,
            s.drop_no_neighbour,
            s.drop_app,
            s.client_backpressure,
            d.rx_bad_desc,
            d.tx_bad_desc,
            d.tx_refused,
            d.tx_no_buffer,
            d.queue_corrupt + s.driver_queue_corrupt + s.client_queue_corrupt,
            s.copies_to_client,
            s.copies_from_client,
            s.sent_by_reference,
            s.drop_bad_range,
        )
    }
}
