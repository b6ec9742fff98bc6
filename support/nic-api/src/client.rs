//! The client's side of a session with the driver (what the netstack and the loopback test PD
//! both do): open naming dataspaces, close, fetch the driver's counters. The kernel call is a
//! caller-supplied function (`Channel::pp_call` in a PD, a fake on the host), so every way a
//! call can go wrong is a [`ClientError`] with a message a user can act on.

use core::fmt;

use dataspace_api::DsId;
use message::Message;

use crate::msg::{DsList, SessionError, SessionReply, SessionRequest};
use crate::{DecodeError, DriverStats, MacAddr};

/// Why a protected call failed in the kernel or runtime (before the driver's reply).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CallError {
    /// The request did not fit a message.
    TooLong,
    /// The server refused the call (runtime-level refusal code).
    Refused(u64),
    /// The kernel call itself failed (e.g. the channel is not granted).
    Kernel,
}

impl fmt::Display for CallError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::TooLong => f.write_str("the session request does not fit a message"),
            Self::Refused(c) => write!(
                f,
                "the driver refused the session call (code {c:#x}): is the driver PD running and serving this channel?"
            ),
            Self::Kernel => {
                f.write_str("cannot call the driver: the system file must give this PD a pp channel to the driver")
            }
        }
    }
}

/// Why a session request got no useful answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ClientError {
    /// The call to the driver failed.
    Call(CallError),
    /// The driver refused the request.
    Refused(SessionError),
    /// The driver's reply was malformed.
    BadReply(DecodeError),
}

impl fmt::Display for ClientError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Call(e) => e.fmt(f),
            Self::Refused(e) => write!(f, "the driver refused: {e}"),
            Self::BadReply(e) => write!(f, "the driver's reply is malformed: {e}"),
        }
    }
}

impl From<CallError> for ClientError {
    fn from(e: CallError) -> Self {
        Self::Call(e)
    }
}

/// An open session, as OPEN's reply describes it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Opened {
    /// The session id (for CLOSE).
    pub session: u32,
    /// The NIC's station address.
    pub mac: MacAddr,
}

fn request(
    req: SessionRequest,
    call: &mut impl FnMut(&Message) -> Result<Message, CallError>,
) -> Result<SessionReply, ClientError> {
    let reply = call(&req.encode())?;
    SessionReply::decode(req.op(), &reply).map_err(ClientError::BadReply)?.map_err(ClientError::Refused)
}

/// Opens a session naming `dataspaces` (1 to 6 distinct ids).
pub fn open(
    dataspaces: &[DsId],
    mut call: impl FnMut(&Message) -> Result<Message, CallError>,
) -> Result<Opened, ClientError> {
    let list = DsList::new(dataspaces).map_err(ClientError::Refused)?;
    match request(SessionRequest::Open(list), &mut call)? {
        SessionReply::Opened { session, mac } => Ok(Opened { session, mac }),
        // `SessionReply::decode(Op::Open, ..)` gives only `Opened`.
        _ => Err(ClientError::BadReply(DecodeError::UnknownLabel(0))),
    }
}

/// Closes `session` (the driver resets its device, unpins and detaches the dataspaces).
pub fn close(session: u32, mut call: impl FnMut(&Message) -> Result<Message, CallError>) -> Result<(), ClientError> {
    request(SessionRequest::Close { session }, &mut call).map(|_| ())
}

/// Asks the driver for its counters (DRIVER_STATS; the driver also prints them).
pub fn driver_stats(mut call: impl FnMut(&Message) -> Result<Message, CallError>) -> Result<DriverStats, ClientError> {
    match request(SessionRequest::Stats, &mut call)? {
        SessionReply::Stats(s) => Ok(s),
        _ => Err(ClientError::BadReply(DecodeError::UnknownLabel(0))),
    }
}
