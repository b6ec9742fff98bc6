//! Phase 1: XML -> model, with every check that needs only the element at hand (structure,
//! known elements and attributes, required attributes, number syntax and ranges, value
//! formats). Cross-element rules live in `check.rs` and run only when this phase is clean,
//! so they never report consequences of an earlier mistake.
//!
//! One file per element family, named after the element: `system` (the root),
//! `protection_domain` (with `<program_image>` and `<fault_notify>`), `map`,
//! `memory_region`, `setvar`, `channel` (with `<end>`), `irq` and `ioport`. What they
//! share is in `reader` (positions, errors, structural checks) and `attrs` (typed
//! attribute readers).

mod attrs;
mod channel;
mod ioport;
mod irq;
mod map;
mod memory_region;
mod protection_domain;
mod reader;
mod setvar;
mod system;

use roxmltree::Node;

use crate::model::*;

use reader::no_children;
pub(crate) use reader::{show, show_char, Reader};
pub(crate) use system::read;

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
    /// Every `<setvar>` element, in document order (phase 2 points at their attributes).
    pub setvar_nodes: Vec<Node<'a, 'i>>,
    /// `<setvar>` elements naming a region or PD (`region_paddr`, `pd_index`,
    /// `region_sharers`), with the index of their entry in the PD's setvars.
    pub ref_setvars: Vec<(usize, Node<'a, 'i>)>,
}
