//! System tests of the whole data path (issue 6): driver, dataspace manager, network stack and
//! echo booted under QEMU (TCG) with the guest's e1000 on a `dgram` link, so the test speaks
//! raw Ethernet to it (frames built and parsed with smoltcp's wire types, `net_testkit`):
//!
//! - `system.xml` (echo as its own PD): ARP reply, ICMP echo reply, UDP echo byte-exact for
//!   payloads 1..=1472 bytes, every bad-traffic case of the issue followed by a working echo, a
//!   paced burst of 1024-byte datagrams (all echoed) and an unpaced flood (drops counted, the
//!   service survives), printing datagrams sent/echoed and per-datagram notifications and
//!   interrupts of each PD from their statistics lines;
//! - `examples/echo-in-netstack/echo-in-netstack.xml` (the paper's configuration): the same
//!   basics and burst, for comparison;
//! - `make run` itself, as a new user runs it: it says how to reach the service once it
//!   answers, and `nc -u` and `socat` through QEMU's user networking get their datagrams back;
//! - `docs/adding-a-pd.md` followed literally in a copy of the repository: its commands run,
//!   its XML pasted into a copy of `system.xml`, the result built and booted, and the output
//!   it shows must appear (and the echo still answers).
//!
//! One boot per test (boots take ~1 s; the cases share it). Every QEMU run has an overall
//! limit and is killed on drop.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use net_testkit::{PEER_IP, PEER_MAC};
use qemu_harness::{build_image, build_kernel, build_lock, repo_root, DgramLink, KernelVariant, Qemu, QemuConfig};
use smoltcp::wire::ArpOperation;
use socket_api::Endpoint;

/// Per-wait limit for boot messages.
const WAIT: Duration = Duration::from_secs(60);
/// Hard limit on one QEMU run.
const RUN_LIMIT: Duration = Duration::from_secs(300);
/// How long one echo may take (TCG, four PDs).
const REPLY: Duration = Duration::from_secs(5);
/// The guest NIC's MAC: not QEMU's default, so the stack must have learned it from the driver.
const GUEST_MAC: [u8; 6] = [0x52, 0x54, 0x00, 0xab, 0xcd, 0xef];
const GUEST_MAC_STR: &str = "52:54:00:ab:cd:ef";
const GUEST_IP: [u8; 4] = [10, 0, 2, 15];
/// The PDs print statistics at most this often (their `stats_interval_ms` default).
const STATS_INTERVAL: Duration = Duration::from_millis(1000);

/// `make image SYSTEM=<system>` -> build/<stem>/image.elf.
fn image(system: &str) -> PathBuf {
    build_image(system).unwrap_or_else(|e| panic!("{e}"))
}

/// A booted system on a dgram link.
struct Guest {
    q: Qemu,
    link: DgramLink,
    next_port: u16,
}

fn ok<T>(r: qemu_harness::Result<T>) -> T {
    r.unwrap_or_else(|e| panic!("{e}"))
}

impl Guest {
    /// Boots `system` and waits until the stack (and `ready`, e.g. the echo PD) is up.
    fn boot(system: &str, ready: &[&str]) -> Guest {
        Guest::boot_image(&image(system), ready)
    }

    /// Boots an image (see [`Guest::boot`]) with QEMU's e1000.
    fn boot_image(img: &Path, ready: &[&str]) -> Guest {
        Guest::boot_on(img, "e1000", ready)
    }

