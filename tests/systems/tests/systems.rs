//! System tests of the whole boot path (issue 3): `make image` builds the kernel, the
//! initialiser and the PDs a system file names and packs them; QEMU (TCG) boots the result and
//! we read what the PDs and the monitor print.
//!
//! - the example system (examples/hello) exchanges a PPC, notifications and data through its
//!   shared region, and `make run` itself boots it without a terminal and stops with QEMU;
//! - a PD writing to an unmapped address, and one that panics, are reported by name (kind,
//!   ip, address; the panic with its message and location) and the other PDs go on; a stack
//!   overflow is reported as one; an ungranted channel is an error value in the PD, not a
//!   fault (tests/systems/*.xml);
//! - a bad system file is rejected before QEMU starts;
//! - the GRUB ISO of `make iso` boots from `-cdrom`.
//!
//! Every QEMU run has an overall limit and is killed on drop. Image builds are serialised
//! (they share build/pds and cargo's lock anyway).

mod common;

use std::ffi::OsStr;
use std::io::{BufRead, BufReader, Read};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use qemu_harness::{build_image, build_kernel, build_lock, repo_root, KernelVariant, Netdev, Nic, Qemu, QemuConfig};

/// Per-wait limit (TCG boots the example in a few seconds; CI machines are slower).
const WAIT: Duration = Duration::from_secs(60);
/// Hard limit on one QEMU run.
const RUN_LIMIT: Duration = Duration::from_secs(120);

/// Runs `make <target> SYSTEM=<system>` in the repository; returns (success, stdout+stderr).
fn make(target: &str, system: &str) -> (bool, String) {
    let _guard = build_lock();
    let out = Command::new("make")
        .arg("--no-print-directory")
        .arg(target)
        .arg(format!("SYSTEM={system}"))
        .current_dir(repo_root())
        .stdin(Stdio::null())
        .output()
        .expect("`make` must be installed (support/deps.sh installs it)");
    let mut text = String::from_utf8_lossy(&out.stdout).into_owned();
    text.push_str(&String::from_utf8_lossy(&out.stderr));
    (out.status.success(), text)
}

/// `make image SYSTEM=<system>` -> build/<stem>/image.elf.
fn image(system: &str) -> PathBuf {
    build_image(system).unwrap_or_else(|e| panic!("{e}"))
}

/// Boots kernel + image on the same machine `make run` uses (q35, Haswell, e1000 on net0).
fn boot(image: &Path) -> Qemu {
    let kernel = build_kernel(KernelVariant::Iommu).unwrap_or_else(|e| panic!("{e}"));
    let cfg = QemuConfig::new()
        .iommu(true)
        .kernel(kernel)
        .initrd(image)
        .nic(Nic::e1000(Netdev::User { udp_forwards: vec![] }))
        .timeout(RUN_LIMIT);
    Qemu::spawn(cfg).unwrap_or_else(|e| panic!("{e}"))
}

fn ok<T>(r: qemu_harness::Result<T>) -> T {
    r.unwrap_or_else(|e| panic!("{e}"))
}

/// The example's lines, in an order the priorities fix: the server (150) and client (100)
/// finish `init` before the ticker (50) runs at all.
const HELLO_LINES: &[&str] = &[
    "server: up; serving PPCs on channel 1; shared region of 0x1000 bytes at 0x20000000",
    "client: up",
    "client: wrote \"hello from the client\" to the shared region; calling the server",
    "server: PPC on channel 1: read 21 bytes from the shared region: \"hello from the client\"",
    "client: PPC reply: server read 21 bytes, checksum",
    "client: shared region now reads \"HELLO FROM THE CLIENT\"",
    "client: round 1 of 3: notifying the ticker",
    "ticker: up; waiting for the client on channel 1",
    "ticker: notified by the client (1); notifying back",
    "client: the ticker answered round 1",
    "client: round 2 of 3: notifying the ticker",
    "ticker: notified by the client (2); notifying back",
    "client: the ticker answered round 2",
    "client: round 3 of 3: notifying the ticker",
    "ticker: notified by the client (3); notifying back",
    "client: the ticker answered round 3",
    "client: all 3 notification round trips done; idle",
];

