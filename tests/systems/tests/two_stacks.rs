//! System tests of one NIC shared by two network stacks (issue 14,
//! `examples/two-stacks/two-stacks.xml`): the driver serves two sessions, each with its own
//! MAC, queues, buffers and echo PD. Driven from outside through QEMU's dgram netdev with raw
//! Ethernet (frames built and parsed with smoltcp's wire types, `net_testkit`):
//!
//! - both stacks answer ARP, ping and UDP echo byte-exact, each from its own MAC and address,
//!   and neither answers for the other (a frame to one stack's MAC with the other's address is
//!   not answered, nor is unicast to a MAC nobody has; bad frames of each kind are ignored);
//! - a flood at one stack does not starve the other: with stack A offered datagrams back to
//!   back, stack B's paced echo answers at least 99% and its p99 round trip at most doubles
//!   against B measured alone in the same boot (figures printed);
//! - a stack that faults loses only its own session: the other answers throughout, and the
//!   restarted one answers again.
//!
//! One boot per test. Every QEMU run has an overall limit and is killed on drop.

use std::collections::HashMap;
use std::thread;
use std::time::{Duration, Instant};

use net_testkit::{PEER_IP, PEER_MAC};
use qemu_harness::{build_image, build_kernel, DgramLink, KernelVariant, Qemu, QemuConfig};
use smoltcp::wire::ArpOperation;
use socket_api::Endpoint;

const SYSTEM: &str = "examples/two-stacks/two-stacks.xml";
const WAIT: Duration = Duration::from_secs(60);
const RUN_LIMIT: Duration = Duration::from_secs(300);
const REPLY: Duration = Duration::from_secs(5);

/// Session 1 (netstack_a) uses the NIC's own address, which the test gives QEMU's NIC.
const A_MAC: [u8; 6] = [0x52, 0x54, 0x00, 0xab, 0xcd, 0xef];
const A_MAC_STR: &str = "52:54:00:ab:cd:ef";
const A_IP: [u8; 4] = [10, 0, 2, 15];
/// Session 2 (netstack_b): `mac1` in the system file.
const B_MAC: [u8; 6] = [0x52, 0x54, 0x00, 0x12, 0x34, 0x57];
const B_IP: [u8; 4] = [10, 0, 2, 16];

#[derive(Clone, Copy, Debug)]
struct Stack {
    name: &'static str,
    mac: [u8; 6],
    ip: [u8; 4],
}

const A: Stack = Stack { name: "netstack_a", mac: A_MAC, ip: A_IP };
const B: Stack = Stack { name: "netstack_b", mac: B_MAC, ip: B_IP };

fn ok<T>(r: qemu_harness::Result<T>) -> T {
    r.unwrap_or_else(|e| panic!("{e}"))
}

struct Guest {
    q: Qemu,
    link: DgramLink,
    next_port: u16,
}

impl Guest {
    fn boot() -> Guest {
        let img = build_image(SYSTEM).unwrap_or_else(|e| panic!("{e}"));
        let kernel = build_kernel(KernelVariant::Iommu).unwrap_or_else(|e| panic!("{e}"));
        let link = ok(DgramLink::new());
        let cfg = QemuConfig::new()
            .iommu(true)
            .kernel(kernel)
            .initrd(&img)
            .nic(link.e1000().mac(A_MAC_STR))
            .timeout(RUN_LIMIT);
        let mut q = ok(Qemu::spawn(cfg));
        ok(q.expect("driver: up: e1000 (82540EM)", WAIT));
        for want in [
            "netstack_a: up: 10.0.2.15/24 mac 52:54:00:ab:cd:ef driver session 1",
            "netstack_b: up: 10.0.2.16/24 mac 52:54:00:12:34:57 driver session 2",
            "echo_a: up: UDP echo on port 7",
            "echo_b: up: UDP echo on port 7",
        ] {
            if q.expect(want, WAIT).is_err() {
                panic!("missing {want:?}:\n{}", q.output());
            }
        }
        Guest { q, link, next_port: 40000 }
    }

    fn port(&mut self) -> u16 {
        self.next_port = if self.next_port >= 60000 { 40000 } else { self.next_port + 1 };
        self.next_port
    }

    fn send(&self, frame: &[u8]) {
        ok(self.link.send_frame(frame));
    }

    /// A datagram from the peer port `sport` to `s`'s port `dport` (to `s`'s MAC).
    fn udp(s: Stack, sport: u16, dport: u16, payload: &[u8]) -> Vec<u8> {
        net_testkit::udp_frame(
            PEER_MAC,
            s.mac,
            Endpoint { addr: PEER_IP, port: sport },
            Endpoint { addr: s.ip, port: dport },
            payload,
        )
    }

