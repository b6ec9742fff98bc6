//! Phase 1: XML -> model, with every check that needs only the element at hand (structure,
//! known elements and attributes, required attributes, number syntax and ranges, value
//! formats). Cross-element rules live in `check.rs` and run only when this phase is clean,
//! so they never report consequences of an earlier mistake.
//!
//! The shared reader is in `reader` and `attrs`.

mod attrs;
mod map;
mod memory_region;
mod protection_domain;
mod reader;
mod setvar;
mod system;

use roxmltree::Node;

use crate::model::*;
use crate::value;
use crate::{MAX_CHANNEL_ID, MAX_IOAPICS, MAX_IOAPIC_PIN, MAX_IRQ_VECTOR};

pub(crate) use reader::{show, show_char, Reader};
pub(crate) use system::read;
use reader::no_children;

/// An error found while reading: where, and what.
pub(crate) type Found = (Pos, String);

/// The roxmltree nodes behind each model item, in the same order, so phase 2 can point at
/// the exact attribute it complains about.
pub(crate) struct Sources<'a, 'i> {
    pub pds: Vec<PdSources<'a, 'i>>,
    pub regions: Vec<Node<'a, 'i>>,
    pub channels: Vec<[Node<'a, 'i>; 2]>,
}

pub(crate) struct PdSources<'a, 'i> {
    pub node: Node<'a, 'i>,
    pub maps: Vec<Node<'a, 'i>>,
    pub irqs: Vec<Node<'a, 'i>>,
    pub ioports: Vec<Node<'a, 'i>>,
    /// `<fault_notify>` elements, in the order of the PD's `fault_notifies`.
    pub fault_notifies: Vec<Node<'a, 'i>>,
    /// `<setvar>` elements naming a region or PD (`region_paddr`, `pd_index`,
    /// `region_sharers`), with the index of their entry in the PD's setvars.
    pub ref_setvars: Vec<(usize, Node<'a, 'i>)>,
}

fn read_irq(node: Node, r: &mut Reader, setvars: &mut Vec<SetVar>) -> Option<Irq> {
    r.check_no_text(node);
    no_children(node, r);
    let irq_hints: &[(&str, &str)] = &[
        ("irq", "x86 has no ARM-style interrupt numbers: use pin=\"..\" vector=\"..\" (IOAPIC) or pci=\"vvvv:dddd\""),
        ("pcidev", "MSI interrupts are not supported: use pci=\"vvvv:dddd\" for the device's INTx line"),
        ("handle", "MSI interrupts are not supported: use pci=\"vvvv:dddd\" for the device's INTx line"),
    ];
    let id = r
        .required(node, "id", "the channel id the PD receives it on")
        .and_then(|a| r.number(node, &a, 0, MAX_CHANNEL_ID));
    let kind = if let Some(pci) = r.attr(node, "pci") {
        const NOT_WITH_PCI: &str = "a pci= irq is routed from the device's PCI configuration space: drop pin/vector/ioapic/trigger/polarity, or drop pci= for an IOAPIC irq";
        let mut hints = irq_hints.to_vec();
        hints.extend(["pin", "vector", "ioapic", "trigger", "polarity"].map(|n| (n, NOT_WITH_PCI)));
        let attrs_ok = r.check_attrs(node, &["id", "pci", "setvar_id"], &hints);
        let device = match value::parse_pci(pci.value()) {
            Ok(d) => Some(d),
            Err(why) => {
                let pos = r.attr_pos(&pci);
                r.err(pos, format!("<irq> pci={}: {why}", show(pci.value())));
                None
            }
        };
        if !attrs_ok {
            return None;
        }
        IrqKind::Pci { device: device? }
    } else {
        let attrs_ok = r.check_attrs(
            node,
            &[
                "id",
                "pin",
                "vector",
                "ioapic",
                "trigger",
                "polarity",
                "setvar_id",
            ],
            irq_hints,
        );
        if r.attr(node, "pin").is_none() {
            if attrs_ok {
                let pos = r.node_pos(node);
                r.err(pos, "<irq> needs either pin=\"..\" and vector=\"..\" (an IOAPIC pin) or pci=\"vvvv:dddd\" (a PCI device's INTx line)");
            }
            return None;
        }
        let pin = r
            .required(node, "pin", "the IOAPIC pin")
            .and_then(|a| r.number(node, &a, 0, MAX_IOAPIC_PIN));
        let vector = r
            .required(node, "vector", "the CPU vector, 0..107")
            .and_then(|a| r.number(node, &a, 0, MAX_IRQ_VECTOR));
        let ioapic = match r.attr(node, "ioapic") {
            None => Some(0),
            Some(a) => match r.number(node, &a, 0, 255) {
                Some(n) if n < MAX_IOAPICS => Some(n),
                Some(_) => {
                    let pos = r.attr_pos(&a);
                    r.err(pos, format!(
                        "<irq> ioapic={} is out of range: this kernel build supports {MAX_IOAPICS} IOAPIC(s), numbered from 0",
                        show(a.value())
                    ));
                    None
                }
                None => None,
            },
        };
        let trigger = r.keyword(
            node,
            "trigger",
            Trigger::Level,
            &[("level", Trigger::Level), ("edge", Trigger::Edge)],
            "\"level\" or \"edge\"",
        );
        let polarity = r.keyword(
            node,
            "polarity",
            Polarity::High,
            &[("high", Polarity::High), ("low", Polarity::Low)],
            "\"high\" or \"low\"",
        );
        if !attrs_ok {
            return None;
        }
        IrqKind::Ioapic {
            ioapic: u8::try_from(ioapic?).ok()?,
            pin: u8::try_from(pin?).ok()?,
            vector: u8::try_from(vector?).ok()?,
            trigger: trigger?,
            polarity: polarity?,
        }
    };
    let id = u8::try_from(id?).ok()?;
    let setvar_id = r.symbol(
        node,
        "setvar_id",
        SetVarValue::Number(u64::from(id)),
        SetVarSource::IrqId,
        setvars,
    );
    Some(Irq {
        id,
        kind,
        setvar_id,
        pos: r.node_pos(node),
    })
}

