//! Translations: a lookup is plain loads of the shared translation cache (no call), a miss
//! is one REFILL call to the manager. Both map the dataspace's pages onto 4 KiB engine pages
//! and remember the first of each for the boot log.

use dataspace_api::msg::{MgrReply, MgrRequest};

use super::{CacheXlate, MgrLink, Witness};
use crate::hw::XlateError;

impl<L: MgrLink> CacheXlate<'_, L> {
    /// The frame of engine page `page` of `dataspace`, if the shared cache holds it.
    pub(super) fn cached(&self, dataspace: u32, page: u64) -> Option<u64> {
        let (at, dpage, off, _) = self.locate(dataspace, page)?;
        let index = at.index(dpage)?;
        let t = self.reader.borrow_mut().lookup(index, at.ds(), dpage)?;
        let frame = t.frame + off;
        if self.first_hit.get().is_none() {
            self.first_hit.set(Some(Witness { ds: dataspace, page, frame }));
        }
        Some(frame)
    }

    /// Asks the manager to translate (and publish in the cache) engine page `page`.
    pub(super) fn refill_from_manager(&mut self, dataspace: u32, page: u64) -> Result<u64, XlateError> {
        let no_mapping = XlateError::NoMapping { dataspace, page };
        let (at, dpage, off, _) = self.locate(dataspace, page).ok_or(no_mapping)?;
        self.stats.refill_calls += 1;
        match self.call(&MgrRequest::Refill { ds: at.ds(), page: dpage }) {
            Ok(MgrReply::Translated(t)) if t.ds == at.ds() && t.page == dpage => {
                let frame = t.frame + off;
                if self.first_miss.is_none() {
                    self.first_miss = Some(Witness { ds: dataspace, page, frame });
                }
                Ok(frame)
            }
            Ok(_) => Err(XlateError::Unavailable { dataspace, page }), // a reply for another page
            Err(e) => Err(super::link::xlate_error(e, dataspace, page)),
        }
    }
}