fn expect_hello(q: &mut Qemu) {
    for line in HELLO_LINES {
        ok(q.expect(line, WAIT));
    }
}

#[test]
fn example_system_exchanges_ppc_notifications_and_shared_data() {
    let img = image("examples/hello/hello.xml");
    let mut q = boot(&img);
    let started = Instant::now();
    expect_hello(&mut q);
    let text = q.output();
    assert!(text.contains("(matches)"), "the server's checksum must match the client's:\n{text}");
    assert!(!text.contains("MISMATCH") && !text.contains("failed"), "{text}");
    eprintln!("hello example done {:?} after QEMU started", started.elapsed());
    // It stays up, idle, without faults.
    thread::sleep(Duration::from_secs(2));
    assert!(q.is_running(), "QEMU stopped:\n{}", q.output());
    let text = q.output();
    assert!(!text.contains("faulted"), "the example must run cleanly:\n{text}");
    assert!(!text.contains("panicked"), "{text}");
}

#[test]
fn unmapped_write_and_panic_are_reported_by_name_and_the_others_go_on() {
    let img = image("tests/systems/fault.xml");
    let mut q = boot(&img);
    ok(q.expect("faulter: writing to unmapped address 0x10000000", WAIT));
    // Name, kind, address and ip, in the monitor's report.
    let m = ok(q.expect_regex(
        r"PD 'faulter' faulted: VM fault \(write\) at address 0x10000000 ip 0x40[0-9a-f]+[^\n]*\n",
        WAIT,
    ));
    assert!(m.matched.contains("unmapped"), "the hint should say unmapped: {}", m.matched);
    // A panic: the runtime prints where and why, then faults on purpose for the monitor.
    ok(q.expect("panicker: about to panic", WAIT));
    ok(q.expect_regex(
        r"panicker: panicked at tests/systems/pds/panicker/src/main\.rs:\d+: deliberate panic, answer 42",
        WAIT,
    ));
    ok(q.expect_regex(r"PD 'panicker' faulted: user exception 6[^\n]*panic", WAIT));
    // After the faults: the lower-priority PDs run and talk to each other.
    ok(q.expect("witness: up", WAIT));
    ok(q.expect("ungranted: up", WAIT));
    ok(q.expect("witness: notified on {1}", WAIT));
    ok(q.expect("witness: PPC on channel 2: label 7 words [1, 2, 3, 4, 5, 6]", WAIT));
    ok(q.expect("ungranted: pp_call witness: ok 42", WAIT));
    ok(q.expect("ungranted: done; idle", WAIT));
    assert!(!q.output().contains("still running after the write"), "{}", q.output());
}

#[test]
fn stack_overflow_is_reported_as_such() {
    let img = image("tests/systems/overflow.xml");
    let mut q = boot(&img);
    ok(q.expect("overflow: recursing until the stack runs out", WAIT));
    let m = ok(q.expect_regex(r"PD 'overflow' faulted: VM fault \(write\)[^\n]*\n", WAIT));
    assert!(m.matched.contains("stack overflow"), "not reported as a stack overflow: {}", m.matched);
    ok(q.expect("witness: up", WAIT));
    ok(q.expect("ungranted: done; idle", WAIT));
    assert!(!q.output().contains("the stack guard did not fire"), "{}", q.output());
}

#[test]
fn ungranted_channel_use_is_an_error_value_not_a_fault() {
    let img = image("tests/systems/ungranted.xml");
    let mut q = boot(&img);
    ok(q.expect("ungranted: up; trying what the system file does not grant", WAIT));
    ok(q.expect("ungranted: notify channel 5: error: notify not granted: channel 5 is not granted", WAIT));
    ok(q.expect("ungranted: pp_call channel 1: error: pp_call not granted: channel 1", WAIT));
    ok(q.expect("ungranted: irq_ack 3: error: irq_ack not granted: irq 3", WAIT));
    ok(q.expect("ungranted: ioport range 1: error: I/O port access not granted: ioport 1", WAIT));
    ok(q.expect(
        "ungranted: in8 port 0x81 (outside range 0): error: I/O port 0x81 (1-byte access) is outside ioport 0",
        WAIT,
    ));
    ok(q.expect("ungranted: out8 port 0x80 (granted): ok ()", WAIT));
    ok(q.expect("ungranted: notify witness: ok ()", WAIT));
    ok(q.expect("ungranted: pp_call witness: ok 42", WAIT));
    ok(q.expect("ungranted: done; idle", WAIT));
    let text = q.output();
    assert!(!text.contains("faulted"), "no PD may fault:\n{text}");
}

