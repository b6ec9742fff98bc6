//! The PPC message formats: each operation's label and fixed message-register layout, with
//! encode to / decode from `(label, [u64])` as the PD runtime hands them over. Decode checks
//! the label, the exact length and every value's range, so garbage gives a [`DecodeError`],
//! never a panic.
//!
//! Requests (caller -> callee, label = operation):
//!
//! | label | op             | from    | MRs                                          |
//! |-------|----------------|---------|----------------------------------------------|
//! | 1     | ATTACH         | driver  | client pd, dataspace                         |
//! | 2     | DETACH         | driver  | client pd, dataspace                         |
//! | 3     | REFILL         | driver  | dataspace, page                              |
//! | 4     | PIN            | driver  | dataspace, first page, count, expiry or 0    |
//! | 5     | UNPIN          | driver  | dataspace, first page, count                 |
//! | 6     | RECLAIM        | admin   | dataspace, page                              |
//! | 7     | STATS          | any     | (none)                                       |
//! | 8     | DRIVER_FAULTED | monitor | driver pd                                    |
//! | 9     | DEVICE_RESET   | monitor or the driver itself | driver pd               |
//! | 0x20  | OPEN           | client -> driver | count n, then n dataspace ids       |
//! | 0x21  | CLOSE          | client -> driver | session id                          |
//! | 0x22  | DRIVER_STATS   | client -> driver | (none): the driver prints its counters |
//!
//! Replies: label 0 = success with the operation's reply layout ([`MgrReply`],
//! [`SessionReply`]); any other label is an error code ([`MgrError::code`],
//! [`SessionError::code`]) with no MRs. The caller's identity is never in a message: the
//! callee learns it from the channel (badge) the call came in on.
use core::fmt;

use crate::cache::Translation;
use crate::session::{Attachment, MAX_SESSION_DATASPACES};
use crate::{DsId, PdId};

/// Most message registers any message here uses.
pub const MAX_MRS: usize = 8;

/// Request and reply labels.
pub mod label {
    /// A successful reply.
    pub const OK: u64 = 0;
    /// Driver -> manager: attach a client's dataspace to the driver's translation cache.
    pub const ATTACH: u64 = 1;
    /// Driver -> manager: a client no longer uses a dataspace.
    pub const DETACH: u64 = 2;
    /// Driver -> manager: fill the cache entry of one page (after a miss).
    pub const REFILL: u64 = 3;
    /// Driver -> manager: pin pages (optionally until a deadline).
    pub const PIN: u64 = 4;
    /// Driver -> manager: drop one pin of each page.
    pub const UNPIN: u64 = 5;
    /// Admin/test -> manager: take a page back (only if no pin holds).
    pub const RECLAIM: u64 = 6;
    /// Any -> manager: counters.
    pub const STATS: u64 = 7;
    /// Monitor -> manager: a driver faulted; its pins stay until its device is reset.
    pub const DRIVER_FAULTED: u64 = 8;
    /// Monitor or restarted driver -> manager: the device is reset; recover the pins.
    pub const DEVICE_RESET: u64 = 9;
    /// Client -> driver: open a session naming the dataspaces it will use.
    pub const OPEN: u64 = 0x20;
    /// Client -> driver: close a session.
    pub const CLOSE: u64 = 0x21;
    /// Client -> driver: the driver's counters (it also prints them on its console).
    pub const DRIVER_STATS: u64 = 0x22;
}

/// A message: a label and up to [`MAX_MRS`] message registers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Message {
    /// The label (operation, or 0 / an error code in a reply).
    pub label: u64,
    len: usize,
    mrs: [u64; MAX_MRS],
}

impl Message {
    /// A message with these MRs; [`DecodeError::TooLong`] past [`MAX_MRS`].
    pub fn new(label: u64, mrs: &[u64]) -> Result<Self, DecodeError> {
        if mrs.len() > MAX_MRS {
            return Err(DecodeError::TooLong(mrs.len()));
        }
        let mut words = [0; MAX_MRS];
        words[..mrs.len()].copy_from_slice(mrs);
        Ok(Self {
            label,
            len: mrs.len(),
            mrs: words,
        })
    }

    fn of<const N: usize>(label: u64, mrs: [u64; N]) -> Self {
        const { assert!(N <= MAX_MRS) };
        let mut words = [0; MAX_MRS];
        words[..N].copy_from_slice(&mrs);
        Self {
            label,
            len: N,
            mrs: words,
        }
    }

