//! The echo PD's life around [`Echo`], kept out of the binary so the host can test it:
//! start-up (views of the session regions, the BIND call to the stack), the poll-until-idle
//! loop run on every wake-up, the rate-limited statistics line, and recovery after the stack
//! restarts ([`EchoPd::netstack_faulted`]: bind again, then reset our side of the session). The
//! PD binary supplies a [`Platform`] (notify the stack, call it, the clock, the console); tests
//! supply a fake.

use core::fmt;

use message::Message;
use region::MappedRegion;
use socket_api::Region;

use crate::{Echo, EchoError, EchoStats, ECHO_PORT};

/// The kernel calls the echo PD makes, through the PD runtime.
pub trait Platform {
    /// Signal the network stack (channel 1 in `system.xml`); the adapter prints a failure.
    fn notify_netstack(&mut self);
    /// The TSC now.
    fn now_tsc(&mut self) -> u64;
    /// Print one line on the console (the adapter prefixes the PD's name).
    fn print(&mut self, line: fmt::Arguments<'_>);
    /// A protected call to the stack (channel 1); the adapter prints a failure itself.
    fn call_netstack(&mut self, request: &Message) -> Result<Message, CallFailed>;
    /// Called between bounded polls while a backlog remains: let other PDs of this priority
    /// (e.g. another stack's echo) run before the next batch. Default: nothing.
    fn yield_now(&mut self) {}
}

/// Why a call to the stack got no reply.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CallFailed {
    /// The stack faulted while serving it and was restarted (`Refusal::RESTARTED`): try again.
    Restarted,
    /// Any other failure (printed by the adapter).
    Failed,
}

/// Tries of a BIND refused because the stack restarted under it.
const BIND_TRIES: usize = 3;

/// Why the echo PD could not start (printed as `echo: cannot start: ...`).
#[derive(Debug)]
pub enum StartError {
    /// A session region is not mapped (the error names the `<map>` to add).
    Region(region::RegionError),
    /// The queue region cannot hold the session's queue pairs.
    Queues,
    /// The data region cannot hold the session's slots.
    Data,
    /// The protected call to the stack failed (the runtime's error, printed).
    Call,
    /// The stack refused the bind or answered nonsense.
    Bind(EchoError),
}

impl fmt::Display for StartError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Region(e) => write!(f, "{e}"),
            Self::Queues => f.write_str("echo_queues is too small for the session's queue pairs"),
            Self::Data => f.write_str("echo_data is too small for the session's slots"),
            Self::Call => f.write_str("the network stack did not take the bind call (is it up?)"),
            Self::Bind(e) => write!(f, "binding the echo port failed: {e}"),
        }
    }
}

impl From<region::RegionError> for StartError {
    fn from(e: region::RegionError) -> Self {
        Self::Region(e)
    }
}

/// The running echo PD: the service, its wake-up counters and its statistics line.
pub struct EchoPd<'a> {
    echo: Echo<'a>,
    queues: Option<MappedRegion>,
    wakeups: u64,
    repolls: u64,
    last_print: Option<u64>,
    printed_at: u64,
    interval_tsc: u64,
}

impl<'a> EchoPd<'a> {
    /// The service over its session, with a statistics line at most every `interval_ms`
    /// milliseconds of a `tsc_hz` clock (and only after activity).
    pub fn new(echo: Echo<'a>, tsc_hz: u64, interval_ms: u64) -> Self {
        let interval_tsc = tsc_hz / 1000 * interval_ms;
        Self { echo, queues: None, wakeups: 0, repolls: 0, last_print: None, printed_at: 0, interval_tsc }
    }

    /// The same PD keeping the session's queue region (what recovery lays a new end over).
    pub fn with_queues(mut self, queues: MappedRegion) -> Self {
        self.queues = Some(queues);
        self
    }

