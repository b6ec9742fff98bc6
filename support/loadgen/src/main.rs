//! `loadgen`: the command line over the library. One line per level on stdout (and a CSV if
//! asked), progress on stderr.
//!
//! ```text
//! loadgen udp --to 127.0.0.1:7007 --levels 10,50,100 --duration-ms 2000
//! loadgen dgram --qemu 127.0.0.1:5555 --listen 127.0.0.1:5556 --levels 100,200 --latency 500
//! ```

use std::net::SocketAddr;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};
use loadgen::frame::Station;
use loadgen::{Generator, Link};

#[derive(Parser)]
#[command(name = "loadgen", about = "UDP echo load generator: open-loop levels, byte-exact checks, RTT percentiles")]
struct Cli {
    #[command(subcommand)]
    link: LinkArg,
    #[command(flatten)]
    load: Load,
}

#[derive(Subcommand)]
enum LinkArg {
    /// Plain UDP to an address (a real machine, or QEMU user networking's hostfwd).
    Udp {
        /// The echo service, e.g. 127.0.0.1:7007.
        #[arg(long)]
        to: SocketAddr,
    },
    /// Raw Ethernet over QEMU's dgram netdev, as the guest's gateway.
    Dgram {
        /// QEMU's end of the netdev (its local.host:local.port).
        #[arg(long)]
        qemu: SocketAddr,
        /// Our end (QEMU's remote.host:remote.port).
        #[arg(long)]
        listen: SocketAddr,
        /// The guest's IPv4 address.
        #[arg(long, default_value = "10.0.2.15")]
        guest_ip: std::net::Ipv4Addr,
        /// The guest's echo port.
        #[arg(long, default_value_t = 7)]
        port: u16,
        /// Our IPv4 address (the guest's gateway by default, which it needs no route for).
        #[arg(long, default_value = "10.0.2.2")]
        ip: std::net::Ipv4Addr,
        /// Our UDP source port.
        #[arg(long, default_value_t = 40007)]
        sport: u16,
        /// Seconds to wait for the guest's ARP reply.
        #[arg(long, default_value_t = 30)]
        arp_timeout_s: u64,
    },
}

#[derive(Args)]
struct Load {
    /// Offered loads in Mb/s of UDP payload, comma-separated.
    #[arg(long, global = true, value_delimiter = ',', default_values_t = [10.0, 50.0, 100.0, 200.0, 300.0, 400.0, 500.0, 600.0, 800.0, 1000.0])]
    levels: Vec<f64>,
    /// Time per level.
    #[arg(long, global = true, default_value_t = 2000)]
    duration_ms: u64,
    /// Wait for late echoes after each level.
    #[arg(long, global = true, default_value_t = 300)]
    drain_ms: u64,
    /// UDP payload bytes per probe.
    #[arg(long, global = true, default_value_t = 1024)]
    payload: usize,
    /// Most probes sent back to back when due.
    #[arg(long, global = true, default_value_t = 16)]
    batch: u32,
    /// Closed-loop round-trip samples after the levels (0: none).
    #[arg(long, global = true, default_value_t = 0)]
    latency: u64,
    /// Write the levels as CSV here too.
    #[arg(long, global = true)]
    csv: Option<std::path::PathBuf>,
}

/// The CSV header of `--csv` (one row per level).
pub const CSV_HEADER: &str =
    "offered_mbps,sent_mbps,sent,echoed,corrupt,duplicates,send_errors,achieved_mbps,loss_pct,rtt_p50_us,rtt_p99_us";

fn main() -> ExitCode {
    let cli = Cli::parse();
    let link = match cli.link {
        LinkArg::Udp { to } => Link::udp(to),
        LinkArg::Dgram { qemu, listen, guest_ip, port, ip, sport, arp_timeout_s } => {
            let me = Station { mac: [0x52, 0x55, 0x0a, 0x00, 0x02, 0x02], ip: ip.octets(), port: sport };
            eprintln!("loadgen: resolving {guest_ip} by ARP over {qemu}");
            Link::dgram(listen, qemu, me, guest_ip.octets(), port, Duration::from_secs(arp_timeout_s))
        }
    };
    let link = match link {
        Ok(l) => l,
        Err(e) => {
            eprintln!("loadgen: error: {e}");
            return ExitCode::FAILURE;
        }
    };
    let l = &cli.load;
    let mut g = match Generator::new(link, l.payload) {
        Ok(g) => g,
        Err(e) => {
            eprintln!("loadgen: error: {e}");
            return ExitCode::FAILURE;
        }
    };
    let mut rows = vec![CSV_HEADER.to_string()];
    let n = l.levels.len();
    for (i, &mbps) in l.levels.iter().enumerate() {
        let left = (n - i) as u64 * (l.duration_ms + l.drain_ms) / 1000;
        eprintln!("loadgen: level {}/{n}: {mbps} Mb/s for {} ms (about {left} s left)", i + 1, l.duration_ms);
        let r = g.level(mbps, Duration::from_millis(l.duration_ms), Duration::from_millis(l.drain_ms), l.batch);
        println!(
            "level offered_mbps={:.1} sent_mbps={:.1} sent={} echoed={} corrupt={} duplicates={} send_errors={} achieved_mbps={:.1} loss_pct={:.2} rtt_p50_us={} rtt_p99_us={} max_gap_us={}",
            r.offered_mbps, r.sent_mbps, r.sent, r.echoed, r.corrupt, r.duplicates, r.send_errors, r.achieved_mbps, r.loss_pct, r.rtt_p50_us, r.rtt_p99_us, r.max_gap_us
        );
        rows.push(format!(
            "{:.1},{:.1},{},{},{},{},{},{:.1},{:.2},{},{}",
            r.offered_mbps,
            r.sent_mbps,
            r.sent,
            r.echoed,
            r.corrupt,
            r.duplicates,
            r.send_errors,
            r.achieved_mbps,
            r.loss_pct,
            r.rtt_p50_us,
            r.rtt_p99_us
        ));
    }
    if l.latency > 0 {
        eprintln!("loadgen: closed loop: {} round trips", l.latency);
        let t = g.latency(l.latency, Duration::from_secs(1));
        println!(
            "latency samples={} lost={} p50_us={} p90_us={} p99_us={} p999_us={} max_us={}",
            t.samples, t.lost, t.p50_us, t.p90_us, t.p99_us, t.p999_us, t.max_us
        );
    }
    if let Some(path) = &l.csv {
        if let Err(e) = std::fs::write(path, rows.join("\n") + "\n") {
            eprintln!("loadgen: error: cannot write {}: {e}", path.display());
            return ExitCode::FAILURE;
        }
    }
    ExitCode::SUCCESS
}
