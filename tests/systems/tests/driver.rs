//! QEMU system tests of the NIC driver PD and the dataspace manager PD (issues 4 and 5), with
//! the loopback client (tests/systems/pds/loopback) in place of the network stack:
//!
//! - frames of 60..=1514 bytes sent into the guest's e1000 come back byte-exact with the MAC
//!   addresses swapped; a burst comes back whole; a flood does not wedge the driver;
//! - interrupts and notifications per packet at hold-off 0 and 100 us, from the driver's own
//!   counters (printed as a table: `cargo test -p system-tests --test driver -- --nocapture`);
//! - the translation cache: a miss then a hit in the boot log, RECLAIM of a page the driver
//!   has pinned is refused and, after the session is closed (the driver unpins), succeeds.
//!
//! Frames travel over QEMU's `dgram` netdev (one Ethernet frame per UDP datagram). Tests run
//! one at a time (a lock), so their figures are not disturbed by each other; every QEMU run has
//! a hard limit and is killed on drop.

use std::collections::HashMap;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::thread;
use std::time::{Duration, Instant};

use qemu_harness::{build_image, build_kernel, repo_root, DgramLink, KernelVariant, Qemu, QemuConfig};

mod common;
use common::{looped, seq_of, Macs, CONTROL_TYPE};

const WAIT: Duration = Duration::from_secs(60);
const RUN_LIMIT: Duration = Duration::from_secs(240);
/// The guest NIC's MAC (given to QEMU, and what the driver must report in the OPEN reply).
const MACS: Macs = Macs { guest: [0x52, 0x54, 0x00, 0xab, 0xcd, 0x01], host: [0x02, 0x00, 0x00, 0x00, 0x00, 0x01] };

/// Spacing of the frames in the hold-off measurement: 10 000 frames/s, which the guest loops
/// without loss under TCG (the flood test shows ~24 000/s is its ceiling).
const GAP: Duration = Duration::from_micros(100);
/// Frames the hold-off measurement keeps outstanding at most: a burst of 32, well inside the
/// loopback's 128 posted buffers and the host socket's buffer.
const WINDOW: usize = 32;

static SERIAL: Mutex<()> = Mutex::new(());

fn lock() -> std::sync::MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|p| p.into_inner())
}

/// `make image SYSTEM=<system>` -> build/<stem>/image.elf.
fn image(system: &str) -> PathBuf {
    build_image(system).unwrap_or_else(|e| panic!("{e}"))
}

fn ok<T>(r: qemu_harness::Result<T>) -> T {
    r.unwrap_or_else(|e| panic!("{e}"))
}

/// Boots `system` with its e1000 on a dgram link; returns once the loopback has its session.
fn boot(system: &str) -> (Qemu, DgramLink) {
    let img = image(system);
    let kernel = build_kernel(KernelVariant::Iommu).unwrap_or_else(|e| panic!("{e}"));
    let link = ok(DgramLink::new());
    let mac = MACS.guest_str();
    let cfg =
        QemuConfig::new().iommu(true).kernel(kernel).initrd(img).nic(link.e1000().mac(mac.clone())).timeout(RUN_LIMIT);
    let mut q = ok(Qemu::spawn(cfg));
    ok(q.expect("driver: up:", WAIT));
    ok(q.expect(&format!("driver: session 1 open for PD #2: 1 dataspace(s), MAC {mac}"), WAIT));
    ok(q.expect(&format!("loopback: session 1 open, MAC {mac}"), WAIT));
    ok(q.expect("loopback: 128 receive buffers of 2048 bytes posted", WAIT));
    (q, link)
}

fn command(link: &DgramLink, cmd: &str) {
    ok(link.send_frame(&MACS.special(CONTROL_TYPE, cmd.as_bytes())));
}

/// The driver's counters, from the stats line a STATS command makes it print.
fn driver_stats(q: &mut Qemu, link: &DgramLink) -> HashMap<String, u64> {
    stats(q, link).0
}

/// The driver's counters and the dataspace manager's stats line, after a STATS command.
fn stats(q: &mut Qemu, link: &DgramLink) -> (HashMap<String, u64>, String) {
    command(link, "STATS");
    let m = ok(q.expect_regex(r"driver: stats [^\n]*\n", WAIT));
    let mgr = ok(q.expect_regex(r"dataspace_mgr: stats [^\n]*\n", WAIT)).matched.trim().to_string();
    ok(q.expect("loopback: stats done", WAIT));
    let map = m
        .matched
        .split_whitespace()
        .filter_map(|kv| kv.split_once('='))
        .filter_map(|(k, v)| Some((k.to_string(), v.trim().parse().ok()?)))
        .collect();
    (map, mgr)
}