    /// The monitor's notice: the stack faulted and was restarted. Binds the port again (the
    /// new stack zeroes the session's queues while it serves the BIND; a BIND the dead instance
    /// was serving is refused and tried again), then lays a new end with every reply slot
    /// free, and polls (asking for the stack's signals again).
    pub fn netstack_faulted(&mut self, p: &mut impl Platform) {
        p.print(format_args!("the network stack faulted (monitor's notice); binding port {ECHO_PORT} again"));
        let mut reply = p.call_netstack(&self.echo.bind_request());
        for _ in 1..BIND_TRIES {
            if reply != Err(CallFailed::Restarted) {
                break;
            }
            reply = p.call_netstack(&self.echo.bind_request());
        }
        let bound = match reply {
            Ok(r) => self.echo.bind_reply(&r).map_err(|e| p.print(format_args!("binding again failed: {e}"))).is_ok(),
            Err(_) => false,
        };
        let end = self.queues.as_ref().map(socket_api::client_from_region);
        match end {
            Some(Ok(end)) => self.echo.reset(end),
            _ => p.print(format_args!("cannot lay the session queues again")),
        }
        if bound {
            p.print(format_args!("port {ECHO_PORT} bound again; {} reply slots free", self.echo.free_slots()));
        }
        self.run(p);
    }

    /// The service.
    pub fn echo(&self) -> &Echo<'a> {
        &self.echo
    }

    /// Wake-ups handled and extra polls they took.
    pub fn counters(&self) -> (u64, u64) {
        (self.wakeups, self.repolls)
    }

    /// After `init`: datagrams may have arrived between the bind and now, and the first poll
    /// also asks the stack for its signal.
    pub fn started(&mut self, p: &mut impl Platform) {
        p.print(format_args!("up: UDP echo on port {ECHO_PORT}, {} reply slots", self.echo.free_slots()));
        self.run(p);
    }

    /// A notification: poll until idle, then maybe print the statistics line.
    pub fn notified(&mut self, p: &mut impl Platform) {
        self.wakeups += 1;
        self.run(p);
        self.maybe_report(p);
    }

    /// Polls until the service has no more work, signalling the stack when it asks. Each poll
    /// is bounded; the loop ends only after the service has asked for the signal it waits for
    /// and re-checked its queue, so blocking afterwards cannot lose a wake-up.
    pub fn run(&mut self, p: &mut impl Platform) {
        loop {
            let a = self.echo.poll();
            if a.notify_netstack {
                p.notify_netstack();
            }
            if !a.more_work {
                break;
            }
            self.repolls += 1;
            p.yield_now();
        }
    }

    /// Prints the statistics line if something happened since the last one and the interval
    /// passed; true if it printed.
    pub fn maybe_report(&mut self, p: &mut impl Platform) -> bool {
        let now = p.now_tsc();
        if self.wakeups == self.printed_at {
            return false;
        }
        if let Some(t) = self.last_print {
            if now.wrapping_sub(t) < self.interval_tsc {
                return false;
            }
        }
        self.last_print = Some(now);
        self.printed_at = self.wakeups;
        p.print(format_args!(
            "{}",
            StatsLine { wakeups: self.wakeups, repolls: self.repolls, stats: self.echo.stats() }
        ));
        true
    }
}

/// The echo PD's statistics line, `key=value` separated by spaces (QEMU tests parse it).
pub struct StatsLine {
    /// Wake-ups handled.
    pub wakeups: u64,
    /// Extra polls within wake-ups.
    pub repolls: u64,
    /// The service's counters.
    pub stats: EchoStats,
}

impl fmt::Display for StatsLine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = &self.stats;
        write!(
            f,
            "stats wakeups={} repolls={} received={} echoed={} to_netstack={} drop_no_buffer={} drop_queue_full={} starved={} bad_records={} queue_corrupt={} bytes_copied={}",
            self.wakeups,
            self.repolls,
            s.received,
            s.echoed,
            s.notify_netstack,
            s.drop_no_buffer,
            s.drop_queue_full,
            s.starved,
            s.bad_records,
            s.queue_corrupt,
            s.bytes_copied
        )
    }
}

