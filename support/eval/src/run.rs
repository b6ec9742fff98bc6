//! `eval run`: experiment (b) in one sitting. Each configuration (seL4's system.xml at its
//! hold-off, without VT-d and at 0 us, the co-located echo, the Linux guest) is built first,
//! then booted once under QEMU (TCG, q35, e1000 on a dgram netdev, a hard time limit, killed on
//! drop; seL4 with QEMU's intel-iommu in front of the NIC, as `make run` boots it) and driven
//! by loadgen as the guest's gateway: one open-loop level per offered load with CPU read from
//! the guest's console around it, then a closed-loop latency phase. Progress goes to stderr.

use std::fs;
use std::io::Read as _;
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::thread;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use loadgen::frame::Station;
use loadgen::{Generator, Link};
use qemu_harness::{
    build_bench_image, build_image, build_kernel, free_udp_port, repo_root, KernelVariant, Netdev, Nic, Qemu,
    QemuConfig,
};

use crate::cpu::{self, MonitorCpu, ProcStat};
use crate::results::{ConfigKey, CounterRow, LatencyRow, Row, Tables};

/// Default offered loads, Mb/s of UDP payload.
pub const DEFAULT_LEVELS: [f64; 10] = [10.0, 50.0, 100.0, 200.0, 300.0, 400.0, 500.0, 600.0, 800.0, 1000.0];
/// `--quick`'s levels: below, near and past the Linux guest's saturation (tens of Mb/s).
pub const QUICK_LEVELS: [f64; 3] = [50.0, 200.0, 500.0];
/// Probe payload, bytes (the paper's 1024-byte echo).
pub const PAYLOAD: usize = 1024;
/// The guest's address (both systems configure 10.0.2.15/24, gateway 10.0.2.2).
pub const GUEST_IP: [u8; 4] = [10, 0, 2, 15];
/// The generator plays the gateway.
pub const ME: Station = Station { mac: [0x52, 0x55, 0x0a, 0x00, 0x02, 0x02], ip: [10, 0, 2, 2], port: 40007 };
/// The Linux guest's kernel command line (as support/eval/linux/run.sh gives it).
pub const LINUX_APPEND: &str = "console=ttyS0 quiet mitigations=off nokaslr panic=-1";

/// The line of system.xml's last PD to start: the echo answers from here on.
const ECHO_READY: &str = "echo: up: UDP echo on port 7";
const BOOT_WAIT: Duration = Duration::from_secs(120);
const CONSOLE_WAIT: Duration = Duration::from_secs(20);
const ARP_WAIT: Duration = Duration::from_secs(20);
const LATENCY_TIMEOUT: Duration = Duration::from_millis(500);
const LINUX_BUILD_LIMIT: Duration = Duration::from_secs(900);

/// What `eval run` was asked for.
#[derive(Clone, Debug)]
pub struct Options {
    /// Offered loads, Mb/s.
    pub levels: Vec<f64>,
    /// Length of each level.
    pub seconds_per_level: f64,
    /// Wait for late echoes after each level.
    pub drain: Duration,
    /// Largest burst of back-to-back sends.
    pub batch: u32,
    /// Closed-loop probes per configuration (0: no latency phase).
    pub latency_samples: u64,
    /// Output directory.
    pub out: PathBuf,
    /// Which configurations (names of [`Which`]).
    pub which: Vec<Which>,
    /// `--quick` (recorded in the summary).
    pub quick: bool,
    /// `--baseline REV`: also measure that revision's system.xml (`sel4-baseline`).
    pub baseline: Option<String>,
}

/// The configurations of experiment (b).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Which {
    /// system.xml at its own hold-off (100 us), NIC DMA confined by VT-d (as `make run`).
    Sel4,
    /// The same without the IOMMU (`make run IOMMU=0`): what confinement costs.
    Sel4NoIommu,
    /// The same with seL4's lazy FPU switching (kernel command line `lazy_fpu`): what our
    /// kernel's eager switching saves.
    Sel4LazyFpu,
    /// system.xml with hold-off 0 us.
    Sel4Holdoff0,
    /// examples/echo-in-netstack at its hold-off (100 us).
    Colocated,
    /// The Linux guest.
    Linux,
    /// An earlier revision's system.xml on its own kernel (`--baseline REV`; not in [`Which::ALL`]).
    Baseline,
}

impl Which {
    /// All of them, in run order.
    pub const ALL: [Which; 6] =
        [Which::Sel4, Which::Sel4NoIommu, Which::Sel4LazyFpu, Which::Sel4Holdoff0, Which::Colocated, Which::Linux];

