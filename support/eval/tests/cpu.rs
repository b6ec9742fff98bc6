//! The console CPU parsers: the seL4 monitor's `cpu stop` line and the Linux guest's
//! /proc/stat line, good and malformed, and the busy share between two /proc/stat samples.

use eval::cpu::{linux_busy_pct, parse_linux_line, parse_monitor_line};

#[test]
fn monitor_line_with_pds() {
    let c = parse_monitor_line("monitor: cpu cycles=1000000 idle=600000 busy_pct=40.0 dataspace_mgr=1000 driver=150000 netstack=200000 echo=9000\r\n").unwrap();
    assert_eq!(c.cycles, 1_000_000);
    assert_eq!(c.idle, 600_000);
    assert_eq!(c.busy_pct, 40.0);
    assert_eq!(c.pds.len(), 4);
    assert_eq!(c.pds[1], ("driver".to_string(), 150_000));
    assert_eq!(c.kernel_cycles(), 1_000_000 - 600_000 - 360_000);
}

#[test]
fn monitor_line_without_pds_and_rounding() {
    let c = parse_monitor_line("monitor: cpu cycles=3 idle=2 busy_pct=33.3").unwrap();
    assert_eq!(c.busy_pct, 33.3);
    assert!(c.pds.is_empty());
}

#[test]
fn malformed_monitor_lines() {
    let cases = [
        ("monitor: error: cpu needs the benchmark kernel (CONFIG_BENCHMARK_TRACK_UTILISATION)", "the monitor refused"),
        ("netstack: stats rx=1", "does not start with"),
        ("monitor: cpu idle=1 cycles=2 busy_pct=50.0", "expected cycles="),
        ("monitor: cpu cycles=10 idle=5", "busy_pct= is missing"),
        ("monitor: cpu cycles=ten idle=5 busy_pct=50.0", "not a whole number"),
        ("monitor: cpu cycles=10 idle=5 busy_pct=half", "not a number"),
        ("monitor: cpu cycles=10 idle=11 busy_pct=0.0", "exceeds"),
        ("monitor: cpu cycles=10 idle=5 busy_pct=50.0 driver=6", "exceed the window"),
        ("monitor: cpu cycles=10 idle=5 busy_pct=20.0", "disagrees"),
        ("monitor: cpu cycles=10 idle=5 busy_pct=150.0", "outside 0..100"),
        ("monitor: cpu cycles=0 idle=0 busy_pct=0.0", "no cycles"),
        ("monitor: cpu cycles=10 idle=5 busy_pct=50.0 driver", "<pd>=<cycles>"),
        ("monitor: cpu cycles=10 idle=5 busy_pct=50.0 =3", "without a name"),
    ];
    for (line, want) in cases {
        let e = parse_monitor_line(line).unwrap_err().to_string();
        assert!(e.contains(want), "{line:?}: {want:?} not in {e:?}");
    }
}

#[test]
fn linux_line_and_busy_share() {
    let a = parse_linux_line("linux-guest: cpu 100 0 50 800 50 0 0 0 0 0\r").unwrap();
    let b = parse_linux_line("linux-guest: cpu 130 0 90 810 50 5 15 0 0 0").unwrap();
    assert_eq!(a.fields, [100, 0, 50, 800, 50, 0, 0, 0]);
    // 100 ticks passed, 10 idle: 90% busy.
    assert!((linux_busy_pct(&a, &b).unwrap() - 90.0).abs() < 1e-9);
    // Eight fields are enough (older kernels have no guest fields).
    assert!(parse_linux_line("linux-guest: cpu 1 2 3 4 5 6 7 8").is_ok());
}

#[test]
fn malformed_linux_lines_and_windows() {
    for (line, want) in [
        ("linux-guest: cpu 1 2 3", "3 fields"),
        ("linux-guest: cpu 1 2 x 4 5 6 7 8", "\"x\" is not a tick count"),
        ("linux-guest: error: unknown command cpux", "does not start with"),
        ("cpu 1 2 3 4 5 6 7 8", "does not start with"),
    ] {
        let e = parse_linux_line(line).unwrap_err().to_string();
        assert!(e.contains(want), "{line:?}: {want:?} not in {e:?}");
    }
    let a = parse_linux_line("linux-guest: cpu 1 2 3 4 5 6 7 8").unwrap();
    assert!(linux_busy_pct(&a, &a).unwrap_err().contains("no ticks"));
    let back = parse_linux_line("linux-guest: cpu 0 2 3 4 5 6 7 8").unwrap();
    assert!(linux_busy_pct(&a, &back).unwrap_err().contains("backwards"));
}

