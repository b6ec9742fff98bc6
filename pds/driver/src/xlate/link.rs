//! How the adapter reaches the dataspace manager (a PPC in the PD, a fake in tests) and the
//! clock, and what a failed call means to the driver.

use core::fmt;

use dataspace_api::msg::{DecodeError, MgrError, MgrReply, MgrRequest};

use super::CacheXlate;
use crate::hw::XlateError;

/// Why a call to the manager produced no answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LinkError {
    /// The PPC itself failed (channel not granted, the manager refused the message).
    Call,
    /// The manager's reply did not decode.
    Decode(DecodeError),
}

impl fmt::Display for LinkError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Call => f.write_str(
                "the call to the dataspace manager failed; check the driver's pp channel to it \
                 in the system file",
            ),
            Self::Decode(e) => write!(f, "the dataspace manager's reply is malformed: {e}"),
        }
    }
}

/// How the adapter reaches the dataspace manager and the clock.
pub trait MgrLink {
    /// One request, one reply (a PPC in the PD).
    fn call(&mut self, req: &MgrRequest) -> Result<Result<MgrReply, MgrError>, LinkError>;
    /// Now, in TSC ticks.
    fn now(&self) -> u64;
}

/// What a manager refusal of a REFILL or PIN means for the buffer: the client's fault (it
/// named memory the manager does not share: [`XlateError::NoMapping`]) or not
/// ([`XlateError::Unavailable`]; the quota has its own variant). A broken link reads as
/// `NotAuthorized` and so as unavailable.
pub(super) fn xlate_error(e: MgrError, dataspace: u32, page: u64) -> XlateError {
    match e {
        MgrError::UnknownDataspace | MgrError::NotShared | MgrError::PageOutOfRange | MgrError::RangeOverflow => {
            XlateError::NoMapping { dataspace, page }
        }
        MgrError::QuotaExceeded => XlateError::PinQuota { dataspace, page },
        _ => XlateError::Unavailable { dataspace, page },
    }
}

impl<L: MgrLink> CacheXlate<'_, L> {
    /// One call to the manager, counted if it fails; a broken link reads as a refusal.
    pub(super) fn call(&mut self, req: &MgrRequest) -> Result<MgrReply, MgrError> {
        match self.link.call(req) {
            Ok(Ok(reply)) => Ok(reply),
            Ok(Err(e)) => {
                self.stats.call_errors += 1;
                Err(e)
            }
            Err(_) => {
                self.stats.call_errors += 1;
                // Treat a broken link like a refusal: the buffer is refused, the driver lives.
                Err(MgrError::NotAuthorized)
            }
        }
    }
}