    /// The name `--configs` takes.
    pub fn name(self) -> &'static str {
        match self {
            Which::Sel4 => "sel4",
            Which::Sel4NoIommu => "sel4-noiommu",
            Which::Sel4LazyFpu => "sel4-lazyfpu",
            Which::Sel4Holdoff0 => "sel4-holdoff0",
            Which::Colocated => "sel4-colocated",
            Which::Linux => "linux",
            Which::Baseline => "sel4-baseline",
        }
    }

    /// Its results.csv `system` (the hold-off is a column of its own).
    pub fn system(self) -> &'static str {
        match self {
            Which::Sel4 | Which::Sel4Holdoff0 => "sel4",
            Which::Sel4NoIommu => "sel4-noiommu",
            Which::Sel4LazyFpu => "sel4-lazyfpu",
            Which::Colocated => "sel4-colocated",
            Which::Linux => "linux",
            Which::Baseline => "sel4-baseline",
        }
    }

    /// Parses a `--configs` name.
    pub fn parse(s: &str) -> Result<Which, String> {
        if s == Which::Baseline.name() {
            return Err("sel4-baseline is not a --configs name: measure a baseline with --baseline REV".into());
        }
        Which::ALL.into_iter().find(|w| w.name() == s).ok_or_else(|| {
            format!("unknown configuration {s:?}; choose from {}", Which::ALL.map(Which::name).join(", "))
        })
    }
}

/// The hold-off a system file gives the driver (`<setvar symbol="holdoff_us" value="N"/>`).
pub fn holdoff_of(xml: &str) -> Result<u32, String> {
    let (start, end) = holdoff_setvar(xml)?;
    let tag = &xml[start..end];
    let v = attr(tag, "value").ok_or_else(|| format!("the holdoff_us setvar has no value attribute: {tag}"))?;
    v.parse().map_err(|_| format!("holdoff_us value {v:?} is not a whole number of microseconds"))
}

/// `xml` with the driver's hold-off set to `us`.
pub fn with_holdoff(xml: &str, us: u32) -> Result<String, String> {
    let (start, end) = holdoff_setvar(xml)?;
    let tag = &xml[start..end];
    let v = attr(tag, "value").ok_or_else(|| format!("the holdoff_us setvar has no value attribute: {tag}"))?;
    let old = format!("value=\"{v}\"");
    let new_tag = tag.replacen(&old, &format!("value=\"{us}\""), 1);
    Ok(format!("{}{}{}", &xml[..start], new_tag, &xml[end..]))
}

/// The byte range of the one `<setvar ... symbol="holdoff_us" .../>` element.
fn holdoff_setvar(xml: &str) -> Result<(usize, usize), String> {
    let mut found = Vec::new();
    let mut from = 0;
    while let Some(i) = xml[from..].find("<setvar") {
        let start = from + i;
        let end = xml[start..].find('>').map(|e| start + e + 1).ok_or("an unterminated <setvar element")?;
        if attr(&xml[start..end], "symbol") == Some("holdoff_us") {
            found.push((start, end));
        }
        from = end;
    }
    match found.as_slice() {
        [one] => Ok(*one),
        [] => Err("the system file has no <setvar symbol=\"holdoff_us\" .../> (which PD sets the hold-off?)".into()),
        more => Err(format!("the system file sets holdoff_us {} times; expected once", more.len())),
    }
}

fn attr<'a>(tag: &'a str, name: &str) -> Option<&'a str> {
    let key = format!(" {name}=\"");
    let i = tag.find(&key)? + key.len();
    let len = tag[i..].find('"')?;
    Some(&tag[i..i + len])
}

/// `YYYYMMDD-HHMMSS` (UTC) of `t`, for output directory names.
pub fn timestamp(t: SystemTime) -> String {
    let secs = t.duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0);
    let (days, rem) = (secs / 86_400, secs % 86_400);
    // Civil date from days since 1970-01-01 (proleptic Gregorian), by 400-year eras.
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!("{year:04}{month:02}{day:02}-{:02}{:02}{:02}", rem / 3600, rem % 3600 / 60, rem % 60)
}

/// "about 5 min left" / "about 40 s left".
pub fn time_left(d: Duration) -> String {
    let s = d.as_secs();
    if s >= 90 {
        format!("about {} min left", (s + 30) / 60)
    } else {
        format!("about {s} s left")
    }
}

/// How a configuration is named in progress lines: `sel4 holdoff=100us`, `linux`.
pub fn progress_name(k: &ConfigKey) -> String {
    match k.holdoff_us {
        Some(h) => format!("{} holdoff={h}us", k.system),
        None => k.system.clone(),
    }
}

/// A configuration ready to boot.
struct Prepared {
    which: Which,
    key: ConfigKey,
    boot: Boot,
}

enum Boot {
    /// `iommu`: the kernel has VT-d support and QEMU gets `intel-iommu` (the boot line must
    /// then say the NIC's DMA is confined; without, that it is not). `append`: the kernel
    /// command line (`lazy_fpu` or nothing). `ours`: this revision's kernel and initialiser,
    /// whose boot lines (DMA confinement, FPU scheme) are checked; a baseline's are not.
    Sel4 {
        kernel: PathBuf,
        image: PathBuf,
        ready: &'static str,
        iommu: bool,
        append: &'static str,
        ours: bool,
    },
    Linux {
        kernel: PathBuf,
        initrd: PathBuf,
    },
}