    /// The message registers in use.
    pub fn mrs(&self) -> &[u64] {
        &self.mrs[..self.len]
    }
}

/// A message that is not a well-formed request or reply.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DecodeError {
    /// No operation (or reply code) has this label.
    UnknownLabel(u64),
    /// The label's layout needs `expected` MRs.
    BadLength {
        /// The label.
        label: u64,
        /// MRs the layout has.
        expected: usize,
        /// MRs the message had.
        got: usize,
    },
    /// A field's value is out of range.
    BadValue {
        /// The field.
        field: &'static str,
        /// The value received.
        value: u64,
    },
    /// More MRs than any message here has.
    TooLong(usize),
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Self::UnknownLabel(label) => write!(f, "unknown message label {label:#x}"),
            Self::BadLength {
                label,
                expected,
                got,
            } => write!(
                f,
                "message with label {label:#x} has {got} message registers; its layout has {expected}"
            ),
            Self::BadValue { field, value } => {
                write!(f, "message field `{field}` has out-of-range value {value:#x}")
            }
            Self::TooLong(n) => write!(
                f,
                "message has {n} message registers; no message here has more than {MAX_MRS}"
            ),
        }
    }
}

fn expect_len(label: u64, mrs: &[u64], expected: usize) -> Result<(), DecodeError> {
    if mrs.len() == expected {
        Ok(())
    } else {
        Err(DecodeError::BadLength {
            label,
            expected,
            got: mrs.len(),
        })
    }
}

fn u32_field(field: &'static str, value: u64) -> Result<u32, DecodeError> {
    u32::try_from(value).map_err(|_| DecodeError::BadValue { field, value })
}

fn pd_field(field: &'static str, value: u64) -> Result<PdId, DecodeError> {
    PdId::new(value).ok_or(DecodeError::BadValue { field, value })
}

fn count_field(value: u64) -> Result<u32, DecodeError> {
    match u32_field("count", value)? {
        0 => Err(DecodeError::BadValue {
            field: "count",
            value,
        }),
        n => Ok(n),
    }
}

fn bool_field(field: &'static str, value: u64) -> Result<bool, DecodeError> {
    match value {
        0 => Ok(false),
        1 => Ok(true),
        _ => Err(DecodeError::BadValue { field, value }),
    }
}

/// The dataspace manager's operations (a request's label, without its arguments).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Op {
    /// [`label::ATTACH`]
    Attach,
    /// [`label::DETACH`]
    Detach,
    /// [`label::REFILL`]
    Refill,
    /// [`label::PIN`]
    Pin,
    /// [`label::UNPIN`]
    Unpin,
    /// [`label::RECLAIM`]
    Reclaim,
    /// [`label::STATS`]
    Stats,
    /// [`label::DRIVER_FAULTED`]
    DriverFaulted,
    /// [`label::DEVICE_RESET`]
    DeviceReset,
}

impl Op {
    /// The request label.
    pub const fn label(self) -> u64 {
        match self {
            Self::Attach => label::ATTACH,
            Self::Detach => label::DETACH,
            Self::Refill => label::REFILL,
            Self::Pin => label::PIN,
            Self::Unpin => label::UNPIN,
            Self::Reclaim => label::RECLAIM,
            Self::Stats => label::STATS,
            Self::DriverFaulted => label::DRIVER_FAULTED,
            Self::DeviceReset => label::DEVICE_RESET,
        }
    }
}

/// A request to the dataspace manager.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MgrRequest {
    /// Confirm `client` shares `ds` and attach `ds` to the calling driver's cache.
    Attach {
        /// The client that opened the session.
        client: PdId,
        /// The dataspace it named.
        ds: DsId,
    },
    /// `client` no longer uses `ds` (session closed); refused while a page is pinned.
    Detach {
        /// The client whose session closed.
        client: PdId,
        /// The dataspace.
        ds: DsId,
    },
    /// Fill the cache entry of `page` of `ds` (reply carries the translation too).
    Refill {
        /// The dataspace.
        ds: DsId,
        /// The page.
        page: u32,
    },
    /// Pin `count` pages from `first` (and fill their entries) until unpinned, or until
    /// `expiry` (TSC ticks, absolute) if it is non-zero.
    Pin {
        /// The dataspace.
        ds: DsId,
        /// First page.
        first: u32,
        /// Pages (at least 1).
        count: u32,
        /// Deadline in TSC ticks, or 0 for none.
        expiry: u64,
    },
    /// Drop one pin of each of `count` pages from `first`.
    Unpin {
        /// The dataspace.
        ds: DsId,
        /// First page.
        first: u32,
        /// Pages (at least 1).
        count: u32,
    },
    /// Take page `page` of `ds` back: invalidates every cached translation of it; refused
    /// while any driver's pin on it holds.
    Reclaim {
        /// The dataspace.
        ds: DsId,
        /// The page.
        page: u32,
    },
    /// The manager's counters.
    Stats,
    /// `driver` faulted: refuse its requests, keep its pins (its device may still DMA).
    DriverFaulted {
        /// The faulted driver.
        driver: PdId,
    },
    /// `driver`'s device has been reset: drop all its pins and attachments.
    DeviceReset {
        /// The driver.
        driver: PdId,
    },
}

