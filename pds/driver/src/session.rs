//! The client session (DESIGN.md §6): the dataspaces a client named when it opened its session
//! with the driver, and the checks every buffer descriptor from that client must pass before
//! the driver translates it or lets the device near it. Rejections are counted per session.

use core::fmt;
use ring::{Dataspaces, Desc, DescError};

/// Most dataspaces one session may name (the contract's limit on an OPEN).
pub const MAX_DATASPACES: usize = nic_api::MAX_SESSION_DATASPACES;
/// The frame and buffer limits are the driver contract's (`nic-api`).
pub use nic_api::{MAX_FRAME, MIN_TX_FRAME, RX_BUF_LEN};

/// Why a session could not be opened.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SessionError {
    /// More than [`MAX_DATASPACES`] dataspaces.
    TooManyDataspaces { given: usize },
    /// The same id twice.
    DuplicateDataspace { dataspace: u32 },
    /// A dataspace of size 0 can hold no buffer.
    EmptyDataspace { dataspace: u32 },
}

impl fmt::Display for SessionError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Self::TooManyDataspaces { given } => {
                write!(f, "session names {given} dataspaces; the driver accepts at most {MAX_DATASPACES}")
            }
            Self::DuplicateDataspace { dataspace } => {
                write!(f, "session names dataspace {dataspace} twice")
            }
            Self::EmptyDataspace { dataspace } => {
                write!(f, "session names dataspace {dataspace} with size 0")
            }
        }
    }
}

/// Why one buffer descriptor was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BufError {
    /// Failed the session bounds check (unknown dataspace, or past its end; `offset + len` is
    /// computed without overflow).
    Bounds(DescError),
    /// A frame to send shorter than an Ethernet header (includes `len == 0`).
    TooShort { len: u32 },
    /// A frame to send longer than [`MAX_FRAME`].
    TooLong { len: u32 },
    /// A receive buffer shorter than [`RX_BUF_LEN`].
    RxBufferTooSmall { len: u32 },
    /// The buffer spans pages that are not physically contiguous (use buffers that do not
    /// cross a page boundary, e.g. 2 KiB-aligned ones).
    NotContiguous { dataspace: u32, offset: u32 },
    /// Translation or pinning failed.
    Xlate(crate::hw::XlateError),
    /// The buffer lies above what the device can address (e.g. a DP83820 in 32-bit mode).
    Unreachable { phys: u64, limit: u64 },
}

impl fmt::Display for BufError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Bounds(e) => e.fmt(f),
            Self::TooShort { len } => {
                write!(f, "frame of {len} bytes is shorter than an Ethernet header ({MIN_TX_FRAME})")
            }
            Self::TooLong { len } => {
                write!(f, "frame of {len} bytes exceeds the maximum of {MAX_FRAME} (no jumbo frames)")
            }
            Self::RxBufferTooSmall { len } => {
                write!(f, "receive buffer of {len} bytes is smaller than the {RX_BUF_LEN} bytes a frame may need")
            }
            Self::NotContiguous { dataspace, offset } => write!(
                f,
                "buffer at dataspace {dataspace} offset {offset:#x} crosses into a page that is not \
                 physically contiguous: align buffers so they do not cross a 4 KiB boundary"
            ),
            Self::Xlate(e) => e.fmt(f),
            Self::Unreachable { phys, limit } => write!(
                f,
                "buffer at physical {phys:#x} is beyond the device's reach ({limit:#x}): give the \
                 client's dataspace low memory or enable 64-bit descriptors"
            ),
        }
    }
}

/// Per-session error counts: what the client did wrong, never held against the driver.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SessionErrors {
    /// Descriptors naming a dataspace outside the session.
    pub unknown_dataspace: u64,
    /// Descriptors running past the end of their dataspace.
    pub out_of_bounds: u64,
    /// Transmit frames shorter than a header (including length 0).
    pub too_short: u64,
    /// Transmit frames longer than the MTU frame.
    pub too_long: u64,
    /// Receive buffers too small for a frame.
    pub rx_buffer_too_small: u64,
    /// Buffers crossing into a physically discontiguous page.
    pub not_contiguous: u64,
    /// Pages the translation cache could not map or pin.
    pub translation: u64,
    /// The client moved a queue index impossibly (a `ring::PeerError`).
    pub queue_corrupt: u64,
    /// Refused transmit buffers that could not be returned because the client's free queue was
    /// full (the client does not collect its buffers).
    pub returns_dropped: u64,
    /// Receive buffers handed back to the client with `len = 0` because they could not be
    /// translated or pinned for a reason that is not the client's fault (pin quota, a refusal
    /// of the manager's own, the manager unreachable). Not a rejection: the client reposts.
    pub rx_returned: u64,
}

impl SessionErrors {
    /// Total descriptor rejections.
    pub fn rejected(&self) -> u64 {
        self.unknown_dataspace
            + self.out_of_bounds
            + self.too_short
            + self.too_long
            + self.rx_buffer_too_small
            + self.not_contiguous
            + self.translation
    }