/// Estimated times, for the "time left" in progress lines.
struct Estimate {
    level: Duration,
    boot: Duration,
    latency: Duration,
}

impl Estimate {
    fn left(&self, levels_left: usize, boots_left: usize, latencies_left: usize) -> Duration {
        self.level * levels_left as u32 + self.boot * boots_left as u32 + self.latency * latencies_left as u32
    }
}

/// The seL4 kernels: the benchmark kernel (with the utilisation counters `cpu start`/`cpu stop`
/// read) with VT-d support and without.
struct Kernels {
    iommu: PathBuf,
    plain: PathBuf,
    /// Both are benchmark kernels, so images must be built for them.
    bench: bool,
}

/// Builds both benchmark kernels; if either cannot be built, the IOMMU and default kernels and
/// a note saying seL4 CPU is not measured.
fn sel4_kernels() -> Result<(Kernels, Option<String>), String> {
    match build_kernel(KernelVariant::BenchIommu).and_then(|i| build_kernel(KernelVariant::Bench).map(|p| (i, p))) {
        Ok((iommu, plain)) => Ok((Kernels { iommu, plain, bench: true }, None)),
        Err(e) => {
            let iommu = build_kernel(KernelVariant::Iommu).map_err(|e| e.to_string())?;
            let plain = build_kernel(KernelVariant::Default).map_err(|e| e.to_string())?;
            Ok((
                Kernels { iommu, plain, bench: false },
                Some(format!("a benchmark kernel did not build ({e}): seL4 CPU not measured")),
            ))
        }
    }
}

/// Runs support/eval/linux/build.sh (cached: seconds when nothing changed).
fn build_linux() -> Result<(PathBuf, PathBuf), String> {
    let script = repo_root().join("support/eval/linux/build.sh");
    let mut child = Command::new(&script)
        .current_dir(repo_root())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("the Linux guest cannot be built: cannot start {}: {e}", script.display()))?;
    let mut stderr = child.stderr.take().ok_or("no stderr pipe")?;
    let mut stdout = child.stdout.take().ok_or("no stdout pipe")?;
    let err_log = thread::spawn(move || {
        let mut s = String::new();
        let _ = stderr.read_to_string(&mut s);
        s
    });
    let out_log = thread::spawn(move || {
        let mut s = String::new();
        let _ = stdout.read_to_string(&mut s);
        s
    });
    let deadline = Instant::now() + LINUX_BUILD_LIMIT;
    let status = loop {
        match child.try_wait() {
            Ok(Some(st)) => break Some(st),
            Ok(None) if Instant::now() > deadline => {
                let _ = child.kill();
                let _ = child.wait();
                break None;
            }
            Ok(None) => thread::sleep(Duration::from_millis(200)),
            Err(e) => return Err(format!("waiting for {}: {e}", script.display())),
        }
    };
    let log = format!("{}{}", out_log.join().unwrap_or_default(), err_log.join().unwrap_or_default());
    let tail: Vec<&str> = log.lines().rev().take(8).collect::<Vec<_>>().into_iter().rev().collect();
    match status {
        Some(st) if st.success() => {}
        Some(st) => {
            return Err(format!("the Linux guest cannot be built ({} {st}):\n{}", script.display(), tail.join("\n")))
        }
        None => {
            return Err(format!("the Linux guest build took longer than {LINUX_BUILD_LIMIT:?}:\n{}", tail.join("\n")))
        }
    }
    let dir = repo_root().join("build/linux");
    let (k, i) = (dir.join("vmlinuz"), dir.join("initramfs.cpio.gz"));
    for f in [&k, &i] {
        if !f.is_file() {
            return Err(format!("support/eval/linux/build.sh succeeded but left no {}", f.display()));
        }
    }
    Ok((k, i))
}

