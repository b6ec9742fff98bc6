//! summary.md: the measured table and the ratios the paper's reader wants (throughput and CPU
//! of each seL4 configuration against Linux at the same offered level, peak throughput of each
//! configuration, the cost of DMA confinement (with VT-d against without, level by level) and
//! the gain of eager FPU switching (against seL4's lazy switching),
//! latency, the profile and its framework overhead when one was measured), and,
//! said plainly, every level where this system loses to Linux.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use crate::results::{ConfigKey, CounterRow, LatencyRow, ProfileRow, Row, Tables};

/// Throughput below Linux's by more than this fraction counts as a loss.
pub const THROUGHPUT_TOLERANCE: f64 = 0.01;
/// CPU above Linux's by more than this many percentage points counts as a loss.
pub const CPU_TOLERANCE_PTS: f64 = 1.0;

/// A round trip longer than Linux's by more than this fraction counts as a loss.
pub const LATENCY_TOLERANCE: f64 = 0.05;

/// Categories that make up the framework's own overhead, as the paper defines it.
pub const OVERHEAD_CATEGORIES: [&str; 3] = ["Notification", "IPC", "Interrupt"];

/// The configurations in the order they first appear in the results.
pub fn configs(rows: &[Row]) -> Vec<ConfigKey> {
    let mut seen = Vec::new();
    for r in rows {
        let k = r.key();
        if !seen.contains(&k) {
            seen.push(k);
        }
    }
    seen
}

fn same_level(a: f64, b: f64) -> bool {
    (a - b).abs() < 1e-6
}

fn linux_at(rows: &[Row], offered: f64) -> Option<&Row> {
    rows.iter().find(|r| r.system == "linux" && same_level(r.offered_mbps, offered))
}

/// One seL4 level beside Linux's at the same offered load.
#[derive(Clone, Debug, PartialEq)]
pub struct VsLinux {
    /// The seL4 configuration.
    pub config: ConfigKey,
    /// Offered load, Mb/s.
    pub offered_mbps: f64,
    /// seL4's achieved throughput.
    pub achieved_mbps: f64,
    /// Linux's.
    pub linux_mbps: f64,
    /// seL4 / Linux throughput (`None` when Linux echoed nothing).
    pub throughput_ratio: Option<f64>,
    /// seL4's CPU.
    pub cpu_pct: Option<f64>,
    /// Linux's CPU.
    pub linux_cpu_pct: Option<f64>,
    /// seL4 / Linux CPU (`None` when either is unknown or Linux's is 0).
    pub cpu_ratio: Option<f64>,
}

/// `a` against `b` at one level: achieved throughput a / b, and CPU a / b where both are known
/// (`None` where `b`'s figure is 0).
fn ratios(a: &Row, b: &Row) -> (Option<f64>, Option<f64>) {
    let ratio = |x: f64, y: f64| if y > 0.0 { Some(x / y) } else { None };
    let cpu = match (a.cpu_pct, b.cpu_pct) {
        (Some(x), Some(y)) => ratio(x, y),
        _ => None,
    };
    (ratio(a.achieved_mbps, b.achieved_mbps), cpu)
}

/// Every seL4 level that has a Linux level at the same offered load.
pub fn vs_linux(rows: &[Row]) -> Vec<VsLinux> {
    rows.iter()
        .filter(|r| r.system != "linux")
        .filter_map(|r| {
            let l = linux_at(rows, r.offered_mbps)?;
            let (throughput_ratio, cpu_ratio) = ratios(r, l);
            Some(VsLinux {
                config: r.key(),
                offered_mbps: r.offered_mbps,
                achieved_mbps: r.achieved_mbps,
                linux_mbps: l.achieved_mbps,
                throughput_ratio,
                cpu_pct: r.cpu_pct,
                linux_cpu_pct: l.cpu_pct,
                cpu_ratio,
            })
        })
        .collect()
}

