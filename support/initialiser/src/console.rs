//! The monitor's serial console (COM1 input): a line editor over the bytes the UART delivers
//! and the command language typed at it. Pure and host-tested; the monitor feeds it from the
//! UART's receive interrupt and carries the commands out.
//!
//! | command | answer |
//! |---|---|
//! | `help` | the commands, one line |
//! | `status` | one line per PD: name, running/stopped, faults, restarts |
//! | `inject <pd>` | makes that PD fault at its next instruction; its policy then applies |
//! | `cpu start`, `cpu stop` | (benchmark kernel) a measurement window: `stop` prints the window's cycles, the idle thread's, the busy share and each PD's cycles; then the kernel time charged to each thread (`cpu-kernel`) and the kernel entries by class (`cpu-entries`) |
//!
//! Every answer line starts with `monitor: `; a bad line gets one `monitor: error: ...` line.

use core::fmt;

use spec::pools::Read;

/// Where an injected fault sends the PD: a canonical address that no PD maps (images start at
/// the bottom of the address space, regions at 0x2000_0000), so the next instruction fetch is a
/// VM fault the report can name.
pub const INJECT_IP: u64 = 0x0000_0dea_d000;

// Between the program images (from 4 MiB up) and the regions (from 0x2000_0000), page-aligned.
const _: () = assert!(INJECT_IP < 0x2000_0000 && INJECT_IP > 0x0400_0000 + (64 << 20) && INJECT_IP & 0xfff == 0);

/// Longest command line kept; longer lines are refused whole.
pub const MAX_LINE: usize = 96;

/// Collects typed bytes into lines.
pub struct LineBuffer {
    buf: [u8; MAX_LINE],
    len: usize,
    overflow: bool,
}

/// What one byte of input completed.
#[derive(Debug, PartialEq, Eq)]
pub enum Input<'a> {
    /// Nothing yet.
    Pending,
    /// A complete line (without its end, trimmed).
    Line(&'a str),
    /// A line longer than [`MAX_LINE`] ended; it was dropped.
    TooLong,
    /// A line that is not UTF-8 ended; it was dropped.
    NotText,
}

impl Default for LineBuffer {
    fn default() -> Self {
        Self::new()
    }
}

impl LineBuffer {
    /// An empty line.
    pub const fn new() -> Self {
        LineBuffer { buf: [0; MAX_LINE], len: 0, overflow: false }
    }

    /// Takes one byte: CR or LF ends the line, backspace/DEL erase, other control bytes are
    /// ignored.
    pub fn push(&mut self, byte: u8) -> Input<'_> {
        match byte {
            b'\r' | b'\n' => {
                let (len, overflow) = (self.len, self.overflow);
                self.len = 0;
                self.overflow = false;
                if overflow {
                    return Input::TooLong;
                }
                match core::str::from_utf8(&self.buf[..len]) {
                    Ok(s) if s.trim().is_empty() => Input::Pending,
                    Ok(s) => Input::Line(s.trim()),
                    Err(_) => Input::NotText,
                }
            }
            0x08 | 0x7f => {
                self.len = self.len.saturating_sub(1);
                Input::Pending
            }
            b if b < 0x20 => Input::Pending,
            b => {
                if self.len == MAX_LINE {
                    self.overflow = true;
                } else {
                    self.buf[self.len] = b;
                    self.len += 1;
                }
                Input::Pending
            }
        }
    }
}

/// A command typed at the console.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Command<'a> {
    /// `help`.
    Help,
    /// `status`.
    Status,
    /// `inject <pd>` (the PD name as typed; the monitor looks it up).
    Inject(&'a str),
    /// `cpu start`: open a utilisation window.
    CpuStart,
    /// `cpu stop`: close it and report.
    CpuStop,
}

/// A line that is not a command.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CommandError<'a> {
    /// No such command.
    Unknown(&'a str),
    /// `inject` without a PD name.
    MissingPd,
    /// `cpu` without `start` or `stop`.
    CpuWhat,
    /// Words after a complete command.
    Extra(&'a str),
}

impl fmt::Display for CommandError<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CommandError::Unknown(w) => write!(f, "unknown command '{w}' (try: help)"),
            CommandError::MissingPd => write!(f, "inject needs a PD name: inject <pd> (see: status)"),
            CommandError::CpuWhat => write!(f, "cpu needs start or stop: cpu start | cpu stop"),
            CommandError::Extra(w) => write!(f, "unexpected '{w}' after the command (try: help)"),
        }
    }
}

/// The `help` answer.
pub const HELP: &str = "commands: help | status | inject <pd> (make <pd> fault now; its fault policy applies) | cpu start | cpu stop (benchmark kernel: CPU use over the window)";

