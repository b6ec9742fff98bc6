//! CPU utilisation from the two systems' consoles, parsed here so the parsers can be tested
//! without QEMU: the seL4 monitor's `monitor: cpu cycles=.. idle=.. busy_pct=.. <pd>=..` line
//! (the benchmark kernel's utilisation counters over a `cpu start` .. `cpu stop` window) and the
//! Linux guest's `linux-guest: cpu <user nice system idle iowait irq softirq steal ...>` line
//! (the first line of /proc/stat, in USER_HZ ticks), of which two give a window's busy share.
//! With the patched bench kernel, `cpu stop` also prints the window's kernel time per thread
//! and by entry class (`monitor: cpu-kernel ..`, `monitor: cpu-entries ..`), which split the
//! profile's kernel work out of the PDs.

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
    /// The kernel-time report of the patched bench kernel, when it was read.
    pub kernel: Option<KernelTime>,
}

/// Prefix of the monitor's kernel time per thread (`cpu stop`'s second line).
pub const KERNEL_PREFIX: &str = "monitor: cpu-kernel ";
/// Prefix of the monitor's kernel entries by class (`cpu stop`'s third line).
pub const ENTRIES_PREFIX: &str = "monitor: cpu-entries ";
/// The entry classes the patched bench kernel counts, in its order (the monitor prints the same names).
pub use spec::bench::ENTRY_CLASSES;

/// The window's kernel time: per thread (the part of each `cpu` figure spent in kernel entries
/// that returned to that thread) and by entry class over all threads.
#[derive(Clone, Debug, PartialEq)]
pub struct KernelTime {
    /// Kernel cycles charged to the idle thread.
    pub idle: u64,
    /// Kernel cycles per PD, in system-file order.
    pub pds: Vec<(String, u64)>,
    /// (cycles, entries) per class of [`ENTRY_CLASSES`].
    pub classes: [(u64, u64); ENTRY_CLASSES.len()],
}

