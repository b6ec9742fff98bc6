//! System tests of the real initialiser: images built by the image tool (the `mkimage` binary;
//! not linked as a library, whose `spec/alloc` feature would leak into the no_std binary) from small C test PDs (tests/pds, compiled here with gcc against the spec
//! contract only) boot under QEMU TCG. They check the per-PD start lines, shared memory,
//! notifications, a PPC, segment permissions, I/O port ranges, PCI BARs and PCI INTx
//! interrupts from two e1000s, and the monitor's fault reports by PD name (null write, stack
//! overflow, panic, cap fault, read-only write) while the other PDs keep running. Each QEMU run
//! is time-limited and killed by the harness.

use qemu_harness::{build_kernel, KernelVariant, Netdev, Nic, Qemu, QemuConfig};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

const WAIT: Duration = Duration::from_secs(30);
const RUN_LIMIT: Duration = Duration::from_secs(90);

fn ok<T, E: std::fmt::Display>(r: Result<T, E>) -> T {
    r.unwrap_or_else(|e| panic!("{e}"))
}

/// `cargo build -p <package> --release`; returns its binary.
fn release_bin(package: &str) -> PathBuf {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let out = Command::new(&cargo)
        .args(["build", "-q", "-p", package, "--release", "--message-format=json"])
        .output()
        .unwrap_or_else(|e| panic!("cannot run {cargo}: {e}"));
    assert!(
        out.status.success(),
        "cargo build -p {package} --release failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    let name = format!("\"name\":\"{package}\"");
    let exe = stdout
        .lines()
        .filter(|l| l.contains(&name) && l.contains("\"kind\":[\"bin\"]"))
        .filter_map(|l| l.split("\"executable\":\"").nth(1))
        .filter_map(|rest| rest.split('"').next())
        .next_back()
        .unwrap_or_else(|| panic!("no {package} executable in cargo's output:\n{stdout}"));
    PathBuf::from(exe)
}

/// A fresh directory for one test's files.
fn workdir(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("initialiser-systems").join(name);
    let _ = std::fs::remove_dir_all(&dir);
    ok(std::fs::create_dir_all(&dir));
    dir
}

/// Compiles test PD `name` (tests/pds/<name>.c) into `dir/<name>.elf`.
fn build_pd(dir: &Path, name: &str) {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/pds");
    let out = dir.join(format!("{name}.elf"));
    let status = Command::new("gcc")
        .args([
            "-std=gnu11",
            "-O2",
            "-ffreestanding",
            "-nostdlib",
            "-static",
            "-no-pie",
            "-fno-pic",
            "-fno-stack-protector",
            "-fcf-protection=none",
            "-fno-optimize-sibling-calls",
            "-mgeneral-regs-only",
            "-Wl,--build-id=none",
            "-Wall",
            "-Werror",
            "-Wno-unused-function",
            "-Wno-array-bounds",
            "-Wno-infinite-recursion",
        ])
        .arg(format!("-DPD_INFO_SIZE={}", std::mem::size_of::<spec::PdInfo>()))
        .arg(format!("-T{}", src.join("pd.ld").display()))
        .arg(src.join(format!("{name}.c")))
        .arg("-o")
        .arg(&out)
        .status()
        .unwrap_or_else(|e| panic!("cannot run gcc: {e}"));
    assert!(status.success(), "gcc failed for test PD {name}");
}

