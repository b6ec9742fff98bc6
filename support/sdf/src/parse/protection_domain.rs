//! `<protection_domain>`: its attributes (name, priority, stack, fault policy), the
//! elements only it contains directly (`<program_image>`, `<fault_notify>`), and the
//! dispatch of its maps, irqs, ioports and setvars to their own readers.

use roxmltree::Node;

use crate::model::*;
use crate::{DEFAULT_STACK_SIZE, MAX_CHANNEL_ID, MAX_PRIORITY, MAX_STACK_SIZE, MIN_STACK_SIZE};

use super::ioport::read_ioport;
use super::irq::read_irq;
use super::map::read_map;
use super::setvar::read_setvar;
use super::{no_children, show, PdSources, Reader};

const NON_MCS: &str =
    "this kernel build is non-MCS: it has no passive PDs, budgets or periods (scheduling is by priority only)";

pub(super) fn read_pd<'a, 'i>(
    node: Node<'a, 'i>,
    r: &mut Reader<'_, 'i>,
) -> Option<(ProtectionDomain, PdSources<'a, 'i>)> {
    r.check_attrs(
        node,
        &["name", "priority", "stack_size", "fault"],
        &[
            ("passive", NON_MCS),
            ("budget", NON_MCS),
            ("period", NON_MCS),
            ("cpu", "this system runs every PD on the boot CPU"),
            ("smc", "SMC forwarding exists only on ARM"),
            ("id", "nested (child) protection domains are not supported"),
            ("setvar_id", "nested (child) protection domains are not supported"),
        ],
    );
    r.check_no_text(node);
    let name = r.name(node, "the PD's name, used by channels and fault reports");
    let priority = r.number_or(node, "priority", 0, 0, u64::from(MAX_PRIORITY));
    let stack_size = r.number_or(node, "stack_size", DEFAULT_STACK_SIZE, MIN_STACK_SIZE, MAX_STACK_SIZE);
    if let (Some(stack), Some(attr)) = (stack_size, r.attr(node, "stack_size")) {
        if stack % 0x1000 != 0 {
            let pos = r.attr_pos(&attr);
            r.err(
                pos,
                format!(
                    "<protection_domain> stack_size={}: expected a multiple of the 4 KiB page size (0x1000)",
                    show(attr.value())
                ),
            );
        }
    }

    let fault = r.keyword(
        node,
        "fault",
        FaultPolicy::Stop,
        &[("stop", FaultPolicy::Stop), ("restart", FaultPolicy::Restart)],
        "\"stop\" (the monitor suspends the PD) or \"restart\" (it restarts the PD from a clean image)",
    );

    let mut program_image: Option<ProgramImage> = None;
    let mut fault_notifies = Vec::new();
    let mut maps = Vec::new();
    let mut irqs = Vec::new();
    let mut ioports = Vec::new();
    let mut setvars = Vec::new();
    let mut src = PdSources {
        node,
        maps: Vec::new(),
        irqs: Vec::new(),
        ioports: Vec::new(),
        fault_notifies: Vec::new(),
        setvar_nodes: Vec::new(),
        ref_setvars: Vec::new(),
    };
    let mut ok = true;

    for child in node.children().filter(|c| c.is_element()) {
        match child.tag_name().name() {
            "program_image" => {
                r.check_attrs(
                    child,
                    &["path"],
                    &[("path_for_symbols", "symbols are read from the program image itself")],
                );
                r.check_no_text(child);
                if program_image.is_some() {
                    let pos = r.node_pos(child);
                    r.err(pos, "a second <program_image> in this <protection_domain>: expected exactly one");
                    continue;
                }
                if let Some(path) = r.required(child, "path", "the PD's ELF file") {
                    if path.value().trim().is_empty() {
                        let pos = r.attr_pos(&path);
                        r.err(pos, "<program_image> path=\"\": expected the path of the PD's ELF file");
                    }
                    program_image = Some(ProgramImage { path: path.value().to_string(), pos: r.node_pos(child) });
                } else {
                    ok = false;
                }
            }
            "map" => match read_map(child, r, &mut setvars) {
                Some(m) => {
                    maps.push(m);
                    src.maps.push(child);
                }
                None => ok = false,
            },
            "irq" => match read_irq(child, r, &mut setvars) {
                Some(irq) => {
                    irqs.push(irq);
                    src.irqs.push(child);
                }
                None => ok = false,
            },
            "ioport" => match read_ioport(child, r, &mut setvars) {
                Some(p) => {
                    ioports.push(p);
                    src.ioports.push(child);
                }
                None => ok = false,
            },
            "fault_notify" => match read_fault_notify(child, r) {
                Some(f) => {
                    fault_notifies.push(f);
                    src.fault_notifies.push(child);
                }
                None => ok = false,
            },
            "setvar" => {
                if let Some(is_ref) = read_setvar(child, r, &mut setvars) {
                    src.setvar_nodes.push(child);
                    if is_ref {
                        src.ref_setvars.push((setvars.len() - 1, child));
                    }
                } else {
                    ok = false;
                }
            }
            _ => r.unknown_element(
                child,
                node,
                &["program_image", "map", "irq", "ioport", "setvar", "fault_notify"],
                &[
                    ("protection_domain", "nested (child) protection domains are not supported"),
                    (
                        "virtual_machine",
                        "virtual machines are not supported (there is no hypervisor in this kernel build)",
                    ),
                    (
                        "memory_region",
                        "memory regions are declared directly inside <system> and mapped with <map mr=\"..\">",
                    ),
                    ("channel", "channels are declared directly inside <system>"),
                ],
            ),
        }
    }

    if program_image.is_none() && r.attr(node, "name").is_some() {
        let pos = r.node_pos(node);
        r.err(
            pos,
            format!(
                "<protection_domain> {} has no <program_image path=\"...\"/>: every PD needs an ELF file",
                show(r.attr(node, "name").map_or("", |a| a.value()))
            ),
        );
    }
    let pd = ProtectionDomain {
        name: name?,
        priority: u8::try_from(priority?).ok()?,
        stack_size: stack_size?,
        program_image: program_image?,
        maps,
        irqs,
        ioports,
        setvars,
        fault: fault?,
        fault_notifies,
        pos: r.node_pos(node),
    };
    ok.then_some((pd, src))
}

/// `<fault_notify pd="target" id="N"/>`: the target PD is resolved by the cross-element checks.
fn read_fault_notify(node: Node, r: &mut Reader) -> Option<FaultNotify> {
    let attrs_ok = r.check_attrs(node, &["pd", "id"], &[]);
    r.check_no_text(node);
    no_children(node, r);
    let pd = r.required(node, "pd", "the protection domain the monitor signals when this one faults");
    let id = r
        .required(node, "id", "the channel id on which that PD is signalled, in its own id space")
        .and_then(|a| r.number(node, &a, 0, MAX_CHANNEL_ID));
    if !attrs_ok {
        return None;
    }
    Some(FaultNotify {
        pd: pd?.value().to_string(),
        pd_index: usize::MAX,
        id: u8::try_from(id?).ok()?,
        pos: r.node_pos(node),
    })
}
