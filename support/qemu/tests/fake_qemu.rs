//! Tests of the harness's process handling (capture, expect, timeouts, exit, kill-on-drop)
//! without QEMU or a guest: a small shell script stands in for qemu-system-x86_64 and prints
//! what a guest would.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use qemu_harness::{Error, Qemu, QemuConfig};

/// A throwaway directory with a fake "QEMU" script and a dummy kernel file.
struct Fake {
    dir: PathBuf,
}

impl Fake {
    fn new(name: &str, script_body: &str) -> Fake {
        let dir = std::env::temp_dir().join(format!("qemu-harness-{name}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        let script = dir.join("fake-qemu");
        fs::write(&script, format!("#!/bin/sh\n{script_body}\n")).unwrap();
        fs::set_permissions(&script, fs::Permissions::from_mode(0o755)).unwrap();
        fs::write(dir.join("kernel32.elf"), b"not really a kernel").unwrap();
        Fake { dir }
    }

    fn config(&self) -> QemuConfig {
        QemuConfig::new().program(self.dir.join("fake-qemu")).kernel(self.dir.join("kernel32.elf"))
    }
}

impl Drop for Fake {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.dir);
    }
}

fn alive(pid: u32) -> bool {
    // A zombie still has a /proc entry; its state letter is Z.
    match fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => !stat.rsplit(')').next().unwrap_or("").trim_start().starts_with('Z'),
        Err(_) => false,
    }
}

const S: Duration = Duration::from_secs(1);

#[test]
fn expect_finds_output_in_order_and_returns_the_text_between() {
    let fake = Fake::new("order", "echo 'boot: one'; sleep 0.2; echo 'boot: two'; echo 'boot: three'; exec sleep 30");
    let mut q = Qemu::spawn(fake.config()).unwrap();
    assert_eq!(q.expect("one", 5 * S).unwrap(), "boot: one");
    let text = q.expect("three", 5 * S).unwrap();
    assert_eq!(text, "\nboot: two\nboot: three");
    // "one" was consumed: it is not found again.
    assert!(matches!(q.expect("one", Duration::from_millis(200)), Err(Error::Timeout { .. })));
    assert!(q.output().contains("boot: one\nboot: two\nboot: three\n"));
}

#[test]
fn the_fake_sees_the_real_command_line_and_what_is_typed() {
    let fake = Fake::new(
        "args",
        "echo \"ARGS: $*\"; if read x; then echo \"STDIN:$x\"; else echo STDIN:eof; fi; exec sleep 30",
    );
    let mut q = Qemu::spawn(fake.config().initrd(fake.dir.join("kernel32.elf"))).unwrap();
    let m = q.expect_regex(r"ARGS: (.*)\n", 5 * S).unwrap();
    let args = m.groups[0].clone().unwrap();
    assert!(args.starts_with("-accel tcg -machine q35 -cpu Haswell -m 512"), "{args}");
    assert!(args.contains("-serial stdio") && args.contains("-no-reboot"), "{args}");
    // QEMU's stdin is the guest's serial input: a typed line arrives whole.
    q.type_line("status").unwrap();
    q.expect("STDIN:status\n", 5 * S).unwrap();
}

#[test]
fn timeout_error_carries_the_whole_log_and_stderr() {
    let fake = Fake::new("timeout", "echo 'line A'; echo 'line B'; echo 'qemu: something odd' >&2; exec sleep 30");
    let mut q = Qemu::spawn(fake.config()).unwrap();
    q.expect("line B", 5 * S).unwrap();
    thread_sleep(200);
    let start = Instant::now();
    let err = q.expect("never printed", Duration::from_millis(500)).unwrap_err();
    let waited = start.elapsed();
    assert!(waited >= Duration::from_millis(500) && waited < 3 * S, "{waited:?}");
    let msg = err.to_string();
    assert!(msg.contains("timed out after 0.5 s waiting for \"never printed\""), "{msg}");
    assert!(msg.contains("line A\nline B\n"), "the log holds everything so far: {msg}");
    assert!(msg.contains("qemu: something odd"), "QEMU's stderr is in the log: {msg}");
    assert!(msg.contains("fake-qemu -accel tcg"), "the command is in the log: {msg}");
    assert_eq!(err.log().unwrap().lines().next(), Some("line A"));
}

#[test]
fn early_exit_is_reported_with_status_and_log() {
    let fake = Fake::new("exit", "echo 'panic: guest died'; exit 3");
    let mut q = Qemu::spawn(fake.config()).unwrap();
    let start = Instant::now();
    let err = q.expect("Booting all finished", 30 * S).unwrap_err();
    assert!(start.elapsed() < 5 * S, "exit is noticed at once, not at the timeout");
    match &err {
        Error::Exited { status, log, .. } => {
            assert!(status.contains('3'), "{status}");
            assert!(log.contains("panic: guest died"), "{log}");
        }
        other => panic!("expected Exited, got {other}"),
    }
    assert!(!q.is_running());
}

#[test]
fn wait_exit_returns_the_status() {
    let fake = Fake::new("wait", "echo bye; exit 0");
    let mut q = Qemu::spawn(fake.config()).unwrap();
    assert!(q.wait_exit(10 * S).unwrap().success());
}

