//! `<channel>` and its two `<end>`s: the PD and channel id of each end, and the `pp`
//! (protected call) and `notify` flags.

use roxmltree::Node;

use crate::model::*;
use crate::value;
use crate::MAX_CHANNEL_ID;

use super::{no_children, show, Reader};

pub(super) fn read_channel<'a, 'i>(node: Node<'a, 'i>, r: &mut Reader<'_, 'i>) -> Option<(Channel, [Node<'a, 'i>; 2])> {
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
        r.err(
            pos,
            "<end> pp=\"true\" on both ends of a <channel>: protected calls go one way only, to the higher-priority PD",
        );
        return None;
    }
    let b = ends.pop()?;
    let a = ends.pop()?;
    Some((Channel { ends: [a, b], pos: r.node_pos(node) }, [nodes[0], nodes[1]]))
}

pub(super) fn read_end(node: Node, r: &mut Reader) -> Option<ChannelEnd> {
    let attrs_ok = r.check_attrs(node, &["pd", "id", "pp", "notify", "setvar_id"], &[]);
    r.check_no_text(node);
    no_children(node, r);
    let pd = r.required(node, "pd", "the name of the protection domain at this end");
    let id = r.required(node, "id", "the channel id this PD uses").and_then(|a| r.number(node, &a, 0, MAX_CHANNEL_ID));
    let pp = r.boolean(node, "pp", false);
    let notify = r.boolean(node, "notify", true);
    let setvar_id = match r.attr(node, "setvar_id") {
        Some(a) if !value::valid_symbol(a.value()) => {
            let pos = r.attr_pos(&a);
            r.err(
                pos,
                format!(
                    "<end> setvar_id={}: expected a symbol name (letters, digits and '_', not starting with a digit)",
                    show(a.value())
                ),
            );
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
