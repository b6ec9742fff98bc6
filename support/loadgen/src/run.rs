//! The measurement: open-loop levels (probes sent at a fixed rate for a fixed time, echoes
//! counted per level after a drain) and a closed-loop phase (one probe in flight at a time)
//! for round-trip percentiles. A receiver thread checks every echo byte for byte and counts
//! it against the level it was sent in; duplicates and corrupt echoes are counted apart.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;

use crate::link::Link;
use crate::payload::{self, Check, Probe};

/// Level index of the closed-loop latency probes.
const LATENCY_LEVEL: u16 = u16::MAX;

/// One open-loop level's outcome.
#[derive(Clone, Debug, PartialEq)]
pub struct LevelResult {
    /// Offered load asked for, Mb/s of UDP payload.
    pub offered_mbps: f64,
    /// Offered load actually sent (sent probes over the level's time).
    pub sent_mbps: f64,
    /// Probes sent.
    pub sent: u64,
    /// Distinct probes echoed intact.
    pub echoed: u64,
    /// Echoes of this level that were not byte-exact.
    pub corrupt: u64,
    /// Echoes seen more than once.
    pub duplicates: u64,
    /// Sends the socket refused (counted, not in `sent`).
    pub send_errors: u64,
    /// Echoed payload, Mb/s over the level's time.
    pub achieved_mbps: f64,
    /// Probes not echoed intact, percent of sent.
    pub loss_pct: f64,
    /// Median round trip of the echoed probes, microseconds.
    pub rtt_p50_us: u64,
    /// 99th percentile round trip, microseconds.
    pub rtt_p99_us: u64,
    /// Longest time between two consecutive intact echoes of this level (or from the level's
    /// start to its first echo), microseconds: how long the echo stopped, e.g. while a PD
    /// recovered from a fault.
    pub max_gap_us: u64,
}

/// Round-trip percentiles of the closed-loop phase.
#[derive(Clone, Debug, PartialEq)]
pub struct Latency {
    /// Probes sent.
    pub samples: u64,
    /// Probes with no intact echo within the timeout.
    pub lost: u64,
    /// Percentiles in microseconds: 50, 90, 99, 99.9, max.
    pub p50_us: u64,
    /// 90th.
    pub p90_us: u64,
    /// 99th.
    pub p99_us: u64,
    /// 99.9th.
    pub p999_us: u64,
    /// Largest.
    pub max_us: u64,
}

#[derive(Default)]
struct LevelCounts {
    echoed: u64,
    corrupt: u64,
    duplicates: u64,
    rtt: Option<Histogram<u64>>,
    /// When the level started, then when its last echo arrived (ns since the run started).
    last_ns: u64,
    max_gap_ns: u64,
}

struct Shared {
    levels: Vec<LevelCounts>,
    /// One bit per sequence number: echoed already.
    seen: Vec<u64>,
    foreign: u64,
}

/// The generator: a link, a payload size and the receiver thread.
pub struct Generator {
    link: Arc<Link>,
    payload: usize,
    run: u16,
    start: Instant,
    seq: u64,
    shared: Arc<Mutex<Shared>>,
    stop: Arc<AtomicBool>,
    latency_rx: mpsc::Receiver<(u64, u64)>,
    receiver: Option<thread::JoinHandle<()>>,
    buf: Vec<u8>,
}

fn histogram() -> Histogram<u64> {
    // 1 us .. 100 s, 3 significant figures.
    Histogram::new_with_bounds(1, 100_000_000, 3).expect("valid histogram bounds")
}

impl Generator {
    /// A generator of `payload`-byte probes over `link` (payload at least
    /// [`payload::MIN_PAYLOAD`]).
    pub fn new(link: Link, payload: usize) -> Result<Generator, String> {
        if payload < payload::MIN_PAYLOAD {
            return Err(format!("payload of {payload} bytes is below the {}-byte probe header", payload::MIN_PAYLOAD));
        }
        if payload > 65_000 {
            return Err(format!("payload of {payload} bytes does not fit a UDP datagram"));
        }
        let link = Arc::new(link);
        let start = Instant::now();
        let clock = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
        let run = (clock.subsec_nanos() as u16) ^ (std::process::id() as u16);
        let shared = Arc::new(Mutex::new(Shared { levels: Vec::new(), seen: Vec::new(), foreign: 0 }));
        let stop = Arc::new(AtomicBool::new(false));
        let (tx, latency_rx) = mpsc::channel();
        let receiver = {
            let (link, shared, stop) = (link.clone(), shared.clone(), stop.clone());
            thread::spawn(move || receive(&link, &shared, &stop, run, payload, start, &tx))
        };
        let buf = vec![0u8; link.headroom() + payload];
        Ok(Generator { link, payload, run, start, seq: 0, shared, stop, latency_rx, receiver: Some(receiver), buf })
    }

    fn send_probe(&mut self, level: u16) -> std::io::Result<u64> {
        let seq = self.seq;
        self.seq += 1;
        let h = self.link.headroom();
        let sent_ns = self.start.elapsed().as_nanos() as u64;
        payload::write(&mut self.buf[h..], Probe { run: self.run, level, seq, sent_ns });
        self.link.send(&mut self.buf).map(|()| seq)
    }

