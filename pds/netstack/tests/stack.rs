//! The stack against frames built with smoltcp's wire types, through in-memory driver rings:
//! ARP, ICMP echo, port unreachable, a hosted UDP echo app for payload sizes 1..=1472, the
//! bad-traffic cases (each followed by a working echo), a hostile driver, and the config.

use net_testkit::{Wire, IP, MAC, PEER_IP, PEER_MAC};
use netstack::testkit;
use netstack::{Clock, Config, ConfigError, Netstack};
use smoltcp::wire::ArpOperation;
use socket_api::{Endpoint, UdpApp};

/// The simplest hosted app: answers every datagram with its payload.
struct Mirror {
    port: u16,
    seen: u64,
}

impl UdpApp for Mirror {
    fn port(&self) -> u16 {
        self.port
    }
    fn on_datagram(&mut self, p: &[u8], from: Endpoint, reply: &mut [u8]) -> Option<(usize, Endpoint)> {
        self.seen += 1;
        let n = p.len().min(reply.len());
        reply[..n].copy_from_slice(&p[..n]);
        Some((n, from))
    }
}

fn stack_with_mirror() -> (Wire, Netstack<'static>) {
    let (wire, mut ns) = testkit::setup(testkit::config());
    let app: &'static mut Mirror = Box::leak(Box::new(Mirror { port: 7, seen: 0 }));
    ns.host_app(app).unwrap();
    (wire, ns)
}

/// Runs stack and wire until neither has work (bounded).
fn pump(wire: &mut Wire, ns: &mut Netstack<'_>, t: &mut u64) {
    for _ in 0..64 {
        *t += 1_000;
        let a = ns.poll(*t);
        let sent = wire.collect();
        wire.kick();
        if !a.more_work && sent == 0 {
            return;
        }
    }
    panic!("stack did not go idle within 64 polls");
}

fn echo_ok(wire: &mut Wire, ns: &mut Netstack<'_>, t: &mut u64, len: usize, seed: u8) {
    let p = net_testkit::payload(len, seed);
    assert!(wire.inject(&net_testkit::peer_udp(40000, 7, &p)));
    pump(wire, ns, t);
    let sent = wire.take_sent();
    let replies: Vec<_> = sent.iter().filter_map(|f| net_testkit::parse_udp(f)).collect();
    assert_eq!(replies.len(), 1, "one echo reply expected, got frames {sent:?}");
    let r = &replies[0];
    assert_eq!(r.payload, p, "payload of {len} bytes echoed byte-exact");
    assert_eq!(r.to, Endpoint { addr: PEER_IP, port: 40000 });
    assert_eq!(r.from, Endpoint { addr: IP, port: 7 });
    assert_eq!((r.src_mac, r.dst_mac), (MAC, PEER_MAC));
}

#[test]
fn posts_receive_buffers_and_signals_the_driver_once() {
    let (mut wire, mut ns) = testkit::setup(testkit::config());
    assert_eq!(ns.rx_posted(), 256);
    wire.kick(); // the driver blocks, asking for buffers
    let a = ns.poll(1);
    assert!(!a.more_work);
    // All buffers were posted before the driver asked, so nothing new to signal yet.
    assert!(!a.notify_driver());
    assert!(wire.take_rx_buffer().is_some());
}

#[test]
fn arp_request_gets_a_reply() {
    let (mut wire, mut ns) = testkit::setup(testkit::config());
    let mut t = 0;
    assert!(wire.inject(&net_testkit::arp_request(PEER_MAC, PEER_IP, IP)));
    pump(&mut wire, &mut ns, &mut t);
    let sent = wire.take_sent();
    assert_eq!(sent.len(), 1);
    let (op, sha, spa, tha, tpa) = net_testkit::parse_arp(&sent[0]).expect("an ARP frame");
    assert_eq!(op, ArpOperation::Reply);
    assert_eq!((sha, spa, tha, tpa), (MAC, IP, PEER_MAC, PEER_IP));
    // A request for someone else is not answered.
    assert!(wire.inject(&net_testkit::arp_request(PEER_MAC, PEER_IP, [10, 0, 2, 99])));
    pump(&mut wire, &mut ns, &mut t);
    assert!(wire.take_sent().is_empty());
    assert_eq!(ns.device_stats().frames_in, 2);
}

