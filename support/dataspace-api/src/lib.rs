//! What the dataspace manager and the NIC driver agree on: one definition for both sides, so
//! either can be replaced without touching the other (DESIGN.md section 6, issue 4; the
//! paper's sections 4.2-4.4). The driver <-> client contract is `nic-api`'s.
//!
//! * [`cache`]: the **translation cache**, a shared region of `repr(C)` entries mapping
//!   (dataspace, page) to a physical frame with a pin bit and an optional expiry. The manager
//!   writes it ([`cache::CacheWriter`]) and the driver reads it ([`cache::CacheReader`]) with a
//!   seqlock, so a hit is a few plain loads and never a kernel call, and a concurrent reader
//!   never accepts a torn entry. Indexing is dense: each attached dataspace owns the entries
//!   `base .. base + pages`, with `base` taken from the attach reply.
//! * [`msg`]: the **PPC message formats** (labels and fixed message-register layouts) of the
//!   driver -> manager protocol (attach, detach, refill, pin, unpin) and the admin/monitor
//!   operations (reclaim, stats, driver fault, device reset), each with encode/decode; decode
//!   rejects bad labels and values.
//! * [`Attachment`]: where an attached dataspace's entries lie in the cache.
//!
//! Identifiers ([`PdId`], [`DsId`]) and the error enums ([`msg::MgrError`],
//! [`msg::DecodeError`], [`cache::CacheError`]) live here too; every error has a `Display` a
//! user can act on.
#![no_std]
// The only `unsafe` is `cache::table_from_raw`, the constructor over raw shared memory.
#![deny(unsafe_code)]
#![warn(missing_docs)]

mod attachment;
pub mod cache;
pub mod msg;
mod sync;

pub use attachment::Attachment;

use core::fmt;

/// Most protection domains a system may have (Microkit's limit); [`PdId`] is `0..MAX_PDS`.
pub const MAX_PDS: u8 = 63;

/// A protection domain's index in the system file (its order among `protection_domain`s).
///
/// Always `< MAX_PDS`, so a set of PDs fits in one `u64` ([`PdSet`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct PdId(u8);

impl PdId {
    /// The PD with index `index`, or `None` when it is out of range.
    pub const fn new(index: u64) -> Option<Self> {
        if index < MAX_PDS as u64 {
            Some(Self(index as u8))
        } else {
            None
        }
    }

    /// The index as a number.
    pub const fn index(self) -> u8 {
        self.0
    }
}

impl fmt::Display for PdId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PD #{}", self.0)
    }
}

/// A set of protection domains (e.g. the PDs that share a dataspace), one bit per [`PdId`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct PdSet(u64);

impl PdSet {
    /// The empty set.
    pub const EMPTY: Self = Self(0);

    /// The set holding exactly these PDs.
    pub fn of(pds: &[PdId]) -> Self {
        pds.iter().fold(Self::EMPTY, |set, &pd| set.with(pd))
    }

    /// This set plus `pd`.
    #[must_use]
    pub const fn with(self, pd: PdId) -> Self {
        Self(self.0 | 1 << pd.0)
    }

    /// This set less `pd`.
    #[must_use]
    pub const fn without(self, pd: PdId) -> Self {
        Self(self.0 & !(1 << pd.0))
    }

    /// Whether `pd` is in the set.
    pub const fn contains(self, pd: PdId) -> bool {
        self.0 & (1 << pd.0) != 0
    }

    /// Whether the set is empty.
    pub const fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// How many PDs the set holds.
    pub const fn len(self) -> u32 {
        self.0.count_ones()
    }

    /// The raw bit mask (bit `i` = PD `i`).
    pub const fn bits(self) -> u64 {
        self.0
    }
}

/// A dataspace's id, as the system configuration names it (not necessarily dense).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct DsId(pub u32);

impl fmt::Display for DsId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "dataspace {}", self.0)
    }
}

/// Smallest page size a dataspace may use (x86 4 KiB pages); frame addresses are aligned to it.
pub const MIN_PAGE_SIZE: u64 = 4096;
