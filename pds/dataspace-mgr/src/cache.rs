//! REFILL and the publishing of translations: the entry for a page is written (seqlock)
//! into a driver's cache with the pin bit and expiry as they stand now.

use dataspace_api::cache::Translation;
use dataspace_api::msg::MgrError;
use dataspace_api::{DsId, PdId};

use crate::Manager;

impl Manager<'_> {
    /// The translation of page `page` for driver `d` as it should be published now.
    fn translation(&self, d: usize, di: usize, page: u32, now: u64) -> Translation {
        let ds = &self.dataspaces[di];
        let pin = self.drivers[d].bindings[di].pins[page as usize];
        let pinned = pin.live(now);
        Translation {
            ds: ds.id,
            page,
            frame: ds.frames[page as usize],
            pinned,
            expiry: if pinned { pin.deadline } else { 0 },
        }
    }

    /// Publishes page `page`'s translation in driver `d`'s cache (the page becomes resident).
    pub(crate) fn publish(&mut self, d: usize, di: usize, base: u32, page: u32, now: u64) -> Translation {
        let t = self.translation(d, di, page, now);
        self.dataspaces[di].resident[page as usize] = true;
        // The index is inside the attachment's range and frames are aligned (checked at
        // configuration), so the write cannot fail.
        let _ = self.drivers[d].writer.write((base + page) as usize, &t);
        t
    }

    /// Fills the cache entry of `page` of `ds` for `driver` (after a miss) and returns the
    /// translation.
    pub fn refill(&mut self, driver: PdId, ds: DsId, page: u32, now: u64) -> Result<Translation, MgrError> {
        let d = self.healthy_driver(driver)?;
        let di = self.ds_index(ds)?;
        let at = self.attached(d, di)?;
        if page >= self.dataspaces[di].pages {
            return Err(MgrError::PageOutOfRange);
        }
        // No sweep here: a lapsed pin is published as unpinned anyway (see `translation`).
        self.counters.refills += 1;
        Ok(self.publish(d, di, at.base, page, now))
    }
}
