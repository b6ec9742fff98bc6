//! Checks this crate against the seL4 5.0.0 kernel's own interface description, so a wrong
//! label, a swapped parameter or a misnumbered object type cannot slip in:
//!
//! - invocation labels, recomputed from the three interface XML files the way the kernel's
//!   `invocation_header_gen.py` numbers them, with method conditions evaluated against our
//!   kernel configuration (support/kernel/config/autoconf.h, which must agree with
//!   `sel4::config`);
//! - every method in `sel4::METHODS`: label, input and output parameter names and order;
//! - every message builder in `sel4::invocation::msg`: called with distinct sentinel values, its
//!   message words and extra caps must equal what libsel4's stub generator would produce
//!   (positions recomputed from the XML with the generator's packing rule);
//! - syscall numbers (`syscall.xml`), error codes (`errors.h`), object type numbers
//!   (`objecttype.h` x3 with our config), object sizes (`constants.h`), initial cap slots and
//!   badge/message limits;
//! - the bootinfo, IPC buffer and user-context layouts, by compiling a probe against the
//!   kernel's C headers (when a C compiler is present);
//! - labels and syscall numbers once more, as the kernel build's own generated headers
//!   (build/kernel/{default,iommu}/generated, when built) define them.
//!
//! Without the kernel source (fetched by `support/kernel/sel4-src.sh`) or a C compiler the
//! tests print SKIPPED and why, and pass vacuously; with `CI=true` in the environment they fail
//! instead, so CI can never pass without having checked the ABI.

use roxmltree::Document;
use sel4::bootinfo::offset;
use sel4::invocation::{msg, Invocation, METHODS};
use sel4::syscall::SYSCALLS;
use sel4::{
    config, init, CPtr, CapData, CapRights, Error, ObjectType, PrioProps, UserContext, VmAttributes, LABELS,
    OBJECT_TYPES,
};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::process::Command;

// ---------------------------------------------------------------------------------------------
// Locating the kernel source and our configuration

fn repo_support() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("support/sel4 has a parent").to_path_buf()
}

/// The seL4/ folder of sel4-sys 0.0.28: $SEL4_SRC, the cargo registry, or sel4-src.sh.
fn kernel_src() -> Option<PathBuf> {
    let ok = |p: &Path| p.join("libsel4/include/interfaces/sel4.xml").is_file();
    if let Some(p) = std::env::var_os("SEL4_SRC").map(PathBuf::from) {
        return ok(&p).then_some(p);
    }
    let cargo_home = std::env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cargo")));
    if let Some(reg) = cargo_home.map(|h| h.join("registry/src")) {
        if let Ok(dirs) = std::fs::read_dir(reg) {
            for d in dirs.flatten() {
                let p = d.path().join("sel4-sys-0.0.28/seL4");
                if ok(&p) {
                    return Some(p);
                }
            }
        }
    }
    let script = repo_support().join("kernel/sel4-src.sh");
    let out = Command::new(script).output().ok()?;
    let p = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
    (out.status.success() && ok(&p)).then_some(p)
}

/// Whether this is a CI run (`CI=true`), where a missing prerequisite fails the test.
fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v.eq_ignore_ascii_case("true"))
}

/// A check cannot run for `why`: prints SKIPPED locally, fails the test under `CI=true`.
fn skip(why: &str) {
    assert!(!in_ci(), "CI=true and {why}: a CI run must check the ABI, not skip it");
    eprintln!("SKIPPED: {why}");
}

macro_rules! kernel_or_skip {
    () => {
        match kernel_src() {
            Some(p) => p,
            None => {
                skip(
                    "seL4 5.0.0 source not found (set SEL4_SRC, or run support/kernel/sel4-src.sh \
                     with crates.io reachable); the ABI was NOT checked against the kernel",
                );
                return;
            }
        }
    };
}

/// `#define CONFIG_X value` lines of our autoconf.h, or our crate's assumptions if it is absent.
fn kernel_config() -> HashMap<String, String> {
    let path = repo_support().join("kernel/config/autoconf.h");
    let mut defs = HashMap::new();
    match std::fs::read_to_string(&path) {
        Ok(text) => {
            for line in text.lines() {
                let mut it = line.split_whitespace();
                if it.next() == Some("#define") {
                    if let Some(name) = it.next() {
                        if name.starts_with("CONFIG_") {
                            defs.insert(name.to_string(), it.next().unwrap_or("1").to_string());
                        }
                    }
                }
            }
            let num =
                |k: &str| defs.get(k).map(|v| v.parse::<u64>().unwrap_or_else(|_| panic!("{k} = {v} is not a number")));
            let on = |k: &str| defs.contains_key(k);
            let msg = |k: &str| format!("{} and sel4::config disagree on {k}: fix one of them", path.display());
            assert_eq!(num("CONFIG_MAX_NUM_NODES"), Some(config::MAX_NUM_NODES), "{}", msg("CONFIG_MAX_NUM_NODES"));
            assert_eq!(
                on("CONFIG_HARDWARE_DEBUG_API"),
                config::HARDWARE_DEBUG_API,
                "{}",
                msg("CONFIG_HARDWARE_DEBUG_API")
            );
            assert_eq!(on("CONFIG_VTX"), config::VTX, "{}", msg("CONFIG_VTX"));
            assert_eq!(on("CONFIG_HUGE_PAGE"), config::HUGE_PAGE, "{}", msg("CONFIG_HUGE_PAGE"));
            assert_eq!(
                num("CONFIG_ROOT_CNODE_SIZE_BITS"),
                Some(config::ROOT_CNODE_SIZE_BITS as u64),
                "{}",
                msg("CONFIG_ROOT_CNODE_SIZE_BITS")
            );
            assert_eq!(
                num("CONFIG_NUM_PRIORITIES"),
                Some(config::NUM_PRIORITIES as u64),
                "{}",
                msg("CONFIG_NUM_PRIORITIES")
            );
            assert_eq!(
                num("CONFIG_MAX_NUM_BOOTINFO_UNTYPED_CAPS"),
                Some(config::MAX_NUM_BOOTINFO_UNTYPED_CAPS as u64),
                "{}",
                msg("CONFIG_MAX_NUM_BOOTINFO_UNTYPED_CAPS")
            );
            assert!(on("CONFIG_SYSCALL"), "{}: this crate's syscall stubs need CONFIG_SYSCALL", path.display());
        }
        Err(_) => {
            eprintln!("note: {} not found; evaluating conditions with sel4::config", path.display());
            defs.insert("CONFIG_MAX_NUM_NODES".into(), config::MAX_NUM_NODES.to_string());
            for (k, on) in [
                ("CONFIG_HARDWARE_DEBUG_API", config::HARDWARE_DEBUG_API),
                ("CONFIG_VTX", config::VTX),
                ("CONFIG_HUGE_PAGE", config::HUGE_PAGE),
            ] {
                if on {
                    defs.insert(k.into(), "1".into());
                }
            }
        }
    }
    defs
}