/// Builds the image of a configuration. Hold-off 0 is system.xml with its setvar changed,
/// written into the output directory as `eval-holdoff0.xml`: its program images are plain
/// names (cargo bins, found by the image tool in build/pds), so the copy builds from anywhere,
/// and `make image` puts it in build/eval-holdoff0/image.elf (named by the file's stem).
fn prepare(which: Which, out: &Path, kernels: &Kernels) -> Result<Prepared, String> {
    let bench = kernels.bench;
    let sel4 = |system: &str, holdoff: u32, ready: &'static str| -> Result<Prepared, String> {
        eprintln!("eval: building the image of {system} (make image{})", if bench { " BENCH=1" } else { "" });
        let image = if bench { build_bench_image(system) } else { build_image(system) }
            .map_err(|e| format!("cannot build the image of {system}: {e}"))?;
        let iommu = which != Which::Sel4NoIommu;
        let kernel = if iommu { &kernels.iommu } else { &kernels.plain };
        let append = if which == Which::Sel4LazyFpu { "lazy_fpu" } else { "" };
        Ok(Prepared {
            which,
            key: ConfigKey { system: which.system().into(), holdoff_us: Some(holdoff) },
            boot: Boot::Sel4 { kernel: kernel.clone(), image, ready, iommu, append, ours: true },
        })
    };
    let read = |rel: &str| fs::read_to_string(repo_root().join(rel)).map_err(|e| format!("cannot read {rel}: {e}"));
    match which {
        // The same file and image; the kernel or QEMU differ (see `sel4` above).
        Which::Sel4 | Which::Sel4NoIommu | Which::Sel4LazyFpu => {
            let h = holdoff_of(&read("system.xml")?).map_err(|e| format!("system.xml: {e}"))?;
            sel4("system.xml", h, ECHO_READY)
        }
        Which::Sel4Holdoff0 => {
            let xml = with_holdoff(&read("system.xml")?, 0).map_err(|e| format!("system.xml: {e}"))?;
            let copy = out.join("eval-holdoff0.xml");
            fs::write(&copy, xml).map_err(|e| format!("cannot write {}: {e}", copy.display()))?;
            let rel = copy.strip_prefix(repo_root()).unwrap_or(&copy).to_string_lossy().into_owned();
            sel4(&rel, 0, ECHO_READY)
        }
        Which::Colocated => {
            let f = "examples/echo-in-netstack/echo-in-netstack.xml";
            let h = holdoff_of(&read(f)?).map_err(|e| format!("{f}: {e}"))?;
            sel4(f, h, "netstack: hosting an application on UDP port 7")
        }
        Which::Baseline => Err("the baseline is prepared by prepare_baseline (--baseline REV)".into()),
        Which::Linux => {
            eprintln!("eval: building the Linux guest (support/eval/linux/build.sh)");
            let (kernel, initrd) = build_linux()?;
            Ok(Prepared {
                which,
                key: ConfigKey { system: which.system().into(), holdoff_us: None },
                boot: Boot::Linux { kernel, initrd },
            })
        }
    }
}

/// This revision's boot lines: which FPU scheme the kernel runs, and whether the NIC's DMA is
/// confined, must be what the configuration asked for.
fn check_boot_lines(q: &mut Qemu, iommu: bool, append: &str, log: &Path) -> Result<(), String> {
    let console = |e: qemu_harness::Error| format!("{e}");
    let want = if append.contains("lazy_fpu") { "true" } else { "false" };
    let fpu = q
        .expect_regex(r"Boot config: lazy_fpu = (true|false)\r?\n", BOOT_WAIT)
        .map_err(|e| format!("no `Boot config: lazy_fpu` line (is the kernel patched?): {e}"))?;
    if !fpu.matched.contains(want) {
        return Err(format!("asked for lazy_fpu={want}, the kernel says {:?}", fpu.matched.trim_end()));
    }
    // The initialiser says before the PDs start whether the NIC's DMA is confined.
    let dma = q
        .expect_regex(r"initialiser: DMA: (confined by VT-d|NOT confined)[^\r\n]*\r?\n", BOOT_WAIT)
        .map_err(console)?;
    if dma.matched.contains("NOT confined") == iommu {
        return Err(format!(
            "booted {} VT-d, but the initialiser says {:?} (serial log: {})",
            if iommu { "with" } else { "without" },
            dma.matched.trim_end(),
            log.display()
        ));
    }
    Ok(())
}

/// `--baseline REV`: that revision's system.xml on its own benchmark kernel, at its hold-off.
fn prepare_baseline(rev: &str) -> Result<Prepared, String> {
    let b = crate::baseline::prepare(&repo_root(), rev)?;
    let h = holdoff_of(&b.system_xml).map_err(|e| format!("the baseline's system.xml: {e}"))?;
    eprintln!(
        "eval: baseline {rev} = {} ({})",
        &b.commit[..12],
        if b.iommu { "with VT-d" } else { "no IOMMU support" }
    );
    Ok(Prepared {
        which: Which::Baseline,
        key: ConfigKey { system: Which::Baseline.system().into(), holdoff_us: Some(h) },
        boot: Boot::Sel4 {
            kernel: b.kernel,
            image: b.image,
            ready: ECHO_READY,
            iommu: b.iommu,
            append: "",
            ours: false,
        },
    })
}

/// A booted guest and the generator speaking to it.
struct Booted {
    q: Qemu,
    gen: Generator,
}

