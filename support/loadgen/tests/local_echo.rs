//! The generator against echo servers on loopback: pacing (sent matches the offered rate),
//! accounting (every probe echoed and counted once), and the byte-exact check (a server that
//! corrupts or drops is seen as such), plus the closed-loop phase.

use std::net::UdpSocket;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::Duration;

use loadgen::{Generator, Link};

/// A UDP echo on 127.0.0.1 that passes each datagram through `f` (None: drop it). Stops when
/// the returned flag is set.
fn echo_server(f: impl Fn(u64, &mut Vec<u8>) -> bool + Send + 'static) -> (std::net::SocketAddr, Arc<AtomicBool>) {
    let sock = UdpSocket::bind("127.0.0.1:0").unwrap();
    sock.set_read_timeout(Some(Duration::from_millis(50))).unwrap();
    let addr = sock.local_addr().unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let s = stop.clone();
    thread::spawn(move || {
        let mut buf = vec![0u8; 65536];
        let mut n_seen = 0u64;
        while !s.load(Ordering::Relaxed) {
            let Ok((n, from)) = sock.recv_from(&mut buf) else { continue };
            let mut d = buf[..n].to_vec();
            n_seen += 1;
            if f(n_seen, &mut d) {
                let _ = sock.send_to(&d, from);
            }
        }
    });
    (addr, stop)
}

#[test]
fn paces_and_counts_every_echo_once() {
    let (addr, stop) = echo_server(|_, _| true);
    let mut g = Generator::new(Link::udp(addr).unwrap(), 1024).unwrap();
    // 40 Mb/s of 1024-byte payloads for 0.5 s: 2441 probes.
    let r = g.level(40.0, Duration::from_millis(500), Duration::from_millis(200), 16);
    let expected = 40e6 * 0.5 / 8192.0;
    assert!((r.sent as f64 - expected).abs() < expected * 0.05, "sent {} of {expected}", r.sent);
    assert!((r.sent_mbps - 40.0).abs() < 4.0, "sent at {} Mb/s", r.sent_mbps);
    assert_eq!(r.echoed, r.sent, "{r:?}");
    assert_eq!((r.corrupt, r.duplicates, r.loss_pct), (0, 0, 0.0));
    assert!(r.rtt_p50_us > 0 && r.rtt_p99_us >= r.rtt_p50_us);
    // 40 Mb/s is one probe every ~200 us: no gap near 100 ms on a working echo.
    assert!(r.max_gap_us > 0 && r.max_gap_us < 100_000, "{r:?}");
    let t = g.latency(50, Duration::from_millis(500));
    assert_eq!((t.samples, t.lost), (50, 0));
    assert!(t.p50_us <= t.p99_us && t.p99_us <= t.max_us);
    stop.store(true, Ordering::Relaxed);
}

#[test]
fn corrupt_dropped_and_duplicated_echoes_are_told_apart() {
    // Every 10th datagram gets a flipped byte, every 7th is dropped.
    let (addr, stop) = echo_server(|n, d| {
        if n % 10 == 0 {
            let last = d.len() - 1;
            d[last] ^= 1;
        }
        n % 7 != 0
    });
    let mut g = Generator::new(Link::udp(addr).unwrap(), 256).unwrap();
    let r = g.level(5.0, Duration::from_millis(400), Duration::from_millis(200), 4);
    assert!(r.sent > 100, "{r:?}");
    let dropped = r.sent / 7;
    let flipped = r.sent / 10 - r.sent / 70; // flipped and not dropped
    assert!(r.corrupt.abs_diff(flipped) <= 1, "{r:?}");
    assert!((r.sent - r.echoed).abs_diff(dropped + flipped) <= 2, "{r:?}");
    assert!(r.loss_pct > 20.0 && r.loss_pct < 30.0, "{r:?}");
    stop.store(true, Ordering::Relaxed);

    // A server that answers twice: the second copy is a duplicate, not an echo.
    let sock = UdpSocket::bind("127.0.0.1:0").unwrap();
    let addr = sock.local_addr().unwrap();
    thread::spawn(move || {
        let mut buf = vec![0u8; 2048];
        for _ in 0..20 {
            let Ok((n, from)) = sock.recv_from(&mut buf) else { return };
            let _ = sock.send_to(&buf[..n], from);
            let _ = sock.send_to(&buf[..n], from);
        }
    });
    let mut g = Generator::new(Link::udp(addr).unwrap(), 64).unwrap();
    let r = g.level(0.01, Duration::from_millis(1000), Duration::from_millis(200), 1);
    assert!(r.sent > 0);
    assert_eq!((r.echoed, r.duplicates), (r.sent, r.sent), "{r:?}");
}

#[test]
fn an_echo_that_pauses_shows_as_the_longest_gap() {
    // The server stops answering for 300 ms after its 50th datagram.
    let (addr, stop) = echo_server(|n, _| {
        if n == 50 {
            thread::sleep(Duration::from_millis(300));
        }
        true
    });
    let mut g = Generator::new(Link::udp(addr).unwrap(), 256).unwrap();
    let r = g.level(2.0, Duration::from_millis(800), Duration::from_millis(200), 1);
    assert!(r.max_gap_us >= 250_000 && r.max_gap_us < 700_000, "{r:?}");
    stop.store(true, Ordering::Relaxed);
}

#[test]
fn bad_payload_sizes_are_refused() {
    let (addr, stop) = echo_server(|_, _| true);
    assert!(Generator::new(Link::udp(addr).unwrap(), 8).err().unwrap().contains("header"));
    assert!(Generator::new(Link::udp(addr).unwrap(), 70_000).is_err());
    stop.store(true, Ordering::Relaxed);
}
