//! System tests of the kernel build and the harness together: builds seL4 (`make kernel`'s
//! script), boots it under QEMU TCG and checks what the kernel itself prints: with no boot
//! module, with a garbage one, and with a 20-line assembly root task that reaches user space
//! (also with the IOMMU kernel and an emulated VT-d unit, and with an e1000 on each netdev
//! kind, so QEMU accepts exactly the command lines the harness builds); and that every kernel
//! variant puts what it prints on the VGA text screen too (read through QEMU's monitor).

use std::fs;
use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use qemu_harness::{build_kernel, DgramLink, KernelVariant, Netdev, Nic, Qemu, QemuConfig};

/// Per-wait limit; the whole run is capped by `RUN_LIMIT`.
const WAIT: Duration = Duration::from_secs(30);
const RUN_LIMIT: Duration = Duration::from_secs(60);

fn kernel(variant: KernelVariant) -> PathBuf {
    build_kernel(variant).unwrap_or_else(|e| panic!("{e}"))
}

fn scratch(name: &str) -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("qemu-harness-boot");
    fs::create_dir_all(&dir).unwrap();
    dir.join(name)
}

/// Assembles tests/fixtures/hello-root.S into a static ELF root task.
fn hello_root() -> PathBuf {
    let src = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/hello-root.S");
    let out = scratch(&format!("hello-root-{}.elf", std::process::id()));
    let status = Command::new("gcc")
        .args(["-nostdlib", "-static", "-no-pie", "-Wl,--build-id=none", "-o"])
        .arg(&out)
        .arg(&src)
        .status()
        .expect("gcc is needed to assemble the test root task (support/deps.sh installs it)");
    assert!(status.success(), "assembling {} failed", src.display());
    out
}

fn boot(cfg: QemuConfig) -> Qemu {
    Qemu::spawn(cfg.timeout(RUN_LIMIT)).unwrap_or_else(|e| panic!("{e}"))
}

fn ok<T>(r: qemu_harness::Result<T>) -> T {
    r.unwrap_or_else(|e| panic!("{e}"))
}

#[test]
fn kernel_without_boot_module_prints_boot_info_and_refuses() {
    let mut q = boot(QemuConfig::new().kernel(kernel(KernelVariant::Default)));
    ok(q.expect("Boot config: parsing cmdline", WAIT));
    eprintln!("kernel's first line after {:?}", q.elapsed());
    ok(q.expect("Boot config: console_port = 0x3f8", WAIT));
    ok(q.expect("Parsing GRUB physical memory map", WAIT));
    // 512 MiB of RAM above 1 MiB, as QEMU's e820 map says.
    ok(q.expect("Adding physical memory region 0x100000-0x1ffdf000", WAIT));
    let m = ok(q.expect_regex(r"ACPI: (\d+) CPU\(s\) detected", WAIT));
    assert_eq!(m.groups[0].as_deref(), Some("1"));
    ok(q.expect("Detected 0 boot module(s):", WAIT));
    ok(q.expect("Expect at least one boot module (containing a userland image)", WAIT));
    ok(q.expect("boot_sys failed", WAIT));
    ok(q.expect("halting...", WAIT));
    // No IOMMU in the default configuration even though the machine has none either.
    assert!(!q.output().contains("IOMMU"), "{}", q.output());
    // Plain text: no ANSI colour codes (CONFIG_COLOUR_PRINTING is off).
    assert!(!q.output().contains('\u{1b}'), "{:?}", q.output());
}

#[test]
fn kernel_rejects_a_garbage_boot_module() {
    let garbage = scratch(&format!("garbage-{}.bin", std::process::id()));
    fs::write(&garbage, vec![0xa5u8; 8192]).unwrap();
    let mut q = boot(QemuConfig::new().kernel(kernel(KernelVariant::Default)).initrd(&garbage));
    ok(q.expect("Detected 1 boot module(s):", WAIT));
    let m = ok(q.expect_regex(r"module #0: start=0x[0-9a-f]+ end=0x[0-9a-f]+ size=0x([0-9a-f]+)", WAIT));
    assert_eq!(m.groups[0].as_deref(), Some("2000"), "8192 bytes");
    ok(q.expect("Boot module does not contain a valid ELF image", WAIT));
    ok(q.expect("boot_sys failed", WAIT));
}

#[test]
fn tiny_root_task_reaches_user_space_and_prints_via_syscall() {
    let root = hello_root();
    let mut q = boot(QemuConfig::new().kernel(kernel(KernelVariant::Default)).initrd(&root));
    ok(q.expect("ELF-loading userland images from boot modules:", WAIT));
    ok(q.expect("v_entry=0x401000 v_start=0x400000", WAIT));
    ok(q.expect("Booting all finished, dropped to user space", WAIT));
    ok(q.expect("hello-root: user space reached via seL4_DebugPutChar\n", WAIT));
    eprintln!("root task's first line after {:?}", q.elapsed());
    assert!(q.is_running(), "the root task yields forever; QEMU must still run");
}

/// Our kernel switches the FPU eagerly unless its command line says `lazy_fpu`
/// (support/kernel/README.md); it says which, and boots either way.
#[test]
fn the_kernel_says_which_fpu_scheme_it_runs() {
    let root = hello_root();
    for (append, want) in [("", "Boot config: lazy_fpu = false"), ("lazy_fpu", "Boot config: lazy_fpu = true")] {
        let mut cfg = QemuConfig::new().kernel(kernel(KernelVariant::Default)).initrd(&root);
        if !append.is_empty() {
            cfg = cfg.append(append);
        }
        let mut q = boot(cfg);
        ok(q.expect(want, WAIT));
        ok(q.expect("hello-root: user space reached via seL4_DebugPutChar\n", WAIT));
    }
}

