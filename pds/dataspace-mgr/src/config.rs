//! The manager's configuration: the dataspaces it owns (from the system file, with each page's
//! physical frame filled in at boot by the initialiser) and the drivers it serves (each with its
//! pin quota and its translation-cache region). Checked once, in [`crate::Manager::new`].
use alloc::vec::Vec;
use core::fmt;

use dataspace_api::cache::CacheEntry;
use dataspace_api::{DsId, PdId, PdSet, MIN_PAGE_SIZE};

/// One dataspace: a DMA-capable memory region the manager owns.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DataspaceSpec {
    /// Its id (what clients and the driver call it).
    pub id: DsId,
    /// Size in bytes, a non-zero multiple of `page_size`.
    pub size: u64,
    /// Page size in bytes: a power of two, at least 4 KiB.
    pub page_size: u64,
    /// The PDs that share (map) it: only these may name it in a session.
    pub sharers: PdSet,
    /// Physical address of each page's frame, in page order, as the initialiser found them
    /// (e.g. `X86_Page_GetAddress` on the frame caps); one per page, each page aligned.
    pub frames: Vec<u64>,
}

/// One driver the manager serves.
pub struct DriverSpec<'a> {
    /// The driver PD.
    pub pd: PdId,
    /// Most distinct pages it may have pinned at once.
    pub pin_quota: u32,
    /// The translation cache shared with it (the manager is its only writer).
    pub cache: &'a [CacheEntry],
}

/// A configuration the manager cannot run with. Reported at boot, before any request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ConfigError {
    /// Two dataspaces have the same id.
    DuplicateDataspace(DsId),
    /// Page size not a power of two of at least 4 KiB.
    BadPageSize {
        /// The dataspace.
        ds: DsId,
        /// Its page size.
        page_size: u64,
    },
    /// Size zero or not a multiple of the page size.
    BadSize {
        /// The dataspace.
        ds: DsId,
        /// Its size.
        size: u64,
        /// Its page size.
        page_size: u64,
    },
    /// More pages than a `u32` page number can name.
    TooManyPages(DsId),
    /// The frame table has the wrong number of frames.
    FrameCount {
        /// The dataspace.
        ds: DsId,
        /// Pages in the dataspace.
        expected: u64,
        /// Frames given.
        got: usize,
    },
    /// A frame address not aligned to the page size.
    UnalignedFrame {
        /// The dataspace.
        ds: DsId,
        /// The page.
        page: u32,
        /// The frame address.
        frame: u64,
    },
    /// Two pages (of the same or different dataspaces) given the same frame.
    FrameReused {
        /// The frame address.
        frame: u64,
    },
    /// Two drivers with the same PD.
    DuplicateDriver(PdId),
    /// A driver whose translation cache has no entries.
    EmptyCache(PdId),
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Self::DuplicateDataspace(ds) => write!(f, "{ds} is configured twice"),
            Self::BadPageSize { ds, page_size } => {
                write!(f, "{ds}: page size {page_size:#x} is not a power of two of at least {MIN_PAGE_SIZE:#x}")
            }
            Self::BadSize { ds, size, page_size } => {
                write!(f, "{ds}: size {size:#x} is not a non-zero multiple of its page size {page_size:#x}")
            }
            Self::TooManyPages(ds) => write!(f, "{ds} has more than 2^32 pages"),
            Self::FrameCount { ds, expected, got } => write!(
                f,
                "{ds}: the frame table gives {got} frames for {expected} pages; \
                 the initialiser must report one frame per page"
            ),
            Self::UnalignedFrame { ds, page, frame } => {
                write!(f, "{ds}: page {page}'s frame {frame:#x} is not aligned to the page size")
            }
            Self::FrameReused { frame } => {
                write!(f, "frame {frame:#x} is given to two pages; dataspaces must not overlap")
            }
            Self::DuplicateDriver(pd) => write!(f, "driver {pd} is configured twice"),
            Self::EmptyCache(pd) => {
                write!(f, "driver {pd}'s translation cache has no entries; give it a region of at least one entry")
            }
        }
    }
}

/// Checks one dataspace; returns its page count.
pub(crate) fn check_dataspace(spec: &DataspaceSpec) -> Result<u32, ConfigError> {
    let ds = spec.id;
    if spec.page_size < MIN_PAGE_SIZE || !spec.page_size.is_power_of_two() {
        return Err(ConfigError::BadPageSize { ds, page_size: spec.page_size });
    }
    if spec.size == 0 || spec.size & (spec.page_size - 1) != 0 {
        return Err(ConfigError::BadSize { ds, size: spec.size, page_size: spec.page_size });
    }
    let pages = spec.size / spec.page_size;
    let pages32 = u32::try_from(pages).map_err(|_| ConfigError::TooManyPages(ds))?;
    if spec.frames.len() as u64 != pages {
        return Err(ConfigError::FrameCount { ds, expected: pages, got: spec.frames.len() });
    }
    if let Some((page, &frame)) = spec.frames.iter().enumerate().find(|(_, &f)| f & (spec.page_size - 1) != 0) {
        return Err(ConfigError::UnalignedFrame { ds, page: page as u32, frame });
    }
    Ok(pages32)
}