#[test]
fn the_overall_limit_kills_qemu_even_mid_wait() {
    let fake = Fake::new("limit", "echo started; exec sleep 30");
    let mut q = Qemu::spawn(fake.config().timeout(Duration::from_millis(700))).unwrap();
    let pid = q.pid();
    q.expect("started", 5 * S).unwrap();
    let start = Instant::now();
    let err = q.expect("never", 20 * S).unwrap_err();
    assert!(start.elapsed() < 5 * S, "killed at the overall limit: {:?}", start.elapsed());
    assert!(matches!(err, Error::OverallTimeout { .. }), "{err}");
    assert!(err.to_string().contains("started"), "{err}");
    thread_sleep(100);
    let _ = q.wait_exit(2 * S);
    assert!(!alive(pid), "QEMU {pid} must be gone");
}

#[test]
fn drop_kills_and_reaps_qemu() {
    let fake = Fake::new("drop", "echo up; exec sleep 30");
    let pid;
    {
        let mut q = Qemu::spawn(fake.config()).unwrap();
        pid = q.pid();
        q.expect("up", 5 * S).unwrap();
        assert!(alive(pid));
    }
    assert!(!alive(pid), "QEMU {pid} still running after drop");
}

#[test]
fn drop_kills_qemu_when_a_test_panics() {
    let fake = Fake::new("panic", "echo up; exec sleep 30");
    let cfg = fake.config();
    let result = std::panic::catch_unwind(move || {
        let mut q = Qemu::spawn(cfg).unwrap();
        q.expect("up", 5 * S).unwrap();
        let pid = q.pid();
        panic!("{pid}");
    });
    let payload = result.unwrap_err();
    let pid: u32 = payload.downcast_ref::<String>().unwrap().parse().unwrap();
    assert!(!alive(pid), "QEMU {pid} leaked by a panicking test");
}

#[test]
fn expect_any_reports_which_pattern_came_first() {
    let fake = Fake::new("any", "echo 'PD echo: started'; echo 'PD driver: FAULT'; exec sleep 30");
    let mut q = Qemu::spawn(fake.config()).unwrap();
    let (i, text) = q.expect_any(&["FAULT", "started"], 5 * S).unwrap();
    assert_eq!(i, 1);
    assert_eq!(text, "PD echo: started");
    let (i, _) = q.expect_any(&["FAULT", "started"], 5 * S).unwrap();
    assert_eq!(i, 0);
}

#[test]
fn regex_groups_and_bad_regex() {
    let fake = Fake::new("regex", "echo 'Detected 2 boot module(s):'; exec sleep 30");
    let mut q = Qemu::spawn(fake.config()).unwrap();
    let m = q.expect_regex(r"Detected (\d+) boot module", 5 * S).unwrap();
    assert_eq!(m.groups, vec![Some("2".to_string())]);
    assert_eq!(m.matched, "Detected 2 boot module");
    let err = q.expect_regex("(unclosed", S).unwrap_err();
    assert!(matches!(err, Error::BadPattern { .. }), "{err}");
}

#[test]
fn output_split_across_reads_still_matches() {
    let fake = Fake::new("split", "printf 'Booting all fin'; sleep 0.3; printf 'ished, dropped\\n'; exec sleep 30");
    let mut q = Qemu::spawn(fake.config()).unwrap();
    q.expect("Booting all finished", 5 * S).unwrap();
}

#[test]
fn serial_log_file_gets_everything() {
    let fake = Fake::new("logfile", "echo alpha; echo beta; exec sleep 30");
    let log = fake.dir.join("serial.log");
    let mut q = Qemu::spawn(fake.config().log_file(&log)).unwrap();
    q.expect("beta", 5 * S).unwrap();
    thread_sleep(50);
    assert_eq!(fs::read_to_string(&log).unwrap(), "alpha\nbeta\n");
}

#[test]
fn missing_qemu_binary_gives_an_install_hint() {
    let fake = Fake::new("missing", "exit 0");
    let err = Qemu::spawn(fake.config().program("/nonexistent/qemu-system-x86_64")).unwrap_err();
    let msg = err.to_string();
    assert!(matches!(err, Error::QemuNotFound { .. }), "{msg}");
    assert!(msg.contains("qemu-system-x86"), "{msg}");
}

#[test]
fn missing_kernel_is_reported_before_starting() {
    let fake = Fake::new("nokernel", "echo should-not-run; exit 0");
    let err = Qemu::spawn(fake.config().kernel(Path::new("/nonexistent/kernel32.elf"))).unwrap_err();
    assert!(matches!(err, Error::MissingFile { .. }), "{err}");
}

fn thread_sleep(ms: u64) {
    std::thread::sleep(Duration::from_millis(ms));
}

#[test]
fn qemu_outlives_the_thread_that_started_it() {
    let fake = Fake::new("thread", "echo up; read x; echo never; exec sleep 30");
    let cfg = fake.config();
    // Started on a short-lived thread, then used here after that thread has ended.
    let mut q = std::thread::spawn(move || Qemu::spawn(cfg).unwrap()).join().unwrap();
    thread_sleep(300);
    assert!(q.is_running(), "QEMU died with the thread that spawned it");
    q.expect("up", 5 * S).unwrap();
}