/// One level of a configuration beside the same level (same hold-off, same offered load) of
/// a variant that differs in one thing: `sel4` against `sel4-noiommu` (what DMA confinement
/// costs) or against `sel4-lazyfpu` (what eager FPU switching saves).
#[derive(Clone, Debug, PartialEq)]
pub struct Paired {
    /// The hold-off both ran at.
    pub holdoff_us: Option<u32>,
    /// Offered load, Mb/s.
    pub offered_mbps: f64,
    /// Achieved by the configuration.
    pub mbps: f64,
    /// Achieved by the variant.
    pub variant_mbps: f64,
    /// mbps / variant_mbps (`None` when the variant echoed nothing).
    pub throughput_ratio: Option<f64>,
    /// The configuration's CPU.
    pub cpu_pct: Option<f64>,
    /// The variant's.
    pub variant_cpu_pct: Option<f64>,
    /// cpu_pct / variant_cpu_pct (`None` when either is unknown or the variant's is 0).
    pub cpu_ratio: Option<f64>,
}

/// Every level of `system` that has a level of `variant` at the same hold-off and load.
pub fn paired(rows: &[Row], system: &str, variant: &str) -> Vec<Paired> {
    rows.iter()
        .filter(|r| r.system == system)
        .filter_map(|c| {
            let u = rows.iter().find(|u| {
                u.system == variant && u.holdoff_us == c.holdoff_us && same_level(u.offered_mbps, c.offered_mbps)
            })?;
            let (throughput_ratio, cpu_ratio) = ratios(c, u);
            Some(Paired {
                holdoff_us: c.holdoff_us,
                offered_mbps: c.offered_mbps,
                mbps: c.achieved_mbps,
                variant_mbps: u.achieved_mbps,
                throughput_ratio,
                cpu_pct: c.cpu_pct,
                variant_cpu_pct: u.cpu_pct,
                cpu_ratio,
            })
        })
        .collect()
}

/// `sel4` (DMA confined by VT-d) against `sel4-noiommu`.
pub fn confinement_cost(rows: &[Row]) -> Vec<Paired> {
    paired(rows, "sel4", "sel4-noiommu")
}

/// `sel4` (our kernel's eager FPU switching) against `sel4-lazyfpu` (seL4's lazy switching).
pub fn eager_fpu_gain(rows: &[Row]) -> Vec<Paired> {
    paired(rows, "sel4", "sel4-lazyfpu")
}

/// `sel4` against `sel4-baseline` (an earlier revision, `eval run --baseline REV`).
pub fn against_baseline(rows: &[Row]) -> Vec<Paired> {
    paired(rows, "sel4", "sel4-baseline")
}

/// A paired table as Markdown, or the sentence saying it was not measured.
fn paired_section(
    s: &mut String,
    title: &str,
    pairs: &[Paired],
    variant: &str,
    intro: &str,
    with: &str,
    without: &str,
) {
    let _ = writeln!(s, "## {title}\n");
    if pairs.is_empty() {
        let _ = writeln!(s, "Not measured: this run has no level of both `sel4` and `{variant}`.\n");
        return;
    }
    let _ = writeln!(s, "{intro}\n");
    let _ = writeln!(
        s,
        "| hold-off us | offered Mb/s | Mb/s {with} | Mb/s {without} | throughput ratio | CPU % {with} | CPU % {without} | CPU ratio |\n|---:|---:|---:|---:|---:|---:|---:|---:|"
    );
    for c in pairs {
        let _ = writeln!(
            s,
            "| {} | {} | {:.1} | {:.1} | {} | {} | {} | {} |",
            c.holdoff_us.map(|h| h.to_string()).unwrap_or_else(|| "-".into()),
            c.offered_mbps,
            c.mbps,
            c.variant_mbps,
            ratio(c.throughput_ratio),
            num(c.cpu_pct, 1),
            num(c.variant_cpu_pct, 1),
            ratio(c.cpu_ratio)
        );
    }
    s.push('\n');
}

/// Slack on the hold-off bound: the counters' window includes its drain and the console
/// commands around it, so a rate a few percent over the bound is the window's edges.
pub const HOLDOFF_BOUND_SLACK: f64 = 0.05;

