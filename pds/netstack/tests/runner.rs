//! The PD-level pieces the netstack binary wires to the kernel, tested on the host: the runner
//! (poll until idle, perform exactly the signals the stack asks for, count wake-ups, print a
//! rate-limited statistics line) over the fake driver, and the driver session (OPEN -> MAC,
//! refusals and garbage as errors with messages, DRIVER_STATS).

use std::fmt;

use message::Message;
use net_testkit::MAC;
use netstack::runner::{Platform, RateLimit, Runner};
use netstack::session::{self, CallError, StartError};
use netstack::testkit;
use nic_api::msg::label;
use nic_api::{DriverStats, MacAddr, Op, SessionError, SessionReply, SessionRequest};
use socket_api::{Endpoint, UdpApp};

#[derive(Default)]
struct FakeKernel {
    now: u64,
    to_driver: u64,
    to_client: u64,
    lines: Vec<String>,
}

impl Platform for FakeKernel {
    fn notify_driver(&mut self) {
        self.to_driver += 1;
    }
    fn notify_client(&mut self) {
        self.to_client += 1;
    }
    fn now_tsc(&mut self) -> u64 {
        self.now += 1_000;
        self.now
    }
    fn print(&mut self, line: fmt::Arguments<'_>) {
        self.lines.push(line.to_string());
    }
}

struct Mirror;

impl UdpApp for Mirror {
    fn port(&self) -> u16 {
        7
    }
    fn on_datagram(&mut self, p: &[u8], from: Endpoint, reply: &mut [u8]) -> Option<(usize, Endpoint)> {
        reply[..p.len()].copy_from_slice(p);
        Some((p.len(), from))
    }
}

fn field(line: &str, key: &str) -> u64 {
    line.split_whitespace()
        .find_map(|kv| kv.strip_prefix(key).and_then(|v| v.strip_prefix('=')))
        .unwrap_or_else(|| panic!("no {key}= in {line}"))
        .parse()
        .unwrap()
}

#[test]
fn rate_limit_prints_after_activity_at_most_once_per_interval() {
    // 1 GHz clock, 1000 ms.
    let mut r = RateLimit::new(1_000_000_000, 1000);
    assert!(!r.due(5, 0), "nothing happened yet");
    assert!(r.due(10, 1), "first activity prints at once");
    assert!(!r.due(500_000_000, 2), "within the interval");
    assert!(r.due(1_000_000_010, 3), "interval passed and activity since");
    assert!(!r.due(3_000_000_000, 3), "no activity since the last line");
    // Interval 0: every change prints.
    let mut r = RateLimit::new(1_000_000_000, 0);
    assert!(r.due(1, 1) && r.due(1, 2) && !r.due(1, 2));
}

#[test]
fn runner_polls_until_idle_and_signals_only_when_asked() {
    let (mut wire, mut ns) = testkit::setup(testkit::config());
    let app: &'static mut Mirror = Box::leak(Box::new(Mirror));
    ns.host_app(app).unwrap();
    let mut runner = Runner::new(ns, 0);
    let mut k = FakeKernel::default();

    // Start-up: the first poll publishes the posted buffers; the driver asked for nothing yet,
    // so whether a signal goes is the ring's decision, and the runner performs exactly that.
    let a = runner.wakeup(&mut k, false, false);
    assert!(!a.more_work);
    assert_eq!(runner.counters().to_driver, k.to_driver);

    // 300 datagrams in three batches of 100: each echoed exactly once.
    let mut echoed = 0;
    for round in 0..3u8 {
        for i in 0..100u8 {
            assert!(wire.inject(&net_testkit::peer_udp(40000, 7, &[round, i, 1, 2, 3])));
        }
        wire.kick();
        let _ = runner.wakeup(&mut k, true, false);
        wire.collect();
        for f in wire.take_sent() {
            let u = net_testkit::parse_udp(&f).expect("only UDP replies");
            assert_eq!(u.payload.len(), 5);
            echoed += 1;
        }
    }
    assert_eq!(echoed, 300);
    let c = runner.counters();
    assert_eq!(c.wakeups, 4);
    assert_eq!(c.from_driver, 3);
    assert_eq!(c.from_client, 0);
    assert_eq!(c.to_driver, k.to_driver, "every signal the stack asked for was sent, no more");
    assert_eq!(k.to_client, 0, "no client session attached");

    // Statistics: interval 0 prints after activity, with the counters as key=value.
    assert!(runner.maybe_report(&mut k));
    let line = k.lines.last().unwrap().clone();
    assert!(line.starts_with("stats "), "{line}");
    assert_eq!(field(&line, "wakeups"), 4);
    assert_eq!(field(&line, "udp_in"), 300);
    assert_eq!(field(&line, "udp_out"), 300);
    assert_eq!(field(&line, "frames_in"), 300);
    assert_eq!(field(&line, "drop_malformed"), 0);
    assert!(!runner.maybe_report(&mut k), "nothing new since");
}

