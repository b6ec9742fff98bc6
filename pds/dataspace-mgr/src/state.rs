//! What the manager keeps: per dataspace its geometry, sharers, frames and residency; per
//! driver its quota, translation cache and, per dataspace, its attachment and page pins.

use alloc::vec::Vec;

use dataspace_api::cache::CacheWriter;
use dataspace_api::{DsId, PdId, PdSet};

/// One configured dataspace.
pub(crate) struct Dataspace {
    pub(crate) id: DsId,
    pub(crate) page_size: u64,
    pub(crate) pages: u32,
    pub(crate) sharers: PdSet,
    pub(crate) frames: Vec<u64>,
    pub(crate) resident: Vec<bool>,
}

/// One driver's pins on one page.
#[derive(Clone, Copy, Default)]
pub(crate) struct Pin {
    /// Pins held on the page (0 = unpinned).
    pub(crate) refs: u32,
    /// When the pin lapses (TSC ticks), 0 = held until unpinned.
    pub(crate) deadline: u64,
}

impl Pin {
    /// Whether the pin holds at `now` (held and not past its deadline).
    pub(crate) fn live(&self, now: u64) -> bool {
        self.refs > 0 && (self.deadline == 0 || now < self.deadline)
    }
}

/// Where a dataspace sits in a driver's translation cache, and for which clients.
#[derive(Clone, Copy)]
pub(crate) struct Attached {
    pub(crate) base: u32,
    pub(crate) clients: PdSet,
}

/// One driver's relation to one dataspace.
pub(crate) struct Binding {
    pub(crate) attached: Option<Attached>,
    pub(crate) pins: Vec<Pin>,
}

/// One driver PD as the manager knows it.
pub(crate) struct Driver<'a> {
    pub(crate) pd: PdId,
    pub(crate) quota: u32,
    pub(crate) writer: CacheWriter<'a>,
    pub(crate) faulted: bool,
    /// Generation of the live instance: the driver's faults before it started, as its last
    /// DEVICE_RESET said (0 until then). A fault notice counting no more faults than this is
    /// about an instance already replaced, whatever order notice and reset arrived in.
    pub(crate) instance: u32,
    /// Distinct pages with `refs > 0` (lapsed ones included until swept).
    pub(crate) held: u32,
    /// Indexed like `Manager::dataspaces`.
    pub(crate) bindings: Vec<Binding>,
}

/// Counters kept by the manager (see [`MgrStats`]; `pinned_pages` is computed on demand).
#[derive(Default)]
pub(crate) struct Counters {
    pub(crate) refills: u64,
    pub(crate) pins: u64,
    pub(crate) unpins: u64,
    pub(crate) expired: u64,
    pub(crate) quota_refusals: u64,
    pub(crate) reclaims: u64,
    pub(crate) reclaim_refusals: u64,
}
