//! ATTACH and DETACH: a dataspace a client shares is given a dense range of a driver's
//! translation cache, reused by further clients; the last client's DETACH frees the range,
//! but only while no page is pinned.

use dataspace_api::msg::MgrError;
use dataspace_api::{Attachment, DsId, PdId, PdSet};

use crate::state::Attached;
use crate::Manager;

impl Manager<'_> {
    /// Attaches `ds` to `driver`'s translation cache on behalf of `client`, after checking the
    /// client shares it. Attaching an already attached dataspace for another client reuses the
    /// range; attaching twice for the same client is harmless.
    pub fn attach(&mut self, driver: PdId, client: PdId, ds: DsId) -> Result<Attachment, MgrError> {
        let d = self.healthy_driver(driver)?;
        let di = self.ds_index(ds)?;
        if !self.dataspaces[di].sharers.contains(client) {
            return Err(MgrError::NotShared);
        }
        if let Some(at) = self.drivers[d].bindings[di].attached.as_mut() {
            at.clients = at.clients.with(client);
            let at = *at;
            return Ok(self.attachment_of(di, at));
        }
        let pages = self.dataspaces[di].pages;
        let base = self.free_range(d, pages).ok_or(MgrError::CacheFull)?;
        let driver_state = &mut self.drivers[d];
        for i in base..base + pages {
            // Entries of a free range are already invalid; make sure (in range by search).
            let _ = driver_state.writer.invalidate(i as usize);
        }
        let at = Attached { base, clients: PdSet::EMPTY.with(client) };
        driver_state.bindings[di].attached = Some(at);
        Ok(self.attachment_of(di, at))
    }

    /// The lowest base of `pages` consecutive entries no attachment of driver `d` uses.
    fn free_range(&self, d: usize, pages: u32) -> Option<u32> {
        let driver = &self.drivers[d];
        let len = u32::try_from(driver.writer.len()).unwrap_or(u32::MAX);
        let used = |start: u32| {
            driver
                .bindings
                .iter()
                .zip(&self.dataspaces)
                .filter_map(|(b, ds)| b.attached.map(|a| (a.base, a.base + ds.pages)))
                .filter(move |&(lo, hi)| lo < start.saturating_add(pages) && start < hi)
                .map(|(_, hi)| hi)
                .max()
        };
        let mut start = 0u32;
        loop {
            let end = start.checked_add(pages)?;
            if end > len {
                return None;
            }
            match used(start) {
                None => return Some(start),
                Some(next) => start = next,
            }
        }
    }

    /// `client` no longer uses `ds` through `driver`. When it was the last client, the range
    /// is freed and its entries invalidated, but only if no page is pinned ([`MgrError::Pinned`],
    /// nothing changed: retry after the DMA completes).
    pub fn detach(&mut self, driver: PdId, client: PdId, ds: DsId, now: u64) -> Result<(), MgrError> {
        let d = self.healthy_driver(driver)?;
        let di = self.ds_index(ds)?;
        let at = self.attached(d, di)?;
        if !at.clients.contains(client) {
            return Err(MgrError::NotAttached);
        }
        let remaining = at.clients.without(client);
        if !remaining.is_empty() {
            if let Some(a) = self.drivers[d].bindings[di].attached.as_mut() {
                a.clients = remaining;
            }
            return Ok(());
        }
        self.expire_driver(d, now);
        let driver_state = &mut self.drivers[d];
        if driver_state.bindings[di].pins.iter().any(|p| p.refs > 0) {
            return Err(MgrError::Pinned);
        }
        for i in at.base..at.base + self.dataspaces[di].pages {
            let _ = driver_state.writer.invalidate(i as usize);
        }
        driver_state.bindings[di].attached = None;
        Ok(())
    }
}