    /// Sends `payload` to `s`'s port 7 and checks the echo: the same bytes, from `s`'s address,
    /// port 7 and MAC.
    fn echo(&mut self, s: Stack, payload: &[u8]) {
        let sport = self.port();
        self.send(&Self::udp(s, sport, 7, payload));
        let f = self
            .link
            .recv_frame_matching(REPLY, |f| net_testkit::parse_udp(f).is_some_and(|u| u.to.port == sport))
            .unwrap_or_else(|e| panic!("{}: no echo of {} bytes: {e}\n{}", s.name, payload.len(), self.q.output()));
        let u = net_testkit::parse_udp(&f).expect("matched above");
        assert!(u.payload == payload, "{}: echo of {} bytes differs", s.name, payload.len());
        assert_eq!(u.from, Endpoint { addr: s.ip, port: 7 }, "{}", s.name);
        assert_eq!((u.src_mac, u.dst_mac), (s.mac, PEER_MAC), "{}: the echo comes from its own MAC", s.name);
    }

    /// As [`Guest::echo`], tolerating a request lost on the host side after a storm.
    fn echo_eventually(&mut self, s: Stack, payload: &[u8]) {
        for _ in 0..5 {
            let sport = self.port();
            self.send(&Self::udp(s, sport, 7, payload));
            if let Ok(f) = self.link.recv_frame_matching(Duration::from_secs(2), |f| {
                net_testkit::parse_udp(f).is_some_and(|u| u.to.port == sport)
            }) {
                let u = net_testkit::parse_udp(&f).expect("matched above");
                assert!(u.payload == payload && u.src_mac == s.mac, "{}: echo differs", s.name);
                return;
            }
        }
        panic!("{} no longer answers:\n{}", s.name, self.q.output());
    }

    /// Sends `frame` and checks nothing comes back to `sport` within a second.
    fn unanswered(&self, what: &str, frame: &[u8], sport: u16) {
        self.send(frame);
        let got = self.link.recv_frame_matching(Duration::from_secs(1), |f| {
            net_testkit::parse_udp(f).is_some_and(|u| u.to.port == sport)
        });
        assert!(got.is_err(), "{what} was answered: {:?}", got.map(|f| net_testkit::parse_udp(&f)));
    }

    /// ARP, ping and UDP echo of a spread of sizes for `s`.
    fn basics(&mut self, s: Stack) {
        self.send(&net_testkit::arp_request(PEER_MAC, PEER_IP, s.ip));
        let f = ok(self.link.recv_frame_matching(
            REPLY,
            |f| matches!(net_testkit::parse_arp(f), Some((ArpOperation::Reply, _, spa, ..)) if spa == s.ip),
        ));
        let (_, sha, spa, tha, tpa) = net_testkit::parse_arp(&f).expect("matched above");
        assert_eq!((sha, spa, tha, tpa), (s.mac, s.ip, PEER_MAC, PEER_IP), "{}: ARP reply fields", s.name);
        // No second reply for the same address (the other stack does not claim it).
        let second = self.link.recv_frame_matching(
            Duration::from_millis(500),
            |f| matches!(net_testkit::parse_arp(f), Some((ArpOperation::Reply, _, spa, ..)) if spa == s.ip),
        );
        assert!(second.is_err(), "{}: two ARP replies for {:?}", s.name, s.ip);

        for (seq, len) in [(1u16, 56usize), (2, 1000)] {
            let data = net_testkit::payload(len, seq as u8);
            self.send(&net_testkit::icmp_echo_request_to(s.mac, s.ip, 0x1234, seq, &data));
            let f = ok(self.link.recv_frame_matching(
                REPLY,
                |f| matches!(net_testkit::parse_echo_reply(f), Some((0x1234, q, ..)) if q == seq),
            ));
            let (_, _, got, dst) = net_testkit::parse_echo_reply(&f).expect("matched above");
            assert!(got == data, "{}: ping of {len} bytes echoed byte-exact", s.name);
            assert_eq!((dst, &f[6..12]), (PEER_MAC, &s.mac[..]), "{}: ping reply from its own MAC", s.name);
        }
        for (i, len) in [1usize, 17, 64, 255, 512, 1000, 1024, 1400, 1472].into_iter().enumerate() {
            self.echo(s, &net_testkit::payload(len, i as u8));
        }
    }

