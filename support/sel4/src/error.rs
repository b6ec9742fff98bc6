//! seL4 error codes (`seL4_Error`) and the error value of a failed invocation, with messages
//! that say what the kernel objected to, using the detail words it returns.

use core::fmt;

/// An seL4 5.0 error code, as the kernel returns it in the reply label.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub enum Error {
    InvalidArgument,
    InvalidCapability,
    IllegalOperation,
    RangeError,
    AlignmentError,
    FailedLookup,
    TruncatedMessage,
    DeleteFirst,
    RevokeFirst,
    NotEnoughMemory,
    /// A label the kernel does not define (never produced by a correct kernel).
    Unknown(u64),
}

impl Error {
    /// Every defined error with its kernel number and C name (checked against `errors.h`).
    pub const ALL: [(Error, u64, &'static str); 10] = [
        (Error::InvalidArgument, 1, "seL4_InvalidArgument"),
        (Error::InvalidCapability, 2, "seL4_InvalidCapability"),
        (Error::IllegalOperation, 3, "seL4_IllegalOperation"),
        (Error::RangeError, 4, "seL4_RangeError"),
        (Error::AlignmentError, 5, "seL4_AlignmentError"),
        (Error::FailedLookup, 6, "seL4_FailedLookup"),
        (Error::TruncatedMessage, 7, "seL4_TruncatedMessage"),
        (Error::DeleteFirst, 8, "seL4_DeleteFirst"),
        (Error::RevokeFirst, 9, "seL4_RevokeFirst"),
        (Error::NotEnoughMemory, 10, "seL4_NotEnoughMemory"),
    ];

    /// The error for a reply label; `None` for 0 (`seL4_NoError`).
    pub const fn from_label(label: u64) -> Option<Error> {
        Some(match label {
            0 => return None,
            1 => Error::InvalidArgument,
            2 => Error::InvalidCapability,
            3 => Error::IllegalOperation,
            4 => Error::RangeError,
            5 => Error::AlignmentError,
            6 => Error::FailedLookup,
            7 => Error::TruncatedMessage,
            8 => Error::DeleteFirst,
            9 => Error::RevokeFirst,
            10 => Error::NotEnoughMemory,
            other => Error::Unknown(other),
        })
    }

    /// The kernel's number for this error.
    pub const fn code(self) -> u64 {
        match self {
            Error::InvalidArgument => 1,
            Error::InvalidCapability => 2,
            Error::IllegalOperation => 3,
            Error::RangeError => 4,
            Error::AlignmentError => 5,
            Error::FailedLookup => 6,
            Error::TruncatedMessage => 7,
            Error::DeleteFirst => 8,
            Error::RevokeFirst => 9,
            Error::NotEnoughMemory => 10,
            Error::Unknown(n) => n,
        }
    }

    const fn describe(self) -> &'static str {
        match self {
            Error::InvalidArgument => "invalid argument",
            Error::InvalidCapability => "invalid capability (wrong object type or missing rights)",
            Error::IllegalOperation => "illegal operation on this object",
            Error::RangeError => "argument out of range",
            Error::AlignmentError => "misaligned address or size",
            Error::FailedLookup => "capability lookup failed (empty slot or bad cptr/depth)",
            Error::TruncatedMessage => "message too short for this invocation",
            Error::DeleteFirst => "destination slot is not empty (delete it first)",
            Error::RevokeFirst => "object still has derived capabilities (revoke it first)",
            Error::NotEnoughMemory => "not enough memory left in the untyped",
            Error::Unknown(_) => "unknown seL4 error code",
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Unknown(n) => write!(f, "unknown seL4 error code {n}"),
            e => write!(f, "{:?}: {}", e, e.describe()),
        }
    }
}

/// A failed invocation: which method, the kernel's error, and the kernel's detail words
/// (message registers 0 and 1 of the error reply).
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct InvocationError {
    /// The libsel4 name of the method, e.g. `seL4_CNode_Copy`.
    pub method: &'static str,
    pub error: Error,
    pub detail: [u64; 2],
}

impl fmt::Display for InvocationError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} failed: {}", self.method, self.error)?;
        let [d0, d1] = self.detail;
        match self.error {
            Error::InvalidArgument => write!(f, " (argument {d0})"),
            Error::InvalidCapability => write!(f, " (capability argument {d0})"),
            Error::RangeError => write!(f, " (allowed range {d0}..={d1})"),
            Error::FailedLookup => {
                write!(f, " (in the {} capability)", if d0 != 0 { "source" } else { "destination or service" })
            }
            Error::NotEnoughMemory => write!(f, " ({d0} bytes left)"),
            _ => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::*;
    use std::format;

    #[test]
    fn codes_round_trip() {
        for (e, n, _) in Error::ALL {
            assert_eq!(e.code(), n);
            assert_eq!(Error::from_label(n), Some(e));
        }
        assert_eq!(Error::from_label(0), None);
        assert_eq!(Error::from_label(99), Some(Error::Unknown(99)));
    }

    #[test]
    fn messages_carry_detail() {
        let e = InvocationError { method: "seL4_Untyped_Retype", error: Error::RangeError, detail: [1, 256] };
        assert_eq!(
            format!("{e}"),
            "seL4_Untyped_Retype failed: RangeError: argument out of range (allowed range 1..=256)"
        );
        let e = InvocationError { method: "seL4_CNode_Copy", error: Error::DeleteFirst, detail: [0, 0] };
        assert!(format!("{e}").contains("delete it first"));
    }
}
