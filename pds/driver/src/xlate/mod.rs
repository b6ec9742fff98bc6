//! The driver's [`Translate`] over the dataspace manager (issue 4, DESIGN.md §6): lookups are
//! plain loads of the shared translation cache (`dataspace_api::cache::CacheReader`), a miss
//! is a REFILL call to the manager, and pinning is **lazy**: a page is pinned with one PIN call
//! the first time the device gets a buffer in it and stays pinned while buffers cycle through
//! it, so the steady state makes no kernel call. A page nobody uses any more is unpinned by
//! [`CacheXlate::sweep`] once it has been idle for `idle_ticks` TSC ticks, or at once when a
//! PIN hits the driver's quota (idle pins are given back and the PIN retried).
//!
//! The manager is reached through [`MgrLink`] (a PPC in the PD, a fake in tests), so the adapter
//! makes no kernel call itself. Engine pages are 4 KiB ([`PAGE_SIZE`]); a dataspace may use
//! larger pages (e.g. one 2 MiB page), which this adapter maps onto the engine's pages.
//!
//! `link.rs` is how the manager is reached, `cache.rs` the lookups and refills, `pins.rs`
//! the lazy pin bookkeeping; this file holds the adapter and a client's attachments.

use core::cell::RefCell;

use dataspace_api::cache::{CacheEntry, CacheReader, ReaderStats};
use dataspace_api::msg::{MgrError, MgrReply, MgrRequest};
use dataspace_api::{Attachment, DsId, PdId};
use nic_api::{SessionError, MAX_SESSIONS, MAX_SESSION_DATASPACES};

use crate::hw::{Translate, XlateError, PAGE_SIZE};
use pins::PageState;

mod cache;
mod link;
mod pins;
#[cfg(test)]
mod tests;

pub use link::{LinkError, MgrLink};

/// Most dataspace pages the sessions' dataspaces may have in total (the pin bookkeeping is a
/// fixed table: two 2 MiB dataspaces of 4 KiB pages).
pub const MAX_TRACKED_PAGES: usize = 1024;

/// Most dataspaces attached at once, over every session.
pub const MAX_ATTACHMENTS: usize =
    if MAX_SESSIONS * 2 > MAX_SESSION_DATASPACES { MAX_SESSIONS * 2 } else { MAX_SESSION_DATASPACES };

/// The adapter's counters (the cache reader's are in [`XlateStats::reader`]).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct XlateStats {
    /// Lookups, hits, misses and torn reads of the shared cache.
    pub reader: ReaderStats,
    /// REFILL calls made.
    pub refill_calls: u64,
    /// PIN calls made (one per page that was not already pinned).
    pub pin_calls: u64,
    /// UNPIN calls made (idle pages given back).
    pub unpin_calls: u64,
    /// PINs refused for quota even after giving back idle pins.
    pub quota_refusals: u64,
    /// Calls to the manager that failed or were refused.
    pub call_errors: u64,
    /// Pages this driver holds pinned now.
    pub pinned_pages: u64,
}

#[derive(Clone, Copy)]
struct Att {
    at: Attachment,
    /// The client it was attached for (its session's).
    client: PdId,
    /// First entry of this attachment in `pages`.
    first: usize,
}

/// A (first-use) translation the PD may want to report once.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Witness {
    /// The dataspace.
    pub ds: u32,
    /// The engine (4 KiB) page.
    pub page: u64,
    /// Its frame.
    pub frame: u64,
}

/// The driver's view of the translation cache and the manager.
pub struct CacheXlate<'c, L: MgrLink> {
    reader: RefCell<CacheReader<'c>>,
    link: L,
    atts: [Option<Att>; MAX_ATTACHMENTS],
    pages: [PageState; MAX_TRACKED_PAGES],
    idle_ticks: u64,
    idle_held: u32,
    next_sweep: u64,
    stats: XlateStats,
    /// The first miss and the first hit, for the boot log.
    pub first_miss: Option<Witness>,
    /// See `first_miss`.
    pub first_hit: core::cell::Cell<Option<Witness>>,
}

impl<'c, L: MgrLink> CacheXlate<'c, L> {
    /// An adapter over `table` (the translation-cache region, mapped read-only is enough).
    /// Idle pins are given back after `idle_ticks` TSC ticks.
    pub fn new(table: &'c [CacheEntry], link: L, idle_ticks: u64) -> Self {
        Self {
            reader: RefCell::new(CacheReader::new(table)),
            link,
            atts: [None; MAX_ATTACHMENTS],
            pages: [PageState::default(); MAX_TRACKED_PAGES],
            idle_ticks,
            idle_held: 0,
            next_sweep: 0,
            stats: XlateStats::default(),
            first_miss: None,
            first_hit: core::cell::Cell::new(None),
        }
    }

    /// The counters.
    pub fn stats(&self) -> XlateStats {
        XlateStats { reader: self.reader.borrow().stats(), ..self.stats }
    }

