//! The evaluation's tables and their CSV files: `results.csv` (one row per configuration and
//! offered level, exactly the columns issue 11 names), `latency.csv` (the closed-loop phase per
//! configuration), `profile.csv` (category, share of cycles; written by the profile work) and
//! `counters.csv` (the driver's interrupts and notifications per seL4 level).
//! Hand-written CSV: every field is a number or a fixed name without commas or quotes, so a
//! reader can check the files by eye and `eval report` reads them back exactly.

use std::fmt::Write as _;
use std::fs;
use std::path::Path;

/// `results.csv`'s header.
pub const RESULTS_HEADER: &str = "system,holdoff_us,offered_mbps,sent,echoed,achieved_mbps,loss_pct,cpu_pct";
/// `latency.csv`'s header.
pub const LATENCY_HEADER: &str = "system,holdoff_us,samples,lost,p50_us,p90_us,p99_us,p999_us,max_us";
/// `profile.csv`'s header.
pub const PROFILE_HEADER: &str = "category,share_pct";
/// `counters.csv`'s header.
pub const COUNTERS_HEADER: &str =
    "system,holdoff_us,offered_mbps,seconds,rx_packets,irqs,notify_sent,notify_suppressed";

/// The systems of results.csv's `system` column.
pub const SYSTEMS: [&str; 6] = ["sel4", "sel4-noiommu", "sel4-lazyfpu", "sel4-baseline", "sel4-colocated", "linux"];

/// One open-loop level of one configuration.
#[derive(Clone, Debug, PartialEq)]
pub struct Row {
    /// `sel4`, `sel4-noiommu` (system.xml without VT-d), `sel4-lazyfpu` (with seL4's lazy FPU
    /// switching), `sel4-baseline` (an earlier revision's system.xml, `--baseline`),
    /// `sel4-colocated` or `linux`.
    pub system: String,
    /// Interrupt hold-off in microseconds (`None` for Linux: its e1000 driver's default).
    pub holdoff_us: Option<u32>,
    /// Offered load, Mb/s of UDP payload.
    pub offered_mbps: f64,
    /// Probes sent.
    pub sent: u64,
    /// Probes echoed intact.
    pub echoed: u64,
    /// Echoed payload, Mb/s.
    pub achieved_mbps: f64,
    /// Probes not echoed, percent of sent.
    pub loss_pct: f64,
    /// Busy CPU over the level's window, percent (`None`: not measured).
    pub cpu_pct: Option<f64>,
}

/// The closed-loop latency phase of one configuration.
#[derive(Clone, Debug, PartialEq)]
pub struct LatencyRow {
    /// As in [`Row`].
    pub system: String,
    /// As in [`Row`].
    pub holdoff_us: Option<u32>,
    /// Probes sent, one at a time.
    pub samples: u64,
    /// Probes without an echo within the timeout.
    pub lost: u64,
    /// Percentiles of the round trip, microseconds.
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

/// The driver's counters over one open-loop level of a seL4 configuration (the deltas of the
/// `netstack: driver stats` lines taken just before and just after the level).
#[derive(Clone, Debug, PartialEq)]
pub struct CounterRow {
    /// As in [`Row`].
    pub system: String,
    /// As in [`Row`].
    pub holdoff_us: Option<u32>,
    /// As in [`Row`].
    pub offered_mbps: f64,
    /// The level's length with its drain: what the rates are per.
    pub seconds: f64,
    /// Packets the driver received.
    pub rx_packets: u64,
    /// Device interrupts it took.
    pub irqs: u64,
    /// Notifications it sent its client.
    pub notify_sent: u64,
    /// Notifications the client's flag let it leave out.
    pub notify_suppressed: u64,
}

impl CounterRow {
    /// Its configuration.
    pub fn key(&self) -> ConfigKey {
        ConfigKey { system: self.system.clone(), holdoff_us: self.holdoff_us }
    }

    /// Interrupts per second.
    pub fn irqs_per_s(&self) -> f64 {
        if self.seconds > 0.0 {
            self.irqs as f64 / self.seconds
        } else {
            0.0
        }
    }

    /// `n` per received packet (`None` when none arrived).
    pub fn per_packet(&self, n: u64) -> Option<f64> {
        (self.rx_packets > 0).then(|| n as f64 / self.rx_packets as f64)
    }

    /// The most interrupts per second the hold-off allows (`None` at hold-off 0: no bound).
    pub fn holdoff_bound_per_s(&self) -> Option<f64> {
        self.holdoff_us.filter(|&h| h > 0).map(|h| 1e6 / f64::from(h))
    }
}

/// One category of the execution profile (Figure 1(a)).
#[derive(Clone, Debug, PartialEq)]
pub struct ProfileRow {
    /// Kernel, Driver, IP, Echo, Notification, Translation, Interrupt, Buffer, IPC, Idle, ...
    pub category: String,
    /// Share of all cycles, percent.
    pub share_pct: f64,
}

/// A configuration: which system, at which hold-off.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ConfigKey {
    /// As in [`Row`].
    pub system: String,
    /// As in [`Row`].
    pub holdoff_us: Option<u32>,
}

