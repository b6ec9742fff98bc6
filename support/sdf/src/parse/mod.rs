//! Phase 1: XML -> model, with every check that needs only the element at hand (structure,
//! known elements and attributes, required attributes, number syntax and ranges, value
//! formats). Cross-element rules live in `check.rs` and run only when this phase is clean,
//! so they never report consequences of an earlier mistake.
//!
//! The shared reader is in `reader` and `attrs`.

mod attrs;
mod protection_domain;
mod reader;
mod system;

use roxmltree::Node;

use crate::model::*;
use crate::value;
use crate::{MAX_CHANNEL_ID, MAX_IOAPICS, MAX_IOAPIC_PIN, MAX_IRQ_VECTOR, PHYS_ADDR_LIMIT};

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

fn read_map(node: Node, r: &mut Reader, setvars: &mut Vec<SetVar>) -> Option<Map> {
    let attrs_ok = r.check_attrs(
        node,
        &[
            "mr",
            "vaddr",
            "perms",
            "cached",
            "setvar_vaddr",
            "setvar_size",
        ],
        &[],
    );
    r.check_no_text(node);
    no_children(node, r);
    let mr = r.required(node, "mr", "the name of the memory region to map");
    let vaddr = r
        .required(node, "vaddr", "the virtual address to map it at")
        .and_then(|a| r.number(node, &a, 0, u64::MAX));
    let perms = match r.attr(node, "perms") {
        None => Some(Perms::RW),
        Some(a) => match value::parse_perms(a.value()) {
            Ok(p) => Some(p),
            Err(why) => {
                let pos = r.attr_pos(&a);
                r.err(pos, format!("<map> perms={}: {why}", show(a.value())));
                None
            }
        },
    };
    let cached = r.boolean(node, "cached", true);
    let vaddr_value = vaddr.unwrap_or(0);
    let setvar_vaddr = r.symbol(
        node,
        "setvar_vaddr",
        SetVarValue::Number(vaddr_value),
        SetVarSource::MapVaddr,
        setvars,
    );
    // The size is known once regions are resolved (phase 2 fills it in).
    let setvar_size = r.symbol(
        node,
        "setvar_size",
        SetVarValue::Number(0),
        SetVarSource::MapSize,
        setvars,
    );
    if !attrs_ok {
        return None;
    }
    Some(Map {
        mr: mr?.value().to_string(),
        vaddr: vaddr?,
        perms: perms?,
        cached: cached.ok()?,
        setvar_vaddr,
        setvar_size,
        pos: r.node_pos(node),
    })
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

/// The attributes that give a `<setvar>` its value; exactly one must be present.
const SETVAR_FORMS: [&str; 4] = ["value", "region_paddr", "pd_index", "region_sharers"];

/// Returns Some(true) for a setvar whose value names another element (a region or a PD) and
/// is resolved by the cross-element checks, Some(false) for a plain value.
fn read_setvar(node: Node, r: &mut Reader, setvars: &mut Vec<SetVar>) -> Option<bool> {
    let attrs_ok = r.check_attrs(node, &["symbol", "value", "region_paddr", "pd_index", "region_sharers"], &[]);
    r.check_no_text(node);
    no_children(node, r);
    r.required(
        node,
        "symbol",
        "the name of the variable in the PD's program",
    )?;
    let mut given: Vec<roxmltree::Attribute> =
        SETVAR_FORMS.iter().filter_map(|name| r.attr(node, name)).collect();
    given.sort_by_key(|a| a.range().start);
    let (value, source, is_ref) = match given.as_slice() {
        [] => {
            let pos = r.node_pos(node);
            r.err(pos, "<setvar> needs value=\"..\" (a number or dotted IPv4 address), region_paddr=\"<memory region>\", pd_index=\"<protection domain>\" or region_sharers=\"<memory region>\"");
            return None;
        }
        [first, second, ..] => {
            let pos = r.attr_pos(second);
            r.err(
                pos,
                format!(
                    "<setvar> has both {}= and {}=: expected exactly one of value=, region_paddr=, pd_index=, region_sharers=",
                    first.name(),
                    second.name()
                ),
            );
            return None;
        }
        [a] => match a.name() {
            "value" => match value::parse_setvar_value(a.value()) {
                Ok(n) => (SetVarValue::Number(n), SetVarSource::Value, false),
                Err(why) => {
                    let pos = r.attr_pos(a);
                    r.err(pos, format!("<setvar> value={}: {why}", show(a.value())));
                    return None;
                }
            },
            "region_paddr" => (SetVarValue::RegionPaddr(a.value().to_string()), SetVarSource::RegionPaddr, true),
            // Resolved by the cross-element checks, once every PD and map is known.
            "pd_index" => (SetVarValue::Number(0), SetVarSource::PdIndex, true),
            _ => (SetVarValue::Number(0), SetVarSource::RegionSharers, true),
        },
    };
    r.symbol(node, "symbol", value, source, setvars)?;
    attrs_ok.then_some(is_ref)
}

fn read_region(node: Node, r: &mut Reader) -> Option<MemoryRegion> {
    let attrs_ok = r.check_attrs(
        node,
        &["name", "size", "page_size", "phys_addr", "pci", "bar"],
        &[],
    );
    r.check_no_text(node);
    no_children(node, r);
    let name = r.name(node, "the region's name, used by maps");
    let size = r
        .required(node, "size", "the region's size in bytes")
        .and_then(|a| r.number(node, &a, 1, u64::MAX));
    let page_size = match r.attr(node, "page_size") {
        None => Some(PageSize::Small),
        Some(a) => match value::parse_u64(a.value()) {
            Ok(0x1000) => Some(PageSize::Small),
            Ok(0x20_0000) => Some(PageSize::Large),
            Ok(_) => {
                let pos = r.attr_pos(&a);
                r.err(pos, format!("<memory_region> page_size={} is not supported: expected 0x1000 (4 KiB) or 0x200000 (2 MiB)", show(a.value())));
                None
            }
            Err(e) => {
                let pos = r.attr_pos(&a);
                r.err(
                    pos,
                    format!(
                        "<memory_region> page_size={}: {}; expected 0x1000 or 0x200000",
                        show(a.value()),
                        e.describe()
                    ),
                );
                None
            }
        },
    };
    if let (Some(size), Some(ps)) = (size, page_size) {
        if size % ps.bytes() != 0 {
            let pos = r.attr_pos_of(node, "size");
            r.err(
                pos,
                format!(
                    "<memory_region> size=0x{size:x} is not a multiple of its page size 0x{:x}",
                    ps.bytes()
                ),
            );
        }
    }
    let phys = r.attr(node, "phys_addr");
    let pci = r.attr(node, "pci");
    let bar = r.attr(node, "bar");
    let backing = match (phys, pci, bar) {
        (Some(p), Some(c), _) => {
            let later = if p.range().start > c.range().start {
                p
            } else {
                c
            };
            let pos = r.attr_pos(&later);
            r.err(pos, "<memory_region> has both phys_addr= and pci=: a region is either fixed physical memory or a PCI BAR, not both");
            None
        }
        (Some(_), None, Some(b)) => {
            let pos = r.attr_pos(&b);
            r.err(
                pos,
                "<memory_region> bar= only goes with pci=\"vvvv:dddd\", not with phys_addr=",
            );
            None
        }
        (Some(p), None, None) => {
            let addr = r.number(node, &p, 0, u64::MAX);
            match (addr, size, page_size) {
                (Some(addr), Some(size), Some(ps)) => {
                    let pos = r.attr_pos(&p);
                    if addr % ps.bytes() != 0 {
                        r.err(pos, format!("<memory_region> phys_addr=0x{addr:x} is not aligned to the region's page size 0x{:x}", ps.bytes()));
                        None
                    } else if addr
                        .checked_add(size)
                        .is_none_or(|end| end > PHYS_ADDR_LIMIT)
                    {
                        r.err(pos, format!("<memory_region> phys_addr=0x{addr:x} with size 0x{size:x} ends beyond the 52-bit physical address space"));
                        None
                    } else {
                        Some(Backing::Fixed { phys_addr: addr })
                    }
                }
                _ => None,
            }
        }
        (None, Some(c), b) => {
            let device = match value::parse_pci(c.value()) {
                Ok(d) => Some(d),
                Err(why) => {
                    let pos = r.attr_pos(&c);
                    r.err(
                        pos,
                        format!("<memory_region> pci={}: {why}", show(c.value())),
                    );
                    None
                }
            };
            let bar = match b {
                Some(b) => r.number(node, &b, 0, 5),
                None => {
                    let pos = r.node_pos(node);
                    r.err(pos, "<memory_region> with pci= is missing the required attribute 'bar' (the BAR number, 0..5)");
                    None
                }
            };
            match (device, bar) {
                (Some(device), Some(bar)) => Some(Backing::Pci(PciBar {
                    device,
                    bar: u8::try_from(bar).ok()?,
                })),
                _ => None,
            }
        }
        (None, None, Some(b)) => {
            let pos = r.attr_pos(&b);
            r.err(
                pos,
                "<memory_region> bar= needs pci=\"vvvv:dddd\" to say whose BAR it is",
            );
            None
        }
        (None, None, None) => Some(Backing::Allocated),
    };
    if !attrs_ok {
        return None;
    }
    let (size, page_size) = (size?, page_size?);
    if size % page_size.bytes() != 0 {
        return None;
    }
    Some(MemoryRegion {
        name: name?,
        size,
        page_size,
        backing: backing?,
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
