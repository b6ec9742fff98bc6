//! PXE boot (issue 13 item 6), following the README's "Deploy to hardware" PXE instructions as
//! written: `make pxe` prepares build/system/pxe/ (kernel32.elf, image.elf and the iPXE script
//! boot.ipxe from support/pxe/), QEMU's user-network DHCP names boot.ipxe as the boot file and
//! its TFTP server serves that directory, and the machine (q35, VT-d, one e1000) boots from the
//! e1000's option ROM, the iPXE ROM of Debian's `ipxe-qemu` package. No `-kernel`, no cdrom:
//! the firmware has nothing else to boot. Twice: with the boot file boot.ipxe (iPXE's own
//! multiboot loader), and with pxelinux.0 (PXELINUX and mboot.c32, support/pxe/pxelinux.cfg,
//! which iPXE runs as any PXE ROM would).
//!
//! What shows it came over the network:
//! - iPXE's banner, its feature list (with MBOOT and TFTP) and its `net0: <MAC> using 82540em`
//!   on the VGA text screen (iPXE prints nowhere else; the machine has QEMU's standard VGA, and
//!   the test reads the screen through QEMU's monitor until the kernel, which clears it,
//!   prints its first line);
//! - iPXE: the kernel's boot log names its command line and its module by the URLs iPXE
//!   fetched them from (`parsing cmdline 'tftp://10.0.2.2/kernel32.elf'`,
//!   `name='tftp://10.0.2.2/image.elf'`; QEMU's `-kernel` and GRUB name them otherwise);
//!   PXELINUX: its banner and `Loading kernel32.elf... ok`, `Loading image.elf... ok` on COM1;
//! - the NIC's frames (a pcap of the run) hold the guest's TFTP read requests: exactly
//!   boot.ipxe, kernel32.elf, image.elf; for PXELINUX, pxelinux.0, its modules, its
//!   configuration and then the two files, in that order;
//! - then the system the PXE ROM booted drives the same NIC: DMA confined by VT-d, `system up`,
//!   and the UDP echo answers through the user netdev.
//!
//! And `make run-pxe`'s command line (support/qemu/run.sh --pxe, dry run) is this machine's.

mod common;

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use qemu_harness::{build_lock, repo_root, Netdev, Nic, Qemu, QemuConfig, IPXE_E1000_ROM};

const WAIT: Duration = Duration::from_secs(90);
const RUN_LIMIT: Duration = Duration::from_secs(240);
/// QEMU's user-network host, which runs its DHCP and TFTP servers.
const SLIRP_HOST: &str = "10.0.2.2";

fn ok<T>(r: qemu_harness::Result<T>) -> T {
    r.unwrap_or_else(|e| panic!("{e}"))
}

/// `make pxe SYSTEM=system.xml`, as the README says; returns build/system/pxe.
fn make_pxe() -> PathBuf {
    let _guard = build_lock();
    let out = Command::new("make")
        .args(["--no-print-directory", "pxe", "SYSTEM=system.xml"])
        .current_dir(repo_root())
        .stdin(Stdio::null())
        .output()
        .expect("`make` must be installed (support/deps.sh installs it)");
    let log = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "make pxe failed:\n{log}");
    let dir = repo_root().join("build/system/pxe");
    let pxelinux = ["pxelinux.0", "pxelinux.cfg/default", "ldlinux.c32", "libcom32.c32", "mboot.c32"];
    for f in ["boot.ipxe", "kernel32.elf", "image.elf"].into_iter().chain(pxelinux) {
        assert!(dir.join(f).is_file(), "make pxe did not write {}:\n{log}", dir.join(f).display());
    }
    let script = std::fs::read_to_string(dir.join("boot.ipxe")).unwrap();
    let shipped = std::fs::read_to_string(repo_root().join("support/pxe/boot.ipxe")).unwrap();
    assert_eq!(script, shipped, "build/system/pxe/boot.ipxe must be support/pxe/boot.ipxe");
    let cfg = std::fs::read_to_string(dir.join("pxelinux.cfg/default")).unwrap();
    let shipped = std::fs::read_to_string(repo_root().join("support/pxe/pxelinux.cfg")).unwrap();
    assert_eq!(cfg, shipped, "build/system/pxe/pxelinux.cfg/default must be support/pxe/pxelinux.cfg");
    dir
}

