//! `<map>`: a memory region mapped into a PD's address space (region name, vaddr, perms,
//! cached) and the `setvar_vaddr` / `setvar_size` symbols it defines.

use roxmltree::Node;

use crate::model::*;
use crate::value;

use super::{no_children, show, Reader};

pub(super) fn read_map(node: Node, r: &mut Reader, setvars: &mut Vec<SetVar>) -> Option<Map> {
    let attrs_ok = r.check_attrs(node, &["mr", "vaddr", "perms", "cached", "setvar_vaddr", "setvar_size"], &[]);
    r.check_no_text(node);
    no_children(node, r);
    let mr = r.required(node, "mr", "the name of the memory region to map");
    let vaddr =
        r.required(node, "vaddr", "the virtual address to map it at").and_then(|a| r.number(node, &a, 0, u64::MAX));
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
    let setvar_vaddr =
        r.symbol(node, "setvar_vaddr", SetVarValue::Number(vaddr_value), SetVarSource::MapVaddr, setvars);
    // The size is known once regions are resolved (phase 2 fills it in).
    let setvar_size = r.symbol(node, "setvar_size", SetVarValue::Number(0), SetVarSource::MapSize, setvars);
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