fn boot(p: &Prepared, log: &Path, limit: Duration) -> Result<Booted, String> {
    let (qport, mut myport) =
        (free_udp_port().map_err(|e| e.to_string())?, free_udp_port().map_err(|e| e.to_string())?);
    while myport == qport {
        myport = free_udp_port().map_err(|e| e.to_string())?;
    }
    let qemu_addr = SocketAddrV4::new(Ipv4Addr::LOCALHOST, qport);
    let my_addr = SocketAddrV4::new(Ipv4Addr::LOCALHOST, myport);
    let nic = Nic::e1000(Netdev::Dgram { local: qemu_addr, remote: my_addr });
    let cfg = QemuConfig::new().nic(nic).timeout(limit).log_file(log);
    let cfg = match &p.boot {
        Boot::Sel4 { kernel, image, iommu, append, .. } => {
            let cfg = cfg.kernel(kernel).initrd(image).iommu(*iommu);
            if append.is_empty() {
                cfg
            } else {
                cfg.append(*append)
            }
        }
        Boot::Linux { kernel, initrd } => cfg.kernel(kernel).initrd(initrd).append(LINUX_APPEND),
    };
    let mut q = Qemu::spawn(cfg).map_err(|e| e.to_string())?;
    let console = |e: qemu_harness::Error| format!("{e}");
    match &p.boot {
        Boot::Sel4 { ready, iommu, append, ours, .. } => {
            if *ours {
                check_boot_lines(&mut q, *iommu, append, log)?;
            }
            let up =
                q.expect_regex(r"netstack: (up: [^\r\n]*|cannot start: [^\r\n]*)\r?\n", BOOT_WAIT).map_err(console)?;
            if !up.matched.contains("up: ") {
                return Err(format!("the network stack did not start: {} (serial log: {})", up.matched, log.display()));
            }
            let deadline = Instant::now() + BOOT_WAIT;
            while !q.output().contains(ready) {
                if Instant::now() > deadline || !q.is_running() {
                    return Err(format!("no {ready:?} on the console (serial log: {})", log.display()));
                }
                thread::sleep(Duration::from_millis(100));
            }
        }
        Boot::Linux { .. } => {
            let up = q.expect_regex(r"linux-guest: (up [^\r\n]*|error: [^\r\n]*)\r?\n", BOOT_WAIT).map_err(console)?;
            if !up.matched.starts_with("linux-guest: up") {
                return Err(format!("the Linux guest failed to start: {} (serial log: {})", up.matched, log.display()));
            }
        }
    }
    let link = Link::dgram(SocketAddr::V4(my_addr), SocketAddr::V4(qemu_addr), ME, GUEST_IP, 7, ARP_WAIT)
        .map_err(|e| e.to_string())?;
    let gen = Generator::new(link, PAYLOAD)?;
    Ok(Booted { q, gen })
}

/// CPU accounting over one window, per system.
enum CpuProbe {
    /// seL4's monitor (`cpu start` / `cpu stop`).
    Monitor,
    /// The Linux guest's /proc/stat, sampled before.
    Linux(Option<ProcStat>),
    /// Not available (the reason is in the notes).
    None,
}

fn monitor_start(q: &mut Qemu) -> Result<(), String> {
    q.type_line("cpu start").map_err(|e| e.to_string())?;
    let m = q
        .expect_regex(r"monitor: (cpu started|error: [^\r\n]*)\r?\n", CONSOLE_WAIT)
        .map_err(|e| format!("no answer to `cpu start`: {e}"))?;
    if m.matched.contains("error:") {
        return Err(m.matched.trim_end().to_string());
    }
    Ok(())
}

fn monitor_stop(q: &mut Qemu) -> Result<MonitorCpu, String> {
    q.type_line("cpu stop").map_err(|e| e.to_string())?;
    let m = q
        .expect_regex(r"monitor: (cpu cycles=[^\r\n]*|error: [^\r\n]*)\r?\n", CONSOLE_WAIT)
        .map_err(|e| format!("no answer to `cpu stop`: {e}"))?;
    let mut c = cpu::parse_monitor_line(&m.matched).map_err(|e| e.to_string())?;
    // The patched bench kernel's kernel-time report follows at once (support/kernel/patch-source.py).
    let kernel = q.expect_regex(r"monitor: cpu-kernel [^\r\n]*\r?\n", CONSOLE_WAIT).map_err(|e| e.to_string());
    let entries = q.expect_regex(r"monitor: cpu-entries [^\r\n]*\r?\n", CONSOLE_WAIT).map_err(|e| e.to_string());
    c.kernel = Some(
        kernel
            .and_then(|k| {
                entries.and_then(|e| cpu::parse_kernel_lines(&k.matched, &e.matched).map_err(|e| e.to_string()))
            })
            .map_err(|e| format!("no kernel-time report after `cpu stop` (is the bench kernel patched?): {e}"))?,
    );
    Ok(c)
}

