//! CPU utilisation from the two systems' consoles, parsed here so the parsers can be tested
//! without QEMU: the seL4 monitor's `monitor: cpu cycles=.. idle=.. busy_pct=.. <pd>=..` line
//! (the benchmark kernel's utilisation counters over a `cpu start` .. `cpu stop` window) and the
//! Linux guest's `linux-guest: cpu <user nice system idle iowait irq softirq steal ...>` line
//! (the first line of /proc/stat, in USER_HZ ticks), of which two give a window's busy share.

use std::fmt;

/// Prefix of the monitor's answer to `cpu stop`.
pub const MONITOR_PREFIX: &str = "monitor: cpu ";
/// Prefix of the Linux guest's answer to `cpu`.
pub const LINUX_PREFIX: &str = "linux-guest: cpu ";

/// A console line that does not say what its protocol promises.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParseError {
    /// The line as received.
    pub line: String,
    /// What is wrong with it.
    pub why: String,
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "cannot read the CPU line {:?}: {}", self.line, self.why)
    }
}

impl std::error::Error for ParseError {}

fn bad(line: &str, why: impl Into<String>) -> ParseError {
    ParseError { line: line.to_string(), why: why.into() }
}

/// The seL4 monitor's utilisation window (`cpu stop`'s answer).
#[derive(Clone, Debug, PartialEq)]
pub struct MonitorCpu {
    /// TSC cycles of the whole window.
    pub cycles: u64,
    /// Cycles the idle thread ran.
    pub idle: u64,
    /// Busy share of the window, percent, as the monitor computed it.
    pub busy_pct: f64,
    /// Cycles per PD, in system-file order.
    pub pds: Vec<(String, u64)>,
}

impl MonitorCpu {
    /// Cycles not spent in any PD or the idle thread: the kernel's own.
    pub fn kernel_cycles(&self) -> u64 {
        let pds: u64 = self.pds.iter().map(|(_, c)| c).sum();
        self.cycles.saturating_sub(self.idle).saturating_sub(pds)
    }
}

/// The execution profile (Figure 1(a)) from one utilisation window of the default system:
/// each PD's cycles under its role (the driver is Driver, the network stack IP, the echo Echo,
/// the dataspace manager Translation: it serves the driver's refills and pins), Kernel (busy
/// cycles charged to no PD: the monitor and the time between a kernel entry and the switch it
/// makes) and Idle, each as a share of the window. seL4's accounting charges a thread from the
/// kernel entry that switched to it to the one that switched away, so each PD's share holds the
/// kernel work done for it (its IPC, notifications, interrupt entries): Kernel here is not the
/// kernel's whole share. A PD with another name keeps its name.
pub fn profile(c: &MonitorCpu) -> Vec<crate::results::ProfileRow> {
    let share = |n: u64| if c.cycles == 0 { 0.0 } else { 100.0 * n as f64 / c.cycles as f64 };
    let category = |pd: &str| match pd {
        "driver" => "Driver".to_string(),
        "netstack" => "IP".to_string(),
        "echo" => "Echo".to_string(),
        "dataspace_mgr" => "Translation".to_string(),
        other => other.to_string(),
    };
    let mut rows: Vec<crate::results::ProfileRow> =
        vec![crate::results::ProfileRow { category: "Kernel".into(), share_pct: share(c.kernel_cycles()) }];
    for (pd, cycles) in &c.pds {
        rows.push(crate::results::ProfileRow { category: category(pd), share_pct: share(*cycles) });
    }
    rows.push(crate::results::ProfileRow { category: "Idle".into(), share_pct: share(c.idle) });
    rows
}

