//! The dataspace manager's replies: its errors (each a reply label with a message a user can
//! act on), its counters, and the success layouts of every operation.

use core::fmt;

use super::{bool_field, expect_len, label, msg, u32_field, DecodeError, Message, Op};
use crate::cache::Translation;
use crate::{Attachment, DsId};

/// Why the dataspace manager refused a request. On the wire: the reply label [`Self::code`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum MgrError {
    /// No dataspace has this id.
    UnknownDataspace = 1,
    /// The client does not share the dataspace (the system file maps it elsewhere only).
    NotShared = 2,
    /// The dataspace is not attached to this driver's cache (for this client).
    NotAttached = 3,
    /// A page past the end of the dataspace.
    PageOutOfRange = 4,
    /// `first + count` overflows.
    RangeOverflow = 5,
    /// The pin would take the driver past its pin quota; nothing was pinned.
    QuotaExceeded = 6,
    /// A pin holds on the page(s), so it cannot be reclaimed or detached yet.
    Pinned = 7,
    /// UNPIN of a page with no pin (never pinned, already unpinned, or the pin expired).
    NotPinned = 8,
    /// The caller is not configured as a driver of this manager.
    NotDriver = 9,
    /// The driver faulted and its device has not been reset yet.
    DriverFaulted = 10,
    /// The driver's translation cache has no free range large enough for the dataspace.
    CacheFull = 11,
    /// A pin deadline that has already passed.
    BadExpiry = 12,
    /// The caller may not perform this operation (wrong channel).
    NotAuthorized = 13,
    /// DEVICE_RESET for a driver that is not marked faulted.
    NotFaulted = 14,
}

impl MgrError {
    const ALL: [Self; 14] = [
        Self::UnknownDataspace,
        Self::NotShared,
        Self::NotAttached,
        Self::PageOutOfRange,
        Self::RangeOverflow,
        Self::QuotaExceeded,
        Self::Pinned,
        Self::NotPinned,
        Self::NotDriver,
        Self::DriverFaulted,
        Self::CacheFull,
        Self::BadExpiry,
        Self::NotAuthorized,
        Self::NotFaulted,
    ];

    /// The reply label that carries this error.
    pub const fn code(self) -> u64 {
        self as u64
    }

    /// The error a reply label stands for.
    pub fn from_code(code: u64) -> Option<Self> {
        Self::ALL.into_iter().find(|e| e.code() == code)
    }
}

impl fmt::Display for MgrError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::UnknownDataspace => "no dataspace has this id; check the system file's dataspaces",
            Self::NotShared => "the client does not share this dataspace; map it into the client in the system file",
            Self::NotAttached => "the dataspace is not attached to this driver; attach it (open a session) first",
            Self::PageOutOfRange => "page number past the end of the dataspace",
            Self::RangeOverflow => "first page + count overflows",
            Self::QuotaExceeded => "pin refused: it would exceed the driver's pin quota; unpin finished buffers first",
            Self::Pinned => "a page is pinned; unpin it (or wait for its pin to expire) and retry",
            Self::NotPinned => "page is not pinned (never pinned, already unpinned, or its pin expired)",
            Self::NotDriver => "the caller is not a driver of this dataspace manager",
            Self::DriverFaulted => "the driver faulted; requests are refused until its device is reset",
            Self::CacheFull => {
                "the driver's translation cache has no free range for this dataspace; enlarge it or detach others"
            }
            Self::BadExpiry => "pin deadline has already passed",
            Self::NotAuthorized => "this operation is not allowed on the channel it arrived on",
            Self::NotFaulted => "device reset reported for a driver that is not marked faulted",
        })
    }
}

/// The manager's counters (the STATS reply).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct MgrStats {
    /// Cache entries filled on demand (REFILL).
    pub refills: u64,
    /// Page pins taken.
    pub pins: u64,
    /// Page pins dropped by UNPIN.
    pub unpins: u64,
    /// Page pins that lapsed at their deadline.
    pub expired: u64,
    /// PIN requests refused for quota.
    pub quota_refusals: u64,
    /// Pages reclaimed.
    pub reclaims: u64,
    /// Reclaims refused because a pin held.
    pub reclaim_refusals: u64,
    /// Pages pinned now, over all drivers.
    pub pinned_pages: u64,
}

impl MgrStats {
    fn words(&self) -> [u64; 8] {
        [
            self.refills,
            self.pins,
            self.unpins,
            self.expired,
            self.quota_refusals,
            self.reclaims,
            self.reclaim_refusals,
            self.pinned_pages,
        ]
    }

