//! `soak`: boots `system.xml` with a raw-Ethernet link, runs a steady UDP echo load near
//! saturation, and every `--every` seconds types `inject <pd>` on the serial console for the
//! next of driver, netstack, echo. Each phase (one injection and the load after it) prints
//! datagrams sent, echoed and lost and the longest echo gap; at the end every buffer pool the
//! console's `status` shows must have all its buffers free or lent, at its size at start. Bounded: `--minutes` (default 10) of load.
//!
//! ```text
//! soak: phase 4/30 inject=driver sent=.. echoed=.. lost=.. longest_gap_ms=..
//! soak: pool netstack.rx: size 256 (at start 256), free 0 + lent 256 = 256: every buffer accounted for
//! ```

use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use clap::Parser;
use loadgen::frame::Station;
use loadgen::{Generator, Link};
use qemu_harness::{build_image, build_kernel, free_udp_port, KernelVariant, Netdev, Nic, Qemu, QemuConfig};

#[derive(Parser)]
#[command(name = "soak", about = "Faults injected into every PD of system.xml under load; recovery and leaks measured")]
struct Args {
    /// Minutes of load in all.
    #[arg(long, default_value_t = 10.0)]
    minutes: f64,
    /// Seconds between injections (one phase each).
    #[arg(long, default_value_t = 20)]
    every: u64,
    /// Offered load, Mb/s of UDP payload (1024-byte datagrams); near saturation by default.
    #[arg(long, default_value_t = 400.0)]
    mbps: f64,
    /// The system file.
    #[arg(long, default_value = "system.xml")]
    system: String,
}

const PDS: [&str; 3] = ["driver", "netstack", "echo"];
const WAIT: Duration = Duration::from_secs(90);

fn main() -> ExitCode {
    match run(&Args::parse()) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(e) => {
            eprintln!("soak: error: {e}");
            ExitCode::FAILURE
        }
    }
}

/// One pool of one PD as `status` shows it.
#[derive(Clone, Debug, PartialEq, Eq)]
struct PoolCount {
    pd: String,
    pool: String,
    size: u64,
    free: u64,
    posted: u64,
}

/// Every pool of every PD from the console's `status` (`<pool>.size=N <pool>.free=N
/// <pool>.posted=N` per pool).
fn pools(q: &mut Qemu, pds: usize) -> Result<Vec<PoolCount>, String> {
    q.type_line("status").map_err(|e| e.to_string())?;
    let mut out = Vec::new();
    for _ in 0..pds {
        let m = q.expect_regex(r"monitor: status (\S+) (running|stopped)[^\n]*\n", WAIT).map_err(|e| e.to_string())?;
        let pd = m.groups[0].clone().unwrap_or_default();
        let mut counts: Vec<PoolCount> = Vec::new();
        for word in m.matched.split_whitespace() {
            let Some((key, value)) = word.split_once('=') else { continue };
            let Some((pool, field)) = key.split_once('.') else { continue };
            let Ok(n) = value.parse::<u64>() else { continue };
            if !counts.iter().any(|c| c.pool == pool) {
                counts.push(PoolCount { pd: pd.clone(), pool: pool.to_string(), size: 0, free: 0, posted: 0 });
            }
            let c = counts.iter_mut().find(|c| c.pool == pool).expect("just added");
            match field {
                "size" => c.size = n,
                "free" => c.free = n,
                "posted" => c.posted = n,
                _ => {}
            }
        }
        out.extend(counts);
    }
    Ok(out)
}

