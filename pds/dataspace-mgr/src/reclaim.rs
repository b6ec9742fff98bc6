//! Reclaim of a page: refused while a driver's pin holds; otherwise every cached translation
//! of it is invalidated before the page stops being resident.

use dataspace_api::msg::MgrError;
use dataspace_api::DsId;

use crate::Manager;

impl Manager<'_> {
    /// Takes page `page` of `ds` back. Refused with [`MgrError::Pinned`] while any driver's
    /// pin on it holds (lapsed pins do not count). Otherwise every driver's cached translation
    /// of it is invalidated (seqlock: once this returns no reader accepts it) before the page
    /// stops being resident.
    pub fn reclaim(&mut self, ds: DsId, page: u32, now: u64) -> Result<(), MgrError> {
        let di = self.ds_index(ds)?;
        if page >= self.dataspaces[di].pages {
            return Err(MgrError::PageOutOfRange);
        }
        for d in 0..self.drivers.len() {
            self.expire_driver(d, now);
        }
        if self.drivers.iter().any(|drv| drv.bindings[di].pins[page as usize].refs > 0) {
            self.counters.reclaim_refusals += 1;
            return Err(MgrError::Pinned);
        }
        for drv in &mut self.drivers {
            if let Some(at) = drv.bindings[di].attached {
                let _ = drv.writer.invalidate((at.base + page) as usize);
            }
        }
        self.dataspaces[di].resident[page as usize] = false;
        self.counters.reclaims += 1;
        Ok(())
    }
}
