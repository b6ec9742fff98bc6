//! `<ioport>`: a range of x86 I/O ports granted to a PD, and the `setvar_id` /
//! `setvar_addr` symbols it defines.

use roxmltree::Node;

use crate::model::*;
use crate::MAX_CHANNEL_ID;

use super::{no_children, show, Reader};

pub(super) fn read_ioport(node: Node, r: &mut Reader, setvars: &mut Vec<SetVar>) -> Option<IoPort> {
    let attrs_ok = r.check_attrs(node, &["id", "addr", "size", "setvar_id", "setvar_addr"], &[]);
    r.check_no_text(node);
    no_children(node, r);
    let id = r
        .required(node, "id", "the I/O port range's id in this PD")
        .and_then(|a| r.number(node, &a, 0, MAX_CHANNEL_ID));
    let addr = r.required(node, "addr", "the first port, 0..0xffff").and_then(|a| r.number(node, &a, 0, 0xffff));
    let size = r.required(node, "size", "the number of ports").and_then(|a| r.number(node, &a, 1, 0x1_0000));
    if let (Some(addr), Some(size), Some(a)) = (addr, size, r.attr(node, "size")) {
        if addr + size > 0x1_0000 {
            let pos = r.attr_pos(&a);
            r.err(
                pos,
                format!(
                    "<ioport> addr=0x{addr:x} size={}: the range ends at 0x{:x}, past the last I/O port 0xffff",
                    show(a.value()),
                    addr + size - 1
                ),
            );
            return None;
        }
    }
    let (id, addr, size) = (u8::try_from(id?).ok()?, u16::try_from(addr?).ok()?, u32::try_from(size?).ok()?);
    let setvar_id = r.symbol(node, "setvar_id", SetVarValue::Number(u64::from(id)), SetVarSource::IoPortId, setvars);
    let setvar_addr =
        r.symbol(node, "setvar_addr", SetVarValue::Number(u64::from(addr)), SetVarSource::IoPortAddr, setvars);
    attrs_ok.then(|| IoPort { id, addr, size, setvar_id, setvar_addr, pos: r.node_pos(node) })
}
