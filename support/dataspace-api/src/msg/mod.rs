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
//! | 8     | DRIVER_FAULTED | monitor | driver pd, its fault count                   |
//! | 9     | DEVICE_RESET   | monitor or the driver itself | driver pd, generation   |
//!
//! Replies: label 0 = success with the operation's reply layout ([`MgrReply`]); any other
//! label is an error code ([`MgrError::code`]) with no MRs. (The client -> driver session
//! protocol is `nic-api`'s; its labels start at 0x20.) The caller's identity is never in a message: the
//! callee learns it from the channel (badge) the call came in on.
use core::fmt;

pub use message::Message;

use crate::PdId;

mod reply;
mod request;

pub use reply::{MgrError, MgrReply, MgrStats};
pub use request::MgrRequest;

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
}

/// A message of this protocol (every label here is far below `Message::MAX_LABEL`).
pub(crate) fn msg<const N: usize>(label: u64, words: [u64; N]) -> Message {
    const { assert!(N <= MAX_MRS) };
    Message::of(label, words).expect("manager protocol labels are below Message::MAX_LABEL")
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
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Self::UnknownLabel(label) => write!(f, "unknown message label {label:#x}"),
            Self::BadLength { label, expected, got } => {
                write!(f, "message with label {label:#x} has {got} message registers; its layout has {expected}")
            }
            Self::BadValue { field, value } => {
                write!(f, "message field `{field}` has out-of-range value {value:#x}")
            }
        }
    }
}

pub(crate) fn expect_len(label: u64, mrs: &[u64], expected: usize) -> Result<(), DecodeError> {
    if mrs.len() == expected {
        Ok(())
    } else {
        Err(DecodeError::BadLength { label, expected, got: mrs.len() })
    }
}

pub(crate) fn u32_field(field: &'static str, value: u64) -> Result<u32, DecodeError> {
    u32::try_from(value).map_err(|_| DecodeError::BadValue { field, value })
}

pub(crate) fn pd_field(field: &'static str, value: u64) -> Result<PdId, DecodeError> {
    PdId::new(value).ok_or(DecodeError::BadValue { field, value })
}

pub(crate) fn count_field(value: u64) -> Result<u32, DecodeError> {
    match u32_field("count", value)? {
        0 => Err(DecodeError::BadValue { field: "count", value }),
        n => Ok(n),
    }
}

pub(crate) fn bool_field(field: &'static str, value: u64) -> Result<bool, DecodeError> {
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