/// Plain sentences for each level whose interrupt rate is above what the hold-off allows
/// (1 / hold-off, by more than [`HOLDOFF_BOUND_SLACK`]).
pub fn over_holdoff_bound(rows: &[CounterRow]) -> Vec<String> {
    rows.iter()
        .filter_map(|r| {
            let bound = r.holdoff_bound_per_s()?;
            (r.irqs_per_s() > bound * (1.0 + HOLDOFF_BOUND_SLACK)).then(|| {
                format!(
                    "{} takes more interrupts than its hold-off allows at {} Mb/s offered: {:.0}/s against at most {:.0}/s.",
                    r.key().label(),
                    r.offered_mbps,
                    r.irqs_per_s(),
                    bound
                )
            })
        })
        .collect()
}

/// A configuration's best level.
#[derive(Clone, Debug, PartialEq)]
pub struct Peak {
    /// The configuration.
    pub config: ConfigKey,
    /// Its highest achieved throughput.
    pub achieved_mbps: f64,
    /// At this offered load.
    pub offered_mbps: f64,
    /// CPU at that level.
    pub cpu_pct: Option<f64>,
    /// Highest offered load it echoed with no loss at all (`None`: it lost at every level).
    pub lossless_up_to: Option<f64>,
}

/// The peak of each configuration, in [`configs`] order.
pub fn peaks(rows: &[Row]) -> Vec<Peak> {
    configs(rows)
        .into_iter()
        .filter_map(|k| {
            let mine: Vec<&Row> = rows.iter().filter(|r| r.key() == k).collect();
            let best = mine.iter().copied().max_by(|a, b| a.achieved_mbps.total_cmp(&b.achieved_mbps))?;
            let lossless_up_to =
                mine.iter().filter(|r| r.sent > 0 && r.echoed >= r.sent).map(|r| r.offered_mbps).max_by(f64::total_cmp);
            Some(Peak {
                config: k.clone(),
                achieved_mbps: best.achieved_mbps,
                offered_mbps: best.offered_mbps,
                cpu_pct: best.cpu_pct,
                lossless_up_to,
            })
        })
        .collect()
}

/// Plain sentences, one per level (and per peak) where a seL4 configuration does worse than
/// Linux: lower throughput (by more than [`THROUGHPUT_TOLERANCE`]) or more CPU (by more than
/// [`CPU_TOLERANCE_PTS`]).
pub fn losses(rows: &[Row]) -> Vec<String> {
    let mut out = Vec::new();
    for v in vs_linux(rows) {
        if v.achieved_mbps < v.linux_mbps * (1.0 - THROUGHPUT_TOLERANCE) {
            out.push(format!(
                "{} loses on throughput at {} Mb/s offered: {:.1} Mb/s against Linux's {:.1} Mb/s.",
                v.config.label(),
                v.offered_mbps,
                v.achieved_mbps,
                v.linux_mbps
            ));
        }
        if let (Some(a), Some(b)) = (v.cpu_pct, v.linux_cpu_pct) {
            if a > b + CPU_TOLERANCE_PTS {
                out.push(format!(
                    "{} uses more CPU at {} Mb/s offered: {a:.1}% against Linux's {b:.1}%.",
                    v.config.label(),
                    v.offered_mbps
                ));
            }
        }
    }
    let p = peaks(rows);
    if let Some(linux) = p.iter().find(|p| p.config.system == "linux") {
        for q in p.iter().filter(|q| q.config.system != "linux") {
            if q.achieved_mbps < linux.achieved_mbps * (1.0 - THROUGHPUT_TOLERANCE) {
                out.push(format!(
                    "{} peaks lower than Linux: {:.1} Mb/s against {:.1} Mb/s.",
                    q.config.label(),
                    q.achieved_mbps,
                    linux.achieved_mbps
                ));
            }
        }
    }
    out
}

/// Plain sentences for each seL4 configuration whose closed-loop median or 99th-percentile
/// round trip is longer than Linux's by more than [`LATENCY_TOLERANCE`].
pub fn latency_losses(latency: &[LatencyRow]) -> Vec<String> {
    let Some(linux) = latency.iter().find(|l| l.system == "linux") else { return Vec::new() };
    let mut out = Vec::new();
    for l in latency.iter().filter(|l| l.system != "linux") {
        for (what, mine, theirs) in [("median", l.p50_us, linux.p50_us), ("99th-percentile", l.p99_us, linux.p99_us)] {
            if mine as f64 > theirs as f64 * (1.0 + LATENCY_TOLERANCE) {
                out.push(format!(
                    "{} has a longer {what} round trip than Linux: {mine} us against {theirs} us.",
                    l.key().label()
                ));
            }
        }
    }
    out
}