/// Parses a line.
pub fn parse(line: &str) -> Result<Command<'_>, CommandError<'_>> {
    let mut words = line.split_ascii_whitespace();
    let cmd = match words.next().unwrap_or("") {
        "help" | "?" => Command::Help,
        "status" => Command::Status,
        "inject" => Command::Inject(words.next().ok_or(CommandError::MissingPd)?),
        "cpu" => match words.next() {
            Some("start") => Command::CpuStart,
            Some("stop") => Command::CpuStop,
            _ => return Err(CommandError::CpuWhat),
        },
        other => return Err(CommandError::Unknown(other)),
    };
    match words.next() {
        Some(extra) => Err(CommandError::Extra(extra)),
        None => Ok(cmd),
    }
}

/// What the monitor knows of one PD, for `status`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PdHealth {
    /// Faults over the PD's life.
    pub faults: u32,
    /// Restarts over its life.
    pub restarts: u32,
    /// Suspended for good (stop policy, restart limit, or a failed restart).
    pub stopped: bool,
    /// An injected fault is on its way (the next fault of this PD is reported as injected).
    pub injected: bool,
}

/// One `status` line: `monitor: status <pd> running|stopped faults=N restarts=N`, then for
/// each buffer pool the PD reports ` <pool>.size=N <pool>.free=N <pool>.posted=N`.
pub struct StatusLine<'a> {
    /// PD name.
    pub pd: &'a str,
    /// What the monitor knows.
    pub health: PdHealth,
    /// The PD's pool reports (`spec::pools` area), if they could be read.
    pub pools: Option<&'a [u8]>,
}

impl fmt::Display for StatusLine<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let h = self.health;
        write!(
            f,
            "monitor: status {} {} faults={} restarts={}",
            self.pd,
            if h.stopped { "stopped" } else { "running" },
            h.faults,
            h.restarts
        )?;
        let Some(area) = self.pools else { return write!(f, " pools=unreadable") };
        for i in 0..spec::pools::MAX_POOLS {
            match spec::pools::decode(area, i) {
                Read::Unused => {}
                Read::Busy => write!(f, " pool{i}=updating")?,
                Read::Bad => write!(f, " pool{i}=malformed")?,
                Read::Pool(p) => {
                    write!(f, " {0}.size={1} {0}.free={2} {0}.posted={3}", p.name, p.size, p.free, p.posted)?
                }
            }
        }
        Ok(())
    }
}

/// The `cpu stop` answer: `monitor: cpu cycles=<window> idle=<idle thread> busy_pct=<one
/// decimal> <pd>=<cycles> ...` (PDs in system-file order; the rest of the busy time is the
/// kernel's and the monitor's).
pub struct CpuLine<'a> {
    /// Cycles (TSC ticks) in the window.
    pub total: u64,
    /// Of which the idle thread ran.
    pub idle: u64,
    /// Each PD's cycles.
    pub pds: &'a [(&'a str, u64)],
}

impl fmt::Display for CpuLine<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let busy = self.total.saturating_sub(self.idle);
        let permille = if self.total == 0 { 0 } else { (u128::from(busy) * 1000 / u128::from(self.total)) as u64 };
        write!(
            f,
            "monitor: cpu cycles={} idle={} busy_pct={}.{}",
            self.total,
            self.idle,
            permille / 10,
            permille % 10
        )?;
        for (name, cycles) in self.pds {
            write!(f, " {name}={cycles}")?;
        }
        Ok(())
    }
}

/// With the patched bench kernel, `cpu stop` also prints the window's kernel time charged to
/// each thread: `monitor: cpu-kernel idle=<cycles> <pd>=<cycles> ...` (the kernel entries that
/// returned to that thread, a part of its `cpu` figure).
pub struct KernelLine<'a> {
    /// Kernel cycles charged to the idle thread (interrupts taken while idle).
    pub idle: u64,
    /// Each PD's kernel cycles, in system-file order.
    pub pds: &'a [(&'a str, u64)],
}

impl fmt::Display for KernelLine<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "monitor: cpu-kernel idle={}", self.idle)?;
        for (name, cycles) in self.pds {
            write!(f, " {name}={cycles}")?;
        }
        Ok(())
    }
}

/// ... and the window's kernel entries by class, over all threads: `monitor: cpu-entries
/// interrupt=<cycles>/<entries> irq_ack=.. signal=.. wait=.. ipc=.. other=.. fpu=.. fault=..`.
pub struct EntriesLine<'a> {
    /// (class, cycles, entries), in the kernel's class order.
    pub classes: &'a [(&'a str, u64, u64)],
}