/// The frames of a pcap file (classic format, either byte order), in capture order.
fn pcap_frames(bytes: &[u8]) -> Vec<Vec<u8>> {
    assert!(bytes.len() >= 24, "pcap file too short ({} bytes)", bytes.len());
    let magic = u32::from_le_bytes(bytes[..4].try_into().unwrap());
    let le = match magic {
        0xa1b2_c3d4 | 0xa1b2_3c4d => true,
        0xd4c3_b2a1 | 0x4d3c_b2a1 => false,
        _ => panic!("not a pcap file (magic {magic:#x})"),
    };
    let word = |at: usize| {
        let b: [u8; 4] = bytes[at..at + 4].try_into().unwrap();
        if le {
            u32::from_le_bytes(b)
        } else {
            u32::from_be_bytes(b)
        }
    };
    let mut frames = Vec::new();
    let mut at = 24;
    while at + 16 <= bytes.len() {
        let caught = word(at + 8) as usize;
        let start = at + 16;
        if start + caught > bytes.len() {
            break; // a record cut short when QEMU was killed
        }
        frames.push(bytes[start..start + caught].to_vec());
        at = start + caught;
    }
    frames
}

/// The file names of the guest's TFTP read requests (opcode 1 to the server's port 69), in
/// order, each once (a retried request is not a new file).
fn tftp_read_requests(frames: &[Vec<u8>]) -> Vec<String> {
    let server: [u8; 4] = SLIRP_HOST.parse::<std::net::Ipv4Addr>().unwrap().octets();
    let mut names: Vec<String> = Vec::new();
    for f in frames {
        let Some(udp) = net_testkit::parse_udp(f) else { continue };
        if udp.to.addr != server || udp.to.port != 69 || udp.payload.len() < 4 || udp.payload[..2] != [0, 1] {
            continue;
        }
        let name = &udp.payload[2..];
        let name = String::from_utf8_lossy(&name[..name.iter().position(|&b| b == 0).unwrap_or(name.len())]);
        if names.last().map(String::as_str) != Some(&*name) {
            names.push(name.into_owned());
        }
    }
    names
}