impl MgrRequest {
    /// The operation.
    pub const fn op(&self) -> Op {
        match self {
            Self::Attach { .. } => Op::Attach,
            Self::Detach { .. } => Op::Detach,
            Self::Refill { .. } => Op::Refill,
            Self::Pin { .. } => Op::Pin,
            Self::Unpin { .. } => Op::Unpin,
            Self::Reclaim { .. } => Op::Reclaim,
            Self::Stats => Op::Stats,
            Self::DriverFaulted { .. } => Op::DriverFaulted,
            Self::DeviceReset { .. } => Op::DeviceReset,
        }
    }

    /// The message for this request.
    pub fn encode(&self) -> Message {
        let l = self.op().label();
        match *self {
            Self::Attach { client, ds } | Self::Detach { client, ds } => {
                Message::of(l, [u64::from(client.index()), u64::from(ds.0)])
            }
            Self::Refill { ds, page } | Self::Reclaim { ds, page } => {
                Message::of(l, [u64::from(ds.0), u64::from(page)])
            }
            Self::Pin {
                ds,
                first,
                count,
                expiry,
            } => Message::of(
                l,
                [u64::from(ds.0), u64::from(first), u64::from(count), expiry],
            ),
            Self::Unpin { ds, first, count } => {
                Message::of(l, [u64::from(ds.0), u64::from(first), u64::from(count)])
            }
            Self::Stats => Message::of(l, []),
            Self::DriverFaulted { driver } | Self::DeviceReset { driver } => {
                Message::of(l, [u64::from(driver.index())])
            }
        }
    }

