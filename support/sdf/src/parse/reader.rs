//! The phase-1 reader every element uses: where things are (line:col of elements and
//! attributes), how an error is recorded, and the structural checks all elements share
//! (known attributes, no stray text, known or absent child elements). The typed attribute
//! readers are in `attrs.rs`.

use roxmltree::{Attribute, Node, NodeType};

use crate::diag::LineIndex;
use crate::model::*;

use super::Found;

pub(crate) struct Reader<'a, 'i> {
    pub lines: &'a LineIndex<'i>,
    pub errors: Vec<Found>,
}

/// Shows an attribute value inside a message: quoted, escaped, and cut short if long.
pub(crate) fn show(value: &str) -> String {
    const MAX: usize = 40;
    let mut out = String::from("\"");
    for (i, c) in value.chars().enumerate() {
        if i == MAX {
            out.push_str("...");
            break;
        }
        out.extend(c.escape_debug());
    }
    out.push('"');
    out
}

pub(crate) fn show_char(c: char) -> String {
    format!("'{}'", c.escape_debug())
}

fn list(items: &[&str]) -> String {
    items.join(", ")
}

impl<'a, 'i> Reader<'a, 'i> {
    pub(crate) fn pos(&self, offset: usize) -> Pos {
        self.lines.pos(offset)
    }

    pub(crate) fn node_pos(&self, node: Node) -> Pos {
        self.pos(node.range().start)
    }

    pub(crate) fn attr_pos(&self, attr: &Attribute) -> Pos {
        self.pos(attr.range().start)
    }

    /// Position of attribute `name` of `node`, or of the element if it has no such
    /// attribute.
    pub(crate) fn attr_pos_of(&self, node: Node, name: &str) -> Pos {
        match node.attributes().find(|a| a.name() == name && a.namespace().is_none()) {
            Some(a) => self.attr_pos(&a),
            None => self.node_pos(node),
        }
    }

    pub(super) fn err(&mut self, pos: Pos, message: impl Into<String>) {
        self.errors.push((pos, message.into()));
    }

    /// Reports attributes not in `allowed` (with a specific hint for Microkit attributes
    /// this system does not support). Returns false if any was found.
    pub(super) fn check_attrs(&mut self, node: Node, allowed: &[&str], hints: &[(&str, &str)]) -> bool {
        let element = node.tag_name().name();
        let mut ok = true;
        for attr in node.attributes() {
            let pos = self.attr_pos(&attr);
            if attr.namespace().is_some() {
                let qname = self.source(attr.range_qname());
                self.err(pos, format!("unknown attribute '{qname}' on <{element}>: namespaced attributes are not part of the system file format"));
                ok = false;
                continue;
            }
            let name = attr.name();
            if allowed.contains(&name) {
                continue;
            }
            ok = false;
            match hints.iter().find(|(n, _)| *n == name) {
                Some((_, hint)) => self.err(pos, format!("attribute '{name}' on <{element}> is not supported: {hint}")),
                None if allowed.is_empty() => {
                    self.err(pos, format!("unknown attribute '{name}' on <{element}>: <{element}> takes no attributes"))
                }
                None => self
                    .err(pos, format!("unknown attribute '{name}' on <{element}>; expected one of: {}", list(allowed))),
            }
        }
        ok
    }

    /// The source text in `range` (e.g. an attribute's qualified name).
    pub(super) fn source(&self, range: std::ops::Range<usize>) -> String {
        self.lines.text().get(range).unwrap_or("?").to_string()
    }

    /// Reports non-blank text directly inside `node` (comments are fine).
    pub(super) fn check_no_text(&mut self, node: Node) {
        for child in node.children() {
            if child.node_type() == NodeType::Text {
                if let Some(text) = child.text() {
                    if !text.trim().is_empty() {
                        let offset = child.range().start + (text.len() - text.trim_start().len());
                        let pos = self.pos(offset.min(child.range().end));
                        self.err(
                            pos,
                            format!(
                                "unexpected text {} in <{}>: only elements and comments belong here",
                                show(text.trim()),
                                node.tag_name().name()
                            ),
                        );
                    }
                }
            }
        }
    }

    pub(super) fn unknown_element(&mut self, child: Node, parent: Node, expected: &[&str], hints: &[(&str, &str)]) {
        let name = child.tag_name().name();
        let pos = self.node_pos(child);
        let parent_name = parent.tag_name().name();
        match hints.iter().find(|(n, _)| *n == name) {
            Some((_, hint)) => self.err(pos, format!("unexpected element <{name}> in <{parent_name}>: {hint}")),
            None => self
                .err(pos, format!("unknown element <{name}> in <{parent_name}>; expected one of: {}", list(expected))),
        }
    }
}

/// Leaf elements (map, irq, ...) take no child elements.
pub(super) fn no_children(node: Node, r: &mut Reader) {
    if let Some(child) = node.children().find(|c| c.is_element()) {
        let pos = r.node_pos(child);
        r.err(
            pos,
            format!(
                "unexpected element <{}> inside <{}>: it takes no child elements",
                child.tag_name().name(),
                node.tag_name().name()
            ),
        );
    }
}