fn open_reply(session: u32, mac: [u8; 6]) -> Result<Message, CallError> {
    Ok(SessionReply::encode(&Ok(SessionReply::Opened { session, mac: MacAddr(mac) })))
}

fn reply(label: u64, words: &[u64]) -> Result<Message, CallError> {
    Ok(Message::new(label, words).unwrap())
}

#[test]
fn session_open_names_the_dataspace_and_learns_the_mac() {
    let mut seen = Vec::new();
    let s = session::open(3, None, |m| {
        seen.push(SessionRequest::decode(m).unwrap());
        open_reply(9, MAC)
    })
    .unwrap();
    assert_eq!((s.session, s.mac), (9, MAC));
    match seen.as_slice() {
        [SessionRequest::Open(list)] => assert_eq!(list.ids(), &[nic_api::DsId(3)]),
        other => panic!("expected one OPEN, got {other:?}"),
    }
}

#[test]
fn session_failures_are_errors_with_messages() {
    let refused = session::open(3, None, |_| Ok(SessionReply::encode(&Err(SessionError::NoFreeSession)))).unwrap_err();
    assert_eq!(refused, StartError::Refused(SessionError::NoFreeSession));
    assert!(refused.to_string().contains("refused the session"), "{refused}");

    let garbage = session::open(3, None, |_| reply(label::OK, &[1])).unwrap_err();
    assert!(matches!(garbage, StartError::BadReply(_)), "{garbage:?}");
    assert!(garbage.to_string().contains("malformed"));

    // A MAC word with bits above 48 is not a MAC.
    let bad_mac = session::open(3, None, |_| reply(label::OK, &[1, u64::MAX])).unwrap_err();
    assert!(matches!(bad_mac, StartError::BadReply(_)));

    let no_channel = session::open(3, None, |_| Err(CallError::Kernel)).unwrap_err();
    assert!(no_channel.to_string().contains("pp channel (id 1)"), "{no_channel}");

    let runtime_refusal = session::open(3, None, |_| Err(CallError::Refused(0xffff_0001))).unwrap_err();
    assert!(runtime_refusal.to_string().contains("serving channel 1"), "{runtime_refusal}");

    assert!(StartError::MissingRegion("rx_queues").to_string().contains("setvar_size=\"rx_queues_size\""));
}

#[test]
fn driver_stats_round_trip_and_print_as_one_line() {
    let want = DriverStats {
        irqs: 1,
        rx_packets: 2,
        tx_packets: 3,
        notify_sent: 4,
        notify_suppressed: 5,
        xlate_hits: 6,
        xlate_misses: 7,
        errors: 8,
    };
    let got = session::driver_stats(|m| {
        assert_eq!(SessionRequest::decode(m).unwrap(), SessionRequest::Stats);
        assert_eq!(SessionRequest::Stats.op(), Op::Stats);
        Ok(SessionReply::encode(&Ok(SessionReply::Stats(want))))
    })
    .unwrap();
    assert_eq!(got, want);
    let line = session::DriverStatsLine(got).to_string();
    assert_eq!(field(&line, "irqs"), 1);
    assert_eq!(field(&line, "notify_sent"), 4);
    assert_eq!(field(&line, "errors"), 8);
    assert_eq!(line, format!("driver stats {want}"), "nic-api's one printed form");
    assert!(session::driver_stats(|_| reply(label::OK, &[])).is_err());
}
