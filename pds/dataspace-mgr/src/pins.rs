//! PIN, UNPIN and expiry: per driver and page a reference count and an optional deadline,
//! all or nothing against the driver's quota; lapsed pins are swept before every quota,
//! reclaim and detach decision.

use dataspace_api::msg::MgrError;
use dataspace_api::{DsId, PdId};

use crate::state::Pin;
use crate::Manager;

impl Manager<'_> {
    /// Checks a page range of an attached dataspace; returns (driver, ds index, base, end).
    fn range(&self, driver: PdId, ds: DsId, first: u32, count: u32) -> Result<(usize, usize, u32, u32), MgrError> {
        let d = self.healthy_driver(driver)?;
        let di = self.ds_index(ds)?;
        let at = self.attached(d, di)?;
        let end = first.checked_add(count).ok_or(MgrError::RangeOverflow)?;
        if end > self.dataspaces[di].pages {
            return Err(MgrError::PageOutOfRange);
        }
        Ok((d, di, at.base, end))
    }

    /// Pins `count` pages of `ds` from `first` for `driver`, until unpinned or, if `expiry` is
    /// non-zero, until that TSC deadline; also fills their cache entries (with the pin bit).
    /// All or nothing: past the quota, [`MgrError::QuotaExceeded`] and nothing changes.
    /// Returns (pages the driver has pinned now, its quota).
    pub fn pin(
        &mut self,
        driver: PdId,
        ds: DsId,
        first: u32,
        count: u32,
        expiry: u64,
        now: u64,
    ) -> Result<(u32, u32), MgrError> {
        let (d, di, base, end) = self.range(driver, ds, first, count)?;
        if expiry != 0 && expiry <= now {
            return Err(MgrError::BadExpiry);
        }
        self.expire_driver(d, now);
        let driver_state = &mut self.drivers[d];
        let pins = &mut driver_state.bindings[di].pins[first as usize..end as usize];
        let new_pages = pins.iter().filter(|p| p.refs == 0).count() as u32;
        let over = driver_state.held.checked_add(new_pages).is_none_or(|total| total > driver_state.quota);
        if over || pins.iter().any(|p| p.refs == u32::MAX) {
            self.counters.quota_refusals += 1;
            return Err(MgrError::QuotaExceeded);
        }
        for pin in pins.iter_mut() {
            pin.deadline = match (pin.refs, pin.deadline, expiry) {
                // An untimed pin keeps the page until it is unpinned.
                (_, _, 0) => 0,
                (0, _, e) => e,
                (_, 0, _) => 0,
                (_, d, e) => d.max(e),
            };
            pin.refs += 1;
        }
        driver_state.held += new_pages;
        self.counters.pins += u64::from(count);
        for page in first..end {
            self.publish(d, di, base, page, now);
        }
        let driver_state = &self.drivers[d];
        Ok((driver_state.held, driver_state.quota))
    }

    /// Drops one pin of each of `count` pages of `ds` from `first`. All or nothing: if a page
    /// has no live pin (never pinned, or its pin lapsed), [`MgrError::NotPinned`] and nothing
    /// changes. Returns (pages the driver has pinned now, its quota).
    pub fn unpin(&mut self, driver: PdId, ds: DsId, first: u32, count: u32, now: u64) -> Result<(u32, u32), MgrError> {
        let (d, di, base, end) = self.range(driver, ds, first, count)?;
        self.expire_driver(d, now);
        let driver_state = &mut self.drivers[d];
        let pins = &mut driver_state.bindings[di].pins[first as usize..end as usize];
        if pins.iter().any(|p| p.refs == 0) {
            return Err(MgrError::NotPinned);
        }
        let mut released = 0;
        for pin in pins.iter_mut() {
            pin.refs -= 1;
            if pin.refs == 0 {
                pin.deadline = 0;
                released += 1;
            }
        }
        driver_state.held -= released;
        self.counters.unpins += u64::from(count);
        for page in first..end {
            if self.drivers[d].bindings[di].pins[page as usize].refs == 0 {
                self.publish(d, di, base, page, now);
            }
        }
        let driver_state = &self.drivers[d];
        Ok((driver_state.held, driver_state.quota))
    }

    /// Drops driver `d`'s lapsed pins (and clears their pin bits in its cache); returns how many.
    pub(crate) fn expire_driver(&mut self, d: usize, now: u64) -> u32 {
        let mut lapsed = 0;
        for di in 0..self.dataspaces.len() {
            let Some(at) = self.drivers[d].bindings[di].attached else {
                continue;
            };
            for page in 0..self.dataspaces[di].pages {
                let pin = &mut self.drivers[d].bindings[di].pins[page as usize];
                if pin.refs > 0 && !pin.live(now) {
                    *pin = Pin::default();
                    lapsed += 1;
                    if self.dataspaces[di].resident[page as usize] {
                        self.publish(d, di, at.base, page, now);
                    }
                }
            }
        }
        self.drivers[d].held -= lapsed;
        self.counters.expired += u64::from(lapsed);
        lapsed
    }

    /// Drops every lapsed pin of every driver (call it on a timer tick); returns how many.
    pub fn expire(&mut self, now: u64) -> u32 {
        (0..self.drivers.len()).map(|d| self.expire_driver(d, now)).sum()
    }
}
