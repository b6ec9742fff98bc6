//! The fixtures both manager test files build on: PD ids and dataspaces over a fake frame
//! table (`mod common;` in each; cargo does not build `tests/common/` as a test of its own).

use dataspace_api::{DsId, PdId, PdSet};
use dataspace_mgr::DataspaceSpec;

pub fn pd(i: u64) -> PdId {
    PdId::new(i).unwrap()
}

/// A fake frame table: deliberately non-contiguous frames, distinct per dataspace.
pub fn frame(ds: u32, page: u32) -> u64 {
    0x4000_0000 + u64::from(ds) * 0x10_0000 + u64::from(page) * 0x3000
}

/// A dataspace of `pages` 4 KiB pages over [`frame`], shared with the PDs `sharers`.
pub fn ds_spec(id: u32, pages: u32, sharers: &[u64]) -> DataspaceSpec {
    DataspaceSpec {
        id: DsId(id),
        size: u64::from(pages) * 4096,
        page_size: 4096,
        sharers: PdSet::of(&sharers.iter().map(|&p| pd(p)).collect::<Vec<_>>()),
        frames: (0..pages).map(|p| frame(id, p)).collect(),
    }
}