/// Sends `frames` back to back while collecting what comes back (in a second thread);
/// returns the returned frames by sequence number.
fn burst(link: &DgramLink, frames: &[Vec<u8>], quiet: Duration) -> HashMap<u32, Vec<u8>> {
    paced(link, frames, quiet, Duration::ZERO, usize::MAX)
}

/// Like [`burst`], one frame every `gap` (busy-waiting, so the spacing holds at tens of us),
/// with at most `window` frames outstanding (sent, not yet back): QEMU stops reading its
/// socket while the guest's ring is full, so an open-loop sender on a busy host loses frames
/// in the host's socket buffer before the guest ever sees them. A sender stalled for 2 s
/// without a frame coming back goes on regardless (the caller's counts then show the loss).
fn paced(link: &DgramLink, frames: &[Vec<u8>], quiet: Duration, gap: Duration, window: usize) -> HashMap<u32, Vec<u8>> {
    let back = AtomicUsize::new(0);
    thread::scope(|s| {
        let rx = s.spawn(|| {
            let mut got = HashMap::new();
            let deadline = Instant::now() + Duration::from_secs(60);
            while got.len() < frames.len() && Instant::now() < deadline {
                match link.recv_frame_matching(quiet, |f| seq_of(f).is_some()) {
                    Ok(f) => {
                        got.insert(seq_of(&f).unwrap_or(u32::MAX), f);
                        back.store(got.len(), Ordering::Release);
                    }
                    Err(_) => break, // quiet for `quiet`: the rest are not coming
                }
            }
            got
        });
        // Let the receiver start listening first.
        thread::sleep(Duration::from_millis(20));
        let start = Instant::now();
        for (i, f) in frames.iter().enumerate() {
            let due = start + gap * i as u32;
            while Instant::now() < due {
                std::hint::spin_loop();
            }
            let stall = Instant::now() + Duration::from_secs(2);
            while i - back.load(Ordering::Acquire).min(i) >= window && Instant::now() < stall {
                thread::sleep(Duration::from_micros(50));
            }
            ok(link.send_frame(f));
        }
        rx.join().expect("receiver thread")
    })
}

struct Figures {
    sent: usize,
    back: usize,
    irqs: u64,
    rx: u64,
    tx: u64,
    notify_sent: u64,
    client_wakeups: u64,
    suppressed: u64,
    elapsed: Duration,
}

/// `n` 1024-byte frames, one every `gap` (an offered load below what the guest can loop, so
/// nothing queues up and each frame's interrupt is the device's own decision); the driver's
/// counter deltas over the run.
fn measure(q: &mut Qemu, link: &DgramLink, n: u32, gap: Duration) -> Figures {
    let before = driver_stats(q, link);
    let start = Instant::now();
    let frames: Vec<Vec<u8>> = (10_000..10_000 + n).map(|s| MACS.frame(1024, s)).collect();
    let got = paced(link, &frames, Duration::from_secs(2), gap, WINDOW);
    let mut back = 0;
    for f in &frames {
        if let Some(g) = got.get(&seq_of(f).unwrap_or(0)) {
            assert_eq!(g, &looped(f), "frame {} came back changed", seq_of(f).unwrap_or(0));
            back += 1;
        }
    }
    let elapsed = start.elapsed();
    let after = driver_stats(q, link);
    let d = |k: &str| after.get(k).copied().unwrap_or(0) - before.get(k).copied().unwrap_or(0);
    Figures {
        sent: n as usize,
        back,
        // Includes the first STATS command frame (one frame, at most one interrupt).
        irqs: d("irqs"),
        rx: d("rx_packets"),
        tx: d("tx_packets"),
        notify_sent: d("notify_sent"),
        client_wakeups: d("client_wakeups"),
        suppressed: d("notify_suppressed"),
        elapsed,
    }
}

fn per(a: u64, b: u64) -> f64 {
    a as f64 / b.max(1) as f64
}