    /// The last complete `<prefix>` line's `key=value` pairs.
    fn last_stats(&self, prefix: &str) -> Option<HashMap<String, u64>> {
        let out = self.q.output();
        let maps: Vec<HashMap<String, u64>> = out
            .lines()
            .map(|l| l.trim_matches('\r'))
            .filter(|l| l.starts_with(prefix))
            .map(|l| {
                l.split_whitespace()
                    .filter_map(|kv| kv.split_once('='))
                    .filter_map(|(k, v)| Some((k.to_string(), v.parse().ok()?)))
                    .collect()
            })
            .collect();
        let fields = maps.iter().map(HashMap::len).max()?;
        maps.into_iter().filter(|m| m.len() == fields).last()
    }
}

/// Paced echo to `s`: `n` datagrams of `len` bytes, one every `gap`, each waited for at most
/// `REPLY`; returns (answered, round trips of the answered ones). Replies to other ports (the
/// flood's) are skipped.
fn paced(g: &mut Guest, s: Stack, n: usize, len: usize, gap: Duration) -> (usize, Vec<Duration>) {
    let sport = g.port();
    let mut rtts = Vec::with_capacity(n);
    for i in 0..n {
        let mut p = net_testkit::payload(len, i as u8);
        p[..4].copy_from_slice(&(i as u32).to_be_bytes());
        let t0 = Instant::now();
        g.send(&Guest::udp(s, sport, 7, &p));
        let got = g.link.recv_frame_matching(REPLY, |f| {
            net_testkit::parse_udp(f).is_some_and(|u| u.to.port == sport && u.payload == p)
        });
        if got.is_ok() {
            rtts.push(t0.elapsed());
        }
        thread::sleep(gap.saturating_sub(t0.elapsed()));
    }
    (rtts.len(), rtts)
}

fn p99(rtts: &[Duration]) -> Duration {
    let mut v = rtts.to_vec();
    v.sort();
    v[((v.len() * 99).div_ceil(100)).saturating_sub(1).min(v.len() - 1)]
}

#[test]
fn both_stacks_answer_arp_ping_and_echo_byte_exact_and_only_for_themselves() {
    let mut g = Guest::boot();
    let text = g.q.output();
    assert!(
        text.contains("driver: up: e1000 (82540EM)") && text.contains("2 sessions (session 1 PD #"),
        "the driver serves two sessions:\n{text}"
    );
    assert!(text.contains("driver: session 1 open for PD #"), "{text}");
    assert!(text.contains("driver: session 2 open for PD #"), "{text}");
    assert!(text.contains("MAC 52:54:00:12:34:57"), "session 2 has the system file's mac1:\n{text}");
    g.basics(A);
    g.basics(B);

    // Each stack answers only for itself: A's address at B's MAC, B's address at A's MAC, and a
    // MAC nobody has (dropped by the NIC's filter) are not answered.
    let sport = g.port();
    let mut crossed = Guest::udp(A, sport, 7, b"for A at B's MAC");
    crossed[..6].copy_from_slice(&B_MAC);
    g.unanswered("A's address at B's MAC", &crossed, sport);
    let sport = g.port();
    let mut crossed = Guest::udp(B, sport, 7, b"for B at A's MAC");
    crossed[..6].copy_from_slice(&A_MAC);
    g.unanswered("B's address at A's MAC", &crossed, sport);
    let sport = g.port();
    let mut nobody = Guest::udp(A, sport, 7, b"nobody's MAC");
    nobody[..6].copy_from_slice(&[0x52, 0x54, 0x00, 0x77, 0x77, 0x77]);
    g.unanswered("unicast to a MAC no session has", &nobody, sport);

    // Hostile frames at each stack, each followed by a working echo of both.
    for s in [A, B] {
        let good = Guest::udp(s, 45000, 7, &net_testkit::payload(600, 3));
        let mut cases: Vec<(&str, Vec<u8>)> = vec![
            ("runt", good[..20].to_vec()),
            ("truncated IP header", good[..38].to_vec()),
            ("IP length lies", good[..300].to_vec()),
        ];
        let mut bad_sum = good.clone();
        bad_sum[24] ^= 0x5a;
        cases.push(("bad IPv4 checksum", bad_sum));
        let mut bad_udp = good.clone();
        bad_udp[40] ^= 0x5a;
        cases.push(("bad UDP checksum", bad_udp));
        let mut junk = good[..14].to_vec();
        junk.extend((0..400u32).map(|i| (i.wrapping_mul(2654435761) >> 11) as u8));
        cases.push(("garbage after the header", junk));
        for (name, f) in &cases {
            g.send(f);
            g.echo_eventually(A, name.as_bytes());
            g.echo_eventually(B, name.as_bytes());
        }
    }
    // A broadcast storm reaches both stacks, each into its own buffers; both survive it.
    for i in 0..1000u32 {
        g.send(&net_testkit::arp_request(PEER_MAC, PEER_IP, [10, 0, 2, 100 + (i % 100) as u8]));
    }
    g.echo_eventually(A, b"after the storm");
    g.echo_eventually(B, b"after the storm");
    thread::sleep(Duration::from_millis(1200));
    g.echo(A, b"stats");
    thread::sleep(Duration::from_millis(500));
    let a = g.last_stats("netstack_a: stats").expect("netstack_a stats");
    let b = g.last_stats("netstack_b: stats").expect("netstack_b stats");
    eprintln!("netstack_a: {a:?}\nnetstack_b: {b:?}");
}