    /// The link (e.g. to ask the manager for its own counters).
    pub fn link_mut(&mut self) -> &mut L {
        &mut self.link
    }

    /// The attached dataspaces.
    pub fn attachments(&self) -> impl Iterator<Item = Attachment> + '_ {
        self.atts.iter().flatten().map(|a| a.at)
    }

    /// Asks the manager to attach `ds` for `client` (it checks the client shares it) and
    /// records where its entries are. A dataspace is attached for one session at a time.
    pub fn attach(&mut self, client: PdId, ds: DsId) -> Result<Attachment, SessionError> {
        if let Some(a) = self.atts.iter().flatten().find(|a| a.at.ds() == ds) {
            // Still attached for this client: a close that could not detach (a transmission
            // still pinned it) — the new session takes it over. Another client's: refused.
            return if a.client == client { Ok(a.at) } else { Err(SessionError::DuplicateDataspace) };
        }
        let slot = self.atts.iter().position(Option::is_none).ok_or(SessionError::TooManyDataspaces)?;
        let at = match self.call(&MgrRequest::Attach { client, ds }) {
            Ok(MgrReply::Attached(at)) if at.ds() == ds => at,
            Ok(_) => return Err(SessionError::Manager(MgrError::NotAttached)),
            Err(e) => return Err(SessionError::Manager(e)),
        };
        let pages = at.pages() as usize;
        let Some(first) = self.free_pages(pages) else {
            // Undo: the driver cannot keep pin state for this many pages.
            let _ = self.call(&MgrRequest::Detach { client, ds });
            return Err(SessionError::Manager(MgrError::CacheFull));
        };
        self.pages[first..first + pages].fill(PageState::default());
        self.atts[slot] = Some(Att { at, client, first });
        Ok(at)
    }

    /// The lowest start of `n` consecutive tracking entries no attachment uses (sessions come
    /// and go, so the table is reused first-fit).
    fn free_pages(&self, n: usize) -> Option<usize> {
        let mut start = 0usize;
        loop {
            let end = start.checked_add(n)?;
            if end > MAX_TRACKED_PAGES {
                return None;
            }
            let clash = self
                .atts
                .iter()
                .flatten()
                .map(|a| (a.first, a.first + a.at.pages() as usize))
                .filter(|&(lo, hi)| lo < end && start < hi)
                .map(|(_, hi)| hi)
                .max();
            match clash {
                None => return Some(start),
                Some(next) => start = next,
            }
        }
    }

    /// Gives back every idle pin, then detaches every dataspace attached for `client` (the
    /// other sessions' stay). Refused with [`SessionError::Busy`] (nothing detached) while the
    /// device still owns a buffer of this client's.
    pub fn detach_all(&mut self, client: PdId) -> Result<(), SessionError> {
        let busy = self
            .atts
            .iter()
            .flatten()
            .filter(|a| a.client == client)
            .any(|a| self.pages[a.first..a.first + a.at.pages() as usize].iter().any(|p| p.refs > 0));
        if busy {
            return Err(SessionError::Busy);
        }
        self.release_idle(true);
        let mut result = Ok(());
        for slot in 0..MAX_ATTACHMENTS {
            let Some(a) = self.atts[slot].filter(|a| a.client == client) else { continue };
            match self.call(&MgrRequest::Detach { client, ds: a.at.ds() }) {
                Ok(_) => self.atts[slot] = None,
                Err(MgrError::Pinned) => result = Err(SessionError::Busy),
                Err(e) => {
                    // The manager no longer knows it (e.g. after a device reset): forget it.
                    self.atts[slot] = None;
                    result = result.and(Err(SessionError::Manager(e)));
                }
            }
        }
        result
    }

    /// Engine page `page` of `ds`: (attachment, dataspace page, byte offset in that page,
    /// tracking index).
    fn locate(&self, ds: u32, page: u64) -> Option<(Attachment, u32, u64, usize)> {
        let a = self.atts.iter().flatten().find(|a| a.at.ds().0 == ds)?;
        let byte = page.checked_mul(PAGE_SIZE)?;
        let ps = a.at.page_size();
        let dpage = u32::try_from(byte / ps).ok()?;
        if dpage >= a.at.pages() {
            return None;
        }
        Some((a.at, dpage, byte % ps, a.first + dpage as usize))
    }
}

impl<L: MgrLink> Translate for CacheXlate<'_, L> {
    fn lookup(&self, dataspace: u32, page: u64) -> Option<u64> {
        self.cached(dataspace, page)
    }

    fn refill(&mut self, dataspace: u32, page: u64) -> Result<u64, XlateError> {
        self.refill_from_manager(dataspace, page)
    }

    fn pin(&mut self, dataspace: u32, page: u64) -> Result<(), XlateError> {
        self.pin_page(dataspace, page)
    }

    fn unpin(&mut self, dataspace: u32, page: u64) {
        self.unpin_page(dataspace, page)
    }
}