#[test]
fn loopback_returns_frames_byte_exact_and_survives_a_flood() {
    let _g = lock();
    let (mut q, link) = boot("tests/systems/loopback.xml");
    // The first buffer posted cost a miss (REFILL), the next one in the same page a hit.
    ok(q.expect("driver: translation miss: dataspace 0 page 0 not cached; REFILL from the manager", WAIT));
    ok(q.expect("driver: translation hit: dataspace 0 page 0", WAIT));

    // Sizes from the minimum Ethernet frame to the largest without FCS, one at a time.
    let sizes = [60, 61, 64, 65, 100, 128, 255, 256, 511, 512, 1000, 1023, 1024, 1500, 1513, 1514];
    for (i, &len) in sizes.iter().enumerate() {
        let f = MACS.frame(len, i as u32);
        ok(link.send_frame(&f));
        let got = link
            .recv_frame_matching(Duration::from_secs(20), |g| seq_of(g) == Some(i as u32))
            .unwrap_or_else(|e| panic!("no {len}-byte frame back: {e}\n{}", q.output()));
        assert_eq!(got.len(), len, "length of the {len}-byte frame");
        assert_eq!(got, looped(&f), "the {len}-byte frame came back changed");
    }

    // A burst that fits the posted buffers comes back whole.
    let frames: Vec<Vec<u8>> = (100..164).map(|s| MACS.frame(1024, s)).collect();
    let got = burst(&link, &frames, Duration::from_secs(2));
    assert_eq!(got.len(), frames.len(), "a 64-frame burst must come back whole");
    for f in &frames {
        assert_eq!(got[&seq_of(f).unwrap()], looped(f));
    }

    // A flood of minimum-size frames, far faster than the guest can loop them: frames may be
    // dropped (counted), but the driver must keep working afterwards.
    let flood_start = Instant::now();
    let mut flooded = 0;
    while flood_start.elapsed() < Duration::from_secs(3) {
        for s in 0..256 {
            let _ = link.send_frame(&MACS.frame(60, 1_000_000 + s));
            flooded += 1;
        }
    }
    thread::sleep(Duration::from_millis(500));
    let _ = link.drain();
    let f = MACS.frame(200, 4242);
    ok(link.send_frame(&f));
    let got = link
        .recv_frame_matching(Duration::from_secs(20), |g| seq_of(g) == Some(4242))
        .unwrap_or_else(|e| panic!("the driver is wedged after the flood: {e}\n{}", q.output()));
    assert_eq!(got, looped(&f));
    let s = driver_stats(&mut q, &link);
    eprintln!(
        "flood: {flooded} frames sent in 3 s; driver looped rx={} tx={} irqs={} dropped(no buffer)={} dropped(client full)={} errors={}",
        s["rx_packets"], s["tx_packets"], s["irqs"], s["rx_dropped_no_buffer"], s["rx_dropped_client_full"], s["errors"]
    );
    assert!(s["rx_packets"] > 80, "the driver received too little: {s:?}");
    assert!(s["max_work"] <= 64 + 256, "work per event must stay bounded: {s:?}");
    // The steady state makes no translation or pin call: 128 buffers in 64 pages cost 64
    // misses (REFILL) and 64 PINs at the start, and every later use is a cache hit.
    assert_eq!((s["refills"], s["pin_calls"], s["unpin_calls"]), (64, 64, 0), "{s:?}");
    assert!(s["xlate_hits"] > s["rx_packets"], "{s:?}");
    let text = q.output();
    assert!(!text.contains("faulted") && !text.contains("panicked"), "{text}");
}

#[test]
fn holdoff_0_and_100_us_interrupts_and_notifications_per_packet() {
    let _g = lock();
    let mut rows = Vec::new();
    for (system, us) in [("tests/systems/loopback.xml", 0), ("tests/systems/loopback-holdoff100.xml", 100)] {
        let (mut q, link) = boot(system);
        // The device itself holds the hold-off: e1000 ITR in 256 ns units.
        let itr = us * 1000 / 256;
        assert!(
            q.output().contains(&format!("hold-off {us} us (ITR {itr})")),
            "{system} must run at hold-off {us} us (ITR {itr})"
        );
        // DRIVER_TEST_GAP_US changes the spacing (e.g. to look at overload).
        let gap =
            std::env::var("DRIVER_TEST_GAP_US").ok().and_then(|v| v.parse().ok()).map_or(GAP, Duration::from_micros);
        let f = measure(&mut q, &link, 1000, gap);
        if gap >= GAP {
            // The guest keeps up at this load: the driver sends back every frame it receives
            // (all but the STATS command). Frames may still be lost outside the guest when the
            // host is busy (QEMU stops reading its socket while the guest's ring is empty).
            assert_eq!(f.tx + 1, f.rx, "hold-off {us} us: the driver did not send every frame back");
            assert!(
                f.rx * 100 >= f.sent as u64 * 90,
                "hold-off {us} us: only {} of {} frames reached the driver",
                f.rx,
                f.sent
            );
            assert!(f.back * 100 >= f.sent * 90, "hold-off {us} us: only {} of {} frames came back", f.back, f.sent);
        }
        rows.push((us, f));
    }
    eprintln!(
        "\nhold-off | sent | back | driver rx | irq/pkt | notify_sent/pkt | client_wakeups/pkt | suppressed/pkt | time"
    );
    for (us, f) in &rows {
        eprintln!(
            "{us:>5} us | {:>4} | {:>4} | {:>9} | {:>7.3} | {:>15.3} | {:>18.3} | {:>14.3} | {:?}",
            f.sent,
            f.back,
            f.rx,
            per(f.irqs, f.rx),
            per(f.notify_sent, f.rx),
            per(f.client_wakeups, f.rx),
            per(f.suppressed, f.rx),
            f.elapsed
        );
    }
    // Under TCG, QEMU hands frames to the guest in clumps, so even at 0 us one interrupt serves
    // several frames and the two hold-offs differ little (hardware would differ): check that
    // interrupts are counted and bounded (at most one receive and one transmit-complete
    // interrupt per frame) and that the driver signals its client at most once per frame.
    for (us, f) in &rows {
        assert!(f.irqs > 0, "hold-off {us} us: no interrupt counted");
        assert!(per(f.irqs, f.rx) <= 2.0, "hold-off {us} us: more than two interrupts per frame");
        assert!(per(f.notify_sent, f.rx) <= 1.0, "hold-off {us} us: more than one signal per frame");
    }
}