#[test]
fn bad_system_file_is_rejected_before_qemu_starts() {
    let (ok, log) = make("run", "tests/systems/bad.xml");
    assert!(!ok, "make run must fail on a bad system file:\n{log}");
    assert!(
        log.contains("tests/systems/bad.xml:16:33: error:") && log.contains("strictly higher priority"),
        "the error must name file:line:col and the rule:\n{log}"
    );
    assert!(!log.contains("run: booting"), "QEMU must not start:\n{log}");
    assert!(!log.contains("image: kernel"), "nothing may be built after the file is rejected:\n{log}");
}

#[test]
fn make_run_boots_the_example_without_a_terminal_and_ends_with_qemu() {
    // Build first (serialised with the other tests); `make run` then only re-checks.
    image("examples/hello/hello.xml");
    let _guard = build_lock();
    // A free host port for the default user-networking forward, so parallel runs never clash.
    let port = qemu_harness::free_udp_port().unwrap_or_else(|e| panic!("{e}"));
    let mut child = Command::new("make")
        .args(["--no-print-directory", "run", "SYSTEM=examples/hello/hello.xml"])
        .arg(format!("ECHO_PORT={port}"))
        .current_dir(repo_root())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0)
        .spawn()
        .expect("`make` must be installed");
    let pgid = child.id() as i32;
    // Whatever happens below, the whole group (make, run.sh's QEMU) is gone afterwards.
    struct KillGroup(i32);
    impl Drop for KillGroup {
        fn drop(&mut self) {
            // SAFETY: kill(2) with a negative pid signals our own child's process group.
            unsafe { libc::kill(-self.0, libc::SIGKILL) };
        }
    }
    let _kill = KillGroup(pgid);

    let (tx, rx) = mpsc::channel::<String>();
    let out = child.stdout.take().expect("piped");
    let tx2 = tx.clone();
    thread::spawn(move || {
        for line in BufReader::new(out).lines().map_while(Result::ok) {
            let _ = tx2.send(line);
        }
    });
    let mut err = child.stderr.take().expect("piped");
    let err_thread = thread::spawn(move || {
        let mut s = String::new();
        let _ = err.read_to_string(&mut s);
        s
    });
    drop(tx);
    let deadline = Instant::now() + RUN_LIMIT;
    let mut seen = String::new();
    let last = HELLO_LINES[HELLO_LINES.len() - 1];
    while !seen.contains(last) {
        let left = deadline.saturating_duration_since(Instant::now());
        match rx.recv_timeout(left) {
            Ok(line) => {
                seen.push_str(&line);
                seen.push('\n');
            }
            Err(_) => panic!("`make run` did not boot the example within {RUN_LIMIT:?}:\n{seen}"),
        }
    }
    for line in HELLO_LINES {
        assert!(seen.contains(line), "missing {line:?} in:\n{seen}");
    }
    // Stopping QEMU ends `make run`: SIGTERM to the group, then make must exit promptly.
    // SAFETY: signals our own child's process group.
    unsafe { libc::kill(-pgid, libc::SIGTERM) };
    let stop = Instant::now();
    loop {
        if let Some(status) = child.try_wait().expect("wait for make") {
            assert!(!status.success(), "make run should report QEMU's termination");
            break;
        }
        assert!(stop.elapsed() < Duration::from_secs(20), "make run did not end after QEMU was terminated");
        thread::sleep(Duration::from_millis(50));
    }
    let stderr = err_thread.join().unwrap_or_default();
    assert!(stderr.contains("run: booting build/hello/image.elf under QEMU"), "{stderr}");
    assert!(stderr.contains("stdin is not a terminal"), "run.sh must say how QEMU is stopped: {stderr}");
    assert!(stderr.contains(&format!("hostfwd=udp::{port}-:7")), "ECHO_PORT must reach the netdev: {stderr}");
}