#[test]
fn icmp_echo_request_gets_a_reply_with_the_same_payload() {
    let (mut wire, mut ns) = testkit::setup(testkit::config());
    let mut t = 0;
    // Like a real peer: it resolves our MAC first (smoltcp learns its MAC from the request).
    assert!(wire.inject(&net_testkit::arp_request(PEER_MAC, PEER_IP, IP)));
    pump(&mut wire, &mut ns, &mut t);
    wire.take_sent();
    for (seq, len) in [(1u16, 0usize), (2, 56), (3, 1472)] {
        let data = net_testkit::payload(len, seq as u8);
        assert!(wire.inject(&net_testkit::icmp_echo_request(0x1234, seq, &data)));
        pump(&mut wire, &mut ns, &mut t);
        let sent = wire.take_sent();
        assert_eq!(sent.len(), 1, "one reply to ping {seq}");
        let (ident, seq_no, got, dst) = net_testkit::parse_echo_reply(&sent[0]).expect("an echo reply");
        assert_eq!((ident, seq_no, dst), (0x1234, seq, PEER_MAC));
        assert_eq!(got, data);
    }
}

#[test]
fn udp_to_an_unbound_port_gets_port_unreachable() {
    let (mut wire, mut ns) = stack_with_mirror();
    let mut t = 0;
    assert!(wire.inject(&net_testkit::arp_request(PEER_MAC, PEER_IP, IP)));
    pump(&mut wire, &mut ns, &mut t);
    wire.take_sent();
    assert!(wire.inject(&net_testkit::peer_udp(40000, 9999, b"anyone?")));
    pump(&mut wire, &mut ns, &mut t);
    let sent = wire.take_sent();
    assert_eq!(sent.len(), 1);
    assert!(net_testkit::parse_udp(&sent[0]).is_none());
    // ICMP type 3 (destination unreachable), code 3 (port): bytes 34 and 35 of the frame.
    assert_eq!((sent[0][23], sent[0][34], sent[0][35]), (1, 3, 3));
    assert_eq!(ns.stats().to_smoltcp, 2);
}

#[test]
fn ping_from_an_unknown_peer_resolves_it_by_arp() {
    // No ARP from the peer first: smoltcp asks for its MAC (the first reply is lost while it
    // waits, as smoltcp does not queue), the peer answers, and the next ping is answered.
    let (mut wire, mut ns) = testkit::setup(testkit::config());
    let mut t = 0;
    assert!(wire.inject(&net_testkit::icmp_echo_request(1, 1, b"abc")));
    pump(&mut wire, &mut ns, &mut t);
    let sent = wire.take_sent();
    assert!(sent.iter().any(|f| matches!(net_testkit::parse_arp(f), Some((ArpOperation::Request, _, _, _, PEER_IP)))));
    assert!(wire.inject(&net_testkit::icmp_echo_request(1, 2, b"abc")));
    pump(&mut wire, &mut ns, &mut t);
    let sent = wire.take_sent();
    assert_eq!(sent.len(), 1);
    assert_eq!(net_testkit::parse_echo_reply(&sent[0]).map(|r| r.1), Some(2));
}

#[test]
fn hosted_app_echoes_every_size_byte_exact_without_stack_copies() {
    let (mut wire, mut ns) = stack_with_mirror();
    let mut t = 0;
    let sizes: Vec<usize> =
        [1, 2, 3, 17, 64, 511, 1000, 1024, 1471, 1472].into_iter().chain((1..=1472).step_by(97)).collect();
    for (i, &len) in sizes.iter().enumerate() {
        echo_ok(&mut wire, &mut ns, &mut t, len, i as u8);
    }
    let s = ns.stats();
    assert_eq!(s.udp_in, sizes.len() as u64);
    assert_eq!(s.udp_out, sizes.len() as u64);
    assert_eq!(s.copies_to_client + s.copies_from_client, 0, "the stack copies no payload");
    assert_eq!(s.to_smoltcp, 0);
    // All buffers are home: nothing leaked.
    assert_eq!(ns.rx_posted(), 256);
    assert_eq!(ns.tx_free(), 256);
}

