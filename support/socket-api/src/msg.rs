//! The session's protected-call messages: a client binds or unbinds a UDP port with the stack.
//! Each has a label and a fixed message-register layout; decode checks the label, the exact
//! length and every value's range, so garbage gives a [`DecodeError`], never a panic.
//!
//! | label | request | MRs  | success reply (label 0) |
//! |-------|---------|------|-------------------------|
//! | 0x30  | BIND    | port | port                    |
//! | 0x31  | UNBIND  | port | (none)                  |
//!
//! A reply with a nonzero label is an error ([`BindError::code`]) with no MRs. The client's
//! identity comes from the channel the call arrived on, never from the message. Requests and
//! replies are the PD runtime's one message type, [`message::Message`] (re-exported here).

use core::fmt;

pub use message::Message;

/// Labels.
pub mod label {
    /// A successful reply.
    pub const OK: u64 = 0;
    /// Client -> stack: deliver datagrams for a port to me, and let me send from it.
    pub const BIND: u64 = 0x30;
    /// Client -> stack: release a port.
    pub const UNBIND: u64 = 0x31;
}

/// A message of `N` words with one of this protocol's labels (all far below
/// [`Message::MAX_LABEL`], and `N <= 1`, so building it cannot fail).
fn msg<const N: usize>(label: u64, words: [u64; N]) -> Message {
    match Message::of(label, words) {
        Ok(m) => m,
        Err(_) => unreachable!("socket-api labels and lengths fit every message"),
    }
}

/// A request from a client.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Request {
    /// Bind a port.
    Bind {
        /// 1..=65535.
        port: u16,
    },
    /// Unbind a port.
    Unbind {
        /// 1..=65535.
        port: u16,
    },
}

/// Why a message could not be decoded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[allow(missing_docs)]
pub enum DecodeError {
    /// No such label.
    UnknownLabel(u64),
    /// Wrong number of message registers.
    BadLength { label: u64, expected: usize, got: usize },
    /// A port outside 1..=65535.
    BadPort(u64),
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Self::UnknownLabel(l) => {
                write!(f, "unknown socket-session label {l:#x}: expected BIND (0x30) or UNBIND (0x31)")
            }
            Self::BadLength { label, expected, got } => {
                write!(f, "message with label {label:#x} has {got} message registers, expected {expected}")
            }
            Self::BadPort(p) => write!(f, "port {p} is not a UDP port: expected 1..=65535"),
        }
    }
}

impl core::error::Error for DecodeError {}

fn port_of(label: u64, mrs: &[u64]) -> Result<u16, DecodeError> {
    if mrs.len() != 1 {
        return Err(DecodeError::BadLength { label, expected: 1, got: mrs.len() });
    }
    match u16::try_from(mrs[0]) {
        Ok(p) if p != 0 => Ok(p),
        _ => Err(DecodeError::BadPort(mrs[0])),
    }
}

impl Request {
    /// The message for this request.
    pub fn encode(&self) -> Message {
        match *self {
            Self::Bind { port } => msg(label::BIND, [u64::from(port)]),
            Self::Unbind { port } => msg(label::UNBIND, [u64::from(port)]),
        }
    }

    /// The request in a message.
    pub fn decode(m: &Message) -> Result<Self, DecodeError> {
        let (label, mrs) = (m.label(), m.words());
        match label {
            label::BIND => Ok(Self::Bind { port: port_of(label, mrs)? }),
            label::UNBIND => Ok(Self::Unbind { port: port_of(label, mrs)? }),
            other => Err(DecodeError::UnknownLabel(other)),
        }
    }
}

/// Why the stack refused a request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BindError {
    /// Another client (or a hosted application) has the port.
    InUse,
    /// The stack's port table is full.
    TooManyPorts,
    /// UNBIND of a port this client does not hold.
    NotBound,
    /// The request could not be decoded (the caller sent garbage).
    BadRequest,
}

impl BindError {
    /// The reply label for this error.
    pub const fn code(self) -> u64 {
        match self {
            Self::InUse => 1,
            Self::TooManyPorts => 2,
            Self::NotBound => 3,
            Self::BadRequest => 4,
        }
    }

    /// The error for a reply label.
    pub const fn from_code(code: u64) -> Option<Self> {
        Some(match code {
            1 => Self::InUse,
            2 => Self::TooManyPorts,
            3 => Self::NotBound,
            4 => Self::BadRequest,
            _ => return None,
        })
    }
}

impl fmt::Display for BindError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::InUse => "port is already bound by another client or a hosted application",
            Self::TooManyPorts => "the network stack's port table is full: unbind a port first",
            Self::NotBound => "port is not bound by this client",
            Self::BadRequest => "malformed request: see socket_api::msg for the message layout",
        })
    }
}

impl core::error::Error for BindError {}

/// The reply message for a result (`Ok` carries the port for BIND; UNBIND replies with none).
pub fn encode_reply(req: &Request, result: Result<(), BindError>) -> Message {
    match (result, req) {
        (Err(e), _) => msg(e.code(), []),
        (Ok(()), Request::Bind { port }) => msg(label::OK, [u64::from(*port)]),
        (Ok(()), Request::Unbind { .. }) => msg(label::OK, []),
    }
}

/// Decodes the stack's reply to `req`.
pub fn decode_reply(req: &Request, reply: &Message) -> Result<Result<(), BindError>, DecodeError> {
    let (label, mrs) = (reply.label(), reply.words());
    if label != label::OK {
        let e = BindError::from_code(label).ok_or(DecodeError::UnknownLabel(label))?;
        if !mrs.is_empty() {
            return Err(DecodeError::BadLength { label, expected: 0, got: mrs.len() });
        }
        return Ok(Err(e));
    }
    match *req {
        Request::Bind { port } => {
            let got = port_of(label, mrs)?;
            if got != port {
                return Err(DecodeError::BadPort(u64::from(got)));
            }
        }
        Request::Unbind { .. } => {
            if !mrs.is_empty() {
                return Err(DecodeError::BadLength { label, expected: 0, got: mrs.len() });
            }
        }
    }
    Ok(Ok(()))
}
