//! The contract between the NIC driver PD and its clients (DESIGN.md section 6), stated once:
//! both sides depend on this crate and neither re-declares any of it.
//!
//! * [`msg`]: the session protocol (OPEN, CLOSE, DRIVER_STATS) encoded into and decoded from
//!   the runtime's one [`Message`] type, and its errors ([`SessionError`]).
//! * [`client`]: the client's side of a session over a caller-supplied call function (a PPC in
//!   a PD, a fake in host tests): open naming dataspaces, close, fetch the driver's counters.
//! * [`DriverStats`]: the counters DRIVER_STATS returns, with their one printed form.
//! * [`MacAddr`]: the NIC's station address, with its `aa:bb:cc:dd:ee:ff` form.
//! * Queues and limits: each direction is one `ring` queue pair of [`QUEUE_CAPACITY`] entries
//!   in its own region (`rx_queues`: driver sends, client receives; `tx_queues`: client sends,
//!   driver receives), at least [`QUEUE_REGION_SIZE`] bytes; buffers are named by
//!   `(dataspace, offset, len)` and obey [`RX_BUF_LEN`], [`MIN_TX_FRAME`], [`MAX_FRAME`].
#![no_std]
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod client;
mod mac;
pub mod msg;
mod stats;

pub use dataspace_api::msg::DecodeError;
pub use dataspace_api::DsId;
pub use mac::MacAddr;
pub use message::Message;
pub use msg::{DsList, Op, SessionError, SessionReply, SessionRequest};
pub use stats::DriverStats;

/// Entries of each ring of each client queue pair (both directions). Each side holds it
/// privately; it is never read back from shared memory.
pub const QUEUE_CAPACITY: u32 = 256;

/// Smallest size of each queue region (`rx_queues`, `tx_queues`): one queue pair of
/// [`QUEUE_CAPACITY`] entries.
pub const QUEUE_REGION_SIZE: usize = match ring::queue_pair_size(QUEUE_CAPACITY) {
    Ok(n) => n,
    Err(_) => panic!("QUEUE_CAPACITY must be a valid ring capacity"),
};

/// Most dataspaces one session may name in its OPEN.
pub const MAX_SESSION_DATASPACES: usize = 6;

/// Largest Ethernet frame the driver transmits or delivers, without FCS (no jumbo frames).
pub const MAX_FRAME: u32 = 1514;

/// Smallest frame a client may hand in for transmission: an Ethernet header.
pub const MIN_TX_FRAME: u32 = 14;

/// Bytes of each receive buffer the device may write: a maximal frame (1518 with a VLAN tag,
/// FCS stripped) rounded up. Receive buffers must be at least this long; longer ones are used
/// only up to this length.
pub const RX_BUF_LEN: u32 = 1536;
