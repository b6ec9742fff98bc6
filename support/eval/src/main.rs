//! `eval`: the command line of the evaluation (issue 11). `eval run` measures experiment (b)
//! (see `eval run --help`) into build/eval/<timestamp>/ and points build/eval/latest at it;
//! `eval report <dir>` redraws summary.md and the figures from a directory's CSV files.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, SystemTime};

use clap::{Parser, Subcommand};
use eval::run::{self, Options, Which};

#[derive(Parser)]
#[command(
    name = "eval",
    about = "Reproduces the paper's Figure 1: seL4 (hold-off 100/0 us, co-located echo) against a Linux guest under QEMU"
)]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Builds and boots each configuration once, steps the offered load, writes the CSVs,
    /// fig1b.svg and summary.md.
    Run {
        /// Reduced run: 3 levels of 1 s, 200 latency samples (a few minutes in all).
        #[arg(long)]
        quick: bool,
        /// Offered loads, Mb/s of UDP payload, comma-separated (default 10,50,100,200,300,400,500,600,800,1000).
        #[arg(long, value_delimiter = ',')]
        levels: Option<Vec<f64>>,
        /// Seconds per level (default 5; --quick 1).
        #[arg(long)]
        seconds_per_level: Option<f64>,
        /// Milliseconds to wait for late echoes after each level.
        #[arg(long, default_value_t = 500)]
        drain_ms: u64,
        /// Largest burst of back-to-back sends.
        #[arg(long, default_value_t = 32)]
        batch: u32,
        /// Closed-loop samples per configuration (default 500; --quick 200; 0: none).
        #[arg(long)]
        latency_samples: Option<u64>,
        /// Which configurations, comma-separated: sel4, sel4-noiommu, sel4-lazyfpu, sel4-holdoff0, sel4-colocated, linux (default all).
        #[arg(long, value_delimiter = ',')]
        configs: Option<Vec<String>>,
        /// Output directory (default build/eval/<UTC timestamp>).
        #[arg(long)]
        out: Option<PathBuf>,
        /// Also measure an earlier revision's system.xml beside this one (`sel4-baseline`):
        /// a commit, tag or branch, exported and built under build/baseline/<commit>/.
        #[arg(long)]
        baseline: Option<String>,
    },
    /// Regenerates summary.md, fig1b.svg (and fig1a.svg if profile.csv exists) from a run's CSVs.
    Report {
        /// An `eval run` output directory, e.g. build/eval/latest.
        dir: PathBuf,
    },
}

fn main() -> ExitCode {
    match real_main() {
        Ok(code) => code,
        Err(e) => {
            eprintln!("eval: error: {e}");
            ExitCode::FAILURE
        }
    }
}

fn real_main() -> Result<ExitCode, String> {
    match Cli::parse().cmd {
        Cmd::Report { dir } => {
            eval::report(&dir)?;
            eprintln!("eval: wrote {0}/summary.md and {0}/fig1b.svg", dir.display());
            Ok(ExitCode::SUCCESS)
        }
        Cmd::Run { quick, levels, seconds_per_level, drain_ms, batch, latency_samples, configs, out, baseline } => {
            let levels =
                levels.unwrap_or_else(|| if quick { run::QUICK_LEVELS.to_vec() } else { run::DEFAULT_LEVELS.to_vec() });
            if levels.is_empty() || levels.iter().any(|l| !l.is_finite() || *l <= 0.0) {
                return Err(format!("--levels must be positive Mb/s figures, got {levels:?}"));
            }
            let seconds_per_level = seconds_per_level.unwrap_or(if quick { 1.0 } else { 5.0 });
            if !(0.1..=600.0).contains(&seconds_per_level) {
                return Err(format!("--seconds-per-level {seconds_per_level} is outside 0.1..600"));
            }
            let which = match configs {
                None => Which::ALL.to_vec(),
                Some(c) => c.iter().map(|s| Which::parse(s.trim())).collect::<Result<Vec<_>, _>>()?,
            };
            let out = out.unwrap_or_else(|| {
                qemu_harness::repo_root().join("build/eval").join(run::timestamp(SystemTime::now()))
            });
            let out =
                if out.is_absolute() { out } else { std::env::current_dir().map_err(|e| e.to_string())?.join(out) };
            let opts = Options {
                levels,
                seconds_per_level,
                drain: Duration::from_millis(drain_ms),
                batch,
                latency_samples: latency_samples.unwrap_or(if quick { 200 } else { 500 }),
                out: out.clone(),
                which,
                quick,
                baseline,
            };
            let started = SystemTime::now();
            let t0 = std::time::Instant::now();
            let (_, complete) = run::run(&opts)?;
            let heading = format!(
                "{} run of {} UTC: levels {} Mb/s, {} s each, {} ms drain, {} latency samples; took {:.0} s, builds included.",
                if quick { "QUICK" } else { "Full" },
                run::timestamp(started),
                opts.levels.iter().map(|l| l.to_string()).collect::<Vec<_>>().join(","),
                opts.seconds_per_level,
                drain_ms,
                opts.latency_samples,
                t0.elapsed().as_secs_f64()
            );
            std::fs::write(out.join("run.txt"), format!("{heading}\n"))
                .map_err(|e| format!("cannot write run.txt: {e}"))?;
            eval::report(&out)?;
            let latest = run::link_latest(&out)?;
            eprintln!(
                "eval: results in {} ({} -> it): summary.md, results.csv, latency.csv, fig1b.svg",
                out.display(),
                latest.display()
            );
            if complete {
                Ok(ExitCode::SUCCESS)
            } else {
                eprintln!("eval: some configurations were not measured; summary.md's notes say why");
                Ok(ExitCode::FAILURE)
            }
        }
    }
}