impl ConfigKey {
    /// How the figures and the summary name it: `sel4 (hold-off 100 us)`, `linux`.
    pub fn label(&self) -> String {
        match self.holdoff_us {
            Some(h) => format!("{} (hold-off {h} us)", self.system),
            None => self.system.clone(),
        }
    }
}

impl Row {
    /// Its configuration.
    pub fn key(&self) -> ConfigKey {
        ConfigKey { system: self.system.clone(), holdoff_us: self.holdoff_us }
    }
}

impl LatencyRow {
    /// Its configuration.
    pub fn key(&self) -> ConfigKey {
        ConfigKey { system: self.system.clone(), holdoff_us: self.holdoff_us }
    }
}

fn opt<T: ToString>(v: Option<T>) -> String {
    v.map(|v| v.to_string()).unwrap_or_default()
}

/// results.csv's text.
pub fn results_csv(rows: &[Row]) -> String {
    let mut s = format!("{RESULTS_HEADER}\n");
    for r in rows {
        let _ = writeln!(
            s,
            "{},{},{},{},{},{:.3},{:.3},{}",
            r.system,
            opt(r.holdoff_us),
            r.offered_mbps,
            r.sent,
            r.echoed,
            r.achieved_mbps,
            r.loss_pct,
            r.cpu_pct.map(|c| format!("{c:.1}")).unwrap_or_default()
        );
    }
    s
}

/// latency.csv's text.
pub fn latency_csv(rows: &[LatencyRow]) -> String {
    let mut s = format!("{LATENCY_HEADER}\n");
    for r in rows {
        let _ = writeln!(
            s,
            "{},{},{},{},{},{},{},{},{}",
            r.system,
            opt(r.holdoff_us),
            r.samples,
            r.lost,
            r.p50_us,
            r.p90_us,
            r.p99_us,
            r.p999_us,
            r.max_us
        );
    }
    s
}

/// profile.csv's text.
pub fn profile_csv(rows: &[ProfileRow]) -> String {
    let mut s = format!("{PROFILE_HEADER}\n");
    for r in rows {
        let _ = writeln!(s, "{},{:.2}", r.category, r.share_pct);
    }
    s
}

/// counters.csv's text.
pub fn counters_csv(rows: &[CounterRow]) -> String {
    let mut s = format!("{COUNTERS_HEADER}\n");
    for r in rows {
        let _ = writeln!(
            s,
            "{},{},{},{:.3},{},{},{},{}",
            r.system,
            opt(r.holdoff_us),
            r.offered_mbps,
            r.seconds,
            r.rx_packets,
            r.irqs,
            r.notify_sent,
            r.notify_suppressed
        );
    }
    s
}

/// Reads counters.csv's text.
pub fn parse_counters(text: &str) -> Result<Vec<CounterRow>, String> {
    let what = "counters.csv";
    records(text, COUNTERS_HEADER, what)?
        .into_iter()
        .map(|(n, f)| {
            Ok(CounterRow {
                system: system_field(what, n, f[0])?,
                holdoff_us: opt_field(what, n, "holdoff_us", f[1])?,
                offered_mbps: field(what, n, "offered_mbps", f[2])?,
                seconds: field(what, n, "seconds", f[3])?,
                rx_packets: field(what, n, "rx_packets", f[4])?,
                irqs: field(what, n, "irqs", f[5])?,
                notify_sent: field(what, n, "notify_sent", f[6])?,
                notify_suppressed: field(what, n, "notify_suppressed", f[7])?,
            })
        })
        .collect()
}

/// Splits `text` into records after checking the header; `what` names the file in errors.
fn records<'t>(text: &'t str, header: &str, what: &str) -> Result<Vec<(usize, Vec<&'t str>)>, String> {
    let mut lines = text.lines().enumerate().filter(|(_, l)| !l.trim().is_empty());
    match lines.next() {
        Some((_, h)) if h.trim_end_matches('\r') == header => {}
        Some((_, h)) => return Err(format!("{what}: the header is {h:?}, expected {header:?}")),
        None => return Err(format!("{what} is empty (expected the header {header:?})")),
    }
    let columns = header.split(',').count();
    lines
        .map(|(i, l)| {
            let f: Vec<&str> = l.trim_end_matches('\r').split(',').collect();
            if f.len() != columns {
                return Err(format!("{what}:{}: {} fields, expected {columns} ({header})", i + 1, f.len()));
            }
            Ok((i + 1, f))
        })
        .collect()
}

fn field<T: std::str::FromStr>(what: &str, line: usize, name: &str, v: &str) -> Result<T, String> {
    v.trim().parse().map_err(|_| format!("{what}:{line}: {name}={v:?} is not a valid number"))
}

fn opt_field<T: std::str::FromStr>(what: &str, line: usize, name: &str, v: &str) -> Result<Option<T>, String> {
    if v.trim().is_empty() {
        Ok(None)
    } else {
        field(what, line, name, v).map(Some)
    }
}