fn read_ioport(node: Node, r: &mut Reader, setvars: &mut Vec<SetVar>) -> Option<IoPort> {
    let attrs_ok = r.check_attrs(
        node,
        &["id", "addr", "size", "setvar_id", "setvar_addr"],
        &[],
    );
    r.check_no_text(node);
    no_children(node, r);
    let id = r
        .required(node, "id", "the I/O port range's id in this PD")
        .and_then(|a| r.number(node, &a, 0, MAX_CHANNEL_ID));
    let addr = r
        .required(node, "addr", "the first port, 0..0xffff")
        .and_then(|a| r.number(node, &a, 0, 0xffff));
    let size = r
        .required(node, "size", "the number of ports")
        .and_then(|a| r.number(node, &a, 1, 0x1_0000));
    if let (Some(addr), Some(size), Some(a)) = (addr, size, r.attr(node, "size")) {
        if addr + size > 0x1_0000 {
            let pos = r.attr_pos(&a);
            r.err(pos, format!(
                "<ioport> addr=0x{addr:x} size={}: the range ends at 0x{:x}, past the last I/O port 0xffff",
                show(a.value()), addr + size - 1
            ));
            return None;
        }
    }
    let (id, addr, size) = (
        u8::try_from(id?).ok()?,
        u16::try_from(addr?).ok()?,
        u32::try_from(size?).ok()?,
    );
    let setvar_id = r.symbol(
        node,
        "setvar_id",
        SetVarValue::Number(u64::from(id)),
        SetVarSource::IoPortId,
        setvars,
    );
    let setvar_addr = r.symbol(
        node,
        "setvar_addr",
        SetVarValue::Number(u64::from(addr)),
        SetVarSource::IoPortAddr,
        setvars,
    );
    attrs_ok.then(|| IoPort {
        id,
        addr,
        size,
        setvar_id,
        setvar_addr,
        pos: r.node_pos(node),
    })
}

fn read_channel<'a, 'i>(
    node: Node<'a, 'i>,
    r: &mut Reader<'_, 'i>,
) -> Option<(Channel, [Node<'a, 'i>; 2])> {
    let attrs_ok = r.check_attrs(node, &[], &[]);
    r.check_no_text(node);
    let mut ends = Vec::new();
    let mut nodes = Vec::new();
    let mut ok = attrs_ok;
    for child in node.children().filter(|c| c.is_element()) {
        if child.tag_name().name() != "end" {
            r.unknown_element(child, node, &["end"], &[]);
            ok = false;
            continue;
        }
        match read_end(child, r) {
            Some(end) => ends.push(end),
            None => ok = false,
        }
        nodes.push(child);
    }
    if nodes.len() != 2 {
        let pos = r.node_pos(node);
        r.err(
            pos,
            format!(
                "<channel> has {} <end> element{}: expected exactly two",
                nodes.len(),
                if nodes.len() == 1 { "" } else { "s" }
            ),
        );
        return None;
    }
    if !ok || ends.len() != 2 {
        return None;
    }
    if ends[0].pp && ends[1].pp {
        let pos = r.attr_pos_of(nodes[1], "pp");
        r.err(pos, "<end> pp=\"true\" on both ends of a <channel>: protected calls go one way only, to the higher-priority PD");
        return None;
    }
    let b = ends.pop()?;
    let a = ends.pop()?;
    Some((
        Channel {
            ends: [a, b],
            pos: r.node_pos(node),
        },
        [nodes[0], nodes[1]],
    ))
}

fn read_end(node: Node, r: &mut Reader) -> Option<ChannelEnd> {
    let attrs_ok = r.check_attrs(node, &["pd", "id", "pp", "notify", "setvar_id"], &[]);
    r.check_no_text(node);
    no_children(node, r);
    let pd = r.required(node, "pd", "the name of the protection domain at this end");
    let id = r
        .required(node, "id", "the channel id this PD uses")
        .and_then(|a| r.number(node, &a, 0, MAX_CHANNEL_ID));
    let pp = r.boolean(node, "pp", false);
    let notify = r.boolean(node, "notify", true);
    let setvar_id = match r.attr(node, "setvar_id") {
        Some(a) if !value::valid_symbol(a.value()) => {
            let pos = r.attr_pos(&a);
            r.err(pos, format!("<end> setvar_id={}: expected a symbol name (letters, digits and '_', not starting with a digit)", show(a.value())));
            return None;
        }
        Some(a) => Some(a.value().to_string()),
        None => None,
    };
    if !attrs_ok {
        return None;
    }
    Some(ChannelEnd {
        pd: pd?.value().to_string(),
        pd_index: usize::MAX,
        id: u8::try_from(id?).ok()?,
        pp: pp.ok()?,
        notify: notify.ok()?,
        setvar_id,
        pos: r.node_pos(node),
    })
}
