//! The whole host pipeline in one thread: fake driver <-> netstack <-> echo, over in-memory
//! rings (driver pairs and the socket-api session) with each PD run only when signalled or
//! when it reported more work, so a lost wake-up would show up as a missing echo. Both
//! configurations: echo as a separate PD (session) and echo hosted in the stack (EchoApp).
//! Checks byte-exact echo for payload sizes 1..=1472, bursts of 1024-byte datagrams, bad
//! traffic followed by a working echo, a stalled echo, a hostile client, and counts copies
//! and notifications per datagram.

use echo::{Echo, EchoApp, EchoCounters, EchoStats, ECHO_PORT};
use net_testkit::{Wire, IP, PEER_IP};
use netstack::testkit;
use netstack::Netstack;
use socket_api::msg::Message;
use socket_api::{ClientEnd, DataLayout, Datagram, Endpoint, Region, QUEUE_REGION_SIZE};

#[derive(Clone, Copy, Debug, Default)]
struct Signals {
    driver_to_stack: u64,
    stack_to_driver: u64,
    stack_to_echo: u64,
    echo_to_stack: u64,
    stack_polls: u64,
    echo_polls: u64,
}

struct Sys {
    wire: Wire,
    ns: Netstack<'static>,
    echo: Option<Echo<'static>>,
    hosted: Option<&'static EchoCounters>,
    t: u64,
    ns_run: bool,
    echo_run: bool,
    echo_stalled: bool,
    sig: Signals,
}

/// Data region of the session (the system file's `echo_data`, 512 KiB).
const ECHO_DATA: usize = 0x80000;

/// The data region's dataspace id in the driver session when the stack sends the client's
/// slots by reference (as system.xml's `echo_data_ds`).
const ECHO_DATA_DS: u32 = 1;

fn data_views() -> (Region<'static>, Region<'static>, Region<'static>) {
    let mem: &'static mut [u8] = vec![0u8; ECHO_DATA].leak();
    let (ptr, len) = (mem.as_mut_ptr(), mem.len());
    // SAFETY: leaked, so valid forever. The stack, the client and the fake driver each get a
    // view, as the PDs and the NIC do: the session protocol gives every slot one owner at a time
    // (stack half / client half, handed over by records and returned on free rings; a client
    // slot sent by reference is the driver's until it returns it), and each side touches only
    // what it owns.
    unsafe { (Region::from_raw(ptr, len), Region::from_raw(ptr, len), Region::from_raw(ptr, len)) }
}

fn session() -> (socket_api::ServerEnd<'static>, ClientEnd<'static>) {
    let q = vec![ring::CacheLine::ZERO; QUEUE_REGION_SIZE / ring::CACHE_LINE].leak();
    socket_api::split_owned(q).unwrap()
}

impl Sys {
    /// The echo as its own PD, its replies sent from its slots by reference (system.xml).
    fn separate() -> Self {
        Self::separate_with(true)
    }

    /// The echo as its own PD; `by_reference`: its replies leave from its own slots, else the
    /// stack copies them into transmit frames.
    fn separate_with(by_reference: bool) -> Self {
        let (mut wire, mut ns) = testkit::setup(testkit::config());
        let (server, client) = session();
        let (stack_view, echo_view, wire_view) = data_views();
        ns.attach_client(server, stack_view).unwrap();
        if by_reference {
            ns.send_client_by_reference(ECHO_DATA_DS);
            wire.accept_dataspace(ECHO_DATA_DS, wire_view);
        }
        let echo = Echo::new(client, echo_view, ECHO_PORT).unwrap();
        let m = echo.bind_request();
        let r = ns.protected(&m);
        echo.bind_reply(&r).expect("bind port 7");
        let mut s = Self::new(wire, ns);
        s.echo = Some(echo);
        s.run();
        s
    }

    fn hosted() -> Self {
        let (wire, mut ns) = testkit::setup(testkit::config());
        let counters: &'static EchoCounters = Box::leak(Box::default());
        let app: &'static mut EchoApp<'static> = Box::leak(Box::new(EchoApp::new(ECHO_PORT, counters)));
        ns.host_app(app).unwrap();
        let mut s = Self::new(wire, ns);
        s.hosted = Some(counters);
        s.run();
        s
    }

