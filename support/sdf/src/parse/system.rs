//! The `<system>` root: which elements belong at the top level (with hints for those that
//! belong elsewhere), the PD count limit, and the hand-off to each element's reader.

use roxmltree::Document;

use crate::model::*;
use crate::MAX_PDS;

use super::channel::read_channel;
use super::memory_region::read_region;
use super::protection_domain::read_pd;
use super::{Reader, Sources};

/// Reads the document: the model plus the errors of phase 1.
pub(crate) fn read<'a, 'i>(doc: &'a Document<'i>, r: &mut Reader<'_, 'i>) -> (System, Sources<'a, 'i>) {
    let mut system = System {
        pds: Vec::new(),
        regions: Vec::new(),
        channels: Vec::new(),
        fault_injection: true,
        warnings: Vec::new(),
    };
    let mut sources = Sources { pds: Vec::new(), regions: Vec::new(), channels: Vec::new() };
    let root = doc.root_element();
    if root.tag_name().name() != "system" || root.tag_name().namespace().is_some() {
        let pos = r.node_pos(root);
        r.err(pos, format!("the root element is <{}>; expected <system>", root.tag_name().name()));
        return (system, sources);
    }
    r.check_attrs(root, &["fault_injection"], &[]);
    system.fault_injection = r.boolean(root, "fault_injection", true).unwrap_or(true);
    r.check_no_text(root);

    let mut pd_count = 0usize;
    for child in root.children().filter(|c| c.is_element()) {
        match child.tag_name().name() {
            "protection_domain" => {
                pd_count += 1;
                if pd_count == MAX_PDS + 1 {
                    let pos = r.node_pos(child);
                    r.err(
                        pos,
                        format!(
                            "too many protection domains: at most {MAX_PDS} are supported, this is number {pd_count}"
                        ),
                    );
                }
                if let Some((pd, src)) = read_pd(child, r) {
                    system.pds.push(pd);
                    sources.pds.push(src);
                }
            }
            "memory_region" => {
                if let Some(mr) = read_region(child, r) {
                    system.regions.push(mr);
                    sources.regions.push(child);
                }
            }
            "channel" => {
                if let Some((ch, ends)) = read_channel(child, r) {
                    system.channels.push(ch);
                    sources.channels.push(ends);
                }
            }
            _ => r.unknown_element(
                child,
                root,
                &["protection_domain", "memory_region", "channel"],
                &[
                    (
                        "virtual_machine",
                        "virtual machines are not supported (there is no hypervisor in this kernel build)",
                    ),
                    ("domain_schedule", "domain scheduling is not supported (this kernel build has a single domain)"),
                    ("map", "it belongs inside a <protection_domain>"),
                    ("irq", "it belongs inside a <protection_domain>"),
                    ("ioport", "it belongs inside a <protection_domain>"),
                    ("setvar", "it belongs inside a <protection_domain>"),
                    ("program_image", "it belongs inside a <protection_domain>"),
                    ("end", "it belongs inside a <channel>"),
                    ("fault_notify", "it belongs inside the <protection_domain> whose faults it announces"),
                ],
            ),
        }
    }
    if pd_count == 0 {
        let pos = r.node_pos(root);
        r.err(pos, "<system> has no <protection_domain>: expected at least one");
    }
    (system, sources)
}