#[test]
fn a_flood_at_one_stack_does_not_starve_the_other() {
    let mut g = Guest::boot();
    g.echo(A, b"warm up A");
    g.echo(B, b"warm up B");
    const N: usize = 200;
    const LEN: usize = 256;
    let gap = Duration::from_millis(10);
    let (alone, rtt_alone) = paced(&mut g, B, N, LEN, gap);
    assert!(alone >= N * 99 / 100, "B alone answered only {alone} of {N}:\n{}", g.q.output());

    // Stack A is flooded (1024-byte datagrams back to back, bounded in time) while B is
    // measured as before.
    let stop = std::sync::atomic::AtomicBool::new(false);
    let link = &g.link;
    let (flooded, (busy, rtt_busy)) = thread::scope(|sc| {
        let flood = sc.spawn(|| {
            let frame = Guest::udp(A, 39999, 7, &net_testkit::payload(1024, 7));
            let mut sent = 0u64;
            let end = Instant::now() + Duration::from_secs(20);
            while !stop.load(std::sync::atomic::Ordering::Relaxed) && Instant::now() < end {
                if link.send_frame(&frame).is_ok() {
                    sent += 1;
                }
                if sent % 64 == 0 {
                    thread::yield_now();
                }
            }
            sent
        });
        thread::sleep(Duration::from_millis(300));
        let r = paced(&mut g, B, N, LEN, gap);
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
        (flood.join().expect("flood thread"), r)
    });
    // Let the flood drain, then both still answer.
    g.echo_eventually(A, b"after the flood");
    g.echo_eventually(B, b"after the flood");
    thread::sleep(Duration::from_millis(1200));
    g.echo(A, b"stats");
    thread::sleep(Duration::from_millis(500));
    let a = g.last_stats("netstack_a: stats").unwrap_or_default();
    let (p_alone, p_busy) = (p99(&rtt_alone), p99(&rtt_busy));
    eprintln!(
        "\n== two stacks, flood at A ({flooded} x 1024-byte datagrams offered back to back; netstack_a took udp_in={} \
         and echoed udp_out={}):\n   B paced ({N} x {LEN} bytes, one per {gap:?}): alone {alone}/{N} answered, p99 {p_alone:?}; \
         during the flood {busy}/{N} answered, p99 {p_busy:?} ({:.2}x)",
        a.get("udp_in").copied().unwrap_or(0),
        a.get("udp_out").copied().unwrap_or(0),
        p_busy.as_secs_f64() / p_alone.as_secs_f64()
    );
    assert!(a.get("udp_in").copied().unwrap_or(0) > 1000, "the flood reached stack A: {a:?}");
    assert!(busy >= N * 99 / 100, "B answered only {busy} of {N} during A's flood:\n{}", g.q.output());
    assert!(
        p_busy <= p_alone * 2,
        "B's p99 round trip went from {p_alone:?} alone to {p_busy:?} during A's flood (more than double)"
    );
}

#[test]
fn a_faulting_stack_loses_only_its_own_session() {
    let mut g = Guest::boot();
    g.echo(A, b"before");
    g.echo(B, b"before");
    ok(g.q.type_line("inject netstack_b"));
    ok(g.q.expect("driver: session 2's client", WAIT));
    // A keeps answering while B restarts.
    for i in 0..20u8 {
        g.echo(A, &[i; 100]);
    }
    if g.q.expect("netstack_b: up: 10.0.2.16/24 mac 52:54:00:12:34:57 driver session 2", WAIT).is_err() {
        panic!("netstack_b did not come back:\n{}", g.q.output());
    }
    g.echo_eventually(B, b"after B's restart");
    g.echo(A, b"after B's restart");
    let text = g.q.output();
    assert!(!text.contains("driver: session 1 closed"), "session 1 was not touched:\n{text}");
}