#[test]
fn a_1473_byte_payload_needs_fragmentation_and_is_not_echoed() {
    // 1473 bytes + headers make a 1515-byte frame, above the Ethernet maximum: the stack drops
    // it as oversized (a driver could deliver one; the buffer holds 1536).
    let (mut wire, mut ns) = stack_with_mirror();
    let mut t = 0;
    let p = net_testkit::payload(1473, 1);
    assert!(wire.inject(&net_testkit::peer_udp(40000, 7, &p)));
    pump(&mut wire, &mut ns, &mut t);
    assert!(wire.take_sent().is_empty(), "no reply to a payload above 1472 bytes");
    assert_eq!(ns.stats().drop_malformed, 1, "a 1515-byte frame is oversized");
    echo_ok(&mut wire, &mut ns, &mut t, 100, 2);
}

fn corrupt(mut f: Vec<u8>, edit: impl FnOnce(&mut Vec<u8>)) -> Vec<u8> {
    edit(&mut f);
    f
}

#[test]
fn bad_traffic_is_dropped_counted_and_echo_still_answers() {
    let (mut wire, mut ns) = stack_with_mirror();
    let mut t = 0;
    let good = net_testkit::peer_udp(40000, 7, &net_testkit::payload(100, 9));
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("empty frame", vec![]),
        ("runt (10 bytes)", good[..10].to_vec()),
        ("truncated IPv4 header", good[..20].to_vec()),
        ("truncated datagram", good[..60].to_vec()),
        (
            "IPv4 total length lies (too long)",
            corrupt(good.clone(), |f| {
                f[16] = 0x05;
                f[17] = 0xdc;
            }),
        ),
        ("bad IPv4 header checksum", corrupt(good.clone(), |f| f[24] ^= 0xff)),
        ("bad UDP checksum", corrupt(good.clone(), |f| f[40] ^= 0x01)),
        ("payload bit flip", corrupt(good.clone(), |f| f[50] ^= 0x80)),
        (
            "UDP length lies (longer than packet)",
            corrupt(good.clone(), |f| {
                f[38] = 0x05;
                f[39] = 0x00;
            }),
        ),
        (
            "UDP length lies (below header)",
            corrupt(good.clone(), |f| {
                f[38] = 0;
                f[39] = 4;
            }),
        ),
        ("IHL below 5", corrupt(good.clone(), |f| f[14] = 0x44)),
        ("IP version 6 in an IPv4 ethertype", corrupt(good.clone(), |f| f[14] = 0x65)),
        (
            "unknown ethertype",
            corrupt(good.clone(), |f| {
                f[12] = 0x88;
                f[13] = 0xb5;
            }),
        ),
        ("frame for another MAC", corrupt(good.clone(), |f| f[..6].copy_from_slice(&[0x52, 0x54, 0, 1, 2, 3]))),
        (
            "datagram for another IP",
            net_testkit::udp_frame(
                PEER_MAC,
                MAC,
                Endpoint { addr: PEER_IP, port: 1 },
                Endpoint { addr: [10, 0, 2, 16], port: 7 },
                b"x",
            ),
        ),
        (
            "source port 0",
            net_testkit::udp_frame(
                PEER_MAC,
                MAC,
                Endpoint { addr: PEER_IP, port: 0 },
                Endpoint { addr: IP, port: 7 },
                b"x",
            ),
        ),
        (
            "broadcast source",
            net_testkit::udp_frame(
                PEER_MAC,
                MAC,
                Endpoint { addr: [255; 4], port: 5 },
                Endpoint { addr: IP, port: 7 },
                b"x",
            ),
        ),
        ("garbage", (0..1514).map(|i| (i * 7) as u8).collect()),
    ];
    for (i, (name, frame)) in cases.iter().enumerate() {
        assert!(wire.inject(frame), "{name}: the fake NIC takes it");
        pump(&mut wire, &mut ns, &mut t);
        let replies: Vec<_> = wire.take_sent().iter().filter_map(|f| net_testkit::parse_udp(f)).collect();
        assert!(replies.is_empty(), "{name}: must not be echoed");
        echo_ok(&mut wire, &mut ns, &mut t, 64 + i, i as u8);
    }
    let s = ns.stats();
    println!("bad-traffic counters: {s:#?}");
    assert!(s.drop_malformed >= 7, "malformed: {}", s.drop_malformed);
    assert!(s.drop_bad_checksum >= 3, "bad checksum: {}", s.drop_bad_checksum);
    assert_eq!(s.drop_other_mac, 2, "another station's MAC, and the garbage frame's");
    assert_eq!(s.udp_out, cases.len() as u64);
    assert_eq!(ns.rx_posted(), 256);
}