#[test]
fn iommu_kernel_finds_and_enables_qemus_vtd_unit() {
    let root = hello_root();
    let mut q = boot(QemuConfig::new().kernel(kernel(KernelVariant::Iommu)).initrd(&root).iommu(true));
    ok(q.expect("ACPI: IOMMU host address width: 39", WAIT));
    ok(q.expect("ACPI: 1 IOMMUs detected", WAIT));
    ok(q.expect("IOMMU 0x0: 16-bit domain IDs supported", WAIT));
    let m = ok(q.expect_regex(r"IOMMU: Using (\d) page-table levels", WAIT));
    assert_eq!(m.groups[0].as_deref(), Some("3"));
    ok(q.expect("IOMMU 0x0: enabling... enabled", WAIT));
    ok(q.expect("Booting all finished, dropped to user space", WAIT));
    ok(q.expect("hello-root: user space reached", WAIT));
}

#[test]
fn qemu_accepts_an_e1000_on_a_dgram_link_with_pcap() {
    let root = hello_root();
    let link = ok(DgramLink::new());
    let pcap = scratch(&format!("dgram-{}.pcap", std::process::id()));
    let _ = fs::remove_file(&pcap);
    let nic = link.e1000().mac("52:54:00:12:34:56").pcap(&pcap);
    let mut q = boot(QemuConfig::new().kernel(kernel(KernelVariant::Default)).initrd(&root).nic(nic));
    ok(q.expect("hello-root: user space reached", WAIT));
    // The guest has no driver, so nothing comes back; but QEMU is bound to its port and a
    // frame we send is taken in by the NIC model (and dumped), not refused.
    let mut frame = vec![0xffu8; 6];
    frame.extend_from_slice(&[0x02, 0, 0, 0, 0, 1, 0x88, 0xb5]);
    frame.resize(60, 0);
    ok(link.send_frame(&frame));
    std::thread::sleep(Duration::from_millis(300));
    assert!(q.is_running(), "{}", q.stderr());
    drop(q);
    let dump = fs::read(&pcap).expect("filter-dump wrote the pcap file");
    assert_eq!(&dump[..4], &[0xd4, 0xc3, 0xb2, 0xa1], "pcap magic (little-endian)");
}

#[test]
fn qemu_accepts_an_e1000_on_user_networking() {
    let root = hello_root();
    let port = ok(qemu_harness::free_udp_port());
    let nic = Nic::e1000(Netdev::User { udp_forwards: vec![(port, 7)] });
    let mut q = boot(QemuConfig::new().kernel(kernel(KernelVariant::Default)).initrd(&root).nic(nic));
    ok(q.expect("hello-root: user space reached", WAIT));
    assert!(q.is_running(), "{}", q.stderr());
}

/// Issue 13: each kernel variant (the patch in support/kernel/patch-source.py is shared by
/// all) writes its boot log and a user program's seL4_DebugPutChar output to the VGA text
/// screen as well as to COM1; with no display adapter the serial output is unchanged and the
/// screen stays empty. Fails on a kernel without the patch (the screen then still shows
/// SeaBIOS's lines).
#[test]
fn every_kernel_variant_prints_on_the_vga_screen_too() {
    let root = hello_root();
    for variant in [KernelVariant::Default, KernelVariant::Iommu, KernelVariant::Bench, KernelVariant::BenchIommu] {
        for vga in ["std", "none"] {
            let cfg = QemuConfig::new().kernel(kernel(variant)).initrd(&root).vga(vga).monitor(true);
            let mut q = boot(cfg);
            ok(q.expect("Booting all finished, dropped to user space", WAIT));
            ok(q.expect("hello-root: user space reached via seL4_DebugPutChar\n", WAIT));
            // The root task yields forever without printing: the screen is final.
            let screen = ok(q.vga_text());
            let dump = format!("{variant:?} -vga {vga}, screen:\n{}\nserial:\n{}", screen.join("\n"), q.output());
            if vga == "none" {
                assert!(screen.iter().all(|r| r.is_empty()), "{dump}");
                continue;
            }
            // The last lines of the serial log, in order, are the last rows of the screen
            // (each is shorter than 80 columns), then the row the next character would go to.
            // They span the switch from the boot page tables to the kernel's own ("Mapping
            // kernel window is done" comes just before it) and the return to user space.
            let serial = q.output().replace('\r', "");
            let lines: Vec<&str> = serial.trim_end().lines().collect();
            let last = screen.iter().rposition(|r| !r.is_empty()).expect("a blank screen");
            let want = &lines[lines.len() - 4..];
            assert!(want.iter().all(|l| l.len() < 80), "{dump}");
            assert!(last + 1 >= want.len(), "too few rows on the screen: {dump}");
            assert_eq!(&screen[last + 1 - want.len()..=last], want, "{dump}");
            assert_eq!(screen.last().map(String::as_str), Some(""), "{dump}");
            assert!(screen.iter().any(|r| r == "Booting all finished, dropped to user space"), "{dump}");
            assert_eq!(screen[last], "hello-root: user space reached via seL4_DebugPutChar", "{dump}");
        }
    }
}