/// Builds the service over the session regions and binds [`ECHO_PORT`] with `call` (the
/// protected call to the stack); a failed call's error is printed through `p`.
pub fn start<E: fmt::Display>(
    queues: &MappedRegion,
    data: MappedRegion,
    call: impl FnOnce(&Message) -> Result<Message, E>,
    p: &mut impl Platform,
) -> Result<Echo<'static>, StartError> {
    let end = socket_api::client_from_region(queues).map_err(|_| StartError::Queues)?;
    let echo = Echo::new(end, Region::from_mapped(data), ECHO_PORT).map_err(|_| StartError::Data)?;
    let reply = call(&echo.bind_request()).map_err(|e| {
        p.print(format_args!("calling the network stack on channel 1: {e}"));
        StartError::Call
    })?;
    echo.bind_reply(&reply).map_err(StartError::Bind)?;
    Ok(echo)
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::*;
    use socket_api::msg::{encode_reply, BindError, Request};
    use socket_api::{DataLayout, Datagram, Endpoint};
    use std::string::{String, ToString};
    use std::vec::Vec;

    #[derive(Default)]
    struct Fake {
        now: u64,
        notified: u32,
        lines: Vec<String>,
        /// BIND calls made through the platform, and how many to refuse as RESTARTED first.
        binds: u32,
        refuse: u32,
    }

    impl Platform for Fake {
        fn notify_netstack(&mut self) {
            self.notified += 1;
        }
        fn now_tsc(&mut self) -> u64 {
            self.now
        }
        fn print(&mut self, line: fmt::Arguments<'_>) {
            self.lines.push(line.to_string());
        }
        fn call_netstack(&mut self, m: &Message) -> Result<Message, CallFailed> {
            self.binds += 1;
            if self.refuse > 0 {
                self.refuse -= 1;
                return Err(CallFailed::Restarted);
            }
            Ok(bind_ok(m).unwrap())
        }
    }

    const DATA: usize = 0x40000;

    fn regions() -> (MappedRegion, MappedRegion) {
        let q = region_host::zeroed("echo_queues", socket_api::QUEUE_REGION_SIZE);
        (q, region_host::zeroed("echo_data", DATA))
    }

    fn bind_ok(m: &Message) -> Result<Message, &'static str> {
        Ok(encode_reply(&Request::decode(m).unwrap(), Ok(())))
    }

    #[test]
    fn start_binds_port_7_and_reports_refusals() {
        let (q, d) = regions();
        let mut p = Fake::default();
        let echo = start(&q, d, bind_ok, &mut p).unwrap();
        assert_eq!(echo.free_slots(), 64);

        let (q, d) = regions();
        let refused = |m: &Message| -> Result<Message, &'static str> {
            Ok(encode_reply(&Request::decode(m).unwrap(), Err(BindError::InUse)))
        };
        let Err(e) = start(&q, d, refused, &mut p) else { panic!("a refused bind must fail") };
        assert!(e.to_string().contains("already bound"), "{e}");

        let (q, d) = regions();
        let Err(e) = start(&q, d, |_: &Message| Err("not granted"), &mut p) else { panic!("a failed call must fail") };
        assert!(matches!(e, StartError::Call));
        assert_eq!(p.lines.last().unwrap(), "calling the network stack on channel 1: not granted");

        let small = region_host::zeroed("echo_queues", 64);
        let (_, d) = regions();
        assert!(matches!(start(&small, d, bind_ok, &mut p), Err(StartError::Queues)));
    }

    #[test]
    fn wakeups_poll_until_idle_and_stats_are_rate_limited() {
        let (q, d) = regions();
        // The stack's payloads, in its half of the data region (written before the echo owns
        // the region; the echo never writes that half).
        let layout = DataLayout::new(DATA).unwrap();
        for i in 0..2u32 {
            d.write(layout.stack_slot(i) as usize, b"ping").unwrap();
        }
        let mut p = Fake::default();
        let echo = start(&q, d, bind_ok, &mut p).unwrap();
        // The stack's end of the same queue region, as the netstack PD maps it.
        let mut stack = socket_api::server_from_region(&q).unwrap();
        let mut pd = EchoPd::new(echo, 1_000_000, 1); // 1 ms = 1000 ticks per line
        pd.started(&mut p);
        assert_eq!(p.lines[0], "up: UDP echo on port 7, 64 reply slots");
        // Nothing happened: no statistics line.
        assert!(!pd.maybe_report(&mut p));

        // The stack delivers the two datagrams.
        let peer = Endpoint { addr: [10, 0, 2, 2], port: 4000 };
        for i in 0..2u32 {
            let dg = Datagram { offset: layout.stack_slot(i), len: 4, remote: peer, local_port: 7 };
            stack.to_client.active.enqueue(dg.to_desc()).unwrap();
        }
        // The stack is idle and asks to be signalled when the echo sends.
        assert!(stack.from_client.active.prepare_to_block().unwrap());
        p.now = 5000;
        pd.notified(&mut p);
        let s = pd.echo().stats();
        assert_eq!((s.received, s.echoed, s.bytes_copied), (2, 2, 8));
        assert_eq!(
            p.lines.last().unwrap(),
            "stats wakeups=1 repolls=0 received=2 echoed=2 to_netstack=1 drop_no_buffer=0 \
             drop_queue_full=0 starved=0 bad_records=0 queue_corrupt=0 bytes_copied=8"
        );
        assert_eq!(p.notified, 1, "the echo signals the stack that asked, once");
        // Both echoes are on the send queue, addressed back to the sender.
        for _ in 0..2 {
            let d = stack.from_client.active.dequeue().unwrap().unwrap();
            assert_eq!(Datagram::from_desc(&d).remote, peer);
        }

        // Another wake-up within the interval prints nothing; after it, one line.
        let lines = p.lines.len();
        p.now = 5500;
        pd.notified(&mut p);
        assert_eq!(p.lines.len(), lines);
        p.now = 6000;
        pd.notified(&mut p);
        assert_eq!(p.lines.len(), lines + 1);
        assert!(p.lines.last().unwrap().starts_with("stats wakeups=3 "));
        assert_eq!(pd.counters().0, 3);
    }

    #[test]
    fn after_the_stacks_restart_the_echo_binds_again_and_its_reply_slots_are_whole() {
        let (q, d) = regions();
        let layout = DataLayout::new(DATA).unwrap();
        for i in 0..3u32 {
            d.write(layout.stack_slot(i) as usize, b"ping").unwrap();
        }
        let mut p = Fake::default();
        let echo = start(&q, d, bind_ok, &mut p).unwrap();
        let mut stack = socket_api::server_from_region(&q).unwrap();
        let zero = |q: &MappedRegion| {
            for off in (0..q.size()).step_by(64) {
                q.write(off, &[0u8; 64]).unwrap();
            }
        };
        let mut pd = EchoPd::new(echo, 1_000_000, 1).with_queues(q);
        pd.started(&mut p);
        assert_eq!(pd.echo().pool(), (64, 64, 0));
        let peer = Endpoint { addr: [10, 0, 2, 2], port: 4000 };
        for i in 0..2u32 {
            let dg = Datagram { offset: layout.stack_slot(i), len: 4, remote: peer, local_port: 7 };
            stack.to_client.active.enqueue(dg.to_desc()).unwrap();
        }
        pd.notified(&mut p);
        assert_eq!(pd.echo().pool(), (64, 62, 2), "two replies with the stack, never returned");

        // The stack dies with them; its new instance zeroes the queues while serving the BIND
        // (the first BIND reaches the dead instance and is refused).
        zero(pd.queues.as_ref().unwrap());
        let mut stack = socket_api::server_from_region(pd.queues.as_ref().unwrap()).unwrap();
        p.refuse = 1;
        pd.netstack_faulted(&mut p);
        assert_eq!(p.binds, 2, "bound again after one refusal");
        assert!(p.lines.iter().any(|l| l == "the network stack faulted (monitor's notice); binding port 7 again"));
        assert!(p.lines.iter().any(|l| l == "port 7 bound again; 64 reply slots free"), "{:?}", p.lines);
        assert_eq!(pd.echo().pool(), (64, 64, 0), "every reply slot is back");
        // The new session works from index 0.
        let dg = Datagram { offset: layout.stack_slot(2), len: 4, remote: peer, local_port: 7 };
        stack.to_client.active.enqueue(dg.to_desc()).unwrap();
        pd.notified(&mut p);
        let d = stack.from_client.active.dequeue().unwrap().expect("the echo answers on the new session");
        assert_eq!(Datagram::from_desc(&d).remote, peer);
        assert_eq!(pd.echo().stats().queue_corrupt, 0);
    }

    #[test]
    fn the_hosted_line_keeps_its_keys() {
        let c = crate::EchoCounters::default();
        let mut app = crate::EchoApp::new(ECHO_PORT, &c);
        let mut reply = [0u8; 8];
        let from = Endpoint { addr: [10, 0, 2, 2], port: 9 };
        assert_eq!(socket_api::UdpApp::on_datagram(&mut app, b"abc", from, &mut reply), Some((3, from)));
        assert_eq!(
            crate::HostedStatsLine(&c).to_string(),
            "echo stats received=1 echoed=1 drop_no_buffer=0 bytes_copied=3"
        );
    }
}