/// The driver's counters now (seL4): waits out a quiet second (the network stack prints its
/// stats lines, the driver's among them, at most once a second and only after activity), sends
/// one probe so it prints a fresh line, and reads that line. `None` if none came.
fn driver_snapshot(b: &mut Booted) -> Option<crate::counters::DriverCounters> {
    const MARK: &str = "netstack: driver stats ";
    thread::sleep(Duration::from_millis(1100));
    let lines = |q: &Qemu| q.output().matches(MARK).count();
    let before = lines(&b.q);
    let _ = b.gen.latency(1, LATENCY_TIMEOUT);
    let deadline = Instant::now() + Duration::from_millis(1500);
    while lines(&b.q) == before && Instant::now() < deadline {
        thread::sleep(Duration::from_millis(50));
    }
    if lines(&b.q) == before {
        return None;
    }
    crate::counters::last(&b.q.output())
}

fn linux_sample(q: &mut Qemu) -> Result<ProcStat, String> {
    q.type_line("cpu").map_err(|e| e.to_string())?;
    let m = q
        .expect_regex(r"linux-guest: (cpu [^\r\n]*|error: [^\r\n]*)\r?\n", CONSOLE_WAIT)
        .map_err(|e| format!("no answer to `cpu`: {e}"))?;
    cpu::parse_linux_line(&m.matched).map_err(|e| e.to_string())
}