impl KernelTime {
    fn class(&self, name: &str) -> (u64, u64) {
        ENTRY_CLASSES.iter().position(|c| *c == name).map_or((0, 0), |i| self.classes[i])
    }
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
///
/// With the patched bench kernel's kernel-time report ([`KernelTime`]) the kernel's work comes
/// out of the PDs and the idle thread instead: each PD's row is its own code only, and the
/// kernel entries are split by class: Interrupt (interrupt entries and IRQ acks), Notification
/// (signals and waits on notifications), IPC (calls, replies and waits on endpoints: a PD that
/// serves protected calls waits on its endpoint, so its wake-ups by notification count here),
/// Kernel (other syscalls, FPU traps, faults, and threads outside the system file, i.e. the
/// monitor).
pub fn profile(c: &MonitorCpu) -> Vec<crate::results::ProfileRow> {
    let share = |n: u64| if c.cycles == 0 { 0.0 } else { 100.0 * n as f64 / c.cycles as f64 };
    let category = |pd: &str| match pd {
        "driver" => "Driver".to_string(),
        "netstack" => "IP".to_string(),
        "echo" => "Echo".to_string(),
        "dataspace_mgr" => "Translation".to_string(),
        other => other.to_string(),
    };
    let row = |category: &str, cycles: u64| crate::results::ProfileRow {
        category: category.into(),
        share_pct: share(cycles),
    };
    let Some(k) = &c.kernel else {
        let mut rows = vec![row("Kernel", c.kernel_cycles())];
        rows.extend(c.pds.iter().map(|(pd, cycles)| row(&category(pd), *cycles)));
        rows.push(row("Idle", c.idle));
        return rows;
    };
    let kernel_of = |pd: &str| k.pds.iter().find(|(name, _)| name == pd).map_or(0, |(_, cycles)| *cycles);
    let all_entries: u64 = k.classes.iter().map(|(cycles, _)| cycles).sum();
    let pd_kernel: u64 = c.pds.iter().map(|(pd, _)| kernel_of(pd).min(c.cycles)).sum();
    // Busy time charged to no PD (the monitor), less the kernel entries charged to it.
    let others_user = c.kernel_cycles().saturating_sub(all_entries.saturating_sub(pd_kernel + k.idle));
    let (other, fpu, fault) = (k.class("other").0, k.class("fpu").0, k.class("fault").0);
    let mut rows = vec![
        row("Kernel", other + fpu + fault + others_user),
        row("IPC", k.class("ipc").0),
        row("Notification", k.class("signal").0 + k.class("wait").0),
        row("Interrupt", k.class("interrupt").0 + k.class("irq_ack").0),
    ];
    rows.extend(c.pds.iter().map(|(pd, cycles)| row(&category(pd), cycles.saturating_sub(kernel_of(pd)))));
    rows.push(row("Idle", c.idle.saturating_sub(k.idle)));
    rows
}

/// Kernel entries per echoed datagram over the profile window, by class, and the kernel calls
/// (syscalls: every class but interrupt entries and faults), as one line for the summary's notes.
pub fn entries_per_datagram(k: &KernelTime, echoed: u64) -> Option<String> {
    if echoed == 0 {
        return None;
    }
    let per = |n: u64| n as f64 / echoed as f64;
    let mut s = format!("kernel entries per echoed datagram ({echoed} datagrams):");
    for (name, (_, n)) in ENTRY_CLASSES.iter().zip(k.classes) {
        s.push_str(&format!(" {name} {:.3}", per(n)));
    }
    let calls: u64 = ["irq_ack", "signal", "wait", "ipc", "other"].iter().map(|c| k.class(c).1).sum();
    s.push_str(&format!("; kernel calls {:.3}", per(calls)));
    Some(s)
}

/// Parses `monitor: cpu-kernel idle=<n> <pd>=<n> ...` and `monitor: cpu-entries <class>=<cycles>/<n>
/// ...` (every class of [`ENTRY_CLASSES`], in order).
pub fn parse_kernel_lines(kernel_line: &str, entries_line: &str) -> Result<KernelTime, ParseError> {
    let fields = |line: &str, prefix: &str| -> Result<Vec<(String, String)>, ParseError> {
        let text = line.trim_end_matches(['\r', '\n', ' ']);
        let rest = text.strip_prefix(prefix).ok_or_else(|| bad(line, format!("it does not start with {prefix:?}")))?;
        rest.split_whitespace()
            .map(|f| {
                f.split_once('=')
                    .filter(|(k, _)| !k.is_empty())
                    .map(|(k, v)| (k.to_string(), v.to_string()))
                    .ok_or_else(|| bad(line, format!("expected <name>=<value>, found {f:?}")))
            })
            .collect()
    };
    let num = |line: &str, key: &str, v: &str| -> Result<u64, ParseError> {
        v.parse::<u64>().map_err(|_| bad(line, format!("{key}={v:?} is not a whole number")))
    };
    let mut kernel = fields(kernel_line, KERNEL_PREFIX)?.into_iter();
    let idle = match kernel.next() {
        Some((k, v)) if k == "idle" => num(kernel_line, "idle", &v)?,
        _ => return Err(bad(kernel_line, "idle= must come first")),
    };
    let pds = kernel.map(|(k, v)| num(kernel_line, &k, &v).map(|n| (k, n))).collect::<Result<Vec<_>, _>>()?;
    let entries = fields(entries_line, ENTRIES_PREFIX)?;
    if entries.len() != ENTRY_CLASSES.len() || entries.iter().zip(ENTRY_CLASSES).any(|((k, _), c)| k != c) {
        return Err(bad(entries_line, format!("expected the classes {} in that order", ENTRY_CLASSES.join(" "))));
    }
    let mut classes = [(0, 0); ENTRY_CLASSES.len()];
    for (slot, (k, v)) in classes.iter_mut().zip(&entries) {
        let (cycles, n) =
            v.split_once('/').ok_or_else(|| bad(entries_line, format!("{k}={v:?} is not <cycles>/<entries>")))?;
        *slot = (num(entries_line, k, cycles)?, num(entries_line, k, n)?);
    }
    Ok(KernelTime { idle, pds, classes })
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
    Ok(MonitorCpu { cycles, idle, busy_pct, pds, kernel: None })
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
