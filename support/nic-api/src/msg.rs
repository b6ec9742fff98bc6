//! The session protocol between a client and the NIC driver, on the runtime's one
//! [`Message`] type. Decode checks the label, the exact length and every value's range, so
//! garbage gives a [`DecodeError`], never a panic.
//!
//! | label | request      | words                                             |
//! |-------|--------------|---------------------------------------------------|
//! | 0x20  | OPEN         | count n (1..=6), then n distinct dataspace ids    |
//! | 0x21  | CLOSE        | session id                                        |
//! | 0x22  | DRIVER_STATS | (none): the driver also prints its counters       |
//!
//! Replies: label 0 = success (OPEN: session id, [`MacAddr::to_word`]; CLOSE: no words;
//! DRIVER_STATS: the 8 words of [`DriverStats`]); any other label is a [`SessionError::code`]
//! with no words. The client's identity is never in a message: the driver knows it from the
//! channel the call came in on.

use core::fmt;

use dataspace_api::msg::{DecodeError, MgrError};
use dataspace_api::DsId;
use message::Message;

use crate::{DriverStats, MacAddr, MAX_SESSION_DATASPACES};

/// Request and reply labels.
pub mod label {
    /// A successful reply.
    pub const OK: u64 = 0;
    /// Client -> driver: open a session naming the dataspaces it will use.
    pub const OPEN: u64 = 0x20;
    /// Client -> driver: close a session.
    pub const CLOSE: u64 = 0x21;
    /// Client -> driver: the driver's counters (it also prints them on its console).
    pub const DRIVER_STATS: u64 = 0x22;
}

/// A message of this protocol (every label here is far below [`Message::MAX_LABEL`]).
fn msg<const N: usize>(label: u64, words: [u64; N]) -> Message {
    Message::of(label, words).expect("session protocol labels are below Message::MAX_LABEL")
}

fn expect_len(m: &Message, expected: usize) -> Result<(), DecodeError> {
    if m.len() == expected {
        Ok(())
    } else {
        Err(DecodeError::BadLength { label: m.label(), expected, got: m.len() })
    }
}

fn u32_field(field: &'static str, value: u64) -> Result<u32, DecodeError> {
    u32::try_from(value).map_err(|_| DecodeError::BadValue { field, value })
}

/// The session operations (a request's label, without its arguments): which reply to expect.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Op {
    /// [`label::OPEN`]
    Open,
    /// [`label::CLOSE`]
    Close,
    /// [`label::DRIVER_STATS`]
    Stats,
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
        Ok(Self { ids: list, len: ids.len() })
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
    /// The operation.
    pub const fn op(&self) -> Op {
        match self {
            Self::Open(_) => Op::Open,
            Self::Close { .. } => Op::Close,
            Self::Stats => Op::Stats,
        }
    }

    /// The message for this request.
    pub fn encode(&self) -> Message {
        match self {
            Self::Open(list) => {
                let mut m = msg(label::OPEN, [list.len as u64]);
                for id in list.ids() {
                    // At most 1 + MAX_SESSION_DATASPACES words: always fits.
                    m.push(u64::from(id.0)).expect("an OPEN fits a message");
                }
                m
            }
            Self::Close { session } => msg(label::CLOSE, [u64::from(*session)]),
            Self::Stats => msg(label::DRIVER_STATS, []),
        }
    }

    /// The request in a message.
    pub fn decode(m: &Message) -> Result<Self, DecodeError> {
        let words = m.words();
        match m.label() {
            label::OPEN => {
                let count = *words.first().ok_or(DecodeError::BadLength { label: m.label(), expected: 1, got: 0 })?;
                if count == 0 || count > MAX_SESSION_DATASPACES as u64 {
                    return Err(DecodeError::BadValue { field: "count", value: count });
                }
                expect_len(m, 1 + count as usize)?;
                let mut ids = [DsId(0); MAX_SESSION_DATASPACES];
                for (id, &w) in ids.iter_mut().zip(&words[1..]) {
                    *id = DsId(u32_field("dataspace", w)?);
                }
                let list = DsList::new(&ids[..count as usize])
                    .map_err(|_| DecodeError::BadValue { field: "dataspace (duplicate)", value: count })?;
                Ok(Self::Open(list))
            }
            label::CLOSE => {
                expect_len(m, 1)?;
                Ok(Self::Close { session: u32_field("session", words[0])? })
            }
            label::DRIVER_STATS => {
                expect_len(m, 0)?;
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
            c if c > SESSION_MGR_ERROR_BASE => Self::Manager(MgrError::from_code(c - SESSION_MGR_ERROR_BASE)?),
            _ => return None,
        })
    }
}

impl From<MgrError> for SessionError {
    fn from(e: MgrError) -> Self {
        Self::Manager(e)
    }
}

impl fmt::Display for SessionError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NoDataspaces => f.write_str("a session must name at least one dataspace"),
            Self::TooManyDataspaces => write!(f, "a session may name at most {MAX_SESSION_DATASPACES} dataspaces"),
            Self::DuplicateDataspace => f.write_str("the session names a dataspace twice"),
            Self::NoFreeSession => f.write_str("the driver has no free session slot; close an unused session"),
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

/// A successful reply from the driver to a session request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SessionReply {
    /// OPEN: the new session's id and the NIC's station address.
    Opened {
        /// Name it in CLOSE.
        session: u32,
        /// The NIC's MAC address (what the client's frames should carry as source).
        mac: MacAddr,
    },
    /// CLOSE: done (no words).
    Closed,
    /// DRIVER_STATS: the counters.
    Stats(DriverStats),
}

impl SessionReply {
    /// The reply message for a result.
    pub fn encode(result: &Result<Self, SessionError>) -> Message {
        match result {
            Err(e) => msg(e.code(), []),
            Ok(Self::Opened { session, mac }) => msg(label::OK, [u64::from(*session), mac.to_word()]),
            Ok(Self::Closed) => msg(label::OK, []),
            Ok(Self::Stats(s)) => msg(label::OK, s.words()),
        }
    }

    /// Decodes the reply to a request of kind `op`.
    pub fn decode(op: Op, m: &Message) -> Result<Result<Self, SessionError>, DecodeError> {
        if m.label() != label::OK {
            let e = SessionError::from_code(m.label()).ok_or(DecodeError::UnknownLabel(m.label()))?;
            expect_len(m, 0)?;
            return Ok(Err(e));
        }
        let w = m.words();
        Ok(Ok(match op {
            Op::Open => {
                expect_len(m, 2)?;
                let mac = MacAddr::from_word(w[1]).ok_or(DecodeError::BadValue { field: "mac", value: w[1] })?;
                Self::Opened { session: u32_field("session", w[0])?, mac }
            }
            Op::Close => {
                expect_len(m, 0)?;
                Self::Closed
            }
            Op::Stats => {
                expect_len(m, DriverStats::WORDS)?;
                let mut words = [0; DriverStats::WORDS];
                words.copy_from_slice(w);
                Self::Stats(DriverStats::from_words(words))
            }
        }))
    }
}
