//! `<irq>`: an interrupt delivered to a PD on a channel id, either an IOAPIC pin (`pin`,
//! `vector`, `ioapic`, `trigger`, `polarity`) or a PCI device's interrupt (`pci`): its INTx
//! line, or with `msi="true"` its MSI (INTx when the device has no MSI capability).

use roxmltree::Node;

use crate::model::*;
use crate::value;
use crate::{MAX_CHANNEL_ID, MAX_IOAPICS, MAX_IOAPIC_PIN, MAX_IRQ_VECTOR};

use super::{no_children, show, Reader};

pub(super) fn read_irq(node: Node, r: &mut Reader, setvars: &mut Vec<SetVar>) -> Option<Irq> {
    r.check_no_text(node);
    no_children(node, r);
    let irq_hints: &[(&str, &str)] = &[
        ("irq", "x86 has no ARM-style interrupt numbers: use pin=\"..\" vector=\"..\" (IOAPIC) or pci=\"vvvv:dddd\""),
        ("pcidev", "name the device with pci=\"vvvv:dddd\"; msi=\"true\" asks for its MSI"),
        ("handle", "name the device with pci=\"vvvv:dddd\"; msi=\"true\" asks for its MSI"),
        ("msi", "msi=\"true\" needs pci=\"vvvv:dddd\": only a PCI device signals by message"),
    ];
    let id = r
        .required(node, "id", "the channel id the PD receives it on")
        .and_then(|a| r.number(node, &a, 0, MAX_CHANNEL_ID));
    let kind = if let Some(pci) = r.attr(node, "pci") {
        const NOT_WITH_PCI: &str = "a pci= irq is routed from the device's PCI configuration space: drop pin/vector/ioapic/trigger/polarity, or drop pci= for an IOAPIC irq";
        let mut hints = irq_hints.to_vec();
        hints.extend(["pin", "vector", "ioapic", "trigger", "polarity"].map(|n| (n, NOT_WITH_PCI)));
        let attrs_ok = r.check_attrs(node, &["id", "pci", "msi", "setvar_id"], &hints);
        let msi = r.boolean(node, "msi", false);
        let device = match value::parse_pci_match(pci.value()) {
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
        IrqKind::Pci { device: device?, msi: msi.ok()? }
    } else {
        let attrs_ok =
            r.check_attrs(node, &["id", "pin", "vector", "ioapic", "trigger", "polarity", "setvar_id"], irq_hints);
        if r.attr(node, "pin").is_none() {
            if attrs_ok {
                let pos = r.node_pos(node);
                r.err(pos, "<irq> needs either pin=\"..\" and vector=\"..\" (an IOAPIC pin) or pci=\"vvvv:dddd\" (a PCI device's INTx line)");
            }
            return None;
        }
        let pin = r.required(node, "pin", "the IOAPIC pin").and_then(|a| r.number(node, &a, 0, MAX_IOAPIC_PIN));
        let vector =
            r.required(node, "vector", "the CPU vector, 0..107").and_then(|a| r.number(node, &a, 0, MAX_IRQ_VECTOR));
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
    let setvar_id = r.symbol(node, "setvar_id", SetVarValue::Number(u64::from(id)), SetVarSource::IrqId, setvars);
    Some(Irq { id, kind, setvar_id, pos: r.node_pos(node) })
}