#[test]
fn a_cpu_window_becomes_the_profile_by_role() {
    let c = parse_monitor_line(
        "monitor: cpu cycles=1000000 idle=600000 busy_pct=40.0 dataspace_mgr=1000 driver=150000 netstack=200000 echo=9000",
    )
    .unwrap();
    let p = eval::cpu::profile(&c);
    let get = |name: &str| p.iter().find(|r| r.category == name).map(|r| r.share_pct).unwrap();
    assert!((get("Kernel") - 4.0).abs() < 1e-9, "the rest of the busy time: {p:?}");
    assert!((get("Driver") - 15.0).abs() < 1e-9);
    assert!((get("IP") - 20.0).abs() < 1e-9);
    assert!((get("Echo") - 0.9).abs() < 1e-9);
    assert!((get("Translation") - 0.1).abs() < 1e-9);
    assert!((get("Idle") - 60.0).abs() < 1e-9);
    let total: f64 = p.iter().map(|r| r.share_pct).sum();
    assert!((total - 100.0).abs() < 1e-9, "the shares cover the window: {total}");
}

const KERNEL: &str = "monitor: cpu-kernel idle=20000 dataspace_mgr=500 driver=50000 netstack=30000 echo=3000\r\n";
const ENTRIES: &str = "monitor: cpu-entries interrupt=25000/100 irq_ack=10000/90 signal=15000/300 wait=20000/200 \
                       ipc=30000/150 other=2000/4 fpu=500/1 fault=1000/1\r\n";

#[test]
fn the_kernel_time_report_parses_and_refuses_what_it_does_not_promise() {
    let k = eval::cpu::parse_kernel_lines(KERNEL, ENTRIES).unwrap();
    assert_eq!(k.idle, 20000);
    assert_eq!(k.pds[1], ("driver".to_string(), 50000));
    assert_eq!(k.classes[0], (25000, 100));
    assert_eq!(k.classes[6], (500, 1));
    assert_eq!(k.classes[7], (1000, 1));
    let e = |kl: &str, el: &str| eval::cpu::parse_kernel_lines(kl, el).unwrap_err().to_string();
    assert!(e("monitor: cpu-kernel driver=1", ENTRIES).contains("idle= must come first"));
    assert!(e("monitor: cpu-kernel idle=x", ENTRIES).contains("not a whole number"));
    assert!(e(KERNEL, "monitor: cpu-entries interrupt=1/1").contains("in that order"));
    assert!(e(KERNEL, &ENTRIES.replace("25000/100", "25000")).contains("<cycles>/<entries>"));
    assert!(e("monitor: cpu cycles=1", ENTRIES).contains("does not start with"));
}

#[test]
fn with_the_kernel_report_the_profile_splits_kernel_work_out_of_the_pds() {
    let mut c = parse_monitor_line(
        "monitor: cpu cycles=1000000 idle=600000 busy_pct=40.0 dataspace_mgr=1000 driver=150000 netstack=200000 echo=9000",
    )
    .unwrap();
    c.kernel = Some(eval::cpu::parse_kernel_lines(KERNEL, ENTRIES).unwrap());
    let p = eval::cpu::profile(&c);
    let get = |name: &str| p.iter().find(|r| r.category == name).map(|r| r.share_pct).unwrap();
    // Entries total 103500 cycles; PDs and idle were charged 83500 + 20000 of them, so the 40000
    // cycles charged to no PD are all the monitor's own.
    assert!((get("Kernel") - (2500.0 + 1000.0 + 40000.0) / 1e4).abs() < 1e-9, "{p:?}");
    assert!((get("IPC") - 3.0).abs() < 1e-9);
    assert!((get("Notification") - 3.5).abs() < 1e-9);
    assert!((get("Interrupt") - 3.5).abs() < 1e-9);
    assert!((get("Driver") - 10.0).abs() < 1e-9, "150000 less its 50000 kernel cycles");
    assert!((get("IP") - 17.0).abs() < 1e-9);
    assert!((get("Echo") - 0.6).abs() < 1e-9);
    assert!((get("Translation") - 0.05).abs() < 1e-9);
    assert!((get("Idle") - 58.0).abs() < 1e-9);
    let total: f64 = p.iter().map(|r| r.share_pct).sum();
    assert!((total - 100.0).abs() < 1e-9, "the shares cover the window: {total}");
    let overhead = eval::summary::framework_overhead(&p).unwrap();
    assert!((overhead - 100.0 * 10.0 / 42.0).abs() < 1e-9, "{overhead}");
    let line = eval::cpu::entries_per_datagram(c.kernel.as_ref().unwrap(), 100).unwrap();
    assert!(line.contains("interrupt 1.000 irq_ack 0.900 signal 3.000 wait 2.000 ipc 1.500 other 0.040 fpu 0.010 fault 0.010; kernel calls 7.440"), "{line}");
    assert_eq!(eval::cpu::entries_per_datagram(c.kernel.as_ref().unwrap(), 0), None);
}