fn run(a: &Args) -> Result<bool, String> {
    let image = build_image(&a.system).map_err(|e| e.to_string())?;
    let kernel = build_kernel(KernelVariant::Iommu).map_err(|e| e.to_string())?;
    let (qport, hport) = (free_udp_port().map_err(|e| e.to_string())?, free_udp_port().map_err(|e| e.to_string())?);
    let (qaddr, haddr) = (SocketAddrV4::new(Ipv4Addr::LOCALHOST, qport), SocketAddrV4::new(Ipv4Addr::LOCALHOST, hport));
    let limit = Duration::from_secs_f64(a.minutes * 60.0) + Duration::from_secs(300);
    let cfg = QemuConfig::new()
        .iommu(true)
        .kernel(kernel)
        .initrd(image)
        .nic(Nic::e1000(Netdev::Dgram { local: qaddr, remote: haddr }))
        .timeout(limit);
    let mut q = Qemu::spawn(cfg).map_err(|e| e.to_string())?;
    q.expect("monitor: console ready", WAIT).map_err(|e| e.to_string())?;
    q.expect("echo: up", WAIT).map_err(|e| e.to_string())?;
    let npds = q.output().matches("initialiser: started PD '").count();
    let me = Station { mac: [0x52, 0x55, 0x0a, 0x00, 0x02, 0x02], ip: [10, 0, 2, 2], port: 40007 };
    let link =
        Link::dgram(SocketAddr::V4(haddr), SocketAddr::V4(qaddr), me, [10, 0, 2, 15], 7, Duration::from_secs(30))
            .map_err(|e| e.to_string())?;
    let mut g = Generator::new(link, 1024)?;
    // Warm up (buffers posted, pins taken), then the pools to compare against.
    g.level(a.mbps / 4.0, Duration::from_secs(2), Duration::from_millis(500), 16);
    let start_pools = pools(&mut q, npds)?;
    let phases = ((a.minutes * 60.0) / a.every as f64).ceil().max(1.0) as usize;
    let (mut sent, mut echoed, mut worst) = (0u64, 0u64, 0u64);
    let t0 = Instant::now();
    for i in 0..phases {
        let pd = PDS[i % PDS.len()];
        q.type_line(&format!("inject {pd}")).map_err(|e| e.to_string())?;
        let r = g.level(a.mbps, Duration::from_secs(a.every), Duration::from_millis(300), 16);
        let gap_ms = r.max_gap_us / 1000;
        worst = worst.max(gap_ms);
        sent += r.sent;
        echoed += r.echoed;
        println!(
            "soak: phase {}/{phases} inject={pd} sent={} echoed={} lost={} longest_gap_ms={gap_ms} achieved_mbps={:.1} ({:.0} s)",
            i + 1,
            r.sent,
            r.echoed,
            r.sent.saturating_sub(r.echoed),
            r.achieved_mbps,
            t0.elapsed().as_secs_f64()
        );
    }
    // Quiet, then the pools again.
    std::thread::sleep(Duration::from_secs(2));
    let end_pools = pools(&mut q, npds)?;
    println!(
        "soak: total sent={sent} echoed={echoed} lost={} ({:.2}%), longest gap {worst} ms",
        sent.saturating_sub(echoed),
        100.0 * sent.saturating_sub(echoed) as f64 / sent.max(1) as f64
    );
    // A buffer is accounted for when it is free in its PD or lent to a peer (a device, a
    // client; sent buffers come back lazily); a leaked one is neither.
    let mut same = true;
    for e in &end_pools {
        let start = start_pools.iter().find(|s| s.pd == e.pd && s.pool == e.pool);
        let kept = e.free + e.posted == e.size && start.is_some_and(|s| s.size == e.size);
        same &= kept;
        println!(
            "soak: pool {}.{}: size {} (at start {}), free {} + lent {} = {}{}",
            e.pd,
            e.pool,
            e.size,
            start.map_or("-".to_string(), |s| s.size.to_string()),
            e.free,
            e.posted,
            e.free + e.posted,
            if kept { ": every buffer accounted for" } else { ": LEAK" }
        );
    }
    if start_pools.len() != end_pools.len() {
        same = false;
        println!("soak: LEAK: {} pools at start, {} at the end", start_pools.len(), end_pools.len());
    }
    let faults = q.output().matches("faulted: ").count();
    println!("soak: {faults} faults reported, {} restarts", q.output().matches("restarted (restart #").count());
    Ok(same)
}