/// Evaluates the method conditions that occur in the 5.0.0 XML: `defined(CONFIG_X)` and
/// `CONFIG_X > N`. Anything else fails loudly, so a new kernel's conditions get looked at.
fn eval_condition(cond: &str, cfg: &HashMap<String, String>) -> bool {
    let c = cond.trim();
    if c.is_empty() {
        return true;
    }
    if let Some(name) = c.strip_prefix("defined(").and_then(|r| r.strip_suffix(')')) {
        return cfg.contains_key(name.trim());
    }
    if let Some((name, n)) = c.split_once('>') {
        let v: i64 = cfg.get(name.trim()).map(|v| v.parse().expect("numeric config")).unwrap_or(0);
        return v > n.trim().parse::<i64>().expect("numeric bound");
    }
    panic!("unsupported condition {cond:?} in the interface XML: teach eval_condition about it");
}

// ---------------------------------------------------------------------------------------------
// The interface XML

#[derive(Debug, Clone)]
struct Param {
    name: String,
    ty: String,
    input: bool,
}

#[derive(Debug, Clone)]
struct Method {
    id: String,
    /// `<interface>_<method>`, libsel4's stub name.
    c_name: String,
    label: u64,
    params: Vec<Param>,
}

impl Method {
    fn inputs(&self) -> Vec<&Param> {
        self.params.iter().filter(|p| p.input).collect()
    }
    fn outputs(&self) -> Vec<&Param> {
        self.params.iter().filter(|p| !p.input).collect()
    }
}

const XML_FILES: [&str; 3] = [
    "libsel4/include/interfaces/sel4.xml",
    "libsel4/sel4_arch_include/x86_64/interfaces/sel4arch.xml",
    "libsel4/arch_include/x86/interfaces/sel4arch.xml",
];

