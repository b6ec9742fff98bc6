//! Typed attribute readers shared by every element: required attributes, numbers in a
//! range, keywords, booleans, names and `setvar_*` symbols. Each reports its own error,
//! so the element readers stay short and every element words its errors alike.

use roxmltree::{Attribute, Node};

use crate::model::*;
use crate::value::{self, NumError};

use super::{show, Reader};

impl Reader<'_, '_> {
    pub(super) fn attr<'n, 'x>(&self, node: Node<'n, 'x>, name: &str) -> Option<Attribute<'n, 'x>> {
        node.attributes().find(|a| a.name() == name && a.namespace().is_none())
    }

    /// A required attribute; reports it missing (at the element) with `purpose`.
    pub(super) fn required<'n, 'x>(
        &mut self,
        node: Node<'n, 'x>,
        name: &str,
        purpose: &str,
    ) -> Option<Attribute<'n, 'x>> {
        let found = self.attr(node, name);
        if found.is_none() {
            let pos = self.node_pos(node);
            self.err(
                pos,
                format!("<{}> is missing the required attribute '{name}' ({purpose})", node.tag_name().name()),
            );
        }
        found
    }

    /// A number attribute in `min..=max`.
    pub(super) fn number(&mut self, node: Node, attr: &Attribute, min: u64, max: u64) -> Option<u64> {
        let element = node.tag_name().name();
        let pos = self.attr_pos(attr);
        let range = match max {
            u64::MAX => format!("at least {min}"),
            0..=0xfff => format!("{min}..{max}"),
            _ => format!("0x{min:x}..0x{max:x}"),
        };
        match value::parse_u64(attr.value()) {
            Ok(v) if v >= min && v <= max => Some(v),
            Ok(_) => {
                self.err(
                    pos,
                    format!("<{element}> {}={} is out of range: expected {range}", attr.name(), show(attr.value())),
                );
                None
            }
            Err(NumError::Overflow | NumError::Negative) if max != u64::MAX => {
                self.err(
                    pos,
                    format!("<{element}> {}={} is out of range: expected {range}", attr.name(), show(attr.value())),
                );
                None
            }
            Err(e) => {
                let extra = if max == u64::MAX { String::new() } else { format!("; expected {range}") };
                self.err(pos, format!("<{element}> {}={}: {}{extra}", attr.name(), show(attr.value()), e.describe()));
                None
            }
        }
    }

    /// An optional number attribute with a default.
    pub(super) fn number_or(&mut self, node: Node, name: &str, default: u64, min: u64, max: u64) -> Option<u64> {
        match self.attr(node, name) {
            Some(a) => self.number(node, &a, min, max),
            None => Some(default),
        }
    }

    /// An optional keyword attribute: `Some(default)` when absent, the value `choices` pairs
    /// with its text, or `None` (reported: `expected <expected>`) for any other text.
    pub(super) fn keyword<T: Copy>(
        &mut self,
        node: Node,
        name: &str,
        default: T,
        choices: &[(&str, T)],
        expected: &str,
    ) -> Option<T> {
        let Some(attr) = self.attr(node, name) else {
            return Some(default);
        };
        if let Some(&(_, v)) = choices.iter().find(|(text, _)| *text == attr.value()) {
            return Some(v);
        }
        let pos = self.attr_pos(&attr);
        self.err(pos, format!("<{}> {}={}: expected {expected}", node.tag_name().name(), name, show(attr.value())));
        None
    }

    /// An optional boolean attribute: `Ok(default)` when absent, `Err(())` (reported) when
    /// not exactly "true" or "false".
    pub(super) fn boolean(&mut self, node: Node, name: &str, default: bool) -> Result<bool, ()> {
        let Some(attr) = self.attr(node, name) else {
            return Ok(default);
        };
        match value::parse_bool(attr.value()) {
            Some(b) => Ok(b),
            None => {
                let pos = self.attr_pos(&attr);
                self.err(
                    pos,
                    format!(
                        "<{}> {}={}: expected \"true\" or \"false\"",
                        node.tag_name().name(),
                        name,
                        show(attr.value())
                    ),
                );
                Err(())
            }
        }
    }

    /// A symbol-naming attribute (setvar_*); pushes the setvar when valid.
    pub(super) fn symbol(
        &mut self,
        node: Node,
        name: &str,
        value: SetVarValue,
        source: SetVarSource,
        out: &mut Vec<SetVar>,
    ) -> Option<String> {
        let attr = self.attr(node, name)?;
        let pos = self.attr_pos(&attr);
        if !value::valid_symbol(attr.value()) {
            self.err(
                pos,
                format!(
                    "<{}> {}={}: expected a symbol name (letters, digits and '_', not starting with a digit)",
                    node.tag_name().name(),
                    name,
                    show(attr.value())
                ),
            );
            return None;
        }
        out.push(SetVar { symbol: attr.value().to_string(), value, source, pos });
        Some(attr.value().to_string())
    }

    /// A non-empty name attribute.
    pub(super) fn name(&mut self, node: Node, purpose: &str) -> Option<String> {
        let attr = self.required(node, "name", purpose)?;
        if attr.value().trim().is_empty() {
            let pos = self.attr_pos(&attr);
            self.err(
                pos,
                format!("<{}> name={}: expected a non-empty name", node.tag_name().name(), show(attr.value())),
            );
            return None;
        }
        Some(attr.value().to_string())
    }
}