    /// The request in a message.
    pub fn decode(label: u64, mrs: &[u64]) -> Result<Self, DecodeError> {
        let ds = |v| u32_field("dataspace", v).map(DsId);
        Ok(match label {
            label::ATTACH | label::DETACH => {
                expect_len(label, mrs, 2)?;
                let client = pd_field("client", mrs[0])?;
                let ds = ds(mrs[1])?;
                if label == label::ATTACH {
                    Self::Attach { client, ds }
                } else {
                    Self::Detach { client, ds }
                }
            }
            label::REFILL | label::RECLAIM => {
                expect_len(label, mrs, 2)?;
                let ds = ds(mrs[0])?;
                let page = u32_field("page", mrs[1])?;
                if label == label::REFILL {
                    Self::Refill { ds, page }
                } else {
                    Self::Reclaim { ds, page }
                }
            }
            label::PIN => {
                expect_len(label, mrs, 4)?;
                Self::Pin {
                    ds: ds(mrs[0])?,
                    first: u32_field("first page", mrs[1])?,
                    count: count_field(mrs[2])?,
                    expiry: mrs[3],
                }
            }
            label::UNPIN => {
                expect_len(label, mrs, 3)?;
                Self::Unpin {
                    ds: ds(mrs[0])?,
                    first: u32_field("first page", mrs[1])?,
                    count: count_field(mrs[2])?,
                }
            }
            label::STATS => {
                expect_len(label, mrs, 0)?;
                Self::Stats
            }
            label::DRIVER_FAULTED | label::DEVICE_RESET => {
                expect_len(label, mrs, 1)?;
                let driver = pd_field("driver", mrs[0])?;
                if label == label::DRIVER_FAULTED {
                    Self::DriverFaulted { driver }
                } else {
                    Self::DeviceReset { driver }
                }
            }
            other => return Err(DecodeError::UnknownLabel(other)),
        })
    }
}

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
            Self::CacheFull => "the driver's translation cache has no free range for this dataspace; enlarge it or detach others",
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
            Err(e) => Message::of(e.code(), []),
            Ok(Self::Attached(a)) => Message::of(
                ok,
                [
                    u64::from(a.base()),
                    u64::from(a.pages()),
                    a.page_size(),
                    u64::from(a.ds().0),
                ],
            ),
            Ok(Self::Done) => Message::of(ok, []),
            Ok(Self::Translated(t)) => Message::of(
                ok,
                [
                    t.frame,
                    u64::from(t.pinned),
                    t.expiry,
                    u64::from(t.ds.0),
                    u64::from(t.page),
                ],
            ),
            Ok(Self::PinCount { held, quota }) => {
                Message::of(ok, [u64::from(*held), u64::from(*quota)])
            }
            Ok(Self::Stats(s)) => Message::of(ok, s.words()),
            Ok(Self::Recovered { pins, attachments }) => {
                Message::of(ok, [u64::from(*pins), u64::from(*attachments)])
            }
        }
    }

    /// Decodes the reply to a request of kind `op`.
    pub fn decode(op: Op, label: u64, mrs: &[u64]) -> Result<Result<Self, MgrError>, DecodeError> {
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
                let a = Attachment::new(ds, base, pages, mrs[2]).ok_or(DecodeError::BadValue {
                    field: "page size",
                    value: mrs[2],
                })?;
                Self::Attached(a)
            }
            Op::Detach | Op::Reclaim | Op::DriverFaulted => {
                expect_len(label, mrs, 0)?;
                Self::Done
            }
            Op::Refill => {
                expect_len(label, mrs, 5)?;
                if mrs[0] & crate::cache::FLAG_MASK != 0 {
                    return Err(DecodeError::BadValue {
                        field: "frame",
                        value: mrs[0],
                    });
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
                Self::PinCount {
                    held: u32_field("held", mrs[0])?,
                    quota: u32_field("quota", mrs[1])?,
                }
            }
            Op::Stats => {
                expect_len(label, mrs, 8)?;
                Self::Stats(MgrStats::from_words(mrs))
            }
            Op::DeviceReset => {
                expect_len(label, mrs, 2)?;
                Self::Recovered {
                    pins: u32_field("pins", mrs[0])?,
                    attachments: u32_field("attachments", mrs[1])?,
                }
            }
        };
        Ok(Ok(reply))
    }
}

/// The dataspaces named in an OPEN: 1 to [`MAX_SESSION_DATASPACES`] distinct ids.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DsList {
    ids: [DsId; MAX_SESSION_DATASPACES],
    len: usize,
}

impl DsList {
    /// The list of `ids`: [`SessionError::NoDataspaces`], [`SessionError::TooManyDataspaces`]
    /// or [`SessionError::DuplicateDataspace`] when it is not 1..=6 distinct ids.
    pub fn new(ids: &[DsId]) -> Result<Self, SessionError> {
        if ids.is_empty() {
            return Err(SessionError::NoDataspaces);
        }
        if ids.len() > MAX_SESSION_DATASPACES {
            return Err(SessionError::TooManyDataspaces);
        }
        for (i, id) in ids.iter().enumerate() {
            if ids[..i].contains(id) {
                return Err(SessionError::DuplicateDataspace);
            }
        }
        let mut list = [DsId(0); MAX_SESSION_DATASPACES];
        list[..ids.len()].copy_from_slice(ids);
        Ok(Self {
            ids: list,
            len: ids.len(),
        })
    }

    /// The ids.
    pub fn ids(&self) -> &[DsId] {
        &self.ids[..self.len]
    }
}

/// A request from a client to the driver.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SessionRequest {
    /// Open a session using these dataspaces.
    Open(DsList),
    /// Close a session.
    Close {
        /// The id OPEN returned.
        session: u32,
    },
    /// The driver's counters ([`DriverStats`]); the driver also prints them.
    Stats,
}

impl SessionRequest {
    /// The message for this request.
    pub fn encode(&self) -> Message {
        match self {
            Self::Open(list) => {
                let mut words = [0u64; 1 + MAX_SESSION_DATASPACES];
                words[0] = list.len as u64;
                for (w, id) in words[1..].iter_mut().zip(list.ids()) {
                    *w = u64::from(id.0);
                }
                let n = 1 + list.len;
                let mut msg = Message::of(label::OPEN, words);
                msg.len = n;
                msg
            }
            Self::Close { session } => Message::of(label::CLOSE, [u64::from(*session)]),
            Self::Stats => Message::of(label::DRIVER_STATS, []),
        }
    }

