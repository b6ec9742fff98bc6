//! The stack's side of its session with the NIC driver (`nic-api`'s client helper): open a
//! session naming the packet-buffer dataspace; its reply names the NIC's MAC. The kernel call
//! is a closure, so this is tested on the host; every way start-up can fail is a
//! [`StartError`] with a message that says what to fix.

use core::fmt;

use message::Message;
pub use nic_api::client::CallError;
use nic_api::client::{self, ClientError};
/// Formats a MAC as `aa:bb:cc:dd:ee:ff` (nic-api's one form).
pub use nic_api::MacAddr as MacDisplay;
use nic_api::{DriverStats, DsId};

use crate::ConfigError;

/// What the PD learned from the driver.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DriverSession {
    /// The session id (for CLOSE).
    pub session: u32,
    /// The NIC's station address.
    pub mac: [u8; 6],
}

/// Why the stack could not start.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StartError {
    /// A region's setvars are missing (the system file does not map it with `setvar_vaddr`
    /// and `setvar_size`).
    MissingRegion(&'static str),
    /// `net_buffers_ds` or `echo_data_ds` is not a dataspace id.
    BadDataspace {
        /// The setvar.
        setvar: &'static str,
        /// Its value.
        value: u64,
    },
    /// The call to the driver failed.
    Call(CallError),
    /// The driver refused the session.
    Refused(nic_api::SessionError),
    /// The driver's reply was not a valid OPEN reply.
    BadReply(nic_api::DecodeError),
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
            Self::BadDataspace { setvar, value } => {
                write!(f, "setvar `{setvar}` = {value:#x} is not a dataspace id (0..2^32)")
            }
            Self::Call(CallError::TooLong) => f.write_str("the session request does not fit a message"),
            Self::Call(CallError::Refused(c)) => write!(
                f,
                "the driver refused the session call (code {c:#x}): is the driver PD running and serving channel 1?"
            ),
            Self::Call(CallError::Kernel) => f.write_str(
                "cannot call the driver: system.xml must give the netstack a pp channel (id 1) to the driver",
            ),
            Self::Refused(e) => write!(f, "the driver refused the session: {e}"),
            Self::BadReply(e) => write!(f, "the driver's reply to OPEN is malformed: {e}"),
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

impl From<ClientError> for StartError {
    fn from(e: ClientError) -> Self {
        match e {
            ClientError::Call(e) => Self::Call(e),
            ClientError::Refused(e) => Self::Refused(e),
            ClientError::BadReply(e) => Self::BadReply(e),
        }
    }
}

/// Opens the session over `call` (a PPC to the driver): OPEN naming the packet buffers'
/// dataspace `ds` and, if given, the client's data region `client_ds` (sent from by
/// reference); the reply carries the session id and the NIC's MAC.
pub fn open(
    ds: u32,
    client_ds: Option<u32>,
    call: impl FnMut(&Message) -> Result<Message, CallError>,
) -> Result<DriverSession, StartError> {
    let both = [DsId(ds), DsId(client_ds.unwrap_or(0))];
    let opened = client::open(&both[..1 + usize::from(client_ds.is_some())], call)?;
    Ok(DriverSession { session: opened.session, mac: opened.mac.0 })
}

/// Asks the driver for its counters (DRIVER_STATS; the driver also prints them).
pub fn driver_stats(call: impl FnMut(&Message) -> Result<Message, CallError>) -> Result<DriverStats, StartError> {
    Ok(client::driver_stats(call)?)
}

/// The driver's counters as the stack prints them: `driver stats ` and nic-api's one form.
pub struct DriverStatsLine(pub DriverStats);

impl fmt::Display for DriverStatsLine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "driver stats {}", self.0)
    }
}