    fn new(wire: Wire, ns: Netstack<'static>) -> Self {
        Self {
            wire,
            ns,
            echo: None,
            hosted: None,
            t: 0,
            ns_run: true,
            echo_run: true,
            echo_stalled: false,
            sig: Signals::default(),
        }
    }

    /// Runs every PD that is runnable until all block (bounded).
    fn run(&mut self) {
        for _ in 0..100_000 {
            let mut ran = false;
            if self.ns_run {
                ran = true;
                self.t += 1_000;
                let a = self.ns.poll(self.t);
                self.sig.stack_polls += 1;
                self.ns_run = a.more_work;
                self.sig.stack_to_driver += u64::from(a.notify_driver());
                if a.notify_client {
                    self.sig.stack_to_echo += 1;
                    self.echo_run = true;
                }
            }
            if self.echo_run && !self.echo_stalled {
                ran = true;
                self.echo_run = false;
                if let Some(e) = self.echo.as_mut() {
                    let a = e.poll();
                    self.sig.echo_polls += 1;
                    self.echo_run = a.more_work;
                    if a.notify_netstack {
                        self.sig.echo_to_stack += 1;
                        self.ns_run = true;
                    }
                }
            }
            let sent = self.wire.collect();
            let s = self.wire.kick();
            if s > 0 {
                self.sig.driver_to_stack += s;
                self.ns_run = true;
            }
            if !ran && sent == 0 && !self.ns_run && (!self.echo_run || self.echo_stalled) {
                return;
            }
        }
        panic!("system did not go idle");
    }

    fn echo_stats(&self) -> EchoStats {
        match (&self.echo, self.hosted) {
            (Some(e), _) => e.stats(),
            (None, Some(c)) => c.get(),
            _ => EchoStats::default(),
        }
    }

    /// The UDP payloads sent to the peer so far (checksums verified), in order.
    fn replies(&mut self) -> Vec<Vec<u8>> {
        self.wire
            .take_sent()
            .iter()
            .filter_map(|f| net_testkit::parse_udp(f))
            .map(|u| {
                assert_eq!(u.from, Endpoint { addr: IP, port: 7 });
                assert_eq!(u.to.addr, PEER_IP);
                u.payload
            })
            .collect()
    }

    fn echo_once(&mut self, len: usize, seed: u8) {
        let p = net_testkit::payload(len, seed);
        assert!(self.wire.inject(&net_testkit::peer_udp(40000 + u16::from(seed), 7, &p)));
        self.run();
        assert_eq!(self.replies(), vec![p], "echo of {len} bytes");
    }
}

fn sizes() -> Vec<usize> {
    let mut v = vec![1, 2, 3, 8, 64, 100, 512, 1000, 1023, 1024, 1025, 1400, 1471, 1472];
    v.extend((1..=1472).step_by(61));
    v
}

fn check_sizes(mut s: Sys, label: &str) -> Sys {
    let sizes = sizes();
    for (i, &len) in sizes.iter().enumerate() {
        s.echo_once(len, i as u8);
    }
    let n = sizes.len() as u64;
    let e = s.echo_stats();
    let st = s.ns.stats();
    println!(
        "{label}: {n} datagrams; copies per datagram: echo {:.2}, stack {:.2} (to client {}, from client {})",
        e.copies as f64 / n as f64,
        (st.copies_to_client + st.copies_from_client) as f64 / n as f64,
        st.copies_to_client,
        st.copies_from_client
    );
    assert_eq!((e.received, e.echoed, e.copies), (n, n, n), "the echo copies each payload exactly once");
    assert_eq!(e.bytes_copied, sizes.iter().sum::<usize>() as u64);
    s
}

#[test]
fn separate_echo_pd_is_byte_exact_for_1_to_1472_bytes() {
    let s = check_sizes(Sys::separate(), "echo PD");
    let st = s.ns.stats();
    let n = sizes().len() as u64;
    // The session crosses address spaces: the stack copies into the data region; the echo's
    // replies leave from its own slots (headers written into their headroom), copied no more.
    assert_eq!((st.copies_to_client, st.copies_from_client, st.sent_by_reference), (n, 0, n));
    assert_eq!(s.ns.device_stats().tx_no_buffer, 0);
    assert_eq!(s.wire.stats.bad_buffers, 0);
}

