//! Host tests of the PD's start-up and forwarding, over zeroed regions and a fake kernel that
//! answers the driver's session calls (OPEN -> a MAC, DRIVER_STATS -> counters).

extern crate std;
use super::*;
use nic_api::{DriverStats, MacAddr, SessionReply, SessionRequest};
use socket_api::msg::{label, Request};
use socket_api::Endpoint;
use std::boxed::Box;
use std::string::{String, ToString};
use std::vec::Vec;

const MAC: [u8; 6] = [0x52, 0x54, 0, 0x12, 0x34, 0x56];

#[derive(Default)]
struct Fake {
    now: u64,
    to_driver: u32,
    calls: Vec<SessionRequest>,
    lines: Vec<String>,
    /// OPENs refused with `Refusal::RESTARTED` before one is served.
    open_refusals: u32,
}

impl Platform for Fake {
    fn notify_driver(&mut self) {
        self.to_driver += 1;
    }
    fn notify_client(&mut self) {}
    fn now_tsc(&mut self) -> u64 {
        self.now += 1_000_000_000;
        self.now
    }
    fn print(&mut self, line: fmt::Arguments<'_>) {
        self.lines.push(line.to_string());
    }
}

impl Kernel for Fake {
    fn call_driver(&mut self, request: &Message) -> Result<Message, CallError> {
        let req = SessionRequest::decode(request).unwrap();
        if matches!(req, SessionRequest::Open(_)) && self.open_refusals > 0 {
            self.open_refusals -= 1;
            return Err(CallError::Refused(message::Refusal::RESTARTED.0));
        }
        let reply = match req {
            SessionRequest::Open(_) => SessionReply::Opened { session: 4, mac: MacAddr(MAC) },
            SessionRequest::Stats => SessionReply::Stats(DriverStats { irqs: 3, ..DriverStats::default() }),
            _ => panic!("unexpected {req:?}"),
        };
        self.calls.push(req);
        Ok(SessionReply::encode(&Ok(reply)))
    }
}

fn regions() -> Regions {
    Regions {
        rx_queues: region_host::zeroed("rx_queues", 0x4000),
        tx_queues: region_host::zeroed("tx_queues", 0x4000),
        net_buffers: region_host::zeroed("net_buffers", 0x20_0000),
    }
}

const SETTINGS: Settings = Settings {
    ip_addr: 0x0a00_020f,
    prefix_len: 24,
    gateway: 0x0a00_0202,
    net_buffers_ds: 0,
    echo_data_ds: super::NO_DS,
    stats_interval_ms: 1000,
    tsc_hz: 2_000_000_000,
};

#[test]
fn client_mode_opens_the_session_serves_binds_and_reports() {
    let mut k = Fake::default();
    let mode = Mode::Client {
        queues: region_host::zeroed("echo_queues", 0x4000),
        data: region_host::zeroed("echo_data", 0x40000),
    };
    let mut runner = start(regions(), SETTINGS, mode, &mut k).unwrap();
    assert!(matches!(k.calls.as_slice(), [SessionRequest::Open(_)]));
    let up = k.lines.last().unwrap();
    assert!(up.starts_with("up: 10.0.2.15/24 mac 52:54:00:12:34:56 driver session 4, "), "{up}");
    assert!(up.ends_with("rx buffers posted, TSC 2000 MHz"), "{up}");

    let mut pd = NetstackPd::new(&mut runner, None, &mut k);
    assert!(k.to_driver >= 1, "the driver is signalled once the receive buffers are posted");
    let bind = Request::Bind { port: 7 }.encode();
    assert_eq!(pd.protected(&mut k, &bind).label(), label::OK);
    assert_eq!(pd.runner().counters().ppcs, 1);

    let before = k.lines.len();
    pd.notified(&mut k, true, false);
    let new = &k.lines[before..];
    assert!(new[0].starts_with("stats wakeups=2 from_driver=1 "), "{new:?}");
    assert!(new[1].contains("irqs=3"), "the driver's line follows: {new:?}");
    assert!(matches!(k.calls.last(), Some(SessionRequest::Stats)));
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

#[test]
fn hosted_mode_prints_the_application_line_after_the_stack_line() {
    let mut k = Fake::default();
    let mut app = Mirror;
    let report = "mirror stats";
    let mode = Mode::Hosted { app: &mut app, report: &report };
    let mut runner = start(regions(), SETTINGS, mode, &mut k).unwrap();
    assert_eq!(k.lines[0], "hosting an application on UDP port 7");
    let mut pd = NetstackPd::new(&mut runner, Some(&report), &mut k);
    let before = k.lines.len();
    pd.notified(&mut k, true, false);
    assert_eq!(k.lines[before + 1], "mirror stats");
    assert!(k.lines[before + 2].starts_with("driver stats"), "{:?}", &k.lines[before..]);
}

#[test]
fn start_up_failures_say_what_to_fix() {
    let mut k = Fake::default();
    let bad = Settings { net_buffers_ds: 1 << 40, ..SETTINGS };
    let mode = || Mode::Client {
        queues: region_host::zeroed("echo_queues", 0x4000),
        data: region_host::zeroed("echo_data", 0x40000),
    };
    let e = start(regions(), bad, mode(), &mut k).map(|_| ()).unwrap_err();
    assert!(e.to_string().contains("net_buffers_ds"), "{e}");
    let small = Regions { rx_queues: region_host::zeroed("rx_queues", 64), ..regions() };
    let e = start(small, SETTINGS, mode(), &mut k).map(|_| ()).unwrap_err();
    assert!(e.to_string().contains("bad queue region"), "{e}");
    let e = StartError::from(RegionError::NotMapped { name: "rx_queues" });
    assert!(e.to_string().contains("rx_queues"), "{e}");
}

fn client_mode() -> Mode<'static> {
    Mode::Client { queues: region_host::zeroed("echo_queues", 0x4000), data: region_host::zeroed("echo_data", 0x40000) }
}

