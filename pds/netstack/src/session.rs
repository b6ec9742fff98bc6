//! The stack's side of its session with the NIC driver (`dataspace-api` session messages): open
//! a session naming the packet-buffer dataspace; its reply names the NIC's MAC. The kernel call is a
//! closure, so this is tested on the host; every way start-up can fail is a [`StartError`]
//! with a message that says what to fix.

use core::fmt;

use dataspace_api::msg::{DriverStats, DsList, SessionReply, SessionRequest};
use dataspace_api::DsId;

use crate::ConfigError;

/// What the PD learned from the driver.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DriverSession {
    /// The session id (for CLOSE).
    pub session: u32,
    /// The NIC's station address.
    pub mac: [u8; 6],
}

/// A reply as the runtime received it: label and up to 16 words.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Reply {
    label: u64,
    len: usize,
    words: [u64; 16],
}

impl Reply {
    /// A reply with `label` and `words` (at most 16 are kept).
    pub fn new(label: u64, words: &[u64]) -> Self {
        let len = words.len().min(16);
        let mut w = [0; 16];
        w[..len].copy_from_slice(&words[..len]);
        Self { label, len, words: w }
    }

    fn words(&self) -> &[u64] {
        &self.words[..self.len]
    }
}

/// Why a protected call failed in the kernel or runtime.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CallError {
    /// The request did not fit a message.
    TooLong,
    /// The server refused the call (runtime-level refusal code).
    Refused(u64),
    /// The kernel call itself failed (e.g. the channel is not granted).
    Kernel,
}

/// Why the stack could not start.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StartError {
    /// A region's setvars are missing (the system file does not map it with `setvar_vaddr`
    /// and `setvar_size`).
    MissingRegion(&'static str),
    /// `net_buffers_ds` is not a dataspace id.
    BadDataspace(u64),
    /// The call to the driver failed.
    Call(CallError),
    /// The driver refused the session.
    Refused(dataspace_api::msg::SessionError),
    /// The driver's reply was not a valid OPEN reply.
    BadReply(dataspace_api::msg::DecodeError),
    /// The driver answered OPEN with another operation's reply.
    UnexpectedReply {
        /// The reply's label.
        label: u64,
        /// Its word count.
        words: usize,
    },
    /// The configuration (setvars, MAC, TSC) is unusable.
    Config(ConfigError),
    /// A queue region is too small or misaligned.
    Queue(ring::LayoutError),
    /// The client's data region is too small.
    ClientRegion(socket_api::DataRegionTooSmall),
    /// A hosted application's port is taken or out of range.
    AppPort(u16),
}

impl fmt::Display for StartError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::MissingRegion(r) => write!(
                f,
                "region `{r}` is not mapped: map it in system.xml with setvar_vaddr=\"{r}\" setvar_size=\"{r}_size\""
            ),
            Self::BadDataspace(v) => write!(f, "setvar `net_buffers_ds` = {v:#x} is not a dataspace id (0..2^32)"),
            Self::Call(CallError::TooLong) => f.write_str("the session request does not fit a message"),
            Self::Call(CallError::Refused(c)) => write!(
                f,
                "the driver refused the session call (code {c:#x}): is the driver PD running and serving channel 1?"
            ),
            Self::Call(CallError::Kernel) => {
                f.write_str("cannot call the driver: system.xml must give the netstack a pp channel (id 1) to the driver")
            }
            Self::Refused(e) => write!(f, "the driver refused the session: {e}"),
            Self::BadReply(e) => write!(f, "the driver's reply to OPEN is malformed: {e}"),
            Self::UnexpectedReply { label, words } => {
                write!(f, "the driver answered OPEN with an unexpected reply (label {label:#x}, {words} words)")
            }
            Self::Config(e) => write!(f, "bad configuration: {e}"),
            Self::Queue(e) => write!(f, "bad queue region: {e}"),
            Self::ClientRegion(e) => write!(f, "bad client data region: {e}"),
            Self::AppPort(p) => write!(f, "cannot host an application on UDP port {p}: the port is taken"),
        }
    }
}

impl From<CallError> for StartError {
    fn from(e: CallError) -> Self {
        Self::Call(e)
    }
}

/// Opens the session over `call` (label, words -> reply): OPEN naming dataspace `ds`; the reply
/// carries the session id and the NIC's MAC.
pub fn open(ds: u32, mut call: impl FnMut(u64, &[u64]) -> Result<Reply, CallError>) -> Result<DriverSession, StartError> {
    // One dataspace: DsList::new cannot fail.
    let list = DsList::new(&[DsId(ds)]).map_err(StartError::Refused)?;
    let req = SessionRequest::Open(list).encode();
    let r = call(req.label, req.mrs())?;
    match SessionReply::decode(true, r.label, r.words()).map_err(StartError::BadReply)? {
        Ok(SessionReply::Opened { session, mac }) => Ok(DriverSession { session, mac }),
        Ok(_) => Err(StartError::UnexpectedReply { label: r.label, words: r.len }),
        Err(e) => Err(StartError::Refused(e)),
    }
}

/// Formats a MAC as `aa:bb:cc:dd:ee:ff`.
pub struct MacDisplay(pub [u8; 6]);

impl fmt::Display for MacDisplay {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let m = self.0;
        write!(f, "{:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}", m[0], m[1], m[2], m[3], m[4], m[5])
    }
}

/// Asks the driver for its counters (DRIVER_STATS; the driver also prints them).
pub fn driver_stats(mut call: impl FnMut(u64, &[u64]) -> Result<Reply, CallError>) -> Result<DriverStats, StartError> {
    let req = SessionRequest::Stats.encode();
    let r = call(req.label, req.mrs())?;
    match SessionReply::decode_stats(r.label, r.words()).map_err(StartError::BadReply)? {
        Ok(SessionReply::Stats(s)) => Ok(s),
        Ok(_) => Err(StartError::UnexpectedReply { label: r.label, words: r.len }),
        Err(e) => Err(StartError::Refused(e)),
    }
}

/// The driver's counters as one `key=value` line (tests parse it).
pub struct DriverStatsLine(pub DriverStats);

impl fmt::Display for DriverStatsLine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = &self.0;
        write!(
            f,
            "driver stats irqs={} rx_packets={} tx_packets={} notify_sent={} notify_suppressed={} xlate_hits={} xlate_misses={} errors={}",
            s.irqs, s.rx_packets, s.tx_packets, s.notify_sent, s.notify_suppressed, s.xlate_hits, s.xlate_misses, s.errors
        )
    }
}