/// Active methods in label order, numbered as the kernel numbers them: 0 is InvalidInvocation,
/// then each file's methods in document order continue the count of the previous file.
fn load_methods(src: &Path, cfg: &HashMap<String, String>) -> Vec<Method> {
    let mut next = 1u64;
    let mut out = Vec::new();
    for f in XML_FILES {
        let path = src.join(f);
        let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let doc = Document::parse(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        for m in doc.descendants().filter(|n| n.has_tag_name("method")) {
            if !eval_condition(m.attribute("condition").unwrap_or(""), cfg) {
                continue;
            }
            let iface = m
                .ancestors()
                .find(|a| a.has_tag_name("interface"))
                .and_then(|i| i.attribute("name"))
                .expect("method inside an interface");
            let params = m
                .children()
                .filter(|c| c.has_tag_name("param"))
                .map(|p| Param {
                    name: p.attribute("name").expect("param name").to_string(),
                    ty: p.attribute("type").expect("param type").to_string(),
                    input: p.attribute("dir") == Some("in"),
                })
                .collect();
            out.push(Method {
                id: m.attribute("id").expect("method id").to_string(),
                c_name: format!("{iface}_{}", m.attribute("name").expect("method name")),
                label: next,
                params,
            });
            next += 1;
        }
    }
    out
}

/// Size in bits and whether it is a capability, for every type the generator knows
/// (`syscall_stub_gen.py`: `init_data_types` and the x86_64 `init_arch_types`).
fn type_info(ty: &str) -> (usize, bool) {
    match ty {
        "int" | "seL4_Uint32" => (32, false),
        "long"
        | "seL4_Uint64"
        | "seL4_Word"
        | "seL4_CapData_t"
        | "seL4_PrioProps_t"
        | "seL4_CapRights_t"
        | "seL4_X86_VMAttributes" => (64, false),
        "seL4_Uint8" => (8, false),
        "seL4_Uint16" => (16, false),
        "seL4_Bool" => (1, false),
        "seL4_VCPUContext" => (7 * 64, false),
        "seL4_UserContext" => (19 * 64, false),
        "seL4_CPtr"
        | "seL4_CNode"
        | "seL4_IRQHandler"
        | "seL4_IRQControl"
        | "seL4_TCB"
        | "seL4_Untyped"
        | "seL4_DomainSet"
        | "seL4_X86_IOPort"
        | "seL4_X86_ASIDControl"
        | "seL4_X86_ASIDPool"
        | "seL4_X86_IOSpace"
        | "seL4_X86_Page"
        | "seL4_X64_PML4"
        | "seL4_X86_PDPT"
        | "seL4_X86_PageDirectory"
        | "seL4_X86_PageTable"
        | "seL4_X86_IOPageTable"
        | "seL4_X86_VCPU"
        | "seL4_X86_EPTPML4"
        | "seL4_X86_EPTPDPT"
        | "seL4_X86_EPTPD"
        | "seL4_X86_EPTPT" => (64, true),
        other => panic!("type {other} unknown to the stub generator model"),
    }
}

/// (first bit, size in bits) of each non-cap parameter, by the generator's rule: align each to
/// min(its size, 64), in order.
fn positions(params: &[&Param]) -> Vec<Option<(usize, usize)>> {
    let mut bit = 0usize;
    params
        .iter()
        .map(|p| {
            let (size, cap) = type_info(&p.ty);
            if cap {
                return None;
            }
            let a = size.min(64);
            bit = bit.div_ceil(a) * a;
            let r = (bit, size);
            bit += size;
            Some(r)
        })
        .collect()
}

fn methods_by_name(src: &Path) -> HashMap<String, Method> {
    let cfg = kernel_config();
    load_methods(src, &cfg).into_iter().map(|m| (m.c_name.clone(), m)).collect()
}

// ---------------------------------------------------------------------------------------------
// Labels and method table

#[test]
fn every_label_matches_the_kernel_numbering() {
    let src = kernel_or_skip!();
    let cfg = kernel_config();
    let methods = load_methods(&src, &cfg);
    let ours: BTreeMap<&str, u64> = LABELS.iter().map(|(id, l)| (*id, l.number())).collect();
    assert_eq!(ours.get("InvalidInvocation"), Some(&0));
    for m in &methods {
        assert_eq!(
            ours.get(m.id.as_str()),
            Some(&m.label),
            "label {} ({}): kernel number {}, ours {:?}",
            m.id,
            m.c_name,
            m.label,
            ours.get(m.id.as_str())
        );
    }
    // Complete, and nothing extra: every label we define is an active kernel method.
    assert_eq!(ours.len(), methods.len() + 1, "sel4::LABELS has labels the kernel (with our config) does not");
    // The three-part scheme: the x86_64 file starts right after the generic labels.
    let pdpt = methods.iter().find(|m| m.id == "X86PDPTMap").unwrap();
    let last_generic = methods.iter().find(|m| m.id == "DomainSetSet").unwrap();
    assert_eq!(pdpt.label, last_generic.label + 1);
    eprintln!("checked {} invocation labels (1..={})", methods.len(), methods.last().unwrap().label);
}

#[test]
fn method_table_matches_the_xml() {
    let src = kernel_or_skip!();
    let by_name = methods_by_name(&src);
    for spec in METHODS {
        let m = by_name.get(spec.name).unwrap_or_else(|| panic!("{} is not an active kernel method", spec.name));
        assert_eq!(spec.label.number(), m.label, "{}: label", spec.name);
        let ins: Vec<&str> = m.inputs().iter().map(|p| p.name.as_str()).collect();
        assert_eq!(spec.params, ins.as_slice(), "{}: input parameters or their order", spec.name);
        let outs: Vec<&str> = m.outputs().iter().map(|p| p.name.as_str()).collect();
        assert_eq!(spec.outputs, outs.as_slice(), "{}: output parameters", spec.name);
    }
    // Output words our wrappers read: every output's first message word.
    let expect_word = |name: &str, out: &str| -> usize {
        match (name, out) {
            (_, "regs" | "paddr" | "result" | "accessed") => 0,
            (_, "dirty") => 1,
            _ => panic!("{name}: output {out} not handled by a wrapper"),
        }
    };
    for spec in METHODS.iter().filter(|s| !s.outputs.is_empty()) {
        let m = &by_name[spec.name];
        for (p, pos) in m.outputs().iter().zip(positions(&m.outputs())) {
            let (bit, _) = pos.expect("outputs are not caps");
            assert_eq!(bit % 64, 0, "{}: output {} not word aligned", spec.name, p.name);
            assert_eq!(bit / 64, expect_word(spec.name, &p.name), "{}: output {}", spec.name, p.name);
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Marshalling of every builder

/// Compares a built invocation with what the stub generator would send for `values` (one
/// slice per XML input parameter, in XML order: one word, or 19 for a register context).
fn check(by_name: &HashMap<String, Method>, seen: &mut BTreeSet<&'static str>, inv: Invocation, values: &[&[u64]]) {
    let name = inv.spec.name;
    seen.insert(name);
    let m = by_name.get(name).unwrap_or_else(|| panic!("{name}: not an active kernel method"));
    assert_eq!(inv.info().label(), m.label, "{name}: label");
    let ins = m.inputs();
    assert_eq!(values.len(), ins.len(), "{name}: test gives {} values for {} parameters", values.len(), ins.len());
    let mut words = vec![0u64; 0];
    let mut caps = Vec::new();
    let mut end_bit = 0;
    for ((p, pos), v) in ins.iter().zip(positions(&ins)).zip(values) {
        match pos {
            None => caps.push(v[0]),
            Some((bit, size)) => {
                end_bit = bit + size;
                words.resize(end_bit.div_ceil(64), 0);
                if size > 64 {
                    assert_eq!(v.len(), size / 64, "{name}: {} needs {} words", p.name, size / 64);
                    words[bit / 64..bit / 64 + size / 64].copy_from_slice(v);
                } else {
                    let mask = if size == 64 { u64::MAX } else { (1 << size) - 1 };
                    assert_eq!(v[0] & mask, v[0], "{name}: sentinel for {} wider than {size} bits", p.name);
                    words[bit / 64] |= v[0] << (bit % 64);
                }
            }
        }
    }
    assert_eq!(inv.words(), words.as_slice(), "{name}: message words differ from the kernel's layout");
    assert_eq!(words.len(), end_bit.div_ceil(64));
    let got_caps: Vec<u64> = inv.caps().iter().map(|c| c.0).collect();
    assert_eq!(got_caps, caps, "{name}: extra caps differ");
    assert_eq!(inv.info().extra_caps() as usize, caps.len(), "{name}: extraCaps in the tag");
    assert_eq!(inv.info().length() as usize, words.len(), "{name}: length in the tag");
}

#[test]
fn every_builder_marshals_like_libsel4() {
    let src = kernel_or_skip!();
    let m = methods_by_name(&src);
    let mut seen = BTreeSet::new();
    let s = &mut seen;
    let regs: Vec<u64> = (0..19).map(|i| 0x5000 + i).collect();
    let ctx = UserContext::from_words(&regs.clone().try_into().unwrap());

    check(
        &m,
        s,
        msg::untyped_retype(ObjectType::CapTable, 0x11, CPtr(0x12), 0x13, 0x14, 0x15, 0x16),
        &[&[4], &[0x11], &[0x12], &[0x13], &[0x14], &[0x15], &[0x16]],
    );
    check(&m, s, msg::tcb_read_registers(true, 0x7e, 0x13), &[&[1], &[0x7e], &[0x13]]);
    check(&m, s, msg::tcb_write_registers(true, 0x7d, 19, &ctx), &[&[1], &[0x7d], &[19], &regs]);
    check(
        &m,
        s,
        msg::tcb_copy_registers(CPtr(0x21), true, false, true, true, 0x3c),
        &[&[0x21], &[1], &[0], &[1], &[1], &[0x3c]],
    );
    check(
        &m,
        s,
        msg::tcb_configure(
            CPtr(0x31),
            PrioProps::new(0x33, 0x32),
            CPtr(0x34),
            CapData(0x35),
            CPtr(0x36),
            CapData(0x37),
            0x38,
            CPtr(0x39),
        ),
        &[&[0x31], &[0x3332], &[0x34], &[0x35], &[0x36], &[0x37], &[0x38], &[0x39]],
    );
    check(&m, s, msg::tcb_set_priority(0xa1), &[&[0xa1]]);
    check(&m, s, msg::tcb_set_mc_priority(0xa2), &[&[0xa2]]);
    check(&m, s, msg::tcb_set_ipc_buffer(0x41, CPtr(0x42)), &[&[0x41], &[0x42]]);
    check(
        &m,
        s,
        msg::tcb_set_space(CPtr(0x51), CPtr(0x52), CapData(0x53), CPtr(0x54), CapData(0x55)),
        &[&[0x51], &[0x52], &[0x53], &[0x54], &[0x55]],
    );
    check(&m, s, msg::tcb_suspend(), &[]);
    check(&m, s, msg::tcb_resume(), &[]);
    check(&m, s, msg::tcb_bind_notification(CPtr(0x61)), &[&[0x61]]);
    check(&m, s, msg::tcb_unbind_notification(), &[]);
    check(&m, s, msg::cnode_revoke(0x71, 0x72), &[&[0x71], &[0x72]]);
    check(&m, s, msg::cnode_delete(0x73, 0x74), &[&[0x73], &[0x74]]);
    check(&m, s, msg::cnode_cancel_badged_sends(0x75, 0x76), &[&[0x75], &[0x76]]);
    check(
        &m,
        s,
        msg::cnode_copy(0x81, 0x82, CPtr(0x83), 0x84, 0x85, CapRights(6)),
        &[&[0x81], &[0x82], &[0x83], &[0x84], &[0x85], &[6]],
    );
    check(
        &m,
        s,
        msg::cnode_mint(0x91, 0x92, CPtr(0x93), 0x94, 0x95, CapRights(5), CapData(0x96)),
        &[&[0x91], &[0x92], &[0x93], &[0x94], &[0x95], &[5], &[0x96]],
    );
    check(&m, s, msg::cnode_move(0xa1, 0xa2, CPtr(0xa3), 0xa4, 0xa5), &[&[0xa1], &[0xa2], &[0xa3], &[0xa4], &[0xa5]]);
    check(
        &m,
        s,
        msg::cnode_mutate(0xb1, 0xb2, CPtr(0xb3), 0xb4, 0xb5, CapData(0xb6)),
        &[&[0xb1], &[0xb2], &[0xb3], &[0xb4], &[0xb5], &[0xb6]],
    );
    check(
        &m,
        s,
        msg::cnode_rotate(0xc1, 0xc2, CapData(0xc3), CPtr(0xc4), 0xc5, 0xc6, CapData(0xc7), CPtr(0xc8), 0xc9, 0xca),
        &[&[0xc1], &[0xc2], &[0xc3], &[0xc4], &[0xc5], &[0xc6], &[0xc7], &[0xc8], &[0xc9], &[0xca]],
    );
    check(&m, s, msg::cnode_save_caller(0xd1, 0xd2), &[&[0xd1], &[0xd2]]);
    check(
        &m,
        s,
        msg::irq_control_get(0x1234_5678, CPtr(0xe2), 0xe3, 0xe4),
        &[&[0x1234_5678], &[0xe2], &[0xe3], &[0xe4]],
    );
    check(
        &m,
        s,
        msg::irq_control_get_ioapic(CPtr(0xf1), 0xf2, 0xf3, 0xf4, 0xf5, 0xf6, 0xf7, 0xf8),
        &[&[0xf1], &[0xf2], &[0xf3], &[0xf4], &[0xf5], &[0xf6], &[0xf7], &[0xf8]],
    );
    check(
        &m,
        s,
        msg::irq_control_get_msi(CPtr(0x101), 0x102, 0x103, 0x104, 0x105, 0x106, 0x107, 0x108),
        &[&[0x101], &[0x102], &[0x103], &[0x104], &[0x105], &[0x106], &[0x107], &[0x108]],
    );
    check(&m, s, msg::irq_handler_ack(), &[]);
    check(&m, s, msg::irq_handler_set_notification(CPtr(0x111)), &[&[0x111]]);
    check(&m, s, msg::irq_handler_clear(), &[]);
    check(&m, s, msg::domain_set_set(0x12, CPtr(0x121)), &[&[0x12], &[0x121]]);
    check(
        &m,
        s,
        msg::x86_pdpt_map(CPtr(0x131), 0x8000_0000, VmAttributes::CacheDisabled),
        &[&[0x131], &[0x8000_0000], &[2]],
    );
    check(&m, s, msg::x86_pdpt_unmap(), &[]);
    check(
        &m,
        s,
        msg::x86_page_directory_map(CPtr(0x141), 0x4000_0000, VmAttributes::WriteThrough),
        &[&[0x141], &[0x4000_0000], &[1]],
    );
    check(&m, s, msg::x86_page_directory_unmap(), &[]);
    check(&m, s, msg::x86_page_directory_get_status_bits(0x20_0000), &[&[0x20_0000]]);
    check(
        &m,
        s,
        msg::x86_page_table_map(CPtr(0x151), 0x60_0000, VmAttributes::Uncacheable),
        &[&[0x151], &[0x60_0000], &[3]],
    );
    check(&m, s, msg::x86_page_table_unmap(), &[]);
    check(&m, s, msg::x86_io_page_table_map(CPtr(0x161), 0x1_0000_0000), &[&[0x161], &[0x1_0000_0000]]);
    check(&m, s, msg::x86_io_page_table_unmap(), &[]);
    check(
        &m,
        s,
        msg::x86_page_map(CPtr(0x171), 0x40_1000, CapRights(3), VmAttributes::WriteCombining),
        &[&[0x171], &[0x40_1000], &[3], &[4]],
    );
    check(&m, s, msg::x86_page_remap(CPtr(0x181), CapRights(2), VmAttributes::CacheDisabled), &[&[0x181], &[2], &[2]]);
    check(&m, s, msg::x86_page_unmap(), &[]);
    check(&m, s, msg::x86_page_map_io(CPtr(0x191), CapRights(3), 0x7000), &[&[0x191], &[3], &[0x7000]]);
    check(&m, s, msg::x86_page_get_address(), &[]);
    check(
        &m,
        s,
        msg::x86_asid_control_make_pool(CPtr(0x1a1), CPtr(0x1a2), 0x1a3, 0xa4),
        &[&[0x1a1], &[0x1a2], &[0x1a3], &[0xa4]],
    );
    check(&m, s, msg::x86_asid_pool_assign(CPtr(0x1b1)), &[&[0x1b1]]);
    check(&m, s, msg::x86_io_port_in8(0xcfc), &[&[0xcfc]]);
    check(&m, s, msg::x86_io_port_in16(0xcfe), &[&[0xcfe]]);
    check(&m, s, msg::x86_io_port_in32(0xcf8), &[&[0xcf8]]);
    check(&m, s, msg::x86_io_port_out8(0x3f8, 0x41), &[&[0x3f8], &[0x41]]);
    check(&m, s, msg::x86_io_port_out16(0x3fa, 0x4243), &[&[0x3fa], &[0x4243]]);
    check(&m, s, msg::x86_io_port_out32(0xcf8, 0x8000_1234), &[&[0xcf8], &[0x8000_1234]]);

    let all: BTreeSet<&str> = METHODS.iter().map(|s| s.name).collect();
    let missing: Vec<_> = all.difference(&seen).collect();
    assert!(missing.is_empty(), "methods without a marshalling check: {missing:?}");
    eprintln!("checked the marshalling of {} methods", seen.len());
}

// ---------------------------------------------------------------------------------------------
// Numbers from the C headers

/// Evaluates `#ifdef/#ifndef/#if defined(...)/#else/#endif` and collects enumerators of every
/// enum, numbered the C way; a name defined earlier may be used as an initialiser.
fn enum_values(files: &[PathBuf], cfg: &HashMap<String, String>) -> BTreeMap<String, i64> {
    let mut values: BTreeMap<String, i64> = BTreeMap::new();
    for f in files {
        let text = std::fs::read_to_string(f).unwrap_or_else(|e| panic!("{}: {e}", f.display()));
        let mut stack: Vec<bool> = Vec::new();
        let mut in_enum = false;
        let mut next = 0i64;
        for raw in text.lines() {
            let line = raw.split("/*").next().unwrap_or("").trim();
            if let Some(r) = line.strip_prefix("#ifdef") {
                stack.push(cfg.contains_key(r.trim()));
                continue;
            }
            if let Some(r) = line.strip_prefix("#ifndef") {
                stack.push(!cfg.contains_key(r.trim()));
                continue;
            }
            if let Some(r) = line.strip_prefix("#if ") {
                stack.push(eval_condition(r, cfg));
                continue;
            }
            if line.starts_with("#else") {
                let top = stack.pop().expect("#else without #if");
                stack.push(!top);
                continue;
            }
            if line.starts_with("#endif") {
                stack.pop();
                continue;
            }
            if stack.iter().any(|on| !on) || line.starts_with('#') {
                continue;
            }
            if line.contains("enum") && line.contains('{') {
                in_enum = true;
                next = 0;
                continue;
            }
            if in_enum && line.starts_with('}') {
                in_enum = false;
                continue;
            }
            if !in_enum || line.is_empty() || line.starts_with("SEL4_FORCE_LONG_ENUM") {
                continue;
            }
            let item = line.trim_end_matches(',');
            let (name, val) = match item.split_once('=') {
                Some((n, v)) => {
                    let v = v.trim();
                    let val = eval_expr(v, &values, cfg)
                        .unwrap_or_else(|| panic!("{}: cannot evaluate enumerator value {v:?}", f.display()));
                    (n.trim(), val)
                }
                None => (item, next),
            };
            if name.chars().all(|c| c.is_alphanumeric() || c == '_') && !name.is_empty() {
                values.insert(name.to_string(), val);
                next = val + 1;
            }
        }
    }
    values
}

/// `term [(+|-) term]*` where a term is a number, an earlier enumerator or a config value.
fn eval_expr(e: &str, values: &BTreeMap<String, i64>, cfg: &HashMap<String, String>) -> Option<i64> {
    let term = |t: &str| -> Option<i64> {
        t.parse::<i64>().ok().or_else(|| values.get(t).copied()).or_else(|| cfg.get(t).and_then(|v| v.parse().ok()))
    };
    let toks: Vec<&str> = e.split_whitespace().collect();
    let mut acc = term(toks.first()?)?;
    for pair in toks[1..].chunks(2) {
        let rhs = term(pair.get(1)?)?;
        acc = match pair[0] {
            "+" => acc + rhs,
            "-" => acc - rhs,
            _ => return None,
        };
    }
    Some(acc)
}

#[test]
fn object_types_errors_and_initial_caps_match_the_headers() {
    let src = kernel_or_skip!();
    let inc = src.join("libsel4");
    // Object types: with IOMMU on, so the IOMMU page table has its number (our default kernel
    // is built without it; the other numbers do not depend on it as it comes last).
    let mut cfg = kernel_config();
    cfg.insert("CONFIG_IOMMU".into(), "1".into());
    let obj = enum_values(
        &[
            inc.join("include/sel4/objecttype.h"),
            inc.join("sel4_arch_include/x86_64/sel4/sel4_arch/objecttype.h"),
            inc.join("arch_include/x86/sel4/arch/objecttype.h"),
        ],
        &cfg,
    );
    for (name, ty) in OBJECT_TYPES {
        assert_eq!(obj.get(*name), Some(&(*ty as i64)), "object type {name}");
    }
    assert_eq!(obj["seL4_ObjectTypeCount"], OBJECT_TYPES.len() as i64, "object types we do not know");

    let errs = enum_values(&[inc.join("include/sel4/errors.h")], &cfg);
    for (e, n, name) in Error::ALL {
        assert_eq!(errs.get(name), Some(&(n as i64)), "{name}");
        assert_eq!(e.code(), n);
    }
    assert_eq!(errs["seL4_NumErrors"], Error::ALL.len() as i64 + 1);

    let caps = enum_values(&[inc.join("include/sel4/bootinfo_types.h")], &cfg);
    for (name, ours) in [
        ("seL4_CapInitThreadTCB", init::TCB.0),
        ("seL4_CapInitThreadCNode", init::CNODE.0),
        ("seL4_CapInitThreadVSpace", init::VSPACE.0),
        ("seL4_CapIRQControl", init::IRQ_CONTROL.0),
        ("seL4_CapASIDControl", init::ASID_CONTROL.0),
        ("seL4_CapInitThreadASIDPool", init::ASID_POOL.0),
        ("seL4_CapIOPort", init::IO_PORT.0),
        ("seL4_CapIOSpace", init::IO_SPACE.0),
        ("seL4_CapBootInfoFrame", init::BOOT_INFO_FRAME.0),
        ("seL4_CapInitThreadIPCBuffer", init::IPC_BUFFER.0),
        ("seL4_CapDomain", init::DOMAIN.0),
    ] {
        assert_eq!(caps.get(name).copied(), Some(ours.0 as i64), "{name}");
    }
    assert_eq!(caps["seL4_NumInitialCaps"], init::NUM_INITIAL_CAPS as i64);

    let consts = enum_values(&[inc.join("include/sel4/constants.h")], &cfg);
    assert_eq!(consts["seL4_MsgMaxLength"], sel4::MessageInfo::MAX_LENGTH as i64);
    assert_eq!(consts["seL4_MsgExtraCapBits"], 2);
    assert_eq!(consts["seL4_MaxPrio"], sel4::MAX_PRIO as i64);
}

#[test]
fn object_sizes_and_limits_match_the_headers() {
    let src = kernel_or_skip!();
    let inc = src.join("libsel4");
    let mut defs: HashMap<String, i64> = HashMap::new();
    for f in ["sel4_arch_include/x86_64/sel4/sel4_arch/constants.h", "include/sel4/types.h"] {
        for line in std::fs::read_to_string(inc.join(f)).unwrap().lines() {
            let mut it = line.split_whitespace();
            if it.next() == Some("#define") {
                if let (Some(n), Some(v)) = (it.next(), it.next()) {
                    if let Ok(v) = v.parse() {
                        defs.insert(n.to_string(), v);
                    }
                }
            }
        }
    }
    let bits = |t: ObjectType| t.size_bits(0).map(|b| b as i64);
    for (name, ty) in [
        ("seL4_TCBBits", ObjectType::Tcb),
        ("seL4_EndpointBits", ObjectType::Endpoint),
        ("seL4_NotificationBits", ObjectType::Notification),
        ("seL4_PDPTBits", ObjectType::Pdpt),
        ("seL4_PML4Bits", ObjectType::Pml4),
        ("seL4_PageBits", ObjectType::Page4K),
        ("seL4_LargePageBits", ObjectType::LargePage),
        ("seL4_PageTableBits", ObjectType::PageTable),
        ("seL4_PageDirBits", ObjectType::PageDirectory),
        ("seL4_IOPageTableBits", ObjectType::IoPageTable),
    ] {
        assert_eq!(defs.get(name).copied(), bits(ty), "{name}");
    }
    assert_eq!(defs["seL4_SlotBits"], sel4::SLOT_BITS as i64);
    assert_eq!(defs["seL4_MinUntypedBits"], sel4::MIN_UNTYPED_BITS as i64);
    assert_eq!(defs["seL4_MaxUntypedBits"], sel4::MAX_UNTYPED_BITS as i64);
    assert_eq!(defs["seL4_BadgeBits"], sel4::BADGE_BITS as i64);
    assert_eq!(ObjectType::CapTable.size_bits(12), Some(12 + defs["seL4_SlotBits"] as u32));
}

#[test]
fn syscall_numbers_match_the_xml() {
    let src = kernel_or_skip!();
    let path = src.join("libsel4/include/api/syscall.xml");
    let text = std::fs::read_to_string(&path).unwrap();
    let doc = Document::parse(&text).unwrap();
    // Numbered -1, -2, ... over the api then the debug syscalls, conditions notwithstanding.
    let numbers: HashMap<&str, i64> = doc
        .descendants()
        .filter(|n| n.has_tag_name("syscall"))
        .enumerate()
        .map(|(i, n)| (n.attribute("name").unwrap(), -(i as i64) - 1))
        .collect();
    for (name, sys) in SYSCALLS {
        assert_eq!(numbers.get(name), Some(&(*sys as i64)), "syscall {name}");
    }
}

// ---------------------------------------------------------------------------------------------
// Struct layouts, by compiling a probe against the kernel's headers

#[test]
fn struct_layouts_match_the_c_headers() {
    let src = kernel_or_skip!();
    let cc = std::env::var("CC").unwrap_or_else(|_| "cc".into());
    if Command::new(&cc).arg("--version").output().is_err() {
        skip(&format!("no C compiler ({cc}); struct layouts not checked against the headers"));
        return;
    }
    let autoconf_dir = repo_support().join("kernel/config");
    let dir = std::env::temp_dir().join(format!("sel4-abi-probe-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    if !autoconf_dir.join("autoconf.h").is_file() {
        std::fs::write(
            dir.join("autoconf.h"),
            format!(
                "#define CONFIG_MAX_NUM_BOOTINFO_UNTYPED_CAPS {}\n#define CONFIG_NUM_PRIORITIES {}\n",
                config::MAX_NUM_BOOTINFO_UNTYPED_CAPS,
                config::NUM_PRIORITIES
            ),
        )
        .unwrap();
    }
    let probe = r#"
#include <stddef.h>
#include <stdio.h>
#include <autoconf.h>
#include <sel4/macros.h>
#include <sel4/simple_types.h>
#include <sel4/sel4_arch/types.h>
#include <sel4/constants.h>
typedef struct seL4_MessageInfo { seL4_Uint64 words[1]; } seL4_MessageInfo_t;
#include <sel4/shared_types.h>
#include <sel4/bootinfo_types.h>
#define F(s, f) printf(#s "." #f " %zu\n", offsetof(s, f))
#define S(s) printf("sizeof." #s " %zu\n", sizeof(s))
int main(void) {
    F(seL4_BootInfo, extraLen); F(seL4_BootInfo, nodeID); F(seL4_BootInfo, numNodes);
    F(seL4_BootInfo, numIOPTLevels); F(seL4_BootInfo, ipcBuffer); F(seL4_BootInfo, empty);
    F(seL4_BootInfo, sharedFrames); F(seL4_BootInfo, userImageFrames); F(seL4_BootInfo, userImagePaging);
    F(seL4_BootInfo, ioSpaceCaps); F(seL4_BootInfo, extraBIPages); F(seL4_BootInfo, initThreadCNodeSizeBits);
    F(seL4_BootInfo, initThreadDomain); F(seL4_BootInfo, archInfo); F(seL4_BootInfo, untyped);
    F(seL4_BootInfo, untypedList); S(seL4_BootInfo); S(seL4_UntypedDesc);
    F(seL4_UntypedDesc, paddr); F(seL4_UntypedDesc, sizeBits); F(seL4_UntypedDesc, isDevice);
    F(seL4_IPCBuffer, msg); F(seL4_IPCBuffer, userData); F(seL4_IPCBuffer, caps_or_badges);
    F(seL4_IPCBuffer, receiveCNode); F(seL4_IPCBuffer, receiveIndex); F(seL4_IPCBuffer, receiveDepth);
    S(seL4_IPCBuffer); S(seL4_UserContext);
    F(seL4_UserContext, rip); F(seL4_UserContext, rsp); F(seL4_UserContext, rflags); F(seL4_UserContext, rax);
    F(seL4_UserContext, rdi); F(seL4_UserContext, rbp); F(seL4_UserContext, r8); F(seL4_UserContext, r15);
    F(seL4_UserContext, tls_base);
    return 0;
}
"#;
    std::fs::write(dir.join("probe.c"), probe).unwrap();
    let inc = src.join("libsel4");
    let exe = dir.join("probe");
    let out = Command::new(&cc)
        .arg(format!("-I{}", autoconf_dir.display()))
        .arg(format!("-I{}", dir.display()))
        .arg(format!("-I{}", inc.join("include").display()))
        .arg(format!("-I{}", inc.join("arch_include/x86").display()))
        .arg(format!("-I{}", inc.join("sel4_arch_include/x86_64").display()))
        .arg(dir.join("probe.c"))
        .arg("-o")
        .arg(&exe)
        .output()
        .unwrap();
    assert!(out.status.success(), "probe did not compile:\n{}", String::from_utf8_lossy(&out.stderr));
    let run = Command::new(&exe).output().unwrap();
    let _ = std::fs::remove_dir_all(&dir);
    let c: HashMap<String, usize> = String::from_utf8_lossy(&run.stdout)
        .lines()
        .filter_map(|l| l.split_once(' ').map(|(k, v)| (k.to_string(), v.parse().unwrap())))
        .collect();
    use sel4::ipc::IpcBuffer;
    use std::mem::{offset_of, size_of};
    let expect: &[(&str, usize)] = &[
        ("seL4_BootInfo.extraLen", offset::EXTRA_LEN),
        ("seL4_BootInfo.nodeID", offset::NODE_ID),
        ("seL4_BootInfo.numNodes", offset::NUM_NODES),
        ("seL4_BootInfo.numIOPTLevels", offset::NUM_IOPT_LEVELS),
        ("seL4_BootInfo.ipcBuffer", offset::IPC_BUFFER),
        ("seL4_BootInfo.empty", offset::EMPTY),
        ("seL4_BootInfo.sharedFrames", offset::SHARED_FRAMES),
        ("seL4_BootInfo.userImageFrames", offset::USER_IMAGE_FRAMES),
        ("seL4_BootInfo.userImagePaging", offset::USER_IMAGE_PAGING),
        ("seL4_BootInfo.ioSpaceCaps", offset::IO_SPACE_CAPS),
        ("seL4_BootInfo.extraBIPages", offset::EXTRA_BI_PAGES),
        ("seL4_BootInfo.initThreadCNodeSizeBits", offset::INIT_THREAD_CNODE_SIZE_BITS),
        ("seL4_BootInfo.initThreadDomain", offset::INIT_THREAD_DOMAIN),
        ("seL4_BootInfo.archInfo", offset::ARCH_INFO),
        ("seL4_BootInfo.untyped", offset::UNTYPED),
        ("seL4_BootInfo.untypedList", offset::UNTYPED_LIST),
        ("sizeof.seL4_BootInfo", offset::SIZE),
        ("sizeof.seL4_UntypedDesc", offset::UNTYPED_DESC_SIZE),
        ("seL4_UntypedDesc.paddr", 0),
        ("seL4_UntypedDesc.sizeBits", 10),
        ("seL4_UntypedDesc.isDevice", 11),
        ("seL4_IPCBuffer.msg", offset_of!(IpcBuffer, msg)),
        ("seL4_IPCBuffer.userData", offset_of!(IpcBuffer, user_data)),
        ("seL4_IPCBuffer.caps_or_badges", offset_of!(IpcBuffer, caps_or_badges)),
        ("seL4_IPCBuffer.receiveCNode", offset_of!(IpcBuffer, receive_cnode)),
        ("seL4_IPCBuffer.receiveIndex", offset_of!(IpcBuffer, receive_index)),
        ("seL4_IPCBuffer.receiveDepth", offset_of!(IpcBuffer, receive_depth)),
        ("sizeof.seL4_IPCBuffer", size_of::<IpcBuffer>()),
        ("sizeof.seL4_UserContext", size_of::<UserContext>()),
        ("seL4_UserContext.rip", offset_of!(UserContext, rip)),
        ("seL4_UserContext.rsp", offset_of!(UserContext, rsp)),
        ("seL4_UserContext.rflags", offset_of!(UserContext, rflags)),
        ("seL4_UserContext.rax", offset_of!(UserContext, rax)),
        ("seL4_UserContext.rdi", offset_of!(UserContext, rdi)),
        ("seL4_UserContext.rbp", offset_of!(UserContext, rbp)),
        ("seL4_UserContext.r8", offset_of!(UserContext, r8)),
        ("seL4_UserContext.r15", offset_of!(UserContext, r15)),
        ("seL4_UserContext.tls_base", offset_of!(UserContext, tls_base)),
    ];
    for (k, ours) in expect {
        assert_eq!(c.get(*k), Some(ours), "{k}: C says {:?}, we say {ours}", c.get(*k));
    }
    eprintln!("checked {} struct offsets/sizes against the C headers", expect.len());
}

// ---------------------------------------------------------------------------------------------
// The numbers as the kernel binary was compiled with them

/// Compiles a probe against the headers the kernel build generated (build/kernel/<variant>/
/// generated, with that variant's autoconf.h) and compares every label and syscall number:
/// an independent check of the XML-based numbering above, by the kernel's own generators.
#[test]
fn labels_and_syscalls_match_the_kernel_builds_generated_headers() {
    let root = repo_support().parent().unwrap().to_path_buf();
    let cc = std::env::var("CC").unwrap_or_else(|_| "cc".into());
    let mut checked = 0;
    for variant in ["default", "iommu"] {
        let gen = root.join("build/kernel").join(variant).join("generated");
        let conf = repo_support().join("kernel/config").join(if variant == "default" { "" } else { variant });
        if !gen.join("arch/api/invocation.h").is_file() || !conf.join("autoconf.h").is_file() {
            eprintln!("SKIPPED ({variant}): no kernel build at {} (make kernel)", gen.display());
            continue;
        }
        let mut c = String::from(
            "#include <stdio.h>\ntypedef unsigned long word_t;\n#define UNUSED __attribute__((unused))\n#include <autoconf.h>\n\
             #include <arch/api/invocation.h>\n#include <arch/api/syscall.h>\nint main(void) {\n",
        );
        for (id, _) in LABELS {
            c.push_str(&format!("    printf(\"{id} %d\\n\", (int){id});\n"));
        }
        c.push_str("    printf(\"nArchInvocationLabels %d\\n\", (int)nArchInvocationLabels);\n");
        for (name, _) in SYSCALLS {
            c.push_str(&format!("    printf(\"Sys{name} %d\\n\", (int)Sys{name});\n"));
        }
        c.push_str("    return 0;\n}\n");
        let dir = std::env::temp_dir().join(format!("sel4-label-probe-{}-{variant}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("probe.c"), c).unwrap();
        let exe = dir.join("probe");
        let out = match Command::new(&cc)
            .arg(format!("-I{}", conf.display()))
            .arg(format!("-I{}", repo_support().join("kernel/config").display()))
            .arg(format!("-I{}", gen.display()))
            .arg(dir.join("probe.c"))
            .arg("-o")
            .arg(&exe)
            .output()
        {
            Ok(o) => o,
            Err(e) => {
                skip(&format!("no C compiler ({cc}: {e})"));
                return;
            }
        };
        assert!(
            out.status.success(),
            "label probe ({variant}) did not compile:\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let run = Command::new(&exe).output().unwrap();
        let _ = std::fs::remove_dir_all(&dir);
        let kernel: HashMap<String, i64> = String::from_utf8_lossy(&run.stdout)
            .lines()
            .filter_map(|l| l.split_once(' ').map(|(k, v)| (k.to_string(), v.parse().unwrap())))
            .collect();
        for (id, label) in LABELS {
            assert_eq!(kernel.get(*id), Some(&(label.number() as i64)), "{variant} kernel: label {id}");
        }
        assert_eq!(kernel["nArchInvocationLabels"], LABELS.len() as i64, "{variant} kernel has labels we lack");
        for (name, sys) in SYSCALLS {
            assert_eq!(kernel.get(&format!("Sys{name}")), Some(&(*sys as i64)), "{variant} kernel: syscall {name}");
        }
        checked += 1;
    }
    eprintln!("checked labels and syscalls against {checked} kernel build(s)");
}