/// Runs the whole experiment, writing into `opts.out`; returns the tables (also written) and
/// whether every configuration was measured.
pub fn run(opts: &Options) -> Result<(Tables, bool), String> {
    let t_start = Instant::now();
    fs::create_dir_all(&opts.out).map_err(|e| format!("cannot create {}: {e}", opts.out.display()))?;
    let say = |s: String| eprintln!("eval: {s}");
    let mut tables = Tables::default();
    let mut complete = true;

    say(format!(
        "building {} (images, kernel, Linux guest; cached when nothing changed)",
        opts.which.iter().map(|w| w.name()).collect::<Vec<_>>().join(", ")
    ));
    let needs_sel4 = opts.which.iter().any(|w| *w != Which::Linux);
    let kernel = if needs_sel4 {
        let (k, why) = sel4_kernels()?;
        if let Some(why) = why {
            tables.notes.push(why);
        }
        k
    } else {
        Kernels { iommu: PathBuf::new(), plain: PathBuf::new(), bench: false }
    };
    let mut prepared = Vec::new();
    for w in &opts.which {
        match prepare(*w, &opts.out, &kernel) {
            Ok(p) => prepared.push(p),
            Err(e) => {
                say(format!("{}: not measured: {e}", w.name()));
                tables.notes.push(format!("{}: not measured: {}", w.name(), e.replace('\n', " / ")));
                complete = false;
            }
        }
    }
    if let Some(rev) = &opts.baseline {
        match prepare_baseline(rev) {
            Ok(p) => {
                // Measured right after this revision's `sel4`, so the two are close in time.
                let at = prepared.iter().position(|q: &Prepared| q.which == Which::Sel4).map_or(0, |i| i + 1);
                tables
                    .notes
                    .push(format!("sel4-baseline is {rev}: system.xml of an earlier revision on its own kernel"));
                prepared.insert(at, p);
            }
            Err(e) => {
                say(format!("sel4-baseline: not measured: {e}"));
                tables.notes.push(format!("sel4-baseline ({rev}): not measured: {}", e.replace('\n', " / ")));
                complete = false;
            }
        }
    }
    say(format!("built in {:.0} s", t_start.elapsed().as_secs_f64()));

    // seL4 levels also take a driver-counter snapshot after them (about 2.5 s).
    let level_time = Duration::from_secs_f64(opts.seconds_per_level) + opts.drain + Duration::from_millis(2600);
    let est = Estimate {
        level: level_time,
        boot: Duration::from_secs(15),
        latency: LATENCY_TIMEOUT.min(Duration::from_millis(5)) * opts.latency_samples as u32 + Duration::from_secs(1),
    };
    let per_config = opts.levels.len() + usize::from(opts.latency_samples > 0);
    let total = prepared.len() * per_config;
    let mut step = 0;
    let limit = BOOT_WAIT
        + level_time * opts.levels.len() as u32
        + CONSOLE_WAIT * 2 * opts.levels.len() as u32
        + LATENCY_TIMEOUT * opts.latency_samples as u32
        + Duration::from_secs(60);

    for (ci, p) in prepared.iter().enumerate() {
        let name = progress_name(&p.key);
        let configs_left = prepared.len() - ci;
        say(format!(
            "booting {name} ({})",
            time_left(est.left(opts.levels.len() * configs_left, configs_left, configs_left))
        ));
        let log = opts.out.join(format!("{}.serial.log", p.which.name()));
        let mut b = match boot(p, &log, limit) {
            Ok(b) => b,
            Err(e) => {
                say(format!("{name}: not measured: {e}"));
                tables.notes.push(format!("{}: not measured: {}", p.key.label(), e.replace('\n', " / ")));
                complete = false;
                step += per_config;
                continue;
            }
        };
        let mut probe_ok = true;
        let sel4 = matches!(p.boot, Boot::Sel4 { .. });
        if sel4 {
            if let Err(e) = monitor_start(&mut b.q) {
                tables.notes.push(format!("{}: CPU not measured: {e}", p.key.label()));
                probe_ok = false;
            }
        }
        let mut counters = if sel4 { driver_snapshot(&mut b) } else { None };
        for (li, &mbps) in opts.levels.iter().enumerate() {
            step += 1;
            let left = est.left(opts.levels.len() * configs_left - li, configs_left - 1, configs_left);
            say(format!("[{step}/{total}] {name} {mbps} Mb/s ({})", time_left(left)));
            let probe = match (&p.boot, probe_ok) {
                (_, false) => CpuProbe::None,
                (Boot::Sel4 { .. }, true) => match monitor_start(&mut b.q) {
                    Ok(()) => CpuProbe::Monitor,
                    Err(e) => {
                        tables.notes.push(format!("{} at {mbps} Mb/s: CPU not measured: {e}", p.key.label()));
                        CpuProbe::None
                    }
                },
                (Boot::Linux { .. }, true) => match linux_sample(&mut b.q) {
                    Ok(s) => CpuProbe::Linux(Some(s)),
                    Err(e) => {
                        tables.notes.push(format!("linux at {mbps} Mb/s: CPU not measured: {e}"));
                        CpuProbe::Linux(None)
                    }
                },
            };
            let r = b.gen.level(mbps, Duration::from_secs_f64(opts.seconds_per_level), opts.drain, opts.batch);
            let cpu_pct = match probe {
                CpuProbe::None | CpuProbe::Linux(None) => None,
                CpuProbe::Monitor => match monitor_stop(&mut b.q) {
                    Ok(c) => Some(c.busy_pct),
                    Err(e) => {
                        tables.notes.push(format!("{} at {mbps} Mb/s: CPU not measured: {e}", p.key.label()));
                        None
                    }
                },
                CpuProbe::Linux(Some(before)) => {
                    match linux_sample(&mut b.q).and_then(|after| cpu::linux_busy_pct(&before, &after)) {
                        Ok(c) => Some(c),
                        Err(e) => {
                            tables.notes.push(format!("linux at {mbps} Mb/s: CPU not measured: {e}"));
                            None
                        }
                    }
                }
            };
            if sel4 {
                let after = driver_snapshot(&mut b);
                match counters.zip(after) {
                    Some((x, y)) => tables.counters.push(CounterRow {
                        system: p.key.system.clone(),
                        holdoff_us: p.key.holdoff_us,
                        offered_mbps: mbps,
                        seconds: opts.seconds_per_level + opts.drain.as_secs_f64(),
                        rx_packets: y.rx_packets.saturating_sub(x.rx_packets),
                        irqs: y.irqs.saturating_sub(x.irqs),
                        notify_sent: y.notify_sent.saturating_sub(x.notify_sent),
                        notify_suppressed: y.notify_suppressed.saturating_sub(x.notify_suppressed),
                    }),
                    None => tables.notes.push(format!(
                        "{} at {mbps} Mb/s: driver counters not read (no fresh `driver stats` line around the level)",
                        p.key.label()
                    )),
                }
                counters = after;
            }
            if r.corrupt > 0 || r.duplicates > 0 || r.send_errors > 0 {
                tables.notes.push(format!(
                    "{} at {mbps} Mb/s: {} corrupt and {} duplicate echoes, {} sends refused by the host",
                    p.key.label(),
                    r.corrupt,
                    r.duplicates,
                    r.send_errors
                ));
            }
            say(format!(
                "    sent {} echoed {} -> {:.1} Mb/s, loss {:.1}%, CPU {}",
                r.sent,
                r.echoed,
                r.achieved_mbps,
                r.loss_pct,
                cpu_pct.map(|c| format!("{c:.1}%")).unwrap_or_else(|| "-".into())
            ));
            tables.results.push(Row {
                system: p.key.system.clone(),
                holdoff_us: p.key.holdoff_us,
                offered_mbps: mbps,
                sent: r.sent,
                echoed: r.echoed,
                achieved_mbps: r.achieved_mbps,
                loss_pct: r.loss_pct,
                cpu_pct,
            });
        }
        // Experiment (a): the execution profile of the default system at 80% of the
        // saturation this run measured (its best achieved throughput).
        if p.which == Which::Sel4 && probe_ok {
            let peak = tables
                .results
                .iter()
                .filter(|r| r.system == p.key.system && r.holdoff_us == p.key.holdoff_us)
                .map(|r| r.achieved_mbps)
                .fold(0.0, f64::max);
            let load = (0.8 * peak).max(1.0);
            say(format!("{name}: execution profile at {load:.0} Mb/s (80% of the {peak:.0} Mb/s peak)"));
            // The driver's counters before the window: the stack prints them at most once a
            // second after activity, so the last line so far stands for the window's start.
            let before = b.q.output();
            let counters_before = crate::counters::last(&before);
            let stack_before = crate::counters::last_fields_with(&before, "netstack: stats ", "copies_from_client");
            let echo_before = crate::counters::last_fields_with(&before, "echo: stats ", "bytes_copied");
            drop(before);
            let window = monitor_start(&mut b.q).and_then(|()| {
                let r = b.gen.level(load, Duration::from_secs_f64(opts.seconds_per_level), opts.drain, opts.batch);
                monitor_stop(&mut b.q).map(|c| (r, c))
            });
            match window {
                Ok((r, c)) => {
                    tables.profile = Some(cpu::profile(&c));
                    if let Some(line) = c.kernel.as_ref().and_then(|k| cpu::entries_per_datagram(k, r.echoed)) {
                        tables.notes.push(format!("profile: {line}"));
                    }
                    // One more stats line for the window's end (it comes within a second).
                    thread::sleep(Duration::from_millis(1500));
                    let output = b.q.output();
                    let after = crate::counters::last(&output);
                    let stack_after =
                        crate::counters::last_fields_with(&output, "netstack: stats ", "copies_from_client");
                    let echo_after = crate::counters::last_fields_with(&output, "echo: stats ", "bytes_copied");
                    let echo = echo_before.as_deref().zip(echo_after.as_deref());
                    match stack_before.as_deref().zip(stack_after.as_deref()) {
                        Some(ns) => match crate::counters::copies_per_datagram(ns, echo, PAYLOAD) {
                            Some(line) => tables.notes.push(format!("profile: {line}")),
                            None => tables.notes.push(
                                "profile: copies not counted (no datagram between the network stack's stats lines)"
                                    .into(),
                            ),
                        },
                        None => tables.notes.push(
                            "profile: copies not counted (no network-stack stats lines around the window)".into(),
                        ),
                    }
                    match counters_before.zip(after).and_then(|(x, y)| crate::counters::per_packet(x, y)) {
                        Some(line) => tables.notes.push(format!("profile: {line}")),
                        None => tables.notes.push("profile: no driver counters around the window".into()),
                    }
                    tables.notes.push(format!(
                        "profile: {} at {load:.0} Mb/s offered (80% of the measured peak), achieved {:.1} Mb/s, busy {:.1}%",
                        p.key.label(), r.achieved_mbps, c.busy_pct
                    ));
                }
                Err(e) => tables.notes.push(format!("profile: not measured: {e}")),
            }
        }
        if opts.latency_samples > 0 {
            step += 1;
            say(format!(
                "[{step}/{total}] {name} latency, {} samples closed loop ({})",
                opts.latency_samples,
                time_left(est.left(opts.levels.len() * (configs_left - 1), configs_left - 1, configs_left))
            ));
            // Let queues left full by the last level drain first.
            thread::sleep(Duration::from_secs(1));
            let l = b.gen.latency(opts.latency_samples, LATENCY_TIMEOUT);
            say(format!("    p50 {} us, p99 {} us, lost {}", l.p50_us, l.p99_us, l.lost));
            tables.latency.push(LatencyRow {
                system: p.key.system.clone(),
                holdoff_us: p.key.holdoff_us,
                samples: l.samples,
                lost: l.lost,
                p50_us: l.p50_us,
                p90_us: l.p90_us,
                p99_us: l.p99_us,
                p999_us: l.p999_us,
                max_us: l.max_us,
            });
        }
        if b.q.output().contains("faulted") {
            tables.notes.push(format!("{}: a PD faulted during the run (see {})", p.key.label(), log.display()));
        }
        drop(b);
        crate::results::write_dir(&opts.out, &tables)?;
    }
    crate::results::write_dir(&opts.out, &tables)?;
    say(format!("measured in {:.0} s", t_start.elapsed().as_secs_f64()));
    Ok((tables, complete))
}

/// Points `build/eval/latest` (beside `out`) at `out`.
pub fn link_latest(out: &Path) -> Result<PathBuf, String> {
    let parent = out.parent().ok_or_else(|| format!("{} has no parent directory", out.display()))?;
    let latest = parent.join("latest");
    if fs::symlink_metadata(&latest).is_ok() {
        fs::remove_file(&latest).map_err(|e| format!("cannot replace {}: {e}", latest.display()))?;
    }
    let target = out.file_name().map(PathBuf::from).unwrap_or_else(|| out.to_path_buf());
    std::os::unix::fs::symlink(&target, &latest)
        .map_err(|e| format!("cannot link {} -> {}: {e}", latest.display(), target.display()))?;
    Ok(latest)
}
