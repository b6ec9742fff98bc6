//! The lazy pin bookkeeping: a page is pinned with one PIN call the first time the device
//! gets a buffer in it and stays pinned while buffers cycle through it; pins of pages with no
//! device-owned buffer are given back once idle for `idle_ticks`, or at once on a quota refusal.

use dataspace_api::msg::{MgrError, MgrRequest};

use super::{CacheXlate, MgrLink, MAX_ATTACHMENTS};
use crate::hw::XlateError;

#[derive(Clone, Copy, Default)]
pub(super) struct PageState {
    /// Device-owned buffers in the page.
    pub(super) refs: u32,
    /// The manager holds a pin on the page for us.
    pub(super) held: bool,
    /// When `refs` last dropped to 0 (TSC ticks).
    pub(super) idle_since: u64,
}

impl<L: MgrLink> CacheXlate<'_, L> {
    /// Gives back pins of pages with no device-owned buffer: those idle for `idle_ticks`, or
    /// all of them if `all`.
    pub(super) fn release_idle(&mut self, all: bool) {
        if self.idle_held == 0 {
            return;
        }
        let now = self.link.now();
        for slot in 0..MAX_ATTACHMENTS {
            let Some(a) = self.atts[slot] else { continue };
            for dpage in 0..a.at.pages() {
                let i = a.first + dpage as usize;
                let p = self.pages[i];
                let idle_long = now.wrapping_sub(p.idle_since) >= self.idle_ticks;
                if p.held && p.refs == 0 && (all || idle_long) {
                    self.stats.unpin_calls += 1;
                    match self.call(&MgrRequest::Unpin { ds: a.at.ds(), first: dpage, count: 1 }) {
                        // NotPinned: the manager already dropped it (a lapsed or reset pin).
                        Ok(_) | Err(MgrError::NotPinned) => {}
                        Err(_) => continue,
                    }
                    self.pages[i].held = false;
                    self.idle_held -= 1;
                    self.stats.pinned_pages -= 1;
                }
            }
        }
    }

    /// Unpins pages idle for longer than `idle_ticks`; cheap when there is nothing to do, and
    /// scans at most every `idle_ticks / 2`. Call it from the PD loop.
    pub fn sweep(&mut self) {
        if self.idle_held == 0 {
            return;
        }
        let now = self.link.now();
        if now < self.next_sweep {
            return;
        }
        self.next_sweep = now.saturating_add(self.idle_ticks / 2);
        self.release_idle(false);
    }

    /// Pages pinned but with no device-owned buffer (candidates for a lazy unpin).
    pub fn idle_pins(&self) -> u32 {
        self.idle_held
    }

    /// One more device-owned buffer in engine page `page` of `dataspace`: pins the page
    /// unless it is already held.
    pub(super) fn pin_page(&mut self, dataspace: u32, page: u64) -> Result<(), XlateError> {
        let (at, dpage, _, i) = self.locate(dataspace, page).ok_or(XlateError::NoMapping { dataspace, page })?;
        if !self.pages[i].held {
            let req = MgrRequest::Pin { ds: at.ds(), first: dpage, count: 1, expiry: 0 };
            self.stats.pin_calls += 1;
            let mut result = self.call(&req);
            if result == Err(MgrError::QuotaExceeded) && self.idle_held > 0 {
                self.release_idle(true);
                self.stats.pin_calls += 1;
                result = self.call(&req);
            }
            match result {
                Ok(_) => {}
                Err(MgrError::QuotaExceeded) => {
                    self.stats.quota_refusals += 1;
                    return Err(XlateError::PinQuota { dataspace, page });
                }
                Err(e) => return Err(super::link::xlate_error(e, dataspace, page)),
            }
            self.pages[i].held = true;
            self.stats.pinned_pages += 1;
        } else if self.pages[i].refs == 0 {
            self.idle_held -= 1;
        }
        self.pages[i].refs += 1;
        Ok(())
    }

    /// One device-owned buffer fewer in the page: the last one starts its idle time.
    pub(super) fn unpin_page(&mut self, dataspace: u32, page: u64) {
        let Some((_, _, _, i)) = self.locate(dataspace, page) else {
            return;
        };
        let now = self.link.now();
        let p = &mut self.pages[i];
        if p.refs == 0 {
            return;
        }
        p.refs -= 1;
        if p.refs == 0 && p.held {
            p.idle_since = now;
            self.idle_held += 1;
        }
    }
}
