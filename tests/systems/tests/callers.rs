//! No caller hangs on a dead server (issue 10): a server that faults inside `protected()`
//! while a client waits for its reply. Under `fault="restart"` the restarted server answers
//! the interrupted call with a refusal ("restarted") and serves the next calls; under
//! `fault="stop"` the stopped server refuses that call and every later one. Either way every
//! call returns, within the wait limit.

use std::path::Path;
use std::time::Duration;

use qemu_harness::{build_image, build_kernel, KernelVariant, Qemu, QemuConfig};

const WAIT: Duration = Duration::from_secs(60);
const RUN_LIMIT: Duration = Duration::from_secs(150);

fn ok<T>(r: qemu_harness::Result<T>) -> T {
    r.unwrap_or_else(|e| panic!("{e}"))
}

fn boot(system: &str) -> Qemu {
    let image = build_image(system).unwrap_or_else(|e| panic!("{e}"));
    let kernel = build_kernel(KernelVariant::Iommu).unwrap_or_else(|e| panic!("{e}"));
    Qemu::spawn(QemuConfig::new().iommu(true).kernel(kernel).initrd(Path::new(&image)).timeout(RUN_LIMIT))
        .unwrap_or_else(|e| panic!("{e}"))
}

#[test]
fn a_restarted_server_answers_the_call_it_died_in_and_serves_again() {
    let mut q = boot("tests/systems/fragile-restart.xml");
    ok(q.expect("fragile: up (restarted: false)", WAIT));
    ok(q.expect_regex(r"monitor: PD 'fragile' faulted: [^\n]*restarting it from a clean image", WAIT));
    ok(q.expect("fragile: up (restarted: true)", WAIT));
    ok(q.expect("caller: call 1: error: the PD behind channel 1 refused the call: the server faulted during the call and was restarted; the call did not complete (code 0xffff0003)", WAIT));
    ok(q.expect("caller: call 2: ok [21]", WAIT));
    ok(q.expect("caller: call 3: ok [31]", WAIT));
    ok(q.expect("caller: done", WAIT));
}

#[test]
fn a_stopped_server_refuses_the_call_it_died_in_and_every_later_one() {
    let mut q = boot("tests/systems/fragile-stop.xml");
    ok(q.expect_regex(r"monitor: PD 'fragile' faulted: [^\n]*PD stopped", WAIT));
    ok(q.expect("monitor: PD 'fragile' stopped: it refuses every protected call from now on", WAIT));
    ok(q.expect("caller: call 1: error: the PD behind channel 1 refused the call: the server faulted and is stopped (code 0xffff0004)", WAIT));
    ok(q.expect(
        "caller: call 2: error: the PD behind channel 1 refused the call: the server faulted and is stopped",
        WAIT,
    ));
    ok(q.expect(
        "caller: call 3: error: the PD behind channel 1 refused the call: the server faulted and is stopped",
        WAIT,
    ));
    ok(q.expect("caller: done", WAIT));
    assert!(!q.output().contains("fragile: up (restarted: true)"), "a stopped server must not run its code again");
}

/// A PD cannot forge a fault report for itself: a message shaped like a kernel VM-fault
/// report, sent or called on the PD's own fault endpoint capability, is recognised (no reply
/// capability; a sender blocked in its own call) and neither restarts the PD nor tells anyone.
#[test]
fn forged_fault_reports_are_refused() {
    let mut q = boot("tests/systems/forger.xml");
    ok(q.expect("monitor: PD 'sender' sent a forged fault report (it came without a reply capability", WAIT));
    ok(q.expect("monitor: PD 'caller' sent a forged fault report (the sender is blocked in seL4_Call", WAIT));
    ok(q.expect("witness: up", WAIT));
    std::thread::sleep(Duration::from_millis(500));
    let out = q.output();
    assert!(!out.contains("restarted (restart #"), "a forged report restarted a PD:\n{out}");
    assert!(!out.contains("faulted:"), "a forged report was reported as a fault:\n{out}");
    assert!(!out.contains("the forged call came back"), "{out}");
}
