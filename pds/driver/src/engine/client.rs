//! One session's state inside the engine: its queue ends, its checked dataspaces, its MAC,
//! its counters and the generation that tells its in-flight buffers from a later session's.

use crate::backend::MacAddr;
use crate::session::Session;

/// One session's counters (the device-wide ones are in [`super::Stats`]).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SessionStats {
    /// Frames delivered to this client.
    pub rx_packets: u64,
    /// Bytes delivered to this client.
    pub rx_bytes: u64,
    /// Frames the device sent for this client.
    pub tx_packets: u64,
    /// Bytes the device sent for this client.
    pub tx_bytes: u64,
    /// Frames for this client dropped because its receive queue was full or (pooled mode) it
    /// had posted no free buffer.
    pub rx_dropped_client_full: u64,
    /// Signals to this client.
    pub notify_sent: u64,
    /// Publications to this client that needed no signal.
    pub notify_suppressed: u64,
}

/// An open session.
pub(super) struct Client<'q> {
    /// Receive direction: the driver sends frames (active) and takes empty buffers (free).
    pub(super) rx: ring::Sender<'q>,
    /// Transmit direction: the driver takes frames (active) and returns buffers (free).
    pub(super) tx: ring::Receiver<'q>,
    /// The dataspaces it named, and what it got wrong.
    pub(super) session: Session,
    /// Its station address.
    pub(super) mac: MacAddr,
    /// Its counters.
    pub(super) stats: SessionStats,
    /// Tags the buffers of this opening of the session (a later one gets another).
    pub(super) generation: u32,
}

impl<'q> Client<'q> {
    pub(super) fn new(
        rx: ring::Sender<'q>,
        tx: ring::Receiver<'q>,
        session: Session,
        mac: MacAddr,
        generation: u32,
    ) -> Self {
        Self { rx, tx, session, mac, stats: SessionStats::default(), generation }
    }
}