#[test]
fn iso_boots_the_example_from_cdrom() {
    let (ok_, log) = make("iso", "examples/hello/hello.xml");
    assert!(ok_, "make iso failed:\n{log}");
    let iso = repo_root().join("build/hello/image.iso");
    assert!(iso.is_file(), "{} missing:\n{log}", iso.display());
    let cfg = QemuConfig::new().cdrom(&iso).nic(Nic::e1000(Netdev::User { udp_forwards: vec![] })).timeout(RUN_LIMIT);
    let mut q = ok(Qemu::spawn(cfg));
    expect_hello(&mut q);
}

/// `make iso` of the default system -> build/system/image.iso.
fn default_iso() -> PathBuf {
    let (ok_, log) = make("iso", "system.xml");
    assert!(ok_, "make iso failed:\n{log}");
    repo_root().join("build/system/image.iso")
}

/// The ISO as an ordinary PC boots it: q35 and pc, with QEMU's standard VGA adapter (GRUB then
/// passes VBE information, which seL4 5.0 misread on x86_64 until our kernel patch) and
/// without; each reaches `system up` and answers a UDP echo through user networking.
#[test]
fn iso_boots_the_default_system_with_and_without_a_display_adapter() {
    let iso = default_iso();
    for machine in ["q35", "pc"] {
        for vga in ["std", "none"] {
            let port = qemu_harness::free_udp_port().unwrap_or_else(|e| panic!("{e}"));
            // QEMU's pc has no VT-d: there the IOMMU kernel finds none and says DMA is not
            // confined; on q35 the ISO's kernel confines the NIC.
            let cfg = QemuConfig::new()
                .cdrom(&iso)
                .iommu(machine == "q35")
                .machine(machine)
                .vga(vga)
                .nic(Nic::e1000(Netdev::User { udp_forwards: vec![(port, 7)] }))
                .timeout(RUN_LIMIT);
            let mut q = ok(Qemu::spawn(cfg));
            let dma = if machine == "q35" { "DMA: confined by VT-d" } else { "DMA: NOT confined (no IOMMU found)" };
            ok(q.expect(dma, WAIT));
            ok(q.expect("initialiser: system up", WAIT));
            ok(q.expect("echo: up", WAIT));
            let answered = common::udp_echo_answers(port, b"iso echo");
            assert!(answered, "{machine} -vga {vga}: no echo\n{}", q.output());
        }
    }
}

/// Issue 13: everything printed (the kernel's boot log, the initialiser's reports, PD lines)
/// is on the VGA text screen too, for machines without a serial port. The ISO boots on q35
/// and pc with QEMU's standard VGA; once the system is up and quiet we read the text buffer at
/// 0xb8000 through QEMU's monitor: it must show the monitor's `console ready` line and the echo PD's `echo: up`, and
/// its rows must be consecutive rows of the serial output laid out as the kernel lays it out
/// (80 columns, long lines wrapped). The unpatched kernel leaves GRUB's screen there.
#[test]
fn the_screen_shows_the_boot_log_the_monitor_and_the_pds() {
    let iso = default_iso();
    for machine in ["q35", "pc"] {
        let cfg = QemuConfig::new()
            .cdrom(&iso)
            .machine(machine)
            .vga("std")
            .monitor(true)
            .nic(Nic::e1000(Netdev::User { udp_forwards: vec![] }))
            .timeout(RUN_LIMIT);
        let mut q = ok(Qemu::spawn(cfg));
        ok(q.expect("initialiser: system up", WAIT));
        ok(q.expect("echo: up", WAIT));
        // Wait for a second without output, so no line is being written while we look.
        let mut seen = q.output().len();
        let quiet_by = Instant::now() + WAIT;
        loop {
            thread::sleep(Duration::from_secs(1));
            let now = q.output().len();
            if now == seen || Instant::now() > quiet_by {
                break;
            }
            seen = now;
        }
        let screen = ok(q.vga_text());
        let serial = q.output();
        let shown = screen.iter().map(|r| format!("{r:<80}")).collect::<String>();
        eprintln!("the VGA screen:\n{}", screen.join("\n"));
        let dump = format!("{machine}, screen:\n{}\n\nserial:\n{serial}", screen.join("\n"));
        // The monitor's line (the one after `initialiser: system up`, which the PDs' start-up
        // lines may scroll off the 25 rows).
        assert!(shown.contains("monitor: console ready on COM1"), "the monitor's line is not on the screen\n{dump}");
        assert!(shown.contains("echo: up"), "the echo PD's line is not on the screen\n{dump}");
        let last = screen.iter().rposition(|r| !r.is_empty()).expect("a blank screen");
        let first = screen.iter().position(|r| !r.is_empty()).unwrap_or(0);
        let kernel_from = serial.find("Boot config: parsing cmdline").expect("the kernel's first line");
        let rows = screen_rows(&serial.as_bytes()[kernel_from..]);
        let want = &screen[first..=last];
        assert!(
            rows.windows(want.len()).any(|w| w == want),
            "the screen is not the tail of the serial output as the kernel lays it out\n{dump}"
        );
    }
}

