//! System tests: the initialiser (seL4 root task) boots on our seL4 5.0.0 kernel under QEMU
//! TCG, reports the bootinfo and reads PCI configuration space through the I/O port cap.
//! This proves the whole freestanding path: the static no_std ELF, `_start` and its stack, the
//! syscall ABI (DebugPutChar, Call with arguments in registers and in the GS-addressed IPC
//! buffer, replies and error codes), the bootinfo layout, cap data encodings and notifications
//! (the initialiser's ABI self-check, `src/abi_check.rs`). Needs qemu-system-x86_64 and the kernel build tools
//! (`support/deps.sh`); each QEMU run is time-limited and killed by the harness.

use qemu_harness::{build_kernel, KernelVariant, Netdev, Nic, Qemu, QemuConfig};
use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

const WAIT: Duration = Duration::from_secs(30);
const RUN_LIMIT: Duration = Duration::from_secs(60);

fn ok<T>(r: qemu_harness::Result<T>) -> T {
    r.unwrap_or_else(|e| panic!("{e}"))
}

/// `cargo build -p initialiser --release`, as `make initialiser` does; returns the ELF.
fn release_initialiser() -> PathBuf {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let out = Command::new(&cargo)
        .args(["build", "-q", "-p", "initialiser", "--release", "--message-format=json"])
        .output()
        .unwrap_or_else(|e| panic!("cannot run {cargo}: {e}"));
    assert!(
        out.status.success(),
        "cargo build -p initialiser --release failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // The executable path from cargo's JSON (robust to CARGO_TARGET_DIR).
    let stdout = String::from_utf8_lossy(&out.stdout);
    let exe = stdout
        .lines()
        .filter(|l| l.contains("\"name\":\"initialiser\"") && l.contains("\"kind\":[\"bin\"]"))
        .filter_map(|l| l.split("\"executable\":\"").nth(1))
        .filter_map(|rest| rest.split('"').next())
        .next_back()
        .unwrap_or_else(|| panic!("no initialiser executable in cargo's output:\n{stdout}"));
    PathBuf::from(exe)
}

/// Boots `image` and checks the report; returns the serial output.
fn boot_and_check(
    image: PathBuf,
    variant: KernelVariant,
    extra: impl FnOnce(QemuConfig) -> QemuConfig,
) -> (Qemu, String) {
    let kernel = build_kernel(variant).unwrap_or_else(|e| panic!("{e}"));
    let cfg = extra(QemuConfig::new().kernel(kernel).initrd(&image).timeout(RUN_LIMIT));
    let mut q = ok(Qemu::spawn(cfg));
    let hello =
        ok(q.expect_regex(r"initialiser: seL4 5\.0\.0 booted: (\d+) untypeds \((\d+) MiB RAM\), TSC (\d+) MHz", WAIT));
    let at = q.elapsed();
    let num = |i: usize| -> u64 { hello.groups[i].as_deref().unwrap().parse().unwrap() };
    let (untypeds, ram, tsc) = (num(0), num(1), num(2));
    eprintln!("{}: hello after {at:?}: {untypeds} untypeds, {ram} MiB RAM, TSC {tsc} MHz", image.display());
    assert!(untypeds > 10, "too few untypeds: {untypeds}");
    // -m 512: RAM above 1 MiB minus the kernel image and its boot-time objects.
    assert!((400..512).contains(&ram), "RAM untypeds total {ram} MiB for a 512 MiB guest");
    assert!(tsc > 100, "TSC {tsc} MHz is not plausible");
    ok(q.expect("initialiser: root CNode 2^16 slots", WAIT));
    // q35's host bridge (Intel 82G33/P35 MCH) at 00:00.0, read through ports 0xCF8/0xCFC.
    ok(q.expect("initialiser: PCI 00:00.0 vendor 0x8086 device 0x29c0 class 0x060000", WAIT));
    // The ABI self-check: IPC-buffer arguments, cap data, notifications, error decoding.
    ok(q.expect("initialiser: ABI self-check passed", WAIT));
    ok(q.expect("initialiser: done, suspending", WAIT));
    let out = q.output();
    // One line per untyped, as many as announced (the kernel's console sends "\n\r").
    let listed =
        out.lines().filter(|l| l.trim_start_matches('\r').starts_with("initialiser:   untyped ")).count() as u64;
    assert_eq!(listed, untypeds, "untyped lines vs. the count in the summary:\n{out}");
    // Our own failure lines, and the debug kernel's reports of user faults.
    // The kernel's own words on the refused invocations: the minted cap covers exactly
    // 0xCF8..=0xCFF, and the occupied-slot copy was refused.
    assert!(out.contains("fall outside permitted range 3320--3327"), "{out}");
    assert!(out.contains("Destination not empty"), "{out}");
    for bad in ["PANIC", "initialiser: error", "Caught ", "vm fault", "cap fault", "nknown syscall", "user exception"] {
        assert!(!out.contains(bad), "{bad:?} in the output:\n{out}");
    }
    (q, out)
}

#[test]
fn release_initialiser_boots_reports_and_reads_the_host_bridge() {
    let (_q, out) = boot_and_check(release_initialiser(), KernelVariant::Default, |c| c);
    assert!(out.contains("IOMMU: none"), "{out}");
}

#[test]
fn debug_build_of_the_initialiser_boots_too() {
    // The dev-profile binary (unoptimised code, different stack use and memcpy calls).
    boot_and_check(PathBuf::from(env!("CARGO_BIN_EXE_initialiser")), KernelVariant::Default, |c| c);
}

#[test]
fn initialiser_finds_the_e1000() {
    let nic = Nic::e1000(Netdev::User { udp_forwards: vec![] });
    let (_q, out) = boot_and_check(release_initialiser(), KernelVariant::Default, |c| c.nic(nic));
    // 82540EM, class 02 00 00 (Ethernet), in the first free slot after the VGA device.
    assert!(out.contains("vendor 0x8086 device 0x100e class 0x020000"), "{out}");
}

#[test]
fn iommu_kernel_reports_io_page_table_levels() {
    let (_q, out) = boot_and_check(release_initialiser(), KernelVariant::Iommu, |c| c.iommu(true));
    assert!(out.contains("IOMMU: 3-level IO page tables"), "{out}");
}