    /// Counts one rejection.
    pub fn count(&mut self, e: &BufError) {
        match e {
            BufError::Bounds(DescError::UnknownDataspace { .. }) => self.unknown_dataspace += 1,
            BufError::Bounds(DescError::OutOfBounds { .. }) => self.out_of_bounds += 1,
            BufError::TooShort { .. } => self.too_short += 1,
            BufError::TooLong { .. } => self.too_long += 1,
            BufError::RxBufferTooSmall { .. } => self.rx_buffer_too_small += 1,
            BufError::NotContiguous { .. } => self.not_contiguous += 1,
            BufError::Xlate(_) | BufError::Unreachable { .. } => self.translation += 1,
        }
    }
}

/// A client's session: the dataspaces (id, size) it shares with the driver. The PD checks with
/// the dataspace manager that the client really shares them before building this.
#[derive(Clone, Debug)]
pub struct Session {
    spaces: [(u32, u64); MAX_DATASPACES],
    n: usize,
    /// What this client got wrong so far.
    pub errors: SessionErrors,
}

impl Session {
    /// Opens a session over `dataspaces` = `[(id, size in bytes)]`.
    pub fn new(dataspaces: &[(u32, u64)]) -> Result<Self, SessionError> {
        if dataspaces.len() > MAX_DATASPACES {
            return Err(SessionError::TooManyDataspaces { given: dataspaces.len() });
        }
        let mut spaces = [(0, 0); MAX_DATASPACES];
        for (i, &(id, size)) in dataspaces.iter().enumerate() {
            if size == 0 {
                return Err(SessionError::EmptyDataspace { dataspace: id });
            }
            if dataspaces[..i].iter().any(|&(other, _)| other == id) {
                return Err(SessionError::DuplicateDataspace { dataspace: id });
            }
            spaces[i] = (id, size);
        }
        Ok(Self { spaces, n: dataspaces.len(), errors: SessionErrors::default() })
    }

    /// Checks a frame the client wants sent; returns the length to send.
    pub fn check_tx(&self, d: &Desc) -> Result<u32, BufError> {
        d.validate(self).map_err(BufError::Bounds)?;
        if d.len < MIN_TX_FRAME {
            return Err(BufError::TooShort { len: d.len });
        }
        if d.len > MAX_FRAME {
            return Err(BufError::TooLong { len: d.len });
        }
        Ok(d.len)
    }

    /// Checks an empty buffer the client offers for reception; returns the length the device
    /// may fill.
    pub fn check_rx(&self, d: &Desc) -> Result<u32, BufError> {
        d.validate(self).map_err(BufError::Bounds)?;
        if d.len < RX_BUF_LEN {
            return Err(BufError::RxBufferTooSmall { len: d.len });
        }
        Ok(RX_BUF_LEN)
    }
}

impl Dataspaces for Session {
    fn size_of(&self, dataspace: u32) -> Option<u64> {
        self.spaces[..self.n].iter().find(|&&(id, _)| id == dataspace).map(|&(_, s)| s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(dataspace: u32, offset: u32, len: u32) -> Desc {
        Desc { dataspace, offset, len, cookie: 0 }
    }

    #[test]
    fn open_rejects_bad_sets() {
        assert_eq!(Session::new(&[(1, 0)]).unwrap_err(), SessionError::EmptyDataspace { dataspace: 1 });
        assert_eq!(Session::new(&[(1, 10), (1, 20)]).unwrap_err(), SessionError::DuplicateDataspace { dataspace: 1 });
        assert!(Session::new(&[(0, 1); 9]).is_err());
    }

    #[test]
    fn bounds_and_lengths() {
        let s = Session::new(&[(3, 0x10000)]).unwrap();
        assert_eq!(s.check_tx(&d(3, 0, 60)), Ok(60));
        assert!(matches!(s.check_tx(&d(4, 0, 60)), Err(BufError::Bounds(DescError::UnknownDataspace { .. }))));
        assert!(matches!(s.check_tx(&d(3, 0xfff0, 60)), Err(BufError::Bounds(DescError::OutOfBounds { .. }))));
        // offset + len would wrap in u32: still refused
        assert!(matches!(s.check_tx(&d(3, u32::MAX - 10, 60)), Err(BufError::Bounds(_))));
        assert_eq!(s.check_tx(&d(3, 0, 0)), Err(BufError::TooShort { len: 0 }));
        assert_eq!(s.check_tx(&d(3, 0, 1515)), Err(BufError::TooLong { len: 1515 }));
        assert_eq!(s.check_rx(&d(3, 0, 2048)), Ok(RX_BUF_LEN));
        assert_eq!(s.check_rx(&d(3, 0, 1000)), Err(BufError::RxBufferTooSmall { len: 1000 }));
    }
}
