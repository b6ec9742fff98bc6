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

/// Most sessions (clients) one driver serves: the system file's `sessions` setvar is 1..=this
/// (`make check` enforces it). Session `k` is OPENed on the driver's channel `1 + 4k` and has
/// id `k + 1`.
pub const MAX_SESSIONS: usize = 4;

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

/// A NIC the driver supports, by its PCI id.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Chip {
    /// PCI vendor id.
    pub vendor: u16,
    /// PCI device id.
    pub device: u16,
    /// How logs name it.
    pub name: &'static str,
}

impl Chip {
    /// `vendor << 16 | device`: what a `<setvar region_pci_id=..>` gives the driver.
    pub const fn pci_id(&self) -> u64 {
        (self.vendor as u64) << 16 | self.device as u64
    }
}

/// Intel 82540EM (QEMU's `e1000`).
pub const CHIP_82540EM: Chip = Chip { vendor: 0x8086, device: 0x100e, name: "e1000 (82540EM)" };
/// Intel 82574L (QEMU's `e1000e`).
pub const CHIP_82574L: Chip = Chip { vendor: 0x8086, device: 0x10d3, name: "e1000e (82574L)" };
/// National Semiconductor DP83820.
pub const CHIP_DP83820: Chip = Chip { vendor: 0x100b, device: 0x0022, name: "DP83820" };

/// Every NIC the driver has a backend for. A system file lists them as the NIC region's
/// `pci="8086:100e|8086:10d3|100b:0022"` alternatives; the initialiser binds the first present
/// and tells the driver which through `<setvar symbol="nic_pci_id" region_pci_id=".."/>`.
pub const SUPPORTED_CHIPS: [Chip; 3] = [CHIP_82540EM, CHIP_82574L, CHIP_DP83820];

/// The supported chip with PCI id `vendor << 16 | device`, if any.
pub fn chip_for_pci_id(id: u64) -> Option<Chip> {
    SUPPORTED_CHIPS.into_iter().find(|c| c.pci_id() == id)
}
