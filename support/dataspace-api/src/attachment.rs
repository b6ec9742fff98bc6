//! Where an attached dataspace's entries lie in a driver's translation cache: what the
//! manager's ATTACH reply says, and what the driver's translation adapter indexes with.

use crate::{DsId, MIN_PAGE_SIZE};

/// A dataspace attached to a driver's translation cache: what the manager's ATTACH reply says.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Attachment {
    ds: DsId,
    base: u32,
    pages: u32,
    page_size: u64,
}

impl Attachment {
    /// An attachment of `pages` pages of `page_size` bytes whose cache entries start at
    /// `base`; `None` if `page_size` is not a power of two of at least [`MIN_PAGE_SIZE`],
    /// `pages` is zero, the size overflows, or `base + pages` does not fit the index space.
    pub fn new(ds: DsId, base: u32, pages: u32, page_size: u64) -> Option<Self> {
        let ok = page_size >= MIN_PAGE_SIZE
            && page_size.is_power_of_two()
            && pages > 0
            && base.checked_add(pages).is_some()
            && page_size.checked_mul(u64::from(pages)).is_some();
        ok.then_some(Self { ds, base, pages, page_size })
    }

    /// The dataspace.
    pub fn ds(&self) -> DsId {
        self.ds
    }

    /// Index of page 0's entry in the translation cache.
    pub fn base(&self) -> u32 {
        self.base
    }

    /// Pages in the dataspace.
    pub fn pages(&self) -> u32 {
        self.pages
    }

    /// Bytes per page (a power of two).
    pub fn page_size(&self) -> u64 {
        self.page_size
    }

    /// Bytes in the dataspace.
    pub fn size(&self) -> u64 {
        self.page_size * u64::from(self.pages)
    }

    /// The cache entry of page `page`, or `None` past the dataspace.
    pub fn index(&self, page: u32) -> Option<usize> {
        (page < self.pages).then(|| self.base as usize + page as usize)
    }
}