fn system_field(what: &str, line: usize, v: &str) -> Result<String, String> {
    if SYSTEMS.contains(&v) {
        Ok(v.to_string())
    } else {
        Err(format!("{what}:{line}: system={v:?} is none of {SYSTEMS:?}"))
    }
}

/// Reads results.csv's text.
pub fn parse_results(text: &str) -> Result<Vec<Row>, String> {
    let what = "results.csv";
    records(text, RESULTS_HEADER, what)?
        .into_iter()
        .map(|(n, f)| {
            Ok(Row {
                system: system_field(what, n, f[0])?,
                holdoff_us: opt_field(what, n, "holdoff_us", f[1])?,
                offered_mbps: field(what, n, "offered_mbps", f[2])?,
                sent: field(what, n, "sent", f[3])?,
                echoed: field(what, n, "echoed", f[4])?,
                achieved_mbps: field(what, n, "achieved_mbps", f[5])?,
                loss_pct: field(what, n, "loss_pct", f[6])?,
                cpu_pct: opt_field(what, n, "cpu_pct", f[7])?,
            })
        })
        .collect()
}

/// Reads latency.csv's text.
pub fn parse_latency(text: &str) -> Result<Vec<LatencyRow>, String> {
    let what = "latency.csv";
    records(text, LATENCY_HEADER, what)?
        .into_iter()
        .map(|(n, f)| {
            Ok(LatencyRow {
                system: system_field(what, n, f[0])?,
                holdoff_us: opt_field(what, n, "holdoff_us", f[1])?,
                samples: field(what, n, "samples", f[2])?,
                lost: field(what, n, "lost", f[3])?,
                p50_us: field(what, n, "p50_us", f[4])?,
                p90_us: field(what, n, "p90_us", f[5])?,
                p99_us: field(what, n, "p99_us", f[6])?,
                p999_us: field(what, n, "p999_us", f[7])?,
                max_us: field(what, n, "max_us", f[8])?,
            })
        })
        .collect()
}

/// Reads profile.csv's text.
pub fn parse_profile(text: &str) -> Result<Vec<ProfileRow>, String> {
    let what = "profile.csv";
    records(text, PROFILE_HEADER, what)?
        .into_iter()
        .map(|(n, f)| {
            let category = f[0].trim();
            if category.is_empty() {
                return Err(format!("{what}:{n}: empty category"));
            }
            Ok(ProfileRow { category: category.to_string(), share_pct: field(what, n, "share_pct", f[1])? })
        })
        .collect()
}

/// Everything a report is made from, read from an output directory.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Tables {
    /// results.csv.
    pub results: Vec<Row>,
    /// latency.csv (empty if the file is missing).
    pub latency: Vec<LatencyRow>,
    /// profile.csv, if there is one.
    pub profile: Option<Vec<ProfileRow>>,
    /// counters.csv (empty if the file is missing).
    pub counters: Vec<CounterRow>,
    /// notes.txt: what the run could not measure and why, one line each.
    pub notes: Vec<String>,
}

fn read(path: &Path) -> Result<Option<String>, String> {
    match fs::read_to_string(path) {
        Ok(s) => Ok(Some(s)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(format!("cannot read {}: {e}", path.display())),
    }
}

/// Reads the tables of `dir` (results.csv is required; the others are optional).
pub fn read_dir(dir: &Path) -> Result<Tables, String> {
    let results = read(&dir.join("results.csv"))?
        .ok_or_else(|| format!("{} has no results.csv (is it an `eval run` output directory?)", dir.display()))?;
    let results = parse_results(&results)?;
    let latency = match read(&dir.join("latency.csv"))? {
        Some(t) => parse_latency(&t)?,
        None => Vec::new(),
    };
    let profile = match read(&dir.join("profile.csv"))? {
        Some(t) => Some(parse_profile(&t)?),
        None => None,
    };
    let counters = match read(&dir.join("counters.csv"))? {
        Some(t) => parse_counters(&t)?,
        None => Vec::new(),
    };
    let notes = read(&dir.join("notes.txt"))?
        .map(|t| t.lines().map(str::trim).filter(|l| !l.is_empty()).map(String::from).collect())
        .unwrap_or_default();
    Ok(Tables { results, latency, profile, counters, notes })
}

/// Writes results.csv, latency.csv and notes.txt into `dir`, and profile.csv if `t` has one
/// (a run does not measure the profile; the profile work writes that file itself).
pub fn write_dir(dir: &Path, t: &Tables) -> Result<(), String> {
    let put = |name: &str, text: String| {
        let p = dir.join(name);
        fs::write(&p, text).map_err(|e| format!("cannot write {}: {e}", p.display()))
    };
    put("results.csv", results_csv(&t.results))?;
    put("latency.csv", latency_csv(&t.latency))?;
    if !t.counters.is_empty() {
        put("counters.csv", counters_csv(&t.counters))?;
    }
    let mut notes = t.notes.join("\n");
    if !notes.is_empty() {
        notes.push('\n');
    }
    put("notes.txt", notes)?;
    if let Some(p) = &t.profile {
        put("profile.csv", profile_csv(p))?;
    }
    Ok(())
}