    /// The request in a message.
    pub fn decode(label: u64, mrs: &[u64]) -> Result<Self, DecodeError> {
        match label {
            label::OPEN => {
                let count = *mrs.first().ok_or(DecodeError::BadLength {
                    label,
                    expected: 1,
                    got: 0,
                })?;
                if count == 0 || count > MAX_SESSION_DATASPACES as u64 {
                    return Err(DecodeError::BadValue {
                        field: "count",
                        value: count,
                    });
                }
                expect_len(label, mrs, 1 + count as usize)?;
                let mut ids = [DsId(0); MAX_SESSION_DATASPACES];
                for (id, &w) in ids.iter_mut().zip(&mrs[1..]) {
                    *id = DsId(u32_field("dataspace", w)?);
                }
                let list = DsList::new(&ids[..count as usize]).map_err(|_| DecodeError::BadValue {
                    field: "dataspace (duplicate)",
                    value: count,
                })?;
                Ok(Self::Open(list))
            }
            label::CLOSE => {
                expect_len(label, mrs, 1)?;
                Ok(Self::Close {
                    session: u32_field("session", mrs[0])?,
                })
            }
            label::DRIVER_STATS => {
                expect_len(label, mrs, 0)?;
                Ok(Self::Stats)
            }
            other => Err(DecodeError::UnknownLabel(other)),
        }
    }
}

/// Why the driver refused a session request. On the wire: the reply label [`Self::code`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SessionError {
    /// OPEN named no dataspace.
    NoDataspaces,
    /// OPEN named more than [`MAX_SESSION_DATASPACES`] dataspaces.
    TooManyDataspaces,
    /// OPEN named a dataspace twice.
    DuplicateDataspace,
    /// The driver has no free session slot.
    NoFreeSession,
    /// CLOSE of a session id that is not open (or belongs to another client).
    UnknownSession,
    /// CLOSE while a page of the session is pinned (DMA in flight); retry later.
    Busy,
    /// The driver could not bring its device up for the session (the driver's console says
    /// why: a missing device, a reset that never completed, ...).
    DeviceFailed,
    /// The manager refused to attach a dataspace (e.g. the client does not share it).
    Manager(MgrError),
}

/// Reply labels of [`SessionError::Manager`] are this plus the manager's code.
pub const SESSION_MGR_ERROR_BASE: u64 = 0x100;

impl SessionError {
    /// The reply label that carries this error.
    pub const fn code(self) -> u64 {
        match self {
            Self::NoDataspaces => 1,
            Self::TooManyDataspaces => 2,
            Self::DuplicateDataspace => 3,
            Self::NoFreeSession => 4,
            Self::UnknownSession => 5,
            Self::Busy => 6,
            Self::DeviceFailed => 7,
            Self::Manager(e) => SESSION_MGR_ERROR_BASE + e.code(),
        }
    }

    /// The error a reply label stands for.
    pub fn from_code(code: u64) -> Option<Self> {
        Some(match code {
            1 => Self::NoDataspaces,
            2 => Self::TooManyDataspaces,
            3 => Self::DuplicateDataspace,
            4 => Self::NoFreeSession,
            5 => Self::UnknownSession,
            6 => Self::Busy,
            7 => Self::DeviceFailed,
            c if c > SESSION_MGR_ERROR_BASE => {
                Self::Manager(MgrError::from_code(c - SESSION_MGR_ERROR_BASE)?)
            }
            _ => return None,
        })
    }
}

impl fmt::Display for SessionError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NoDataspaces => f.write_str("a session must name at least one dataspace"),
            Self::TooManyDataspaces => write!(
                f,
                "a session may name at most {MAX_SESSION_DATASPACES} dataspaces"
            ),
            Self::DuplicateDataspace => f.write_str("the session names a dataspace twice"),
            Self::NoFreeSession => {
                f.write_str("the driver has no free session slot; close an unused session")
            }
            Self::UnknownSession => f.write_str("no such open session for this client"),
            Self::Busy => f.write_str("session has pages pinned for DMA in flight; retry the close later"),
            Self::DeviceFailed => f.write_str(
                "the driver could not bring its device up; its console line says why (check the \
                 system file's PCI device and that QEMU/the machine has that NIC)",
            ),
            Self::Manager(e) => write!(f, "dataspace manager refused: {e}"),
        }
    }
}