/// Writes `xml` as `dir/system.xml`, builds the PDs it names and the image; returns the image.
fn image(dir: &Path, xml: &str, pds: &[&str]) -> PathBuf {
    for pd in pds {
        build_pd(dir, pd);
    }
    let sys_path = dir.join("system.xml");
    ok(std::fs::write(&sys_path, xml));
    let path = dir.join("image.elf");
    let out = Command::new(release_bin("mkimage"))
        .arg("--system")
        .arg(&sys_path)
        .arg("--initialiser")
        .arg(release_bin("initialiser"))
        .arg("--out")
        .arg(&path)
        .output()
        .unwrap_or_else(|e| panic!("cannot run mkimage: {e}"));
    assert!(
        out.status.success(),
        "mkimage failed:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    path
}

fn boot(image: &Path, extra: impl FnOnce(QemuConfig) -> QemuConfig) -> Qemu {
    let kernel = ok(build_kernel(KernelVariant::Iommu));
    ok(Qemu::spawn(extra(QemuConfig::new().iommu(true).kernel(kernel).initrd(image).timeout(RUN_LIMIT))))
}

const FAULTS_XML: &str = r#"<?xml version="1.0"?>
<system>
    <memory_region name="shm" size="0x4000" />
    <protection_domain name="crasher" priority="150"><program_image path="crasher.elf" /></protection_domain>
    <protection_domain name="overflow" priority="140" stack_size="0x2000"><program_image path="overflow.elf" /></protection_domain>
    <protection_domain name="panicker" priority="130"><program_image path="panicker.elf" /></protection_domain>
    <protection_domain name="capper" priority="125"><program_image path="capper.elf" /></protection_domain>
    <protection_domain name="rowriter" priority="124"><program_image path="rowriter.elf" /></protection_domain>
    <protection_domain name="beta" priority="120">
        <program_image path="beta.elf" />
        <map mr="shm" vaddr="0x2000_0000" perms="rw" />
    </protection_domain>
    <protection_domain name="porty" priority="110">
        <program_image path="porty.elf" />
        <ioport id="0" addr="0x70" size="2" />
    </protection_domain>
    <protection_domain name="alpha" priority="100">
        <program_image path="alpha.elf" />
        <map mr="shm" vaddr="0x2000_0000" perms="rw" />
        <setvar symbol="shm_paddr" region_paddr="shm" />
    </protection_domain>
    <channel><end pd="alpha" id="1" pp="true" /><end pd="beta" id="3" /></channel>
    <channel><end pd="alpha" id="2" /><end pd="crasher" id="0" /></channel>
</system>
"#;

#[test]
fn pds_start_communicate_and_faults_are_reported_by_name() {
    let dir = workdir("faults");
    let img =
        image(&dir, FAULTS_XML, &["alpha", "beta", "crasher", "overflow", "panicker", "capper", "rowriter", "porty"]);
    let mut q = boot(&img, |c| c);
    // One start line per PD, in system-file order, then the summary.
    for (name, prio, maps, chans) in [
        ("crasher", 150, 0, 1),
        ("overflow", 140, 0, 0),
        ("panicker", 130, 0, 0),
        ("capper", 125, 0, 0),
        ("rowriter", 124, 0, 0),
        ("beta", 120, 1, 1),
        ("porty", 110, 0, 0),
        ("alpha", 100, 1, 2),
    ] {
        ok(q.expect(
            &format!("initialiser: started PD '{name}' (priority {prio}, {maps} maps, {chans} channels)"),
            WAIT,
        ));
    }
    let up = ok(q.expect_regex(r"initialiser: system up: 8 PDs started in (\d+) us", WAIT));
    eprintln!("system up after {:?} (initialiser: {} us)", q.elapsed(), up.groups[0].as_deref().unwrap_or("?"));

    // Faults, by PD name, with kind and hint, in priority order.
    ok(q.expect_regex(r"monitor: PD 'overflow' faulted: VM fault \(write\) at address 0x7fffefffd[0-9a-f]{3} ip 0x40[0-9a-f]+: stack overflow", WAIT));
    ok(q.expect("panicker: panicked at src/main.rs:7:5: boom", WAIT));
    ok(q.expect_regex(r"monitor: PD 'panicker' faulted: user exception 6 \(#UD invalid opcode\) code 0x0 ip 0x40[0-9a-f]+ sp 0x[0-9a-f]+: invalid instruction \(ud2\): panic \(see the PD's message above\); PD stopped", WAIT));
    ok(q.expect_regex(r"monitor: PD 'capper' faulted: cap fault on cptr 0x12c \(receive phase", WAIT));
    ok(q.expect_regex(r"monitor: PD 'rowriter' faulted: VM fault \(write\) at address 0x40[0-9a-f]+ ip 0x40[0-9a-f]+: write to read-only memory", WAIT));

    // The others run: shared memory, notification with the peer's id as badge, PPC.
    ok(q.expect("beta: ready", WAIT));
    ok(q.expect("porty: out8 error 0, in8(0x71) error 0 value", WAIT));
    ok(q.expect("porty: in8(0x80) error 3", WAIT)); // IllegalOperation: outside the minted range
    ok(q.expect("porty: ungranted ioport slot error", WAIT));
    let hello = ok(q.expect_regex(r"alpha: hello, shm at physical 0x([0-9a-f]+)\s", WAIT));
    let paddr = u64::from_str_radix(hello.groups[0].as_deref().unwrap(), 16).unwrap();
    assert!(paddr != 0 && paddr % 0x1000 == 0, "shm paddr {paddr:#x}");
    ok(q.expect("beta: notified badge 0x8 shm[0] 0x1234", WAIT));
    ok(q.expect("beta: ppc on channel 3 mr0 41", WAIT));
    ok(q.expect("alpha: ppc reply 42 label 0 shm[1] 0x5678", WAIT));
    // alpha wakes crasher (higher priority), which faults; alpha goes on.
    ok(q.expect("crasher: writing to 0x10", WAIT));
    ok(q.expect("monitor: PD 'crasher' faulted: VM fault (write) at address 0x10 ip 0x40", WAIT));
    ok(q.expect("null pointer dereference; PD stopped, others keep running", WAIT));
    ok(q.expect("alpha: still running after crasher", WAIT));
    let out = q.output();
    assert!(out.contains(&format!("region 'shm': 0x4000 bytes at physical {paddr:#x}")), "{out}");
    for bad in ["still alive?!", "initialiser: error", "PANIC", "Caught "] {
        assert!(!out.contains(bad), "{bad:?} in the output:\n{out}");
    }
}

const E1000_XML: &str = r#"<?xml version="1.0"?>
<system>
    <memory_region name="regs" size="0x20000" pci="8086:100e" bar="0" />
    <memory_region name="regs2" size="0x20000" pci="8086:100e@1" bar="0" />
    <protection_domain name="nic" priority="100">
        <program_image path="nic.elf" />
        <map mr="regs" vaddr="0x2000_0000" perms="rw" cached="false" />
        <map mr="regs2" vaddr="0x2010_0000" perms="rw" cached="false" />
        <setvar symbol="regs_paddr" region_paddr="regs" />
        <setvar symbol="regs2_paddr" region_paddr="regs2" />
        <irq id="3" pci="8086:100e" />
        <irq id="4" pci="8086:100e@1" />
    </protection_domain>
</system>
"#;

/// Two e1000s (the harness's NIC in the first free slot, a second one at slot 4): their BARs
/// are found and mapped uncached, and each one's INTx interrupt, routed by the Q35 rule, reaches
/// the PD as a notification, twice (so the boot-time unmask and the PD's ack both work).
#[test]
fn pci_bars_and_intx_interrupts_of_two_e1000s_reach_the_pd() {
    let dir = workdir("e1000");
    let img = image(&dir, E1000_XML, &["nic"]);
    let mut q = boot(&img, |c| {
        c.nic(Nic::e1000(Netdev::User { udp_forwards: vec![] }))
            .arg("-netdev")
            .arg("user,id=net1")
            .arg("-device")
            .arg("e1000,netdev=net1,addr=0x4,romfile=")
    });
    let r1 = ok(q.expect_regex(
        r"initialiser: region 'regs': PCI 00:([0-9a-f]{2})\.0 \(8086:100e\) BAR 0 at 0x([0-9a-f]+) \(0x20000 bytes\)",
        WAIT,
    ));
    let r2 = ok(q.expect_regex(
        r"initialiser: region 'regs2': PCI 00:04\.0 \(8086:100e\) BAR 0 at 0x([0-9a-f]+) \(0x20000 bytes\)",
        WAIT,
    ));
    let slot1 = u8::from_str_radix(r1.groups[0].as_deref().unwrap(), 16).unwrap();
    let bar1 = r1.groups[1].clone().unwrap();
    let bar2 = r2.groups[0].clone().unwrap();
    // The Q35 rule: slot s, INTA -> PIRQ E..H = 4 + s % 4 -> IOAPIC input 16 + that.
    let pin1 = 16 + 4 + slot1 % 4;
    ok(q.expect(
        &format!("initialiser: PD 'nic' irq 3: PCI 00:{slot1:02x}.0 (8086:100e) INTA -> IOAPIC pin {pin1} (Q35 rule)"),
        WAIT,
    ));
    ok(q.expect("initialiser: PD 'nic' irq 4: PCI 00:04.0 (8086:100e) INTA -> IOAPIC pin 20 (Q35 rule)", WAIT));
    ok(q.expect("initialiser: started PD 'nic' (priority 100, 2 maps, 0 channels)", WAIT));
    ok(q.expect(&format!("nic: regs at physical 0x{bar1}, regs2 at 0x{bar2}"), WAIT));
    ok(q.expect_regex(r"nic: first status 0x[0-9a-f]+", WAIT));
    for round in 0..2 {
        ok(q.expect(&format!("nic: first irq round {round} badge 0x8 icr 0x"), WAIT));
    }
    for round in 0..2 {
        ok(q.expect(&format!("nic: second irq round {round} badge 0x10 icr 0x"), WAIT));
    }
    ok(q.expect("nic: done", WAIT));
    let out = q.output();
    for l in out.lines().filter(|l| l.contains("initialiser: PD") || l.contains("region '") || l.starts_with("nic:")) {
        eprintln!("{l}");
    }
    assert!(!out.contains("ack error 1") && !out.contains("monitor: PD"), "no PD faulted:\n{out}");
}

/// A `pci=` device that is not there stops the boot with a message naming the region and id.
#[test]
fn absent_pci_device_is_a_clear_boot_error() {
    let dir = workdir("absent");
    let xml = r#"<?xml version="1.0"?>
<system>
    <memory_region name="rtl_regs" size="0x1000" pci="10ec:8139" bar="1" />
    <protection_domain name="panicker" priority="100">
        <program_image path="panicker.elf" />
        <map mr="rtl_regs" vaddr="0x2000_0000" perms="rw" cached="false" />
    </protection_domain>
</system>
"#;
    let img = image(&dir, xml, &["panicker"]);
    let mut q = boot(&img, |c| c);
    ok(q.expect(
        "initialiser: error: memory_region 'rtl_regs': finding the PCI device: no PCI device 10ec:8139 (index 0) in PCI configuration space",
        WAIT,
    ));
    ok(q.expect("initialiser: boot failed", WAIT));
    assert!(!q.output().contains("started PD"), "{}", q.output());
}
