//! `<setvar>`: a variable of the PD's program set when the image is built, from exactly
//! one of value=, region_paddr=, region_pci_id=, region_size=, pd_index= or region_sharers=
//! (all but value= name another element and are resolved by the cross-element checks).

use roxmltree::Node;

use crate::model::*;
use crate::value;

use super::{no_children, show, Reader};

/// The attributes that give a `<setvar>` its value; exactly one must be present.
const SETVAR_FORMS: [&str; 6] = ["value", "region_paddr", "region_pci_id", "region_size", "pd_index", "region_sharers"];

/// Returns Some(true) for a setvar whose value names another element (a region or a PD) and
/// is resolved by the cross-element checks, Some(false) for a plain value.
pub(super) fn read_setvar(node: Node, r: &mut Reader, setvars: &mut Vec<SetVar>) -> Option<bool> {
    let attrs_ok = r.check_attrs(
        node,
        &["symbol", "value", "region_paddr", "region_pci_id", "region_size", "pd_index", "region_sharers"],
        &[],
    );
    r.check_no_text(node);
    no_children(node, r);
    r.required(node, "symbol", "the name of the variable in the PD's program")?;
    let mut given: Vec<roxmltree::Attribute> = SETVAR_FORMS.iter().filter_map(|name| r.attr(node, name)).collect();
    given.sort_by_key(|a| a.range().start);
    let (value, source, is_ref) = match given.as_slice() {
        [] => {
            let pos = r.node_pos(node);
            r.err(pos, "<setvar> needs value=\"..\" (a number, dotted IPv4 address or MAC address), region_paddr=\"<memory region>\", region_pci_id=\"<pci memory region>\", region_size=\"<memory region>\", pd_index=\"<protection domain>\" or region_sharers=\"<memory region>\"");
            return None;
        }
        [first, second, ..] => {
            let pos = r.attr_pos(second);
            r.err(
                pos,
                format!(
                    "<setvar> has both {}= and {}=: expected exactly one of value=, region_paddr=, region_pci_id=, region_size=, pd_index=, region_sharers=",
                    first.name(),
                    second.name()
                ),
            );
            return None;
        }
        [a] => match a.name() {
            "value" => match value::parse_setvar_value(a.value()) {
                Ok(value::Literal::Number(n)) => (SetVarValue::Number(n), SetVarSource::Value, false),
                Ok(value::Literal::Mac(mac)) => (SetVarValue::Number(mac.to_word()), SetVarSource::ValueMac, false),
                Err(why) => {
                    let pos = r.attr_pos(a);
                    r.err(pos, format!("<setvar> value={}: {why}", show(a.value())));
                    return None;
                }
            },
            "region_paddr" => (SetVarValue::RegionPaddr(a.value().to_string()), SetVarSource::RegionPaddr, true),
            "region_pci_id" => (SetVarValue::RegionPciId(a.value().to_string()), SetVarSource::RegionPciId, true),
            // Resolved by the cross-element checks, once every PD and map is known.
            "pd_index" => (SetVarValue::Number(0), SetVarSource::PdIndex, true),
            "region_size" => (SetVarValue::Number(0), SetVarSource::RegionSize, true),
            _ => (SetVarValue::Number(0), SetVarSource::RegionSharers, true),
        },
    };
    r.symbol(node, "symbol", value, source, setvars)?;
    attrs_ok.then_some(is_ref)
}