    /// Sends probes at `offered_mbps` (of UDP payload) for `duration`, in bursts of at most
    /// `batch` back-to-back sends whenever the schedule says they are due, then waits `drain`
    /// for late echoes and reports the level.
    pub fn level(&mut self, offered_mbps: f64, duration: Duration, drain: Duration, batch: u32) -> LevelResult {
        let level = {
            let mut s = self.shared.lock().expect("receiver thread alive");
            let last_ns = self.start.elapsed().as_nanos() as u64;
            s.levels.push(LevelCounts { rtt: Some(histogram()), last_ns, ..LevelCounts::default() });
            (s.levels.len() - 1) as u16
        };
        let pps = offered_mbps * 1e6 / (self.payload as f64 * 8.0);
        let (mut sent, mut send_errors) = (0u64, 0u64);
        let t0 = Instant::now();
        loop {
            let elapsed = t0.elapsed();
            if elapsed >= duration {
                break;
            }
            let due = ((elapsed.as_secs_f64() * pps) as u64).saturating_sub(sent + send_errors);
            if due == 0 {
                let next = Duration::from_secs_f64((sent + send_errors + 1) as f64 / pps);
                let gap = next.saturating_sub(elapsed);
                if gap > Duration::from_micros(200) {
                    thread::sleep(gap - Duration::from_micros(100));
                } else {
                    std::hint::spin_loop();
                }
                continue;
            }
            for _ in 0..due.min(u64::from(batch.max(1))) {
                match self.send_probe(level) {
                    Ok(_) => sent += 1,
                    Err(_) => send_errors += 1,
                }
            }
        }
        let secs = t0.elapsed().as_secs_f64();
        thread::sleep(drain);
        let mut s = self.shared.lock().expect("receiver thread alive");
        let c = &mut s.levels[usize::from(level)];
        let hist = c.rtt.take().unwrap_or_else(histogram);
        let bits = |n: u64| n as f64 * self.payload as f64 * 8.0 / secs / 1e6;
        LevelResult {
            offered_mbps,
            sent_mbps: bits(sent),
            sent,
            echoed: c.echoed,
            corrupt: c.corrupt,
            duplicates: c.duplicates,
            send_errors,
            achieved_mbps: bits(c.echoed),
            loss_pct: if sent == 0 { 0.0 } else { 100.0 * sent.saturating_sub(c.echoed) as f64 / sent as f64 },
            rtt_p50_us: hist.value_at_quantile(0.5),
            rtt_p99_us: hist.value_at_quantile(0.99),
            max_gap_us: c.max_gap_ns / 1000,
        }
    }

    /// Closed loop: `samples` probes, each sent when the previous one came back (or after
    /// `timeout`), their round trips in a histogram.
    pub fn latency(&mut self, samples: u64, timeout: Duration) -> Latency {
        let mut hist = histogram();
        let mut lost = 0;
        while self.latency_rx.try_recv().is_ok() {}
        for _ in 0..samples {
            let Ok(seq) = self.send_probe(LATENCY_LEVEL) else {
                lost += 1;
                continue;
            };
            let deadline = Instant::now() + timeout;
            loop {
                let left = deadline.saturating_duration_since(Instant::now());
                match self.latency_rx.recv_timeout(left) {
                    Ok((s, rtt_us)) if s == seq => {
                        let _ = hist.record(rtt_us.max(1));
                        break;
                    }
                    Ok(_) => continue, // a late echo of an earlier probe
                    Err(_) => {
                        lost += 1;
                        break;
                    }
                }
            }
        }
        Latency {
            samples,
            lost,
            p50_us: hist.value_at_quantile(0.5),
            p90_us: hist.value_at_quantile(0.9),
            p99_us: hist.value_at_quantile(0.99),
            p999_us: hist.value_at_quantile(0.999),
            max_us: hist.max(),
        }
    }

    /// Datagrams received that were not ours.
    pub fn foreign(&self) -> u64 {
        self.shared.lock().map(|s| s.foreign).unwrap_or(0)
    }
}

impl Drop for Generator {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(h) = self.receiver.take() {
            let _ = h.join();
        }
    }
}

fn receive(
    link: &Link,
    shared: &Mutex<Shared>,
    stop: &AtomicBool,
    run: u16,
    payload: usize,
    start: Instant,
    latency: &mpsc::Sender<(u64, u64)>,
) {
    let mut buf = vec![0u8; 64 * 1024];
    while !stop.load(Ordering::Relaxed) {
        let got = match link.recv(&mut buf) {
            Ok(Some(p)) => payload::check(p, run, payload),
            Ok(None) => continue,
            Err(_) => {
                thread::sleep(Duration::from_millis(1));
                continue;
            }
        };
        let now_ns = start.elapsed().as_nanos() as u64;
        let Ok(mut s) = shared.lock() else { return };
        match got {
            Check::Foreign => s.foreign += 1,
            Check::Corrupt(p) => {
                if let Some(c) = s.levels.get_mut(usize::from(p.level)) {
                    c.corrupt += 1;
                }
            }
            Check::Intact(p) => {
                let rtt_us = now_ns.saturating_sub(p.sent_ns) / 1000;
                let (word, bit) = ((p.seq / 64) as usize, p.seq % 64);
                if s.seen.len() <= word {
                    s.seen.resize(word + 1024, 0);
                }
                let dup = s.seen[word] & (1 << bit) != 0;
                s.seen[word] |= 1 << bit;
                if p.level == LATENCY_LEVEL {
                    if !dup {
                        let _ = latency.send((p.seq, rtt_us));
                    }
                } else if let Some(c) = s.levels.get_mut(usize::from(p.level)) {
                    if dup {
                        c.duplicates += 1;
                    } else {
                        c.echoed += 1;
                        c.max_gap_ns = c.max_gap_ns.max(now_ns.saturating_sub(c.last_ns));
                        c.last_ns = now_ns;
                        if let Some(h) = c.rtt.as_mut() {
                            let _ = h.record(rtt_us.max(1));
                        }
                    }
                }
            }
        }
    }
}