#[test]
fn reclaim_of_a_pinned_page_is_refused_and_succeeds_after_unpin() {
    let _g = lock();
    let (mut q, link) = boot("tests/systems/loopback.xml");
    ok(q.expect("driver: translation miss: dataspace 0 page 0 not cached", WAIT));
    ok(q.expect("driver: translation hit: dataspace 0 page 0", WAIT));
    // Loop one frame first: the session works.
    let f = MACS.frame(100, 1);
    ok(link.send_frame(&f));
    let got = ok(link.recv_frame_matching(Duration::from_secs(20), |g| seq_of(g) == Some(1)));
    assert_eq!(got, looped(&f));

    command(&link, "RECLAIM");
    // The manager (highest priority) prints first, then the loopback that asked.
    let m = ok(q.expect_regex(r"dataspace_mgr: RECLAIM dataspace 0 page (\d+): refused: ([^\n]*)\n", WAIT));
    assert!(m.groups[1].as_deref().unwrap_or("").contains("pinned"), "{}", m.matched);
    let page = m.groups[0].clone().unwrap_or_default();
    ok(q.expect(&format!("loopback: RECLAIM page {page} while the driver has it pinned: refused"), WAIT));
    ok(q.expect("dataspace_mgr: DETACH dataspace 0 for client PD #2", WAIT));
    ok(q.expect("driver: session 1 closed: device reset", WAIT));
    ok(q.expect("loopback: session 1 closed", WAIT));
    ok(q.expect(&format!("dataspace_mgr: RECLAIM dataspace 0 page {page}: done"), WAIT));
    ok(q.expect(&format!("loopback: RECLAIM page {page} after unpin: done"), WAIT));
    ok(q.expect("loopback: session reopened; looping again", WAIT));

    // The reopened session loops frames again (the reclaimed page is refilled on demand).
    for s in 2..20 {
        let f = MACS.frame(300 + s as usize, s);
        ok(link.send_frame(&f));
        let got = link
            .recv_frame_matching(Duration::from_secs(20), |g| seq_of(g) == Some(s))
            .unwrap_or_else(|e| panic!("no frame back after the reopen: {e}\n{}", q.output()));
        assert_eq!(got, looped(&f));
    }
    let (s, mgr) = stats(&mut q, &link);
    eprintln!(
        "translation cache (both sessions): hits={} misses={} refills={} pin_calls={}; manager: {}",
        s["xlate_hits"], s["xlate_misses"], s["refills"], s["pin_calls"], mgr
    );
    assert!(s["xlate_hits"] > 0 && s["xlate_misses"] > 0, "{s:?}");
    assert!(mgr.contains("reclaims=1 reclaim_refusals=1"), "{mgr}");
}

#[test]
fn dp83820_system_file_validates() {
    // QEMU has no DP83820, so this system cannot boot here; it must still be a valid file.
    let out = Command::new("make")
        .args(["--no-print-directory", "check", "SYSTEM=system-dp83820.xml"])
        .current_dir(repo_root())
        .stdin(Stdio::null())
        .output()
        .expect("make");
    let text = String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{text}");
    assert!(text.contains("system-dp83820.xml: ok: 4 PDs"), "{text}");
}