/// Parses `monitor: cpu cycles=<n> idle=<n> busy_pct=<x.y> <pd>=<n> ...` (trailing `\r` and
/// spaces allowed). Checks that the figures agree with each other: idle and the PDs fit in the
/// window, and busy_pct is within a tenth of a percent (plus rounding) of 100 * (1 - idle/cycles).
pub fn parse_monitor_line(line: &str) -> Result<MonitorCpu, ParseError> {
    let text = line.trim_end_matches(['\r', '\n', ' ']);
    let Some(rest) = text.strip_prefix(MONITOR_PREFIX) else {
        if let Some(err) = text.strip_prefix("monitor: error: ") {
            return Err(bad(line, format!("the monitor refused: {err}")));
        }
        return Err(bad(line, format!("it does not start with {MONITOR_PREFIX:?}")));
    };
    let mut fields = rest.split_whitespace();
    let mut next_num = |key: &str| -> Result<&str, ParseError> {
        let f = fields.next().ok_or_else(|| bad(line, format!("{key}= is missing")))?;
        f.strip_prefix(key)
            .and_then(|v| v.strip_prefix('='))
            .ok_or_else(|| bad(line, format!("expected {key}=<number>, found {f:?}")))
    };
    let num = |key: &str, v: &str| -> Result<u64, ParseError> {
        v.parse::<u64>().map_err(|_| bad(line, format!("{key}={v:?} is not a whole number")))
    };
    let cycles = num("cycles", next_num("cycles")?)?;
    let idle = num("idle", next_num("idle")?)?;
    let busy_text = next_num("busy_pct")?;
    let busy_pct: f64 = busy_text.parse().map_err(|_| bad(line, format!("busy_pct={busy_text:?} is not a number")))?;
    if !(0.0..=100.0).contains(&busy_pct) {
        return Err(bad(line, format!("busy_pct={busy_pct} is outside 0..100")));
    }
    let mut pds = Vec::new();
    for f in fields {
        let (name, v) = f.split_once('=').ok_or_else(|| bad(line, format!("expected <pd>=<cycles>, found {f:?}")))?;
        if name.is_empty() {
            return Err(bad(line, format!("a PD field without a name: {f:?}")));
        }
        pds.push((name.to_string(), num(name, v)?));
    }
    if cycles == 0 {
        return Err(bad(line, "the window has no cycles (was `cpu start` typed before?)"));
    }
    if idle > cycles {
        return Err(bad(line, format!("idle={idle} exceeds the window's cycles={cycles}")));
    }
    let in_pds: u64 = pds.iter().map(|(_, c)| *c).sum();
    if in_pds.saturating_add(idle) > cycles {
        return Err(bad(
            line,
            format!("idle plus the PDs' cycles ({}) exceed the window's cycles={cycles}", in_pds + idle),
        ));
    }
    let expect = 100.0 * (1.0 - idle as f64 / cycles as f64);
    if (expect - busy_pct).abs() > 0.15 {
        return Err(bad(line, format!("busy_pct={busy_pct} disagrees with idle/cycles ({expect:.1}%)")));
    }
    Ok(MonitorCpu { cycles, idle, busy_pct, pds })
}

/// One `/proc/stat` cpu sample from the Linux guest (USER_HZ ticks).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProcStat {
    /// user nice system idle iowait irq softirq steal (guest and guest_nice, if present, are
    /// already counted in user and nice and are dropped).
    pub fields: [u64; 8],
}

impl ProcStat {
    fn total(&self) -> u64 {
        self.fields.iter().sum()
    }
    fn idle(&self) -> u64 {
        self.fields[3] + self.fields[4]
    }
}

/// Parses `linux-guest: cpu <user> <nice> <system> <idle> <iowait> <irq> <softirq> <steal> ...`.
pub fn parse_linux_line(line: &str) -> Result<ProcStat, ParseError> {
    let text = line.trim_end_matches(['\r', '\n', ' ']);
    let Some(rest) = text.strip_prefix(LINUX_PREFIX) else {
        return Err(bad(line, format!("it does not start with {LINUX_PREFIX:?}")));
    };
    let nums: Vec<u64> = rest
        .split_whitespace()
        .map(|f| f.parse::<u64>().map_err(|_| bad(line, format!("{f:?} is not a tick count"))))
        .collect::<Result<_, _>>()?;
    if nums.len() < 8 {
        return Err(bad(line, format!("{} fields; /proc/stat's cpu line has at least 8", nums.len())));
    }
    let mut fields = [0u64; 8];
    fields.copy_from_slice(&nums[..8]);
    Ok(ProcStat { fields })
}

/// Busy share of the window between two samples, percent: 100 * (1 - Δ(idle + iowait) / Δtotal).
pub fn linux_busy_pct(before: &ProcStat, after: &ProcStat) -> Result<f64, String> {
    if after.fields.iter().zip(before.fields.iter()).any(|(a, b)| a < b) {
        return Err(format!("the /proc/stat counters went backwards: {:?} -> {:?}", before.fields, after.fields));
    }
    let dt = after.total() - before.total();
    if dt == 0 {
        return Err("no ticks passed between the two /proc/stat samples (window shorter than 1/USER_HZ?)".into());
    }
    let idle = after.idle() - before.idle();
    Ok(100.0 * (1.0 - idle as f64 / dt as f64))
}
