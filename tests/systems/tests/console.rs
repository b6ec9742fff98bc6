//! The monitor's serial console (COM1 input), typed at from outside as a user would: `help`,
//! `status`, mistakes (one error line each), `inject <pd>` (the PD really faults, is reported
//! as injected and handled by its policy: here restarted, and `status` counts it), and a
//! system file that switches injection off.

use std::path::Path;
use std::time::Duration;

use qemu_harness::{build_bench_image, build_image, build_kernel, KernelVariant, Qemu, QemuConfig};

const WAIT: Duration = Duration::from_secs(60);
const RUN_LIMIT: Duration = Duration::from_secs(150);

fn ok<T>(r: qemu_harness::Result<T>) -> T {
    r.unwrap_or_else(|e| panic!("{e}"))
}

fn boot(system: &str) -> Qemu {
    boot_on(system, KernelVariant::Iommu)
}

fn boot_on(system: &str, variant: KernelVariant) -> Qemu {
    let image = match variant {
        KernelVariant::Bench | KernelVariant::BenchIommu => build_bench_image(system),
        _ => build_image(system),
    }
    .unwrap_or_else(|e| panic!("{e}"));
    let kernel = build_kernel(variant).unwrap_or_else(|e| panic!("{e}"));
    let cfg = QemuConfig::new().iommu(true).kernel(kernel).initrd(Path::new(&image)).timeout(RUN_LIMIT);
    let mut q = Qemu::spawn(cfg).unwrap_or_else(|e| panic!("{e}"));
    ok(q.expect("monitor: console ready on COM1 (type help)", WAIT));
    q
}

#[test]
fn console_answers_and_inject_faults_the_pd_which_its_policy_restarts() {
    let mut q = boot("tests/systems/console.xml");
    // The PDs print while they start (slowly, on the serial line): let them finish first.
    ok(q.expect("ungranted: done; idle", WAIT));
    ok(q.type_line("help"));
    ok(q.expect("monitor: commands: help | status | inject <pd>", WAIT));
    ok(q.type_line("status"));
    ok(q.expect("monitor: status witness running faults=0 restarts=0 demo.size=8 demo.free=5 demo.posted=3\n", WAIT));
    ok(q.expect("monitor: status ungranted running faults=0 restarts=0\n", WAIT));
    ok(q.type_line("reboot now"));
    ok(q.expect("monitor: error: unknown command 'reboot' (try: help)", WAIT));
    ok(q.type_line("inject"));
    ok(q.expect("monitor: error: inject needs a PD name", WAIT));
    ok(q.type_line("inject nosuch"));
    ok(q.expect("monitor: error: no PD named 'nosuch'; PDs: witness ungranted", WAIT));

    ok(q.type_line("inject witness"));
    ok(q.expect_regex(
        r"monitor: injected a fault into PD 'witness' at t=\d+ ms \(its next instruction is at 0xdead000\)",
        WAIT,
    ));
    // Without NX the kernel reports the fetch as a read; either way the address and ip say where.
    ok(q.expect_regex(
        r"monitor: PD 'witness' faulted: VM fault \([a-z ]+\) at address 0xdead000 ip 0xdead000: injected from the console \(inject\); restarting it from a clean image",
        WAIT,
    ));
    ok(q.expect_regex(r"monitor: PD 'witness' restarted \(restart #1\) at t=\d+ ms", WAIT));
    ok(q.expect("witness: up", WAIT));
    // The restarted witness serves again, and the monitor counted it.
    ok(q.type_line("status"));
    ok(q.expect("monitor: status witness running faults=1 restarts=1 demo.size=8 demo.free=5 demo.posted=3\n", WAIT));
    // A second injection works the same way.
    ok(q.type_line("inject witness"));
    ok(q.expect_regex(r"monitor: PD 'witness' restarted \(restart #2\)", WAIT));
    let log = q.output();
    assert!(!log.contains("panicked"), "no PD panicked:\n{log}");
}

#[test]
fn a_system_file_can_switch_injection_off() {
    let mut q = boot("tests/systems/console-noinject.xml");
    ok(q.type_line("inject witness"));
    ok(q.expect("monitor: error: fault injection is off in this system (<system fault_injection=\"false\">)", WAIT));
    ok(q.type_line("status"));
    ok(q.expect("monitor: status witness running faults=0 restarts=0", WAIT));
}

#[test]
fn cpu_reports_a_window_on_the_benchmark_kernel_and_refuses_elsewhere() {
    let mut q = boot_on("tests/systems/console.xml", KernelVariant::BenchIommu);
    ok(q.expect("ungranted: done; idle", WAIT));
    ok(q.type_line("cpu start"));
    ok(q.expect("monitor: cpu started", WAIT));
    // Make the witness work inside the window: an injected fault and its restart.
    ok(q.type_line("inject witness"));
    ok(q.expect("witness: up", WAIT));
    ok(q.type_line("cpu stop"));
    let m = ok(q.expect_regex(
        r"monitor: cpu cycles=(\d+) idle=(\d+) busy_pct=(\d+)\.(\d) witness=(\d+) ungranted=(\d+)\n",
        WAIT,
    ));
    let n = |i: usize| m.groups[i].as_deref().unwrap().parse::<u64>().unwrap();
    let (total, idle, busy, witness, ungranted) = (n(0), n(1), n(2), n(4), n(5));
    assert!(total > 0 && idle <= total, "{}", m.matched);
    assert!(busy <= 100, "{}", m.matched);
    assert!(witness > 0, "the restarted witness ran in the window: {}", m.matched);
    assert!(idle + witness + ungranted <= total, "parts fit in the window: {}", m.matched);
    // Our bench-kernel patch: the kernel time inside those figures, and the entries by class.
    let k = ok(q.expect_regex(r"monitor: cpu-kernel idle=(\d+) witness=(\d+) ungranted=(\d+)\n", WAIT));
    let kn = |i: usize| k.groups[i].as_deref().unwrap().parse::<u64>().unwrap();
    assert!(kn(0) <= idle && kn(1) <= witness && kn(2) <= ungranted, "kernel time is a part: {}", k.matched);
    assert!(kn(1) > 0, "the witness's fault and restart took kernel time: {}", k.matched);
    let e = ok(q.expect_regex(
        r"monitor: cpu-entries interrupt=\d+/\d+ irq_ack=\d+/\d+ signal=\d+/\d+ wait=\d+/\d+ ipc=\d+/(\d+) other=\d+/\d+ fpu=\d+/\d+ fault=\d+/(\d+)\n",
        WAIT,
    ));
    let en = |i: usize| e.groups[i].as_deref().unwrap().parse::<u64>().unwrap();
    assert!(en(1) >= 1, "the injected fault is a fault entry: {}", e.matched);
    assert!(en(0) >= 1, "the fault report reached the monitor by IPC: {}", e.matched);
    // A mistake gets the usage.
    ok(q.type_line("cpu"));
    ok(q.expect("monitor: error: cpu needs start or stop", WAIT));

    let mut plain = boot("tests/systems/console.xml");
    ok(plain.type_line("cpu start"));
    ok(plain.expect("monitor: error: cpu needs the benchmark kernel", WAIT));
}