/// The rows the kernel's VGA output (support/kernel/patch-source.py) makes of `out`: 80
/// columns, `\n` a new row, `\r` back to column 0, a tab to the next multiple of 8, long
/// lines wrapped, one '?' per non-ASCII (UTF-8) character, other control characters
/// dropped; every row ever written, trailing blanks removed.
fn screen_rows(out: &[u8]) -> Vec<String> {
    const COLS: usize = 80;
    let mut rows: Vec<Vec<u8>> = vec![vec![b' '; COLS]];
    let mut col = 0;
    for &c in out {
        match c {
            b'\n' => {
                rows.push(vec![b' '; COLS]);
                col = 0;
            }
            b'\r' => col = 0,
            b'\t' => col = ((col | 7) + 1).min(COLS),
            8 => col = col.saturating_sub(1),
            0x80..=0xbf => {}
            _ => {
                let c = if c >= 0xc0 { b'?' } else { c };
                if c < 0x20 || c == 0x7f {
                    continue;
                }
                if col >= COLS {
                    rows.push(vec![b' '; COLS]);
                    col = 0;
                }
                if let Some(row) = rows.last_mut() {
                    row[col] = c;
                }
                col += 1;
            }
        }
    }
    rows.into_iter().map(|r| String::from_utf8_lossy(&r).trim_end().to_string()).collect()
}

#[test]
fn screen_rows_wrap_at_80_columns_and_follow_the_control_characters() {
    let long = "x".repeat(85);
    let rows = screen_rows(format!("a\tb\n\r{long}\nabc\rX\n\u{b5}s\x1b[0m\n").as_bytes());
    assert_eq!(rows[0], "a       b");
    assert_eq!(rows[1], "x".repeat(80));
    assert_eq!(rows[2], "xxxxx");
    assert_eq!(rows[3], "Xbc");
    assert_eq!(rows[4], "?s[0m");
    assert_eq!(rows.len(), 6);
    // Exactly 80 columns then a newline: no blank row in between.
    assert_eq!(screen_rows(format!("{}\nz", "y".repeat(80)).as_bytes()), vec!["y".repeat(80), "z".into()]);
}

#[test]
fn run_sh_and_the_harness_boot_the_same_machine() {
    // `make run` uses support/qemu/run.sh, these tests use the harness: same machine, same NIC.
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR"));
    let (k, i) = (dir.join("dry-kernel.elf"), dir.join("dry-image.elf"));
    std::fs::write(&k, b"").unwrap();
    std::fs::write(&i, b"").unwrap();
    let script = common::dry_run_words(&common::run_sh_dry(
        &["--kernel".as_ref(), k.as_os_str(), "--image".as_ref(), i.as_os_str()],
        &[],
    ));
    let harness = common::harness_words(
        QemuConfig::new().iommu(true).kernel(&k).initrd(&i).nic(Nic::e1000(Netdev::Spec("user,id=net0".into()))),
    );
    let pair = common::has_pair;
    for (flag, value) in [
        ("-accel", "tcg"),
        ("-machine", "q35,kernel-irqchip=split"),
        ("-device", "intel-iommu"),
        ("-cpu", "Haswell"),
        ("-m", "512"),
        ("-netdev", "user,id=net0"),
        ("-device", "e1000,netdev=net0,romfile="),
        ("-serial", "stdio"),
        ("-monitor", "none"),
    ] {
        assert!(pair(&script, flag, value), "run.sh lacks {flag} {value}: {script:?}");
        assert!(pair(&harness, flag, value), "harness lacks {flag} {value}: {harness:?}");
    }
    for v in [&script, &harness] {
        assert!(v.contains(&"-no-reboot".to_string()), "{v:?}");
        assert!(!v.iter().any(|a| a.contains("kvm")), "never KVM: {v:?}");
    }
}