    /// Boots an image with QEMU's NIC model `nic` (`e1000` or `e1000e`).
    fn boot_on(img: &Path, nic: &str, ready: &[&str]) -> Guest {
        let kernel = build_kernel(KernelVariant::Iommu).unwrap_or_else(|e| panic!("{e}"));
        let link = ok(DgramLink::new());
        let nic = match nic {
            "e1000e" => link.e1000e(),
            _ => link.e1000(),
        };
        let cfg =
            QemuConfig::new().iommu(true).kernel(kernel).initrd(img).nic(nic.mac(GUEST_MAC_STR)).timeout(RUN_LIMIT);
        let mut q = ok(Qemu::spawn(cfg));
        let up = ok(q.expect_regex(r"netstack: (up: [^\n]*|cannot start: [^\n]*)\n", WAIT));
        assert!(up.matched.contains("up: 10.0.2.15/24"), "the stack did not start: {}\n{}", up.matched, q.output());
        assert!(
            up.matched.contains(&format!("mac {GUEST_MAC_STR}")),
            "the stack must use the MAC the driver reports: {}",
            up.matched
        );
        for r in ready {
            ok(q.expect(r, WAIT));
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

    /// A datagram from the peer (10.0.2.2) port `sport` to the guest's port `dport`.
    fn udp(&self, sport: u16, dport: u16, payload: &[u8]) -> Vec<u8> {
        net_testkit::udp_frame(
            PEER_MAC,
            GUEST_MAC,
            Endpoint { addr: PEER_IP, port: sport },
            Endpoint { addr: GUEST_IP, port: dport },
            payload,
        )
    }

    /// Sends `payload` to port 7 and checks the reply is the same bytes, from 10.0.2.15:7 to
    /// our address and port. Replies to ports in `forbidden` seen meanwhile fail the test (a
    /// bad frame that was answered).
    fn echo(&mut self, payload: &[u8], forbidden: &[u16]) {
        let sport = self.port();
        self.send(&self.udp(sport, 7, payload));
        let mut bad = None;
        let reply = self.link.recv_frame_matching(REPLY, |f| match net_testkit::parse_udp(f) {
            Some(u) if u.to.port == sport => true,
            Some(u) if forbidden.contains(&u.to.port) => {
                bad = Some(u.to.port);
                false
            }
            _ => false,
        });
        assert_eq!(bad, None, "a bad frame (source port {bad:?}) was answered");
        let f = reply.unwrap_or_else(|e| panic!("no echo of {} bytes: {e}\n{}", payload.len(), self.q.output()));
        let u = net_testkit::parse_udp(&f).expect("matched above");
        assert_eq!(u.payload.len(), payload.len(), "echo length");
        assert!(u.payload == payload, "echo of {} bytes differs", payload.len());
        assert_eq!(u.from, Endpoint { addr: GUEST_IP, port: 7 });
        assert_eq!(u.to, Endpoint { addr: PEER_IP, port: sport });
        assert_eq!((u.src_mac, u.dst_mac), (GUEST_MAC, PEER_MAC));
    }

    /// Like [`Guest::echo`], but tolerates the request being lost on the host side: after a
    /// storm QEMU's socket for the link may still be full (QEMU reads it only as fast as the
    /// guest NIC takes frames, and the host kernel drops what does not fit). Returns the try
    /// that was answered.
    fn echo_eventually(&mut self, payload: &[u8], forbidden: &[u16]) -> usize {
        for attempt in 1..=5 {
            let sport = self.port();
            self.send(&self.udp(sport, 7, payload));
            let mut bad = None;
            let reply = self.link.recv_frame_matching(Duration::from_secs(2), |f| match net_testkit::parse_udp(f) {
                Some(u) if u.to.port == sport => true,
                Some(u) if forbidden.contains(&u.to.port) => {
                    bad = Some(u.to.port);
                    false
                }
                _ => false,
            });
            assert_eq!(bad, None, "a bad frame (source port {bad:?}) was answered");
            if let Ok(f) = reply {
                let u = net_testkit::parse_udp(&f).expect("matched above");
                assert!(u.payload == payload, "echo of {} bytes differs", payload.len());
                return attempt;
            }
        }
        panic!("the echo no longer answers:\n{}", self.q.output());
    }

    /// ARP, ping, and UDP echo for a spread of sizes 1..=1472.
    fn basics(&mut self, sizes: &[usize]) {
        // ARP: who has 10.0.2.15?
        self.send(&net_testkit::arp_request(PEER_MAC, PEER_IP, GUEST_IP));
        let f = ok(self
            .link
            .recv_frame_matching(REPLY, |f| matches!(net_testkit::parse_arp(f), Some((ArpOperation::Reply, ..)))));
        let (_, sha, spa, tha, tpa) = net_testkit::parse_arp(&f).expect("matched above");
        assert_eq!((sha, spa, tha, tpa), (GUEST_MAC, GUEST_IP, PEER_MAC, PEER_IP), "ARP reply fields");

        // ICMP echo (ping), two sizes.
        for (seq, len) in [(1u16, 56usize), (2, 1000)] {
            let data = net_testkit::payload(len, seq as u8);
            let mut req = net_testkit::icmp_echo_request(0x1234, seq, &data);
            req[..6].copy_from_slice(&GUEST_MAC);
            self.send(&req);
            let f = ok(self.link.recv_frame_matching(
                REPLY,
                |f| matches!(net_testkit::parse_echo_reply(f), Some((0x1234, s, ..)) if s == seq),
            ));
            let (_, _, got, dst) = net_testkit::parse_echo_reply(&f).expect("matched above");
            assert!(got == data, "ping data of {len} bytes echoed byte-exact");
            assert_eq!(dst, PEER_MAC);
        }

        for (i, &len) in sizes.iter().enumerate() {
            self.echo(&net_testkit::payload(len, i as u8), &[]);
        }
    }

    /// The last `<prefix> stats ...` line printed so far, as key -> value.
    fn last_stats(&self, prefix: &str) -> Option<(usize, HashMap<String, u64>)> {
        let out = self.q.output();
        // The kernel's console ends lines with "\n\r": trim the stray carriage returns.
        // PDs print a character at a time, so a higher-priority PD's line can cut into a lower
        // one's: only lines with every field count.
        let parse = |line: &str| -> HashMap<String, u64> {
            line.split_whitespace()
                .filter_map(|kv| kv.split_once('='))
                .filter_map(|(k, v)| Some((k.to_string(), v.parse().ok()?)))
                .collect()
        };
        let maps: Vec<HashMap<String, u64>> =
            out.lines().map(|l| l.trim_matches('\r')).filter(|l| l.starts_with(prefix)).map(parse).collect();
        let fields = maps.iter().map(HashMap::len).max()?;
        let complete: Vec<_> = maps.into_iter().filter(|m| m.len() == fields).collect();
        let n = complete.len();
        complete.into_iter().last().map(|m| (n, m))
    }

    /// Waits out the statistics interval, then one echo makes every PD print its line.
    fn stats_point(&mut self, prefixes: &[&str]) -> Vec<HashMap<String, u64>> {
        let before: Vec<usize> = prefixes.iter().map(|p| self.last_stats(p).map_or(0, |s| s.0)).collect();
        thread::sleep(STATS_INTERVAL + Duration::from_millis(200));
        self.echo(b"stats", &[]);
        let deadline = Instant::now() + REPLY;
        loop {
            let now: Vec<_> = prefixes.iter().map(|p| self.last_stats(p)).collect();
            if now.iter().zip(&before).all(|(s, b)| s.as_ref().is_some_and(|s| s.0 > *b)) {
                return now.into_iter().map(|s| s.expect("checked").1).collect();
            }
            let counts: Vec<usize> = now.iter().map(|s| s.as_ref().map_or(0, |s| s.0)).collect();
            assert!(
                Instant::now() < deadline,
                "no new statistics lines {prefixes:?} (lines before {before:?}, now {counts:?}):\n{}",
                self.q.output()
            );
            thread::sleep(Duration::from_millis(50));
        }
    }

    /// Sends `n` datagrams of `len` bytes with at most `window` unanswered; returns how many
    /// came back byte-exact (each is matched by its source port and sequence number).
    fn burst(&mut self, n: usize, len: usize, window: usize) -> (usize, Duration) {
        let sport = self.port();
        let mut outstanding = 0usize;
        let mut echoed = 0usize;
        let mut sent = 0usize;
        let start = Instant::now();
        let mut last_progress = Instant::now();
        while echoed < n {
            while sent < n && outstanding < window {
                let mut p = net_testkit::payload(len, sent as u8);
                p[..4].copy_from_slice(&(sent as u32).to_be_bytes());
                self.send(&self.udp(sport, 7, &p));
                sent += 1;
                outstanding += 1;
            }
            match self.link.recv_frame_matching(Duration::from_millis(500), |f| {
                net_testkit::parse_udp(f).is_some_and(|u| u.to.port == sport)
            }) {
                Ok(f) => {
                    let u = net_testkit::parse_udp(&f).expect("matched above");
                    let seq = u32::from_be_bytes(u.payload[..4].try_into().expect("4 bytes")) as usize;
                    let mut want = net_testkit::payload(len, seq as u8);
                    want[..4].copy_from_slice(&(seq as u32).to_be_bytes());
                    assert!(u.payload == want, "burst datagram {seq} echoed wrongly");
                    echoed += 1;
                    outstanding = outstanding.saturating_sub(1);
                    last_progress = Instant::now();
                }
                Err(_) => {
                    // Lost ones free their window slot; give up when nothing comes back.
                    outstanding = 0;
                    if sent == n || last_progress.elapsed() > REPLY {
                        break;
                    }
                }
            }
        }
        (echoed, start.elapsed())
    }
}

fn delta(a: &HashMap<String, u64>, b: &HashMap<String, u64>, key: &str) -> u64 {
    let (x, y) = (a.get(key).copied().unwrap_or(0), b.get(key).copied().unwrap_or(0));
    y.saturating_sub(x)
}

/// A paced burst with the PDs' statistics before and after; prints the figures.
fn measured_burst(g: &mut Guest, label: &str, prefixes: &[&str], n: usize) {
    let before = g.stats_point(prefixes);
    let (echoed, took) = g.burst(n, 1024, 32);
    let after = g.stats_point(prefixes);
    let per = |d: u64| d as f64 / n as f64;
    eprintln!(
        "\n== {label}: burst of {n} x 1024-byte datagrams (32 in flight): {n} sent, {echoed} echoed in {took:.2?}"
    );
    eprintln!("   per datagram (deltas of the PDs' statistics lines / {n}; includes one stats probe each side):");
    for (p, (b, a)) in prefixes.iter().zip(before.iter().zip(&after)) {
        let keys: &[&str] = match *p {
            "driver: stats" | "netstack: driver stats" => {
                &["irqs", "notify_sent", "notify_suppressed", "rx_packets", "tx_packets", "xlate_misses"]
            }
            "netstack: stats" => &[
                "wakeups",
                "from_driver",
                "from_client",
                "to_driver",
                "to_client",
                "udp_in",
                "udp_out",
                "copies_to_client",
                "copies_from_client",
                "sent_by_reference",
            ],
            "echo: stats" => &["wakeups", "to_netstack", "received", "echoed"],
            _ => &["received", "echoed"],
        };
        let shown: Vec<String> = keys.iter().map(|k| format!("{k}={:.3}", per(delta(b, a, k)))).collect();
        eprintln!("   {p:<24} {}", shown.join(" "));
    }
    if std::env::var_os("ECHO_TEST_DEBUG").is_some() {
        eprintln!("before {before:?}\nafter {after:?}");
    }
    assert_eq!(echoed, n, "every datagram of a paced burst must be echoed");
    // The figures are real: the stack took at least the burst, and the driver saw interrupts.
    assert!(delta(&before[0], &after[0], "udp_in") >= n as u64, "{after:?}");
    if prefixes.contains(&"echo: stats") {
        // A separate echo's replies leave from its own slots: the stack copies none of them.
        assert!(delta(&before[0], &after[0], "sent_by_reference") >= n as u64, "{after:?}");
        assert_eq!(delta(&before[0], &after[0], "copies_from_client"), 0, "{after:?}");
    }
}

const SIZES: &[usize] = &[
    1, 2, 3, 7, 8, 17, 63, 64, 100, 127, 128, 255, 256, 511, 512, 513, 700, 1000, 1023, 1024, 1025, 1200, 1400, 1470,
    1471, 1472,
];

#[test]
fn separate_echo_pd_answers_and_survives_bad_traffic() {
    let mut g = Guest::boot("system.xml", &["echo: up: UDP echo on port 7"]);
    let text = g.q.output();
    assert!(text.contains("driver: up: e1000 (82540EM) at"), "the initialiser bound the e1000:\n{text}");
    assert!(
        text.contains(
            "initialiser: PD 'driver' irq 0: PCI 00:01.0 (8086:100e) has no MSI capability; using its INTx line"
        ),
        "QEMU's 82540EM has no MSI: INTx is the fallback:\n{text}"
    );
    answers_and_survives_bad_traffic(&mut g, "system.xml (echo PD)");
}

/// The same image on QEMU's 82574L: the initialiser binds the second of system.xml's
/// alternatives, the driver runs its 82574 backend, and everything else is as on the e1000.
#[test]
fn the_same_image_answers_on_the_e1000e() {
    let mut g = Guest::boot_on(&image("system.xml"), "e1000e", &["echo: up: UDP echo on port 7"]);
    let text = g.q.output();
    assert!(
        text.contains("initialiser: region 'e1000_regs': PCI 00:01.0 (8086:10d3) BAR 0"),
        "the initialiser bound the 82574L:\n{text}"
    );
    assert!(text.contains("driver: up: e1000e (82574L) at"), "the driver runs its 82574 backend:\n{text}");
    assert!(
        text.contains("initialiser: PD 'driver' irq 0: PCI 00:01.0 (8086:10d3) MSI -> vector"),
        "the 82574L signals by MSI:\n{text}"
    );
    assert!(text.contains("initialiser: DMA: PCI 00:01.0 (8086:10d3"), "its DMA is confined too:\n{text}");
    answers_and_survives_bad_traffic(&mut g, "system.xml on the e1000e (echo PD)");
}

/// ARP, ping, byte-exact echo of every size, each bad-traffic case, port unreachable, a flood
/// and the measured burst.
fn answers_and_survives_bad_traffic(g: &mut Guest, label: &str) {
    g.basics(SIZES);

    // Bad traffic: each case, then a working echo (and the bad frame must not be answered).
    let good = g.udp(g.next_port + 1000, 7, &net_testkit::payload(1024, 9));
    let bad_port = good_port(&good);
    let mut cases: Vec<(&str, Vec<Vec<u8>>)> = Vec::new();
    let with = |mutate: &dyn Fn(&mut Vec<u8>)| {
        let mut f = good.clone();
        mutate(&mut f);
        f
    };
    cases.push(("runt (20 bytes)", vec![good[..20].to_vec()]));
    cases.push(("truncated in the IP header", vec![good[..38].to_vec()]));
    cases.push(("truncated payload (IP length lies)", vec![good[..600].to_vec()]));
    cases.push(("IP version 6 in an IPv4 frame", vec![with(&|f| f[14] = 0x65)]));
    cases.push(("IP header length 3 words", vec![with(&|f| f[14] = 0x43)]));
    cases.push(("bad IPv4 header checksum", vec![with(&|f| f[24] ^= 0x5a)]));
    cases.push(("bad UDP checksum", vec![with(&|f| f[40] ^= 0x5a)]));
    cases.push((
        "UDP length past the IP payload",
        vec![with(&|f| {
            let l = u16::from_be_bytes([f[38], f[39]]) + 100;
            f[38..40].copy_from_slice(&l.to_be_bytes());
            f[40..42].copy_from_slice(&[0, 0]);
        })],
    ));
    cases.push((
        "UDP length below the header",
        vec![with(&|f| {
            f[38..40].copy_from_slice(&4u16.to_be_bytes());
            f[40..42].copy_from_slice(&[0, 0]);
        })],
    ));
    cases.push(("unicast to another MAC", vec![with(&|f| f[..6].copy_from_slice(&[0x02, 0, 0, 0, 0, 0x99]))]));
    cases.push((
        "garbage after our MAC and the IPv4 type",
        vec![{
            let mut f = good[..14].to_vec();
            f.extend((0..300u32).map(|i| (i.wrapping_mul(2654435761) >> 13) as u8));
            f
        }],
    ));
    // A broadcast storm: ARP for others and broadcast UDP, 2000 frames back to back.
    let storm: Vec<Vec<u8>> = (0..2000u32)
        .map(|i| {
            if i % 2 == 0 {
                net_testkit::arp_request(PEER_MAC, PEER_IP, [10, 0, 2, 100 + (i % 100) as u8])
            } else {
                let mut f = net_testkit::udp_frame(
                    PEER_MAC,
                    [0xff; 6],
                    Endpoint { addr: PEER_IP, port: 5353 },
                    Endpoint { addr: [10, 0, 2, 255], port: 9 },
                    &net_testkit::payload(200, i as u8),
                );
                f[..6].copy_from_slice(&[0xff; 6]);
                f
            }
        })
        .collect();
    cases.push(("broadcast storm (2000 frames)", storm));

    for (name, frames) in &cases {
        for f in frames {
            g.send(f);
        }
        let tries = g.echo_eventually(&net_testkit::payload(333, 1), &[bad_port]);
        eprintln!("bad traffic: {name}: ignored, echo still answers (request {tries})");
    }

    // UDP to a port nobody bound: ICMP port unreachable (smoltcp), then echo.
    let sport = g.port();
    g.send(&g.udp(sport, 9999, b"anyone?"));
    let f = ok(g.link.recv_frame_matching(REPLY, |f| f.len() > 23 && f[12..14] == [8, 0] && f[23] == 1));
    assert_eq!(f[34], 3, "ICMP destination unreachable");
    assert_eq!(f[35], 3, "code: port unreachable");
    g.echo(b"after port unreachable", &[]);

    // Faster than the echo can answer: 3000 datagrams back to back, nothing read meanwhile.
    // What the host gets back undercounts (its socket overflows too); the echo PD's counters
    // say what the system did.
    let before = g.stats_point(&["echo: stats"]);
    let sport = g.port();
    let n = 3000u64;
    for i in 0..n {
        g.send(&g.udp(sport, 7, &net_testkit::payload(512, i as u8)));
    }
    let mut back = 0;
    while g
        .link
        .recv_frame_matching(Duration::from_millis(1500), |f| {
            net_testkit::parse_udp(f).is_some_and(|u| u.to.port == sport)
        })
        .is_ok()
    {
        back += 1;
    }
    g.echo_eventually(b"after the flood", &[]);
    let after = g.stats_point(&["echo: stats"]);
    let echoed = delta(&before[0], &after[0], "echoed").saturating_sub(2); // less the two probes
    eprintln!(
        "flood: {n} x 512-byte datagrams back to back: the echo PD echoed {echoed}, {} lost before the guest \
         (host/QEMU socket or NIC overrun, counted by the driver); {back} replies read back by the host",
        n - echoed.min(n)
    );
    assert!(echoed > 0 && back > 0, "some of the flood must be echoed");

    measured_burst(g, label, &["netstack: stats", "netstack: driver stats", "echo: stats"], 1000);

    // The stack counted the bad traffic it saw (the NIC filters other MACs before it).
    let (_, s) = g.last_stats("netstack: stats").expect("stats line");
    assert!(s["drop_malformed"] >= 5, "malformed frames counted: {s:?}");
    assert!(s["drop_bad_checksum"] >= 2, "bad checksums counted: {s:?}");
    let text = g.q.output();
    assert!(!text.contains("faulted"), "no PD may fault:\n{text}");
}

fn good_port(f: &[u8]) -> u16 {
    u16::from_be_bytes([f[34], f[35]])
}

#[test]
fn echo_in_netstack_variant_answers_and_bursts() {
    let mut g = Guest::boot("examples/echo-in-netstack/echo-in-netstack.xml", &[]);
    let text = g.q.output();
    assert!(text.contains("netstack: hosting an application on UDP port 7"), "{text}");
    assert!(!text.contains("echo: up"), "no echo PD in this configuration:\n{text}");
    g.basics(&[1, 2, 64, 512, 1024, 1471, 1472]);
    measured_burst(
        &mut g,
        "echo-in-netstack.xml (echo in the stack)",
        &["netstack: stats", "netstack: driver stats", "netstack: echo stats"],
        1000,
    );
    let text = g.q.output();
    assert!(!text.contains("faulted"), "no PD may fault:\n{text}");
}

/// `make run` as a user runs it: once the echo answers it prints how to reach it; then `nc -u`
/// and `socat` through QEMU's user networking get their datagrams back unchanged.
#[test]
fn make_run_answers_nc_and_socat_through_user_networking() {
    image("system.xml");
    let _guard = build_lock();
    let port = qemu_harness::free_udp_port().unwrap_or_else(|e| panic!("{e}"));
    let mut child = Command::new("make")
        .args(["--no-print-directory", "run"])
        .arg(format!("ECHO_PORT={port}"))
        .current_dir(repo_root())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0)
        .spawn()
        .expect("`make` must be installed");
    /// Kills `make run`'s whole process group (make, the script, QEMU) and reaps make.
    struct KillGroup(std::process::Child);
    impl Drop for KillGroup {
        fn drop(&mut self) {
            // SAFETY: kill(2) with a negative pid signals our own child's process group.
            unsafe { libc::kill(-(self.0.id() as i32), libc::SIGKILL) };
            let _ = self.0.wait();
        }
    }
    let (stdout, stderr) = (child.stdout.take().expect("piped"), child.stderr.take().expect("piped"));
    let _kill = KillGroup(child);
    let (tx, rx) = mpsc::channel::<String>();
    for stream in [Box::new(stdout) as Box<dyn std::io::Read + Send>, Box::new(stderr)] {
        let tx = tx.clone();
        thread::spawn(move || {
            for line in BufReader::new(stream).lines().map_while(Result::ok) {
                let _ = tx.send(line);
            }
        });
    }
    drop(tx);
    let hint = format!("echo hi | nc -u -w1 127.0.0.1 {port}");
    let deadline = Instant::now() + RUN_LIMIT;
    let mut seen = String::new();
    while !seen.contains(&hint) {
        match rx.recv_timeout(deadline.saturating_duration_since(Instant::now())) {
            Ok(line) => {
                seen.push_str(&line);
                seen.push('\n');
            }
            Err(_) => panic!("`make run` never said how to reach the echo ({hint:?}):\n{seen}"),
        }
    }

    // nc, as the hint says.
    let mut nc = Command::new("nc")
        .args(["-u", "-w1", "127.0.0.1", &port.to_string()])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("nc (netcat-openbsd) must be installed: support/deps.sh");
    nc.stdin.take().expect("piped").write_all(b"hi from nc\n").expect("write to nc");
    let out = nc.wait_with_output().expect("nc runs");
    assert_eq!(String::from_utf8_lossy(&out.stdout), "hi from nc\n", "nc's datagram must come back unchanged");

    // socat, with a binary payload.
    let payload: Vec<u8> = (0..1400u32).map(|i| (i * 7 + 3) as u8).collect();
    let mut socat = Command::new("socat")
        .args(["-t2", "-T2", "-", &format!("UDP:127.0.0.1:{port}")])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("socat must be installed: support/deps.sh");
    socat.stdin.take().expect("piped").write_all(&payload).expect("write to socat");
    let out = socat.wait_with_output().expect("socat runs");
    assert!(out.stdout == payload, "socat's 1400 bytes must come back unchanged (got {} bytes)", out.stdout.len());
    while let Ok(line) = rx.try_recv() {
        seen.push_str(&line);
        seen.push('\n');
    }
    assert!(!seen.contains("faulted"), "{seen}");
}

/// The fenced blocks of a Markdown file: (info string, body).
fn fenced_blocks(md: &str) -> Vec<(String, String)> {
    let mut blocks = Vec::new();
    let mut cur: Option<(String, String)> = None;
    for line in md.lines() {
        match (&mut cur, line.strip_prefix("```")) {
            (None, Some(info)) => cur = Some((info.trim().to_string(), String::new())),
            (Some(_), Some(_)) => blocks.push(cur.take().expect("open block")),
            (Some((_, body)), None) => {
                body.push_str(line);
                body.push('\n');
            }
            (None, None) => {}
        }
    }
    blocks
}

/// Copies the repository's files (tracked ones, as they are in the work tree) to `dst`.
fn copy_repo(dst: &Path) {
    let root = repo_root();
    let out = Command::new("git").args(["ls-files", "-z"]).current_dir(&root).output().expect("git must be installed");
    assert!(out.status.success(), "git ls-files failed");
    for rel in out.stdout.split(|&b| b == 0).filter(|p| !p.is_empty()) {
        let rel = Path::new(std::str::from_utf8(rel).expect("UTF-8 path"));
        let src = root.join(rel);
        if !src.is_file() {
            continue; // deleted in the work tree
        }
        let to = dst.join(rel);
        std::fs::create_dir_all(to.parent().expect("has a parent")).expect("create folder");
        std::fs::copy(&src, &to).unwrap_or_else(|e| panic!("copy {}: {e}", src.display()));
    }
    // The kernel build is cached by its inputs, which the copy shares: reuse it.
    let kernel = root.join("build/kernel");
    if kernel.is_dir() {
        let status = Command::new("cp").arg("-a").arg(&kernel).arg(dst.join("build/")).status();
        assert!(status.is_ok_and(|s| s.success()), "copying build/kernel failed");
    }
}

/// Runs one shell command line of the doc in the copy; panics with its output on failure.
fn run_doc_line(dir: &Path, target: &Path, line: &str) {
    let out = Command::new("bash")
        .args(["-euo", "pipefail", "-c", line])
        .current_dir(dir)
        .env("CARGO_TARGET_DIR", target)
        .stdin(Stdio::null())
        .output()
        .expect("bash runs");
    assert!(
        out.status.success(),
        "the doc's command `{line}` failed:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn adding_a_pd_as_the_doc_says() {
    let doc = std::fs::read_to_string(repo_root().join("docs/adding-a-pd.md")).expect("docs/adding-a-pd.md exists");
    let blocks = fenced_blocks(&doc);
    let work = repo_root().join("target/adding-a-pd");
    let dir = work.join("repo");
    // A fresh copy each run; its cargo target folder is kept, so reruns build incrementally.
    let _ = std::fs::remove_dir_all(&dir);
    copy_repo(&dir);
    let target = work.join("target");

    let mut expected = Vec::new();
    let mut system = None;
    for (info, body) in &blocks {
        match info.as_str() {
            "sh" => {
                for line in body.lines().map(str::trim).filter(|l| !l.is_empty() && !l.starts_with('#')) {
                    if let Some(rest) = line.strip_prefix("make run ") {
                        // Booting is done below with the test harness (timeouts, a dgram link).
                        system = rest.strip_prefix("SYSTEM=").map(str::to_string);
                        continue;
                    }
                    run_doc_line(&dir, &target, line);
                }
            }
            "xml" => {
                let path = dir.join("my-system.xml");
                let text =
                    std::fs::read_to_string(&path).expect("the doc copies system.xml to my-system.xml before its XML");
                let at = text.rfind("</system>").expect("a closing </system>");
                std::fs::write(&path, format!("{}{}{}", &text[..at], body, &text[at..])).expect("write my-system.xml");
            }
            "text" => expected.extend(body.lines().map(str::to_string)),
            _ => {}
        }
    }
    let system = system.expect("the doc boots its system with `make run SYSTEM=...`");
    assert!(!expected.is_empty(), "the doc shows the output to expect");
    run_doc_line(&dir, &target, &format!("make --no-print-directory image SYSTEM={system}"));
    let stem = Path::new(&system).file_stem().and_then(|s| s.to_str()).expect("a file name");
    let img = dir.join("build").join(stem).join("image.elf");

    let mut g = Guest::boot_image(&img, &["echo: up: UDP echo on port 7"]);
    // The doc's lines appear in the order it shows them (other PDs' lines interleave, and some
    // come before the stack's, so search the whole log).
    let deadline = Instant::now() + WAIT;
    loop {
        let out = g.q.output();
        let mut from = 0;
        let missing = expected.iter().find(|line| match out[from..].find(line.as_str()) {
            Some(at) => {
                from += at + line.len();
                false
            }
            None => true,
        });
        match missing {
            None => break,
            Some(line) => {
                assert!(Instant::now() < deadline, "the doc's line {line:?} did not appear (in order):\n{out}")
            }
        }
        thread::sleep(Duration::from_millis(100));
    }
    g.echo(b"the extended system still echoes", &[]);
    let text = g.q.output();
    assert!(!text.contains("faulted"), "no PD may fault:\n{text}");
}