/// Every distinct VGA text screen (rows joined by newlines) seen until `line` is on the serial
/// console, read through QEMU's monitor every 20 ms.
fn screens_until(q: &mut Qemu, line: &str) -> Vec<String> {
    let deadline = Instant::now() + WAIT;
    let mut screens: Vec<String> = Vec::new();
    while !q.output().contains(line) && Instant::now() < deadline {
        // Errors (QEMU not yet listening on its monitor) only leave a screen unread.
        if let Ok(rows) = q.vga_text() {
            let screen = rows.join("\n");
            if screens.last() != Some(&screen) {
                screens.push(screen);
            }
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    screens
}

/// What one network boot must show, besides iPXE's lines on the screen and the system up.
struct Expect {
    /// The DHCP boot file.
    bootfile: &'static str,
    /// Serial lines, in order, up to the kernel's module line.
    serial: Vec<String>,
    /// The guest's TFTP read requests: exactly these, or (PXELINUX, which probes many
    /// configuration file names) at least these in this order.
    requests: &'static [&'static str],
    exact: bool,
}

fn boot_over_the_network(want: Expect) {
    let dir = make_pxe();
    let port = qemu_harness::free_udp_port().unwrap_or_else(|e| panic!("{e}"));
    let pcap = std::env::temp_dir().join(format!("pxe-test-{}-{}.pcap", std::process::id(), want.bootfile));
    let _ = std::fs::remove_file(&pcap);
    let netdev = Netdev::UserTftp { udp_forwards: vec![(port, 7)], tftp: dir, bootfile: want.bootfile.into() };
    let cfg = QemuConfig::new()
        .iommu(true)
        .nic(Nic::e1000(netdev).boot_rom(IPXE_E1000_ROM).pcap(&pcap))
        .vga("std")
        .monitor(true)
        .timeout(RUN_LIMIT);
    let mut q = ok(Qemu::spawn(cfg));
    // iPXE writes only to the screen, which the kernel clears at its first character: read
    // it until the kernel's first line is on the serial console.
    let screens = screens_until(&mut q, "Boot config: parsing cmdline");
    for line in ["Open Source Network Boot Firmware", "Features: ", "net0: 52:54:00:12:34:56 using 82540em"] {
        assert!(
            screens.iter().any(|screen| screen.contains(line)),
            "{line:?} (iPXE's) was never on the screen before the kernel started; screens seen:\n{}\nserial:\n{}",
            screens.join("\n---\n"),
            q.output()
        );
    }
    // The longest one: a screen may have been read while iPXE was still writing the line.
    let features = screens
        .iter()
        .flat_map(|s| s.lines())
        .filter(|l| l.starts_with("Features: "))
        .max_by_key(|l| l.len())
        .unwrap_or("");
    assert!(features.contains("TFTP"), "this iPXE has no TFTP: {features}");
    for line in &want.serial {
        ok(q.expect(line, WAIT));
    }
    ok(q.expect("initialiser: DMA: confined by VT-d", WAIT));
    ok(q.expect("initialiser: system up", WAIT));
    ok(q.expect("echo: up", WAIT));

    let answered = common::udp_echo_answers(port, b"pxe echo");
    assert!(answered, "the PXE-booted system did not answer the UDP echo\n{}", q.output());
    let log = q.output();
    drop(q); // QEMU gone: the pcap is complete

    let bytes = std::fs::read(&pcap).unwrap_or_else(|e| panic!("pcap {}: {e}", pcap.display()));
    let _ = std::fs::remove_file(&pcap);
    let requests = tftp_read_requests(&pcap_frames(&bytes));
    let found = if want.exact {
        requests == want.requests
    } else {
        let mut rest = requests.iter();
        want.requests.iter().all(|w| rest.any(|r| r == w))
    };
    assert!(
        found,
        "the guest's TFTP read requests {requests:?} are not {}{:?}\n{log}",
        if want.exact { "" } else { "in order at least " },
        want.requests
    );
}

#[test]
fn pxe_boots_the_default_system_through_ipxe_and_tftp() {
    boot_over_the_network(Expect {
        bootfile: "boot.ipxe",
        serial: vec![
            format!("Boot config: parsing cmdline 'tftp://{SLIRP_HOST}/kernel32.elf'"),
            format!("name='tftp://{SLIRP_HOST}/image.elf'"),
        ],
        requests: &["boot.ipxe", "kernel32.elf", "image.elf"],
        exact: true,
    });
}

/// PXELINUX (pxelinux.0 as the boot file; the iPXE ROM runs it as any PXE ROM would), with
/// mboot.c32 and the APPEND line of support/pxe/pxelinux.cfg; it prints on COM1 itself.
#[test]
fn pxe_boots_the_default_system_through_pxelinux_and_mboot() {
    boot_over_the_network(Expect {
        bootfile: "pxelinux.0",
        serial: [
            "PXELINUX 6.",
            "Loading kernel32.elf... ok",
            "Loading image.elf... ok",
            "Boot config: parsing cmdline 'kernel32.elf'",
            "name='image.elf'",
        ]
        .map(String::from)
        .to_vec(),
        requests: &[
            "pxelinux.0",
            "ldlinux.c32",
            "pxelinux.cfg/default",
            "mboot.c32",
            "libcom32.c32",
            "kernel32.elf",
            "image.elf",
        ],
        exact: false,
    });
}

/// `make run-pxe` (support/qemu/run.sh --pxe) boots the machine the test above boots: the same
/// TFTP netdev, the same ROM, `-boot n`, nothing else to boot.
#[test]
fn run_sh_pxe_and_the_harness_boot_the_same_machine() {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("dry-pxe");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("boot.ipxe"), b"#!ipxe\n").unwrap();
    let script = common::dry_run_words(&common::run_sh_dry(&["--pxe".as_ref(), dir.as_os_str()], &[]));
    let netdev = Netdev::UserTftp { udp_forwards: vec![], tftp: dir.clone(), bootfile: "boot.ipxe".into() };
    let harness = common::harness_words(QemuConfig::new().iommu(true).nic(Nic::e1000(netdev).boot_rom(IPXE_E1000_ROM)));
    let pair = common::has_pair;
    let tftp = format!("user,id=net0,tftp={},bootfile=boot.ipxe", dir.display());
    let rom = format!("e1000,netdev=net0,romfile={IPXE_E1000_ROM}");
    for (flag, value) in [
        ("-machine", "q35,kernel-irqchip=split"),
        ("-device", "intel-iommu"),
        ("-netdev", tftp.as_str()),
        ("-device", rom.as_str()),
        ("-boot", "n"),
    ] {
        assert!(pair(&script, flag, value), "run.sh lacks {flag} {value}: {script:?}");
        assert!(pair(&harness, flag, value), "harness lacks {flag} {value}: {harness:?}");
    }
    for v in [&script, &harness] {
        assert!(!v.iter().any(|a| a == "-kernel" || a == "-cdrom"), "nothing but the NIC to boot: {v:?}");
    }
}