/// Framework overhead as the paper defines it: Notification + IPC + Interrupt, percent of the
/// non-idle cycles. `None` when the profile has no non-idle time.
pub fn framework_overhead(profile: &[ProfileRow]) -> Option<f64> {
    let is = |r: &ProfileRow, name: &str| r.category.eq_ignore_ascii_case(name);
    let idle: f64 = profile.iter().filter(|r| is(r, "Idle")).map(|r| r.share_pct).sum();
    let total: f64 = profile.iter().map(|r| r.share_pct).sum();
    let busy = total - idle;
    if busy <= 0.0 {
        return None;
    }
    let own: f64 = profile.iter().filter(|r| OVERHEAD_CATEGORIES.iter().any(|c| is(r, c))).map(|r| r.share_pct).sum();
    Some(100.0 * own / busy)
}

fn num(v: Option<f64>, digits: usize) -> String {
    v.map(|v| format!("{v:.digits$}")).unwrap_or_else(|| "-".into())
}

fn ratio(v: Option<f64>) -> String {
    v.map(|v| format!("{v:.2}x")).unwrap_or_else(|| "-".into())
}

/// summary.md's text. `heading` goes under the title (e.g. when and how the run was made).
pub fn summary_md(t: &Tables, heading: &str) -> String {
    let rows = &t.results;
    let mut s = String::from("# Evaluation summary (Figure 1)\n\n");
    if !heading.is_empty() {
        let _ = writeln!(s, "{heading}\n");
    }
    s.push_str(
        "Figures from one run on one machine under QEMU TCG: compare them with each other, not with \
         hardware. Rates are Mb/s of UDP payload (1024-byte echo); CPU is the busy share of the \
         guest's one CPU over each level.\n\n",
    );

    s.push_str("## Where this system loses\n\n");
    let has_linux = rows.iter().any(|r| r.system == "linux");
    let has_sel4 = rows.iter().any(|r| r.system != "linux");
    if !has_linux || !has_sel4 {
        s.push_str("No comparison: this run has no Linux levels or no seL4 levels.\n\n");
    } else {
        let mut l = losses(rows);
        l.extend(latency_losses(&t.latency));
        if l.is_empty() {
            let _ = writeln!(
                s,
                "Nowhere in this run: at every level Linux was also measured at, each seL4 configuration \
                 echoed at least {:.0}% of Linux's throughput and used no more than {CPU_TOLERANCE_PTS:.0} \
                 point more CPU (where both CPU figures exist), and no round trip percentile was more than \
                 5% longer than Linux's.\n",
                100.0 * (1.0 - THROUGHPUT_TOLERANCE)
            );
        } else {
            for line in &l {
                let _ = writeln!(s, "- {line}");
            }
            s.push('\n');
        }
        if vs_linux(rows).iter().all(|v| v.cpu_ratio.is_none()) {
            let sel4_cpu = rows.iter().any(|r| r.system != "linux" && r.cpu_pct.is_some());
            let linux_cpu = rows.iter().any(|r| r.system == "linux" && r.cpu_pct.is_some());
            let missing = match (sel4_cpu, linux_cpu) {
                (false, false) => "neither seL4's nor Linux's CPU was measured",
                (false, true) => "seL4's CPU was not measured",
                _ => "Linux's CPU was not measured",
            };
            let _ = writeln!(s, "CPU could not be compared: {missing} in this run (see the notes), so only throughput and latency are compared.\n");
        }
    }

    s.push_str("## Peak throughput\n\n| configuration | peak Mb/s | at offered Mb/s | CPU % there | no loss up to Mb/s |\n|---|---:|---:|---:|---:|\n");
    for p in peaks(rows) {
        let _ = writeln!(
            s,
            "| {} | {:.1} | {} | {} | {} |",
            p.config.label(),
            p.achieved_mbps,
            p.offered_mbps,
            num(p.cpu_pct, 1),
            p.lossless_up_to.map(|v| v.to_string()).unwrap_or_else(|| "lost at every level".into())
        );
    }
    s.push('\n');

    s.push_str("## Against Linux, per level\n\n");
    let vs = vs_linux(rows);
    if vs.is_empty() {
        s.push_str("No level was measured on both seL4 and Linux.\n\n");
    } else {
        s.push_str("| configuration | offered Mb/s | Mb/s | Linux Mb/s | throughput vs Linux | CPU % | Linux CPU % | CPU vs Linux |\n|---|---:|---:|---:|---:|---:|---:|---:|\n");
        for v in &vs {
            let _ = writeln!(
                s,
                "| {} | {} | {:.1} | {:.1} | {} | {} | {} | {} |",
                v.config.label(),
                v.offered_mbps,
                v.achieved_mbps,
                v.linux_mbps,
                ratio(v.throughput_ratio),
                num(v.cpu_pct, 1),
                num(v.linux_cpu_pct, 1),
                ratio(v.cpu_ratio)
            );
        }
        s.push('\n');
    }

    paired_section(
        &mut s,
        "Cost of DMA confinement (VT-d)",
        &confinement_cost(rows),
        "sel4-noiommu",
        "system.xml as `make run` boots it (the NIC reaches only its granted regions through QEMU's \
         intel-iommu) against the same image on the kernel without IOMMU support and no intel-iommu \
         (`make run IOMMU=0`), at the same hold-off.",
        "with VT-d",
        "without",
    );
    paired_section(
        &mut s,
        "Eager FPU switching",
        &eager_fpu_gain(rows),
        "sel4-lazyfpu",
        "system.xml on our kernel's eager FPU switching against the same kernel and image with seL4's \
         lazy switching (kernel command line `lazy_fpu`), at the same hold-off.",
        "eager",
        "lazy",
    );

    if rows.iter().any(|r| r.system == "sel4-baseline") {
        paired_section(
            &mut s,
            "Against the baseline",
            &against_baseline(rows),
            "sel4-baseline",
            "system.xml of this revision against the same file of the earlier revision the run was given \
             (`--baseline`, named in the notes), each on its own benchmark kernel, at the same hold-off.",
            "now",
            "baseline",
        );
    }

    s.push_str("## Interrupts and notifications per level (counters.csv)\n\n");
    if t.counters.is_empty() {
        s.push_str("Not measured: this run has no counters.csv.\n\n");
    } else {
        s.push_str(
            "The driver's counters over each seL4 level (its `driver stats` lines just before and just after \
             the level): interrupts per second against the most the hold-off allows (1 / hold-off; none at \
             hold-off 0), and interrupts and client notifications per received packet.\n\n",
        );
        s.push_str("| configuration | offered Mb/s | packets | interrupts/s | at most/s | interrupts/packet | notifications/packet | notifications/interrupt |\n|---|---:|---:|---:|---:|---:|---:|---:|\n");
        for r in &t.counters {
            let per_irq = (r.irqs > 0).then(|| r.notify_sent as f64 / r.irqs as f64);
            let _ = writeln!(
                s,
                "| {} | {} | {} | {:.0} | {} | {} | {} | {} |",
                r.key().label(),
                r.offered_mbps,
                r.rx_packets,
                r.irqs_per_s(),
                r.holdoff_bound_per_s().map(|b| format!("{b:.0}")).unwrap_or_else(|| "-".into()),
                num(r.per_packet(r.irqs), 3),
                num(r.per_packet(r.notify_sent), 3),
                num(per_irq, 3)
            );
        }
        let over = over_holdoff_bound(&t.counters);
        if over.is_empty() {
            s.push_str("\nNo level took more interrupts than its hold-off allows.\n\n");
        } else {
            s.push('\n');
            for line in &over {
                let _ = writeln!(s, "- {line}");
            }
            s.push('\n');
        }
    }

    s.push_str("## All levels (results.csv)\n\n");
    s.push_str(&results_table(rows));
    s.push('\n');

    s.push_str("## Round trips (closed loop, latency.csv)\n\n");
    if t.latency.is_empty() {
        s.push_str("No latency phase in this run.\n\n");
    } else {
        s.push_str("| configuration | samples | lost | p50 us | p90 us | p99 us | p99.9 us | max us |\n|---|---:|---:|---:|---:|---:|---:|---:|\n");
        for l in &t.latency {
            let _ = writeln!(
                s,
                "| {} | {} | {} | {} | {} | {} | {} | {} |",
                l.key().label(),
                l.samples,
                l.lost,
                l.p50_us,
                l.p90_us,
                l.p99_us,
                l.p999_us,
                l.max_us
            );
        }
        s.push('\n');
    }

    s.push_str("## Execution profile (Figure 1(a))\n\n");
    match &t.profile {
        None => s.push_str("Not measured: this directory has no profile.csv, so there is no fig1a.svg.\n\n"),
        Some(p) => {
            s.push_str("| category | share of cycles % |\n|---|---:|\n");
            for r in p {
                let _ = writeln!(s, "| {} | {:.1} |", r.category, r.share_pct);
            }
            let is = |r: &ProfileRow, name: &str| r.category.eq_ignore_ascii_case(name);
            let separated = p.iter().any(|r| OVERHEAD_CATEGORIES.iter().any(|c| is(r, c)));
            let idle: f64 = p.iter().filter(|r| is(r, "Idle")).map(|r| r.share_pct).sum();
            let busy: f64 = p.iter().map(|r| r.share_pct).sum::<f64>() - idle;
            let kernel: f64 = p.iter().filter(|r| is(r, "Kernel")).map(|r| r.share_pct).sum();
            match framework_overhead(p) {
                _ if !separated && busy > 0.0 => {
                    let _ = writeln!(
                        s,
                        "\nFramework overhead: not measured. Notification, IPC and Interrupt are not separated in \
                         this profile: the benchmark kernel charges the kernel work done for a PD (its IPC, \
                         notifications, interrupt entries) to that PD, so they sit inside each PD's share; \
                         Kernel ({:.1}% of the non-idle cycles) is only what was charged to no PD. The paper's \
                         figure is 12%.\n",
                        100.0 * kernel / busy
                    );
                }
                Some(o) => {
                    let _ = writeln!(s, "\nFramework overhead (Notification + IPC + Interrupt, share of non-idle cycles): {o:.1}% (the paper: 12%).\n");
                }
                None => s.push_str("\nFramework overhead: the profile has no non-idle cycles.\n\n"),
            }
        }
    }

    if !t.notes.is_empty() {
        s.push_str("## Notes from the run\n\n");
        for n in &t.notes {
            let _ = writeln!(s, "- {n}");
        }
        s.push('\n');
    }
    s
}

/// The results as a Markdown table (also what docs/evaluation.md shows).
pub fn results_table(rows: &[Row]) -> String {
    let mut s = String::from(
        "| system | hold-off us | offered Mb/s | sent | echoed | achieved Mb/s | loss % | CPU % |\n|---|---:|---:|---:|---:|---:|---:|---:|\n",
    );
    // Grouped by configuration, levels ascending.
    let mut by: BTreeMap<usize, Vec<&Row>> = BTreeMap::new();
    let order = configs(rows);
    for r in rows {
        let i = order.iter().position(|k| *k == r.key()).unwrap_or(0);
        by.entry(i).or_default().push(r);
    }
    for group in by.values_mut() {
        group.sort_by(|a, b| a.offered_mbps.total_cmp(&b.offered_mbps));
        for r in group.iter() {
            let _ = writeln!(
                s,
                "| {} | {} | {} | {} | {} | {:.1} | {:.2} | {} |",
                r.system,
                r.holdoff_us.map(|h| h.to_string()).unwrap_or_else(|| "-".into()),
                r.offered_mbps,
                r.sent,
                r.echoed,
                r.achieved_mbps,
                r.loss_pct,
                num(r.cpu_pct, 1)
            );
        }
    }
    s
}