#[test]
fn broadcast_storm_and_floods_never_wedge() {
    let (mut wire, mut ns) = stack_with_mirror();
    let mut t = 0;
    // A storm of broadcast ARP requests for other hosts and broadcast datagrams, 10 x 200.
    for round in 0..10u8 {
        for i in 0..200u8 {
            let f = if i % 2 == 0 {
                net_testkit::arp_request([0x52, 0x54, 0, 9, round, i], [10, 0, 2, 100 + (i % 50)], [10, 0, 2, 200])
            } else {
                net_testkit::udp_frame(
                    [0x52, 0x54, 0, 9, round, i],
                    [0xff; 6],
                    Endpoint { addr: [10, 0, 2, 100], port: 68 },
                    Endpoint { addr: [255; 4], port: 67 },
                    &[i; 300],
                )
            };
            wire.inject(&f);
        }
        pump(&mut wire, &mut ns, &mut t);
    }
    assert!(wire.take_sent().is_empty(), "nothing in a broadcast storm deserves an answer");
    echo_ok(&mut wire, &mut ns, &mut t, 1024, 1);

    // Faster than anyone can answer: 1000 datagrams arrive with no poll in between. The NIC
    // has 256 buffers, so 744 are dropped there; the stack answers the rest.
    let mut accepted = 0;
    for i in 0..1000u32 {
        accepted += u32::from(wire.inject(&net_testkit::peer_udp(40000, 7, &net_testkit::payload(1024, i as u8))));
    }
    assert_eq!(accepted, 256);
    assert_eq!(wire.stats.dropped_no_buffer, 744);
    pump(&mut wire, &mut ns, &mut t);
    assert_eq!(wire.take_sent().len(), 256);

    // The transmit side stalls (the driver sends nothing back): the stack runs out of transmit
    // buffers, drops and counts, and recovers when the driver catches up.
    let before = ns.stats().drop_no_tx_buffer;
    for round in 0..3 {
        for i in 0..200u32 {
            wire.inject(&net_testkit::peer_udp(40000, 7, &net_testkit::payload(64, (round * 200 + i) as u8)));
        }
        for _ in 0..4 {
            t += 1000;
            let _ = ns.poll(t); // no collect: the wire is stuck
        }
    }
    assert_eq!(ns.tx_free(), 0);
    assert_eq!(ns.stats().drop_no_tx_buffer - before, 600 - 256);
    pump(&mut wire, &mut ns, &mut t);
    assert_eq!(wire.take_sent().len(), 256);
    echo_ok(&mut wire, &mut ns, &mut t, 1472, 3);
    assert_eq!(ns.tx_free(), 256);
}