impl fmt::Display for EntriesLine<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "monitor: cpu-entries")?;
        for (name, cycles, entries) in self.classes {
            write!(f, " {name}={cycles}/{entries}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::*;
    use std::format;

    fn feed<'a>(lb: &'a mut LineBuffer, s: &[u8]) -> Input<'a> {
        let (last, init) = s.split_last().unwrap();
        for &b in init {
            assert_eq!(lb.push(b), Input::Pending);
        }
        lb.push(*last)
    }

    #[test]
    fn lines_end_on_cr_or_lf_and_backspace_erases() {
        let mut lb = LineBuffer::new();
        assert_eq!(feed(&mut lb, b"  status \r"), Input::Line("status"));
        assert_eq!(feed(&mut lb, b"injx\x08ect driver\n"), Input::Line("inject driver"));
        assert_eq!(feed(&mut lb, b"\x7f\x7fhelp\n"), Input::Line("help"), "erasing an empty line is harmless");
        assert_eq!(lb.push(b'\n'), Input::Pending, "an empty line is nothing");
        assert_eq!(feed(&mut lb, b"he\x1b[Alp\n"), Input::Line("he[Alp"), "escape bytes are dropped, not executed");
    }

    #[test]
    fn long_and_binary_lines_are_refused_whole() {
        let mut lb = LineBuffer::new();
        for _ in 0..MAX_LINE + 10 {
            assert_eq!(lb.push(b'a'), Input::Pending);
        }
        assert_eq!(lb.push(b'\n'), Input::TooLong);
        assert_eq!(feed(&mut lb, b"ok\n"), Input::Line("ok"), "the next line is fine");
        assert_eq!(feed(&mut lb, &[0xff, 0xfe, b'\n']), Input::NotText);
    }

    #[test]
    fn commands_parse_and_mistakes_say_what_is_wrong() {
        assert_eq!(parse("help"), Ok(Command::Help));
        assert_eq!(parse("status"), Ok(Command::Status));
        assert_eq!(parse("inject  netstack"), Ok(Command::Inject("netstack")));
        assert_eq!(parse("inject"), Err(CommandError::MissingPd));
        assert_eq!(parse("status now"), Err(CommandError::Extra("now")));
        assert_eq!(parse("reboot"), Err(CommandError::Unknown("reboot")));
        assert!(format!("{}", CommandError::Unknown("reboot")).contains("try: help"));
        assert_eq!(parse("cpu start"), Ok(Command::CpuStart));
        assert_eq!(parse("cpu stop"), Ok(Command::CpuStop));
        assert_eq!(parse("cpu"), Err(CommandError::CpuWhat));
        assert_eq!(parse("cpu go"), Err(CommandError::CpuWhat));
    }

    #[test]
    fn status_lines_have_one_format() {
        let h = PdHealth { faults: 2, restarts: 1, stopped: false, injected: false };
        let none = [0u8; spec::pools::AREA];
        assert_eq!(
            format!("{}", StatusLine { pd: "driver", health: h, pools: Some(&none) }),
            "monitor: status driver running faults=2 restarts=1"
        );
        let s = PdHealth { stopped: true, ..h };
        assert!(format!("{}", StatusLine { pd: "echo", health: s, pools: None })
            .ends_with(" stopped faults=2 restarts=1 pools=unreadable"));
        let mut area = [0u8; spec::pools::AREA];
        area[..4].copy_from_slice(&spec::pools::MAGIC.to_le_bytes());
        let rx = spec::pools::encode(&spec::pools::Pool { name: "rx", size: 256, free: 6, posted: 250 }, 2);
        area[4..4 + spec::pools::RECORD].copy_from_slice(&rx);
        assert_eq!(
            format!("{}", StatusLine { pd: "netstack", health: PdHealth::default(), pools: Some(&area) }),
            "monitor: status netstack running faults=0 restarts=0 rx.size=256 rx.free=6 rx.posted=250"
        );
    }

    #[test]
    fn cpu_lines_have_one_format() {
        let pds = [("driver", 300u64), ("netstack", 200)];
        let l = CpuLine { total: 1000, idle: 333, pds: &pds };
        assert_eq!(format!("{l}"), "monitor: cpu cycles=1000 idle=333 busy_pct=66.7 driver=300 netstack=200");
        let empty = CpuLine { total: 0, idle: 0, pds: &[] };
        assert_eq!(format!("{empty}"), "monitor: cpu cycles=0 idle=0 busy_pct=0.0");
        let huge = CpuLine { total: u64::MAX, idle: 0, pds: &[] };
        assert!(format!("{huge}").ends_with("busy_pct=100.0"));
    }

    #[test]
    fn kernel_time_lines_have_one_format() {
        let pds = [("driver", 30u64), ("netstack", 20)];
        assert_eq!(
            format!("{}", KernelLine { idle: 5, pds: &pds }),
            "monitor: cpu-kernel idle=5 driver=30 netstack=20"
        );
        let classes = [("interrupt", 100u64, 4u64), ("signal", 50, 10)];
        assert_eq!(
            format!("{}", EntriesLine { classes: &classes }),
            "monitor: cpu-entries interrupt=100/4 signal=50/10"
        );
    }
}