/// An Ethernet station address as one message register: byte `i` of the address in bits
/// `8 * i .. 8 * i + 8`, bits 48..64 zero.
pub fn mac_to_word(mac: [u8; 6]) -> u64 {
    let mut b = [0u8; 8];
    b[..6].copy_from_slice(&mac);
    u64::from_le_bytes(b)
}

/// The address in a word made by [`mac_to_word`]; `None` if bits 48..64 are not zero.
pub fn mac_from_word(word: u64) -> Option<[u8; 6]> {
    if word >> 48 != 0 {
        return None;
    }
    let b = word.to_le_bytes();
    Some([b[0], b[1], b[2], b[3], b[4], b[5]])
}

/// The driver's counters (the DRIVER_STATS reply, 8 MRs in field order).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DriverStats {
    /// Interrupt events handled.
    pub irqs: u64,
    /// Frames delivered to the client.
    pub rx_packets: u64,
    /// Frames the device sent for the client.
    pub tx_packets: u64,
    /// Signals sent to the client.
    pub notify_sent: u64,
    /// Publications to the client that needed no signal.
    pub notify_suppressed: u64,
    /// Translation-cache lookups answered without the manager.
    pub xlate_hits: u64,
    /// Translation-cache misses (each a REFILL call to the manager).
    pub xlate_misses: u64,
    /// Descriptors of the client refused, plus frames the device or the driver dropped.
    pub errors: u64,
}

impl DriverStats {
    fn words(&self) -> [u64; 8] {
        [
            self.irqs,
            self.rx_packets,
            self.tx_packets,
            self.notify_sent,
            self.notify_suppressed,
            self.xlate_hits,
            self.xlate_misses,
            self.errors,
        ]
    }
}

/// A successful reply from the driver to a session request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SessionReply {
    /// OPEN: the new session's id and the NIC's station address (MRs: session,
    /// [`mac_to_word`] of the MAC).
    Opened {
        /// Name it in CLOSE.
        session: u32,
        /// The NIC's MAC address (what the client's frames should carry as source).
        mac: [u8; 6],
    },
    /// CLOSE: done (no MRs).
    Closed,
    /// DRIVER_STATS: the counters.
    Stats(DriverStats),
}

impl SessionReply {
    /// The reply message for a result.
    pub fn encode(result: &Result<Self, SessionError>) -> Message {
        match result {
            Err(e) => Message::of(e.code(), []),
            Ok(Self::Opened { session, mac }) => {
                Message::of(label::OK, [u64::from(*session), mac_to_word(*mac)])
            }
            Ok(Self::Closed) => Message::of(label::OK, []),
            Ok(Self::Stats(s)) => Message::of(label::OK, s.words()),
        }
    }

    /// Decodes the reply to an OPEN (`open == true`) or CLOSE.
    pub fn decode(open: bool, label: u64, mrs: &[u64]) -> Result<Result<Self, SessionError>, DecodeError> {
        if let Some(e) = Self::error(label, mrs)? {
            return Ok(Err(e));
        }
        if open {
            expect_len(label, mrs, 2)?;
            let mac = mac_from_word(mrs[1]).ok_or(DecodeError::BadValue {
                field: "mac",
                value: mrs[1],
            })?;
            Ok(Ok(Self::Opened {
                session: u32_field("session", mrs[0])?,
                mac,
            }))
        } else {
            expect_len(label, mrs, 0)?;
            Ok(Ok(Self::Closed))
        }
    }

    /// Decodes the reply to a DRIVER_STATS.
    pub fn decode_stats(label: u64, mrs: &[u64]) -> Result<Result<Self, SessionError>, DecodeError> {
        if let Some(e) = Self::error(label, mrs)? {
            return Ok(Err(e));
        }
        expect_len(label, mrs, 8)?;
        Ok(Ok(Self::Stats(DriverStats {
            irqs: mrs[0],
            rx_packets: mrs[1],
            tx_packets: mrs[2],
            notify_sent: mrs[3],
            notify_suppressed: mrs[4],
            xlate_hits: mrs[5],
            xlate_misses: mrs[6],
            errors: mrs[7],
        })))
    }

    fn error(label: u64, mrs: &[u64]) -> Result<Option<SessionError>, DecodeError> {
        if label == label::OK {
            return Ok(None);
        }
        let e = SessionError::from_code(label).ok_or(DecodeError::UnknownLabel(label))?;
        expect_len(label, mrs, 0)?;
        Ok(Some(e))
    }
}