#[test]
fn hostile_driver_descriptors_cost_packets_not_state() {
    let (mut wire, mut ns) = stack_with_mirror();
    let mut t = 0;
    let frame = net_testkit::peer_udp(40000, 7, b"hello");
    // Wrong dataspace, misaligned offset, out-of-range slot, a transmit slot, zero and
    // oversized lengths: each is refused.
    assert!(wire.inject_desc_with(&frame, |d| ring::Desc { dataspace: 99, ..d }));
    assert!(wire.inject_desc_with(&frame, |d| ring::Desc { offset: d.offset + 2, ..d }));
    assert!(wire.inject_desc_with(&frame, |d| ring::Desc { offset: 0x1f_f800, ..d }));
    assert!(wire.inject_desc_with(&frame, |d| ring::Desc { offset: 256 * 2048, ..d }));
    assert!(wire.inject_desc_with(&frame, |d| ring::Desc { len: 0, ..d }));
    assert!(wire.inject_desc_with(&frame, |d| ring::Desc { len: 4096, ..d }));
    pump(&mut wire, &mut ns, &mut t);
    assert!(wire.take_sent().is_empty());
    assert_eq!(ns.device_stats().rx_bad_desc, 6);
    // The same buffer delivered twice: the second is refused.
    let d = wire.take_rx_buffer().unwrap();
    assert!(wire.inject_raw(ring::Desc { len: 60, ..d }));
    assert!(wire.inject_raw(ring::Desc { len: 60, ..d }));
    pump(&mut wire, &mut ns, &mut t);
    assert_eq!(ns.device_stats().rx_bad_desc, 7);
    wire.take_sent();
    // Buffers the driver really held come back into service and echo works. Slots the hostile
    // driver took but answered with junk naming other offsets stay with it (its loss).
    echo_ok(&mut wire, &mut ns, &mut t, 200, 5);
    assert!(ns.rx_posted() >= 250, "posted {}", ns.rx_posted());
}

#[test]
fn config_from_setvars_is_validated() {
    let ok = Config::from_setvars(MAC, 0x0a00_020f, 24, 0x0a00_0202, 2_000_000_000).unwrap();
    assert_eq!((ok.ip, ok.prefix_len, ok.gateway), ([10, 0, 2, 15], 24, Some([10, 0, 2, 2])));
    assert!(ok.on_link([10, 0, 2, 200]) && !ok.on_link([10, 0, 3, 1]));
    assert_eq!(Config::from_setvars(MAC, 0x0a00_020f, 24, 0, 1).unwrap().gateway, None);
    let err = |r: Result<Config, ConfigError>| r.unwrap_err();
    assert_eq!(
        err(Config::from_setvars(MAC, 1 << 40, 24, 0, 1)),
        ConfigError::NotAnAddress { setvar: "ip_addr", value: 1 << 40 }
    );
    assert_eq!(err(Config::from_setvars(MAC, 0x0a00_020f, 33, 0, 1)), ConfigError::BadPrefix(33));
    assert_eq!(err(Config::from_setvars(MAC, 0, 24, 0, 1)), ConfigError::BadAddress([0; 4]));
    assert_eq!(err(Config::from_setvars(MAC, 0x0a00_02ff, 24, 0, 1)), ConfigError::BadAddress([10, 0, 2, 255]));
    assert_eq!(
        err(Config::from_setvars(MAC, 0x0a00_020f, 24, 0x0a00_0302, 1)),
        ConfigError::GatewayOffLink([10, 0, 3, 2])
    );
    assert_eq!(
        err(Config::from_setvars([1, 0, 0, 0, 0, 0], 0x0a00_020f, 24, 0, 1)),
        ConfigError::BadMac([1, 0, 0, 0, 0, 0])
    );
    assert_eq!(err(Config::from_setvars(MAC, 0x0a00_020f, 24, 0, 0)), ConfigError::NoClock);
    for e in [ConfigError::NoClock, ConfigError::BadPrefix(40), ConfigError::PoolEmpty] {
        assert!(!e.to_string().is_empty());
    }
    let mut big = ok;
    big.pool.rx_slots = 1000;
    assert!(matches!(big.validate(2 << 20), Err(ConfigError::PoolTooBig { .. })));
}

#[test]
fn tsc_clock_converts_both_ways() {
    let c = Clock::new(2_400_000_000);
    assert_eq!(c.instant(2_400_000_000).total_millis(), 1000);
    assert_eq!(c.instant(2_400).total_micros(), 1);
    assert_eq!(c.tsc(c.instant(4_800_000_000)), 4_800_000_000);
    assert_eq!(c.instant(u64::MAX).total_micros(), (u64::MAX as u128 * 1_000_000 / 2_400_000_000) as i64);
}

