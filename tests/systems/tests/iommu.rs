//! QEMU test of DMA confinement (issue 12, item 3; `make test-iommu`, part of `make test`), on
//! tests/systems/iommu-stray.xml: the test driver gives its first receive buffer to the device
//! at the physical address of another PD's page (the victim's, filled with a known pattern),
//! outside its DMA grant, and a frame arrives.
//!
//! - With the IOMMU kernel and QEMU's VT-d unit, the boot log says DMA is confined, the
//!   device's write faults in the IOMMU (the kernel's `IOMMU: DMA write page fault` line names
//!   the NIC's request id and the victim's page), and the victim finds its pattern intact.
//! - Without the IOMMU (the negative control that proves the test can fail), the boot log says
//!   DMA is not confined and the frame overwrites the victim's page.
//!
//! In both runs the loopback still gets its frames through its own buffers afterwards.
//! Frames travel over QEMU's `dgram` netdev; every QEMU run has a hard limit.

use std::sync::Mutex;
use std::time::Duration;

use qemu_harness::{build_image, build_kernel, DgramLink, KernelVariant, Qemu, QemuConfig};

mod common;
use common::{looped, seq_of, Macs};

const SYSTEM: &str = "tests/systems/iommu-stray.xml";
const WAIT: Duration = Duration::from_secs(60);
const RUN_LIMIT: Duration = Duration::from_secs(240);
const MACS: Macs = Macs { guest: [0x52, 0x54, 0x00, 0xab, 0xcd, 0x12], host: [0x02, 0x00, 0x00, 0x00, 0x00, 0x12] };

static SERIAL: Mutex<()> = Mutex::new(());

fn ok<T>(r: qemu_harness::Result<T>) -> T {
    r.unwrap_or_else(|e| panic!("{e}"))
}

fn hex(s: &str) -> u64 {
    u64::from_str_radix(s.trim_start_matches("0x"), 16).unwrap_or_else(|e| panic!("{s}: {e}"))
}

/// What one boot showed: the victim's physical page, the NIC's request id, the whole log.
struct Run {
    victim: u64,
    request_id: Option<u64>,
    q: Qemu,
    link: DgramLink,
}

/// Boots the stray system with or without the IOMMU, sends frames until the device has
/// completed the stray buffer, and waits for the victim's verdict (returned in the log).
fn run(iommu: bool) -> Run {
    let img = build_image(SYSTEM).unwrap_or_else(|e| panic!("{e}"));
    let kernel = build_kernel(if iommu { KernelVariant::Iommu } else { KernelVariant::Default })
        .unwrap_or_else(|e| panic!("{e}"));
    let link = ok(DgramLink::new());
    let cfg = QemuConfig::new()
        .iommu(iommu)
        .kernel(kernel)
        .initrd(img)
        .nic(link.e1000().mac(MACS.guest_str()))
        .timeout(RUN_LIMIT);
    let mut q = ok(Qemu::spawn(cfg));
    let request_id = if iommu {
        let m = ok(q.expect_regex(
            r"initialiser: DMA: PCI [0-9a-f:.]+ \(8086:100e, request id (0x[0-9a-f]+)\) reaches only 0x210000 bytes in 2 region\(s\) \(driver_dma, net_buffers\)",
            WAIT,
        ));
        ok(q.expect("initialiser: DMA: confined by VT-d (3-level IO page tables)", WAIT));
        Some(hex(m.groups[0].as_deref().unwrap_or("")))
    } else {
        ok(q.expect("initialiser: DMA: NOT confined (kernel built without IOMMU support)", WAIT));
        None
    };
    ok(q.expect("loopback: 128 receive buffers of 2048 bytes posted", WAIT));
    let posted = ok(q.expect_regex(
        r"driver: TEST HOOK: receive slot \d+ given to the device at physical (0x[0-9a-f]+), outside this driver's DMA grant",
        WAIT,
    ));
    // The victim (priority 40) runs only once every other PD waits, after the posting above.
    let v = ok(q.expect_regex(r"victim: pattern written to 4096 bytes at physical (0x[0-9a-f]+)\n", WAIT));
    let victim = hex(v.groups[0].as_deref().unwrap_or(""));
    assert_eq!(hex(posted.groups[0].as_deref().unwrap_or("")), victim, "the stray buffer must be the victim's page");
    // The device fills receive slots in order, so the first frame goes to the stray buffer;
    // send a few in case one is dropped before the ring is live.
    for s in 0..5u32 {
        ok(link.send_frame(&MACS.frame(200, s)));
        if q.output().contains("the device completed receive slot") {
            break;
        }
        std::thread::sleep(Duration::from_millis(300));
    }
    ok(q.expect("driver: TEST HOOK: the device completed receive slot", WAIT));
    Run { victim, request_id, q, link }
}

/// After the stray frame, frames still loop through the loopback's own buffers.
fn frames_still_loop(r: &Run) {
    for s in 100..105u32 {
        let f = MACS.frame(60 + s as usize * 13, s);
        ok(r.link.send_frame(&f));
        let got = r
            .link
            .recv_frame_matching(Duration::from_secs(20), |g| seq_of(g) == Some(s))
            .unwrap_or_else(|e| panic!("frame {s} did not come back: {e}\n{}", r.q.output()));
        assert_eq!(got, looped(&f), "frame {s} came back changed");
    }
}

#[test]
fn stray_dma_is_blocked_by_the_iommu_and_lands_without_it() {
    let _g = SERIAL.lock().unwrap_or_else(|p| p.into_inner());

    // Confined: the fault is reported, naming the NIC and the victim's page; the page is intact.
    let mut r = run(true);
    let rid = r.request_id.expect("request id");
    // The kernel reports the fault when VT-d raises it, before the driver sees the completion.
    let out = r.q.output();
    let line = out
        .lines()
        .find_map(|l| l.split_once("IOMMU: DMA write page fault from bus/dev/fun ").map(|(_, rest)| rest))
        .unwrap_or_else(|| panic!("no IOMMU fault line:\n{out}"));
    // "0x8 on address 0x0:1fef0000 with reason code 0x5"
    let words: Vec<&str> = line.split_whitespace().collect();
    assert!(words.len() >= 4 && words[1] == "on" && words[2] == "address", "{line}");
    assert_eq!(hex(words[0]), rid, "the fault must name the NIC: {line}");
    let (hi, lo) = words[3].split_once(':').unwrap_or_else(|| panic!("{line}"));
    let addr = hex(hi) << 32 | hex(lo);
    assert_eq!(addr & !0xfff, r.victim, "the blocked write was aimed at the victim's page: {line}");
    ok(r.q.expect("victim: pattern intact (4096 bytes)", WAIT));
    assert!(!r.q.output().contains("pattern overwritten"), "{}", r.q.output());
    frames_still_loop(&r);
    drop(r);

    // Negative control: the same system without the IOMMU; the frame lands in the victim's page.
    let mut r = run(false);
    ok(r.q.expect_regex(r"victim: pattern overwritten: \d+ of 4096 bytes changed, the first at offset 0x0\n", WAIT));
    assert!(!r.q.output().contains("IOMMU: DMA"), "{}", r.q.output());
    frames_still_loop(&r);
}
