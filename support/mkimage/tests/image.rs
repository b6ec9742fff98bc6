//! End-to-end tests of the image tool on real (tiny) ELF executables built with gcc:
//! the image's spec must describe the system and carry every patch, and each kind of bad
//! input must be refused with a message pointing at the system file.

use std::path::{Path, PathBuf};
use std::process::Command;

use object::{Object, ObjectSegment, ObjectSymbol};
use spec::{PdInfo, Spec};
use zerocopy::FromBytes;

fn tmpdir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("mkimage-test-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// Compiles a freestanding static executable from C source.
fn cc(dir: &Path, name: &str, src: &str) -> PathBuf {
    let c = dir.join(format!("{name}.c"));
    std::fs::write(&c, src).unwrap();
    let out = dir.join(name);
    let st = Command::new("gcc")
        .args([
            "-nostdlib",
            "-static",
            "-no-pie",
            "-O1",
            "-Wl,--build-id=none",
            "-Wl,-z,max-page-size=4096",
            "-Wl,-z,separate-code",
        ])
        .arg(format!("-DPD_INFO_SIZE={}", std::mem::size_of::<PdInfo>()))
        .arg("-o")
        .arg(&out)
        .arg(&c)
        .status()
        .expect("gcc is needed by these tests (support/deps.sh installs it)");
    assert!(st.success(), "gcc failed on {name}");
    out
}

const PD_SRC: &str = r#"
unsigned long nic_regs;
unsigned long holdoff_us = 7;
unsigned long dma_paddr;
unsigned int small_var;
struct pd_info { unsigned char b[PD_INFO_SIZE]; } __attribute__((aligned(8)));
struct pd_info __pd_info;
void _start(void) { for (;;) { } }
"#;

const BARE_SRC: &str = "unsigned long nic_regs; void _start(void) { for (;;) { } }\n";

const INIT_SRC: &str = r#"
unsigned long __system_spec_vaddr = 1;
unsigned long __system_spec_len = 1;
void _start(void) { for (;;) { } }
"#;

const SYSTEM: &str = r#"<system>
  <memory_region name="regs" size="0x20000" pci="8086:100e" bar="0"/>
  <memory_region name="dma" size="0x4000"/>
  <protection_domain name="driver" priority="150" fault="restart">
    <program_image path="pd"/>
    <map mr="regs" vaddr="0x20000000" perms="rw" cached="false" setvar_vaddr="nic_regs"/>
    <map mr="dma" vaddr="0x20100000" perms="rw"/>
    <setvar symbol="holdoff_us" value="100"/>
    <setvar symbol="dma_paddr" region_paddr="dma"/>
    <irq id="0" pci="8086:100e"/>
    <fault_notify pd="client" id="5"/>
  </protection_domain>
  <protection_domain name="client" priority="100">
    <program_image path="pd"/>
    <map mr="dma" vaddr="0x20100000" perms="r"/>
  </protection_domain>
  <channel>
    <end pd="client" id="3" pp="true"/>
    <end pd="driver" id="1" notify="false"/>
  </channel>
</system>"#;

struct Fixture {
    dir: PathBuf,
    init: Vec<u8>,
}

fn fixture(name: &str) -> Fixture {
    let dir = tmpdir(name);
    cc(&dir, "pd", PD_SRC);
    cc(&dir, "bare", BARE_SRC);
    let init = std::fs::read(cc(&dir, "init", INIT_SRC)).unwrap();
    Fixture { dir, init }
}

fn build(fx: &Fixture, xml: &str) -> Result<mkimage::Image, String> {
    let system = sdf::parse("sys.xml", xml.as_bytes()).map_err(|d| d.to_string())?;
    mkimage::build(&mkimage::Inputs {
        system_file: "sys.xml",
        system: &system,
        search: std::slice::from_ref(&fx.dir),
        initialiser: &fx.init,
        initialiser_path: Path::new("init"),
        bench_kernel: false,
    })
    .map_err(|e| e.to_string())
}

fn symbol(elf: &[u8], name: &str) -> u64 {
    let f = object::File::parse(elf).unwrap();
    f.symbols().find(|s| s.name() == Ok(name)).unwrap().address()
}

#[test]
fn image_carries_the_system() {
    let fx = fixture("ok");
    let image = build(&fx, SYSTEM).unwrap();
    let out = object::File::parse(&*image.elf).unwrap();
    let init_syms = std::fs::read(fx.dir.join("init")).unwrap();
    let spec_vaddr_sym = symbol(&init_syms, "__system_spec_vaddr");

    // The initialiser's patched symbols point at the last segment, which is the spec.
    let read_u64 = |vaddr: u64| -> u64 {
        for seg in out.segments() {
            if seg.address() <= vaddr && vaddr + 8 <= seg.address() + seg.size() {
                let d = seg.data().unwrap();
                let o = (vaddr - seg.address()) as usize;
                return u64::from_le_bytes(d[o..o + 8].try_into().unwrap());
            }
        }
        panic!("{vaddr:#x} not loaded");
    };
    let spec_vaddr = read_u64(spec_vaddr_sym);
    let spec_len = read_u64(symbol(&init_syms, "__system_spec_len"));
    assert_eq!(spec_len as usize, image.spec_len);
    let spec_seg = out.segments().find(|s| s.address() == spec_vaddr).expect("spec segment");
    let bytes = &spec_seg.data().unwrap()[..spec_len as usize];
    let spec = Spec::parse(bytes).unwrap();

    assert_eq!(spec.pds.len(), 2);
    let driver = &spec.pds[0];
    assert_eq!(spec.str(&driver.name), "driver");
    assert_eq!(driver.priority, 150);
    assert_eq!(driver.flags & spec::PD_HAS_ENDPOINT, spec::PD_HAS_ENDPOINT, "client pp-calls driver");
    assert_eq!(spec.pds[1].flags & spec::PD_HAS_ENDPOINT, 0);
    // Fault policies (default stop) and the fault notice: when the driver faults, the client
    // is signalled on its id 5.
    assert_eq!((driver.fault, spec.pds[1].fault), (spec::FAULT_RESTART, spec::FAULT_STOP));
    let told: Vec<(u32, u32, u8)> = spec.fault_notifies.iter().map(|f| (f.pd.get(), f.target.get(), f.id)).collect();
    assert_eq!(told, [(0, 1, 5)]);
    assert!(image.report[0].contains("(restarted on a fault)"), "{}", image.report[0]);
    assert_eq!(driver.stack_bottom.get(), mkimage::STACK_TOP - 0x2000);
    assert_eq!(spec.pd_maps(driver).len(), 2);
    assert_eq!(spec.pd_maps(driver)[0].cached, 0);
    assert_eq!(spec.regions[0].kind, spec::REGION_PCI);
    assert_eq!(spec.regions[0].pci.vendor.get(), 0x8086);
    let irqs = spec.pd_irqs(driver);
    assert_eq!(irqs.len(), 1);
    assert_eq!((irqs[0].kind, irqs[0].level, irqs[0].active_low, irqs[0].vector), (spec::IRQ_PCI, 1, 1, 0));
    // The driver's region_paddr setvar, then one TSC-frequency patch per PD (its info block).
    assert_eq!(spec.patches.len(), 3);
    assert_eq!(spec.patches[0].region.get(), 1);
    for (k, p) in spec.patches[1..].iter().enumerate() {
        assert_eq!(p.region.get(), spec::PATCH_TSC_HZ);
        assert_eq!(p.pd.get() as usize, k);
    }

    // Setvars and the PD info block are in the driver's segment bytes.
    let pd_elf = std::fs::read(fx.dir.join("pd")).unwrap();
    let seg_read = |pd: &spec::PdRec, vaddr: u64, len: usize| -> Vec<u8> {
        for s in spec.pd_segments(pd) {
            if s.vaddr.get() <= vaddr && vaddr + len as u64 <= s.vaddr.get() + s.mem_size.get() {
                let d = spec.segment_data(s);
                let o = (vaddr - s.vaddr.get()) as usize;
                let mut v = vec![0; len];
                let have = d.len().saturating_sub(o).min(len);
                v[..have].copy_from_slice(&d[o..o + have]);
                return v;
            }
        }
        panic!("{vaddr:#x} not in PD");
    };
    let u = |b: Vec<u8>| u64::from_le_bytes(b.try_into().unwrap());
    assert_eq!(u(seg_read(driver, symbol(&pd_elf, "nic_regs"), 8)), 0x2000_0000);
    assert_eq!(u(seg_read(driver, symbol(&pd_elf, "holdoff_us"), 8)), 100);
    assert_eq!(u(seg_read(&spec.pds[1], symbol(&pd_elf, "holdoff_us"), 8)), 7, "unset setvar keeps its value");
    assert_eq!(spec.patches[0].vaddr.get(), symbol(&pd_elf, "dma_paddr"));

    let info_bytes = seg_read(driver, symbol(&pd_elf, "__pd_info"), std::mem::size_of::<PdInfo>());
    let info = PdInfo::read_from_bytes(&info_bytes).unwrap();
    assert!(info.is_filled());
    assert_eq!(info.name(), "driver");
    let info_vaddr = symbol(&pd_elf, "__pd_info");
    assert_eq!(
        spec.patches[1].vaddr.get(),
        info_vaddr + std::mem::offset_of!(PdInfo, tsc_hz) as u64,
        "the initialiser writes the TSC frequency into the info block"
    );
    assert_eq!(info.tsc_hz.get(), 0, "known only at boot");
    assert_eq!(info.irqs.get(), 1);
    assert_eq!(info.notify.get(), 0, "driver end has notify=false");
    assert_eq!(info.pp.get(), 0);
    let cinfo =
        PdInfo::read_from_bytes(&seg_read(&spec.pds[1], symbol(&pd_elf, "__pd_info"), std::mem::size_of::<PdInfo>()))
            .unwrap();
    assert_eq!(cinfo.name(), "client");
    assert_eq!(cinfo.notify.get(), 1 << 3);
    assert_eq!(cinfo.pp.get(), 1 << 3);
}

fn error_of(xml: &str, fx: &Fixture) -> String {
    match build(fx, xml) {
        Ok(_) => panic!("image built, expected an error"),
        Err(e) => e,
    }
}

#[test]
fn bad_inputs_are_refused_at_their_line() {
    let fx = fixture("bad");
    let missing = SYSTEM.replacen(r#"<program_image path="pd"/>"#, r#"<program_image path="nope.elf"/>"#, 1);
    let e = error_of(&missing, &fx);
    assert!(
        e.starts_with("sys.xml:5:5: error: program_image `nope.elf` of protection_domain `driver` not found"),
        "{e}"
    );

    std::fs::write(fx.dir.join("garbage"), b"\x7fELF but not really").unwrap();
    let garbage = SYSTEM.replacen(r#"<program_image path="pd"/>"#, r#"<program_image path="garbage"/>"#, 1);
    let e = error_of(&garbage, &fx);
    assert!(e.starts_with("sys.xml:5:5: error:") && e.contains("not a readable ELF file"), "{e}");

    let no_sym = SYSTEM.replacen(r#"<setvar symbol="holdoff_us""#, r#"<setvar symbol="no_such_symbol""#, 1);
    let e = error_of(&no_sym, &fx);
    assert!(
        e.starts_with("sys.xml:8:13: error: setvar `no_such_symbol`") && e.contains("has no symbol `no_such_symbol`"),
        "{e}"
    );

    let small = SYSTEM.replacen(r#"<setvar symbol="holdoff_us""#, r#"<setvar symbol="small_var""#, 1);
    let e = error_of(&small, &fx);
    assert!(e.contains("symbol `small_var` is 4 bytes, expected 8"), "{e}");

    let no_info = SYSTEM
        .replacen(r#"<program_image path="pd"/>"#, r#"<program_image path="bare"/>"#, 1)
        .replace(r#"<setvar symbol="holdoff_us" value="100"/>"#, "")
        .replace(r#"<setvar symbol="dma_paddr" region_paddr="dma"/>"#, "");
    let e = error_of(&no_info, &fx);
    assert!(e.contains("has no symbol `__pd_info`") && e.contains("PDs must link the PD runtime"), "{e}");

    // A map over the program image (gcc links at 0x400000).
    let overlap = SYSTEM.replacen(r#"vaddr="0x20100000" perms="rw"/>"#, r#"vaddr="0x400000" perms="rw"/>"#, 1);
    let e = error_of(&overlap, &fx);
    assert!(e.starts_with("sys.xml:7:5: error: map of `dma` at 0x400000..0x404000 overlaps the program image"), "{e}");

    // A map over the stack.
    let stack = SYSTEM.replacen(r#"vaddr="0x20100000" perms="rw"/>"#, r#"vaddr="0x7ffff0000000" perms="rw"/>"#, 1);
    let e = error_of(&stack, &fx);
    assert!(e.contains("overlaps the IPC buffer"), "{e}");
    let stack = SYSTEM.replacen(r#"vaddr="0x20100000" perms="rw"/>"#, r#"vaddr="0x7fffeffff000" perms="rw"/>"#, 1);
    let e = error_of(&stack, &fx);
    assert!(e.contains("overlaps the stack and its guard page"), "{e}");
}

#[test]
fn initialiser_without_spec_symbols_is_refused() {
    let mut fx = fixture("noinit");
    fx.init = std::fs::read(fx.dir.join("bare")).unwrap();
    let e = error_of(SYSTEM, &fx);
    assert!(e.starts_with("init: error: initialiser has no symbol `__system_spec_vaddr`"), "{e}");
}

#[test]
fn pci_alternatives_msi_and_the_bound_pci_id_reach_the_spec() {
    let fx = fixture("alternatives");
    let system = SYSTEM
        .replacen(r#"pci="8086:100e" bar="0""#, r#"pci="8086:100e|8086:10d3|100b:0022" bar="0|0|1""#, 1)
        .replacen(
            r#"<irq id="0" pci="8086:100e"/>"#,
            r#"<irq id="0" pci="8086:100e|8086:10d3|100b:0022" msi="true"/>"#,
            1,
        )
        .replacen(r#"region_paddr="dma""#, r#"region_pci_id="regs""#, 1);
    let image = build(&fx, &system).unwrap();
    let out = object::File::parse(&*image.elf).unwrap();
    let init_syms = std::fs::read(fx.dir.join("init")).unwrap();
    let spec_vaddr = {
        let sym = symbol(&init_syms, "__system_spec_vaddr");
        let seg = out.segments().find(|s| s.address() <= sym && sym + 8 <= s.address() + s.size()).unwrap();
        let o = (sym - seg.address()) as usize;
        u64::from_le_bytes(seg.data().unwrap()[o..o + 8].try_into().unwrap())
    };
    let spec_seg = out.segments().find(|s| s.address() == spec_vaddr).expect("spec segment");
    let spec = Spec::parse(&spec_seg.data().unwrap()[..image.spec_len]).unwrap();
    let r = &spec.regions[0];
    let ids: Vec<(u16, u16, u8)> =
        r.pci_candidates().enumerate().map(|(n, p)| (p.vendor.get(), p.device.get(), r.bar_of(n))).collect();
    assert_eq!(ids, [(0x8086, 0x100e, 0), (0x8086, 0x10d3, 0), (0x100b, 0x0022, 1)]);
    let irq = &spec.pd_irqs(&spec.pds[0])[0];
    assert_eq!(irq.msi, 1);
    let ids: Vec<u16> = irq.pci_candidates().map(|p| p.device.get()).collect();
    assert_eq!(ids, [0x100e, 0x10d3, 0x0022]);
    assert_eq!((spec.patches[0].kind.get(), spec.patches[0].region.get()), (spec::PATCH_PCI_ID, 0));
    assert!(spec.patches[1..].iter().all(|p| p.kind.get() == spec::PATCH_PADDR));
}