#[test]
fn fast_path_headers_are_the_reference_frames() {
    // The fast path writes UDP and ARP headers itself; they must be byte-identical to the frames
    // net-testkit builds with smoltcp's `Repr`s (which the tests above send).
    let p = net_testkit::payload(100, 3);
    let (from, to) = (Endpoint { addr: IP, port: 7 }, Endpoint { addr: PEER_IP, port: 40000 });
    let mut buf = vec![0u8; 42 + p.len()];
    buf[42..].copy_from_slice(&p);
    let n = netstack::wire::write_udp_headers(&mut buf, MAC, PEER_MAC, from, to, p.len());
    assert_eq!(buf[..n], net_testkit::udp_frame(MAC, PEER_MAC, from, to, &p)[..]);
    let mut arp = [0u8; 64];
    let n = netstack::wire::write_arp_request(&mut arp, MAC, IP, PEER_IP);
    assert_eq!(arp[..n], net_testkit::arp_request(MAC, IP, PEER_IP)[..]);
}

/// A hosted app that forwards every datagram to one fixed endpoint (never back to its sender),
/// so its replies go out by the neighbour table.
struct Forward {
    to: Endpoint,
}

impl UdpApp for Forward {
    fn port(&self) -> u16 {
        9
    }
    fn on_datagram(&mut self, p: &[u8], from: Endpoint, reply: &mut [u8]) -> Option<(usize, Endpoint)> {
        if from.addr == self.to.addr {
            return None;
        }
        reply[..p.len()].copy_from_slice(p);
        Some((p.len(), self.to))
    }
}

#[test]
fn the_fast_path_learns_neighbours_only_from_unicast_source_macs() {
    const HOST: [u8; 4] = [10, 0, 2, 77];
    const HOST_MAC: [u8; 6] = [0x52, 0x55, 0x0a, 0x00, 0x02, 0x4d];
    let (mut wire, mut ns) = testkit::setup(testkit::config());
    let app: &'static mut Forward = Box::leak(Box::new(Forward { to: Endpoint { addr: HOST, port: 5000 } }));
    ns.host_app(app).unwrap();
    let mut t = 0;
    // The host announces itself (ARP, unicast sender MAC): learned.
    assert!(wire.inject(&net_testkit::arp_request(HOST_MAC, HOST, IP)));
    pump(&mut wire, &mut ns, &mut t);
    wire.take_sent();
    // Datagrams "from" the host with a multicast and a broadcast source MAC: must not be learned.
    for group in [[0x01, 0x00, 0x5e, 0x00, 0x00, 0x01], [0xff; 6], [0x33, 0x33, 0, 0, 0, 1]] {
        let from = Endpoint { addr: HOST, port: 5000 };
        let f = net_testkit::udp_frame(group, MAC, from, Endpoint { addr: IP, port: 9 }, b"spoof");
        assert!(wire.inject(&f));
    }
    pump(&mut wire, &mut ns, &mut t);
    assert!(wire.take_sent().is_empty(), "the app answers nothing to the host itself");
    assert_eq!(ns.stats().udp_in, 3, "the datagrams themselves were taken");
    // A datagram from the peer is forwarded to the host: to the MAC ARP taught, not a group.
    assert!(wire.inject(&net_testkit::peer_udp(40000, 9, b"forward me")));
    pump(&mut wire, &mut ns, &mut t);
    let sent = wire.take_sent();
    let out: Vec<_> = sent.iter().filter_map(|f| net_testkit::parse_udp(f)).collect();
    assert_eq!(out.len(), 1, "one forwarded datagram, got {sent:?}");
    assert_eq!(out[0].to, Endpoint { addr: HOST, port: 5000 });
    assert_eq!(out[0].dst_mac, HOST_MAC, "a group source MAC replaced the learned neighbour");
}