#[test]
fn separate_echo_pd_copied_out_is_byte_exact_too() {
    let s = check_sizes(Sys::separate_with(false), "echo PD, replies copied");
    let st = s.ns.stats();
    let n = sizes().len() as u64;
    // Without the data region in the driver session the stack copies the replies out.
    assert_eq!((st.copies_to_client, st.copies_from_client, st.sent_by_reference), (n, n, 0));
}

#[test]
fn echo_hosted_in_the_stack_is_byte_exact_with_one_copy_in_all() {
    let s = check_sizes(Sys::hosted(), "echo in stack");
    let st = s.ns.stats();
    assert_eq!(st.copies_to_client + st.copies_from_client, 0, "the only copy is the echo's");
}

fn burst(mut s: Sys, label: &str) {
    // 1024 datagrams of 1024 bytes in bursts of 256 (every receive buffer at once).
    let before = s.sig;
    let mut expect = Vec::new();
    for round in 0..4u32 {
        for i in 0..256u32 {
            let p = net_testkit::payload(1024, (round * 256 + i) as u8);
            let mut p = p;
            p[..4].copy_from_slice(&(round * 256 + i).to_be_bytes());
            assert!(s.wire.inject(&net_testkit::peer_udp(40000, 7, &p)));
            expect.push(p);
        }
        s.run();
    }
    let got = s.replies();
    assert_eq!(got.len(), expect.len(), "{label}: every datagram of the burst echoed");
    assert_eq!(got, expect, "{label}: byte-exact and in order");
    let n = expect.len() as f64;
    let d = |a: u64, b: u64| (a - b) as f64 / n;
    println!(
        "{label}: burst of {} x 1024 B: per datagram: driver->stack {:.3}, stack->driver {:.3}, \
         stack->echo {:.3}, echo->stack {:.3}; polls: stack {:.3}, echo {:.3}",
        expect.len(),
        d(s.sig.driver_to_stack, before.driver_to_stack),
        d(s.sig.stack_to_driver, before.stack_to_driver),
        d(s.sig.stack_to_echo, before.stack_to_echo),
        d(s.sig.echo_to_stack, before.echo_to_stack),
        d(s.sig.stack_polls, before.stack_polls),
        d(s.sig.echo_polls, before.echo_polls),
    );
    // Batching: far fewer than one signal per datagram in each direction.
    assert!(s.sig.driver_to_stack - before.driver_to_stack <= 16);
    assert!(s.sig.stack_to_echo - before.stack_to_echo <= 64);
    let st = s.ns.stats();
    println!("{label}: stack counters {st:?}");
    assert_eq!(s.ns.device_stats().tx_no_buffer, 0);
    assert_eq!(s.wire.stats.dropped_no_buffer, 0);
}

#[test]
fn burst_of_1024_byte_datagrams_echo_pd() {
    burst(Sys::separate(), "echo PD");
}

#[test]
fn burst_of_1024_byte_datagrams_echo_in_stack() {
    burst(Sys::hosted(), "echo in stack");
}

#[test]
fn bad_traffic_then_echo_still_answers_through_the_session() {
    let mut s = Sys::separate();
    let good = net_testkit::peer_udp(40000, 7, &net_testkit::payload(200, 1));
    let mut bad: Vec<Vec<u8>> = vec![good[..30].to_vec(), good[..50].to_vec()];
    let mut f = good.clone();
    f[40] ^= 0xff; // UDP checksum
    bad.push(f);
    let mut f = good.clone();
    f[38] = 0x10; // UDP length 4096: lies
    bad.push(f);
    let mut f = good.clone();
    f[0] = 0x02; // another station
    bad.push(f);
    for (i, f) in bad.iter().enumerate() {
        assert!(s.wire.inject(f));
        s.run();
        assert!(s.replies().is_empty());
        s.echo_once(1 + i * 300, i as u8);
    }
    assert_eq!(s.echo_stats().bad_records, 0);
    let st = s.ns.stats();
    assert_eq!(st.drop_malformed + st.drop_bad_checksum + st.drop_other_mac, bad.len() as u64);
}