#[test]
fn the_driver_notice_reopens_the_session_and_reposts_every_buffer() {
    let mut k = Fake::default();
    let runner = Box::leak(Box::new(start(regions(), SETTINGS, client_mode(), &mut k).unwrap()));
    let mut pd = NetstackPd::new(runner, None, &mut k);
    let whole = pd.runner().stack().pools();
    // The first OPEN reaches the dead instance and is refused; the next one is served.
    k.open_refusals = 1;
    let signals = k.to_driver;
    pd.driver_faulted(&mut k);
    let opens = k.calls.iter().filter(|c| matches!(c, SessionRequest::Open(_))).count();
    assert_eq!(opens, 2, "the start-up OPEN and the reopen");
    assert!(k.lines.iter().any(|l| l == "the driver faulted (monitor's notice); reopening the driver session"));
    assert_eq!(k.lines.last().unwrap(), "driver session 4 reopened after the driver's restart; 256 rx buffers posted");
    assert!(k.to_driver > signals, "the new driver is signalled");
    assert_eq!(pd.runner().stack().pools(), whole, "every pool at its size");

    // A driver that does not answer yet: said once, tried again at each wake-up.
    k.open_refusals = 10;
    pd.driver_faulted(&mut k);
    pd.notified(&mut k, false, false);
    let said = k.lines.iter().filter(|l| l.starts_with("cannot reopen the driver session yet")).count();
    assert_eq!(said, 1, "{:?}", k.lines);
    k.open_refusals = 0;
    pd.notified(&mut k, false, false);
    assert!(k.lines.iter().any(|l| l.starts_with("driver session 4 reopened")));
    assert_eq!(pd.runner().stack().pools(), whole);
}

#[test]
fn a_new_client_instance_is_reset_in_either_order_of_bind_and_notice() {
    let mut k = Fake::default();
    let runner = Box::leak(Box::new(start(regions(), SETTINGS, client_mode(), &mut k).unwrap()));
    let mut pd = NetstackPd::new(runner, None, &mut k);
    let bind = Request::Bind { port: 7 }.encode();
    assert_eq!(pd.protected(&mut k, &bind).label(), label::OK);
    // Notice first: reset, ports unbound; the new instance's BIND is a first BIND.
    pd.client_faulted(&mut k);
    assert!(k.lines.last().unwrap().starts_with("the client faulted (monitor's notice); its session queues reset"));
    assert!(!pd.runner().stack().client_holds(7));
    assert_eq!(pd.protected(&mut k, &bind).label(), label::OK);
    assert!(pd.runner().stack().client_holds(7));
    // BIND first (a port the client already holds): reset, and the late notice is paid.
    assert_eq!(pd.protected(&mut k, &bind).label(), label::OK);
    assert!(k.lines.last().unwrap().contains("the client was restarted; its session queues reset"));
    pd.client_faulted(&mut k);
    assert_eq!(k.lines.last().unwrap(), "the client's fault notice: its new instance has already bound again");
    assert!(pd.runner().stack().client_holds(7), "the new instance keeps its port");
    let p = pd.runner().stack().pools().client.unwrap();
    assert_eq!((p.free, p.posted), (p.size, 0));
}