    fn from_words(w: &[u64]) -> Self {
        Self {
            refills: w[0],
            pins: w[1],
            unpins: w[2],
            expired: w[3],
            quota_refusals: w[4],
            reclaims: w[5],
            reclaim_refusals: w[6],
            pinned_pages: w[7],
        }
    }
}

/// A successful reply from the manager; which variant depends on the request's [`Op`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MgrReply {
    /// ATTACH: where the dataspace's entries are (MRs: base, pages, page size, dataspace).
    Attached(Attachment),
    /// DETACH, RECLAIM, DRIVER_FAULTED: done (no MRs).
    Done,
    /// REFILL: the translation now in the cache (MRs: frame, pinned, expiry, dataspace, page).
    Translated(Translation),
    /// PIN, UNPIN: pages the driver has pinned now, and its quota (MRs: held, quota).
    PinCount {
        /// Distinct pages the driver has pinned now.
        held: u32,
        /// The driver's pin quota.
        quota: u32,
    },
    /// STATS (8 MRs, in [`MgrStats`] field order).
    Stats(MgrStats),
    /// DEVICE_RESET: pins dropped and attachments removed (MRs: pins, attachments).
    Recovered {
        /// Distinct pinned pages released.
        pins: u32,
        /// Attachments removed.
        attachments: u32,
    },
}

impl MgrReply {
    /// The reply message for a result.
    pub fn encode(result: &Result<Self, MgrError>) -> Message {
        let ok = label::OK;
        match result {
            Err(e) => msg(e.code(), []),
            Ok(Self::Attached(a)) => {
                msg(ok, [u64::from(a.base()), u64::from(a.pages()), a.page_size(), u64::from(a.ds().0)])
            }
            Ok(Self::Done) => msg(ok, []),
            Ok(Self::Translated(t)) => {
                msg(ok, [t.frame, u64::from(t.pinned), t.expiry, u64::from(t.ds.0), u64::from(t.page)])
            }
            Ok(Self::PinCount { held, quota }) => msg(ok, [u64::from(*held), u64::from(*quota)]),
            Ok(Self::Stats(s)) => msg(ok, s.words()),
            Ok(Self::Recovered { pins, attachments }) => msg(ok, [u64::from(*pins), u64::from(*attachments)]),
        }
    }

    /// Decodes the reply to a request of kind `op`.
    pub fn decode(op: Op, m: &Message) -> Result<Result<Self, MgrError>, DecodeError> {
        let (label, mrs) = (m.label(), m.words());
        if label != label::OK {
            let e = MgrError::from_code(label).ok_or(DecodeError::UnknownLabel(label))?;
            expect_len(label, mrs, 0)?;
            return Ok(Err(e));
        }
        let reply = match op {
            Op::Attach => {
                expect_len(label, mrs, 4)?;
                let base = u32_field("base", mrs[0])?;
                let pages = u32_field("pages", mrs[1])?;
                let ds = DsId(u32_field("dataspace", mrs[3])?);
                let a = Attachment::new(ds, base, pages, mrs[2])
                    .ok_or(DecodeError::BadValue { field: "page size", value: mrs[2] })?;
                Self::Attached(a)
            }
            Op::Detach | Op::Reclaim | Op::DriverFaulted => {
                expect_len(label, mrs, 0)?;
                Self::Done
            }
            Op::Refill => {
                expect_len(label, mrs, 5)?;
                if mrs[0] & crate::cache::FLAG_MASK != 0 {
                    return Err(DecodeError::BadValue { field: "frame", value: mrs[0] });
                }
                Self::Translated(Translation {
                    frame: mrs[0],
                    pinned: bool_field("pinned", mrs[1])?,
                    expiry: mrs[2],
                    ds: DsId(u32_field("dataspace", mrs[3])?),
                    page: u32_field("page", mrs[4])?,
                })
            }
            Op::Pin | Op::Unpin => {
                expect_len(label, mrs, 2)?;
                Self::PinCount { held: u32_field("held", mrs[0])?, quota: u32_field("quota", mrs[1])? }
            }
            Op::Stats => {
                expect_len(label, mrs, 8)?;
                Self::Stats(MgrStats::from_words(mrs))
            }
            Op::DeviceReset => {
                expect_len(label, mrs, 2)?;
                Self::Recovered { pins: u32_field("pins", mrs[0])?, attachments: u32_field("attachments", mrs[1])? }
            }
        };
        Ok(Ok(reply))
    }
}