/// `make run QEMU_NIC=e1000e` gives QEMU the 82574L (what the harness's `Nic::e1000e` gives the
/// tests); an unknown model is refused with a clear error before QEMU starts.
#[test]
fn run_sh_takes_the_nic_model_from_qemu_nic() {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR"));
    let (k, i) = (dir.join("dry-nic-kernel.elf"), dir.join("dry-nic-image.elf"));
    std::fs::write(&k, b"").unwrap();
    std::fs::write(&i, b"").unwrap();
    let run = |nic: &str| {
        common::run_sh_dry(
            &[OsStr::new("--kernel"), k.as_os_str(), OsStr::new("--image"), i.as_os_str()],
            &[("QEMU_NIC", nic)],
        )
    };
    let script = common::dry_run_words(&run("e1000e"));
    let harness =
        common::harness_words(QemuConfig::new().nic(Nic::e1000e(Netdev::Spec("user,id=net0".into()))).kernel(&k));
    for v in [&script, &harness] {
        assert!(v.windows(2).any(|w| w[0] == "-device" && w[1] == "e1000e,netdev=net0,romfile="), "{v:?}");
    }
    let bad = run("rtl8139");
    assert_eq!(bad.status.code(), Some(2));
    let err = String::from_utf8_lossy(&bad.stderr);
    assert!(err.contains("QEMU_NIC='rtl8139'") && err.contains("e1000e (82574L)"), "{err}");
}

/// The kernel keeps each PD's FPU/SSE state across preemption, with our eager FPU switching
/// (the default) and with seL4's lazy switching (`lazy_fpu` on the kernel command line): two
/// PDs at one priority repeat SSE computations the timer interrupts, and each repetition's
/// result must be bit-identical (tests/systems/pds/fpu-check).
#[test]
fn fpu_state_survives_preemption_eager_and_lazy() {
    let img = image("tests/systems/fpu.xml");
    let kernel = build_kernel(KernelVariant::Iommu).unwrap_or_else(|e| panic!("{e}"));
    for append in ["", "lazy_fpu"] {
        let mut cfg = QemuConfig::new().iommu(true).kernel(&kernel).initrd(&img).timeout(RUN_LIMIT);
        if !append.is_empty() {
            cfg = cfg.append(append);
        }
        let mut q = Qemu::spawn(cfg).unwrap_or_else(|e| panic!("{e}"));
        ok(q.expect(if append.is_empty() { "lazy_fpu = false" } else { "lazy_fpu = true" }, WAIT));
        // Both results, in whichever order they come.
        let deadline = Instant::now() + WAIT;
        let done = |t: &str| t.matches("fpu-check: 12 runs").count() + t.matches("FPU STATE LOST").count();
        while done(&q.output()) < 2 && Instant::now() < deadline && q.is_running() {
            thread::sleep(Duration::from_millis(100));
        }
        let text = q.output();
        assert_eq!(text.matches("all equal").count(), 2, "{append:?}: both PDs' results exact:\n{text}");
        // Interleaved by the timer, not one after the other: both started before either ended.
        let at = |needle: &str| text.find(needle).unwrap_or_else(|| panic!("no {needle:?} in\n{text}"));
        let last_start = at("alpha: fpu-check: started").max(at("beta: fpu-check: started"));
        let first_end = at("alpha: fpu-check: 12 runs").min(at("beta: fpu-check: 12 runs"));
        assert!(last_start < first_end, "the two PDs must share the CPU: {text}");
        // Their constants differ, so do their results.
        let results: Vec<&str> =
            text.lines().filter(|l| l.contains("all equal")).filter_map(|l| l.rsplit('(').next()).collect();
        assert_eq!(results.len(), 2, "{text}");
        assert_ne!(results[0], results[1], "the two instances compute different values: {text}");
    }
}
