//! Translation and pinning of client buffers for DMA: a buffer the device is given must be
//! physically contiguous, reachable by the device, and pinned until the device gives it back.
//! (A pooled-mode receive buffer is only translated: the driver copies into it, the device
//! never sees it.)

use super::slots::Posted;
use super::{Driver, RxPool, Stats};
use crate::backend::NicBackend;
use crate::hw::{Translate, PAGE_SIZE};
use crate::session::BufError;
use ring::Desc;

/// Translates the first `len` bytes of a validated buffer: its physical address. The pages
/// must be physically contiguous.
pub(super) fn translate<T: Translate>(xlate: &mut T, stats: &mut Stats, d: &Desc, len: u32) -> Result<u64, BufError> {
    let off = u64::from(d.offset);
    let first = off / PAGE_SIZE;
    let last = (off + u64::from(len.max(1)) - 1) / PAGE_SIZE;
    let mut base = 0;
    for (i, page) in (first..=last).enumerate() {
        let frame = match xlate.lookup(d.dataspace, page) {
            Some(f) => f,
            None => {
                stats.xlate_misses += 1;
                xlate.refill(d.dataspace, page).map_err(BufError::Xlate)?
            }
        };
        if i == 0 {
            base = frame;
        } else if frame != base + i as u64 * PAGE_SIZE {
            return Err(BufError::NotContiguous { dataspace: d.dataspace, offset: d.offset });
        }
    }
    Ok(base + off % PAGE_SIZE)
}

impl<B: NicBackend, T: Translate, C: RxPool> Driver<'_, B, T, C> {
    /// Translates and pins the first `len` bytes of a validated buffer: returns its physical
    /// address and the pinned page range.
    pub(super) fn map(&mut self, d: &Desc, len: u32) -> Result<(u64, u64, u64), BufError> {
        let phys = translate(&mut self.xlate, &mut self.stats, d, len)?;
        let off = u64::from(d.offset);
        let first = off / PAGE_SIZE;
        let last = (off + u64::from(len.max(1)) - 1) / PAGE_SIZE;
        let limit = self.backend.dma_limit();
        if phys.checked_add(u64::from(len)).is_none_or(|end| end > limit) {
            return Err(BufError::Unreachable { phys, limit });
        }
        for page in first..=last {
            if let Err(e) = self.xlate.pin(d.dataspace, page) {
                for undo in first..page {
                    self.xlate.unpin(d.dataspace, undo);
                    self.stats.unpins += 1;
                }
                return Err(BufError::Xlate(e));
            }
            self.stats.pins += 1;
        }
        Ok((phys, first, last - first + 1))
    }

    /// Unpins the pages of a buffer the device has given back.
    pub(super) fn unpin(&mut self, p: &Posted) {
        for page in p.first_page..p.first_page + p.pages {
            self.xlate.unpin(p.desc.dataspace, page);
            self.stats.unpins += 1;
        }
    }
}