#[test]
fn a_stalled_echo_back_pressures_and_recovers() {
    let mut s = Sys::separate();
    s.echo_stalled = true;
    // 3 x 256 datagrams while the echo does not run: 64 fit its delivery slots, one is held,
    // the driver's ring fills, then the NIC drops (and counts) the rest. Nothing wedges.
    for round in 0..3u8 {
        for i in 0..256u32 {
            s.wire.inject(&net_testkit::peer_udp(40000, 7, &net_testkit::payload(1024, round.wrapping_add(i as u8))));
        }
        s.run();
    }
    assert!(s.replies().is_empty());
    assert!(s.wire.stats.dropped_no_buffer > 0, "overflow is dropped at the NIC and counted");
    assert!(s.ns.stats().client_backpressure > 0);
    let delivered = s.wire.stats.delivered;
    s.echo_stalled = false;
    s.echo_run = true;
    s.run();
    let replies = s.replies();
    println!(
        "stalled echo: offered 768, NIC dropped {}, delivered {delivered}, echoed {} after resuming",
        s.wire.stats.dropped_no_buffer,
        replies.len()
    );
    assert_eq!(replies.len() as u64, delivered, "everything the NIC accepted is echoed");
    s.echo_once(1472, 9);
}

#[test]
fn the_stack_refuses_a_hostile_clients_records() {
    let (wire, mut ns) = testkit::setup(testkit::config());
    let (server, mut client) = session();
    let (stack_view, mut client_view, _) = data_views();
    ns.attach_client(server, stack_view).unwrap();
    let bind = socket_api::msg::Request::Bind { port: 7 }.encode();
    let r = ns.protected(&bind);
    assert_eq!(r.label(), 0);
    // A second bind of another port by garbage: refused as a bad request.
    assert_eq!(ns.protected(&Message::new(0x30, &[0]).unwrap()).label(), socket_api::msg::BindError::BadRequest.code());
    assert_eq!(ns.protected(&Message::new(0x77, &[]).unwrap()).label(), socket_api::msg::BindError::BadRequest.code());
    let mut s = Sys::new(wire, ns);
    s.run();
    // Teach the stack the peer's MAC with one datagram in (delivered to the raw client).
    assert!(s.wire.inject(&net_testkit::peer_udp(40000, 7, b"hi")));
    s.run();
    let d = client.to_client.active.dequeue().unwrap().expect("delivered");
    let layout = DataLayout::new(ECHO_DATA).unwrap();
    let (dg, _) = layout.check_from_stack(&d).unwrap();
    assert_eq!(client_view.get(dg.range()).unwrap(), b"hi");
    client.to_client.free.enqueue(socket_api::free_desc(dg.offset)).unwrap();

    let peer = Endpoint { addr: PEER_IP, port: 40000 };
    let ok = Datagram { offset: layout.client_slot(0), len: 5, remote: peer, local_port: 7 };
    client_view.get_mut(ok.send_range()).unwrap().copy_from_slice(b"hello");
    let bad = [
        Datagram { offset: layout.stack_slot(0), ..ok },      // the stack's half
        Datagram { offset: layout.client_slot(1) + 1, ..ok }, // not a slot start
        Datagram { len: 2000, ..ok },                         // too long
        Datagram { local_port: 9, ..ok },                     // port not bound
        Datagram { remote: Endpoint { addr: [255; 4], port: 1 }, ..ok },
        Datagram { offset: u32::MAX, ..ok },
    ];
    for b in bad {
        client.from_client.active.enqueue(b.to_desc()).unwrap();
    }
    client.from_client.active.enqueue(ok.to_desc()).unwrap();
    s.ns_run = true;
    s.run();
    let st = s.ns.stats();
    assert_eq!(st.client_bad_records, bad.len() as u64);
    assert_eq!(s.replies(), vec![b"hello".to_vec()], "the valid record is still sent");
    // Buffers that are client slots come back (3 of the bad records name one, plus the good
    // one); records naming no client slot are not the client's to get back.
    let mut returned = 0;
    while let Ok(Some(_)) = client.from_client.free.dequeue() {
        returned += 1;
    }
    assert_eq!(returned, 4);
    // Unbinding a port it does not hold is refused; unbinding 7 works and 7 then gets ICMP.
    let m = socket_api::msg::Request::Unbind { port: 8 }.encode();
    assert_eq!(s.ns.protected(&m).label(), socket_api::msg::BindError::NotBound.code());
    let m = socket_api::msg::Request::Unbind { port: 7 }.encode();
    assert_eq!(s.ns.protected(&m).label(), 0);
}
