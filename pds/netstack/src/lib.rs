//! The network stack PD's logic, host-testable and `no_std`: smoltcp over the NIC driver's
//! queue pairs (DESIGN.md §6, issue 6), the paper's deferred-processing component.
//!
//! * [`device`]: the zero-copy smoltcp `Device` and the packet-buffer pool (`net_buffers`:
//!   receive slots posted to the driver, transmit slots in a local free list), validating every
//!   descriptor the driver hands back.
//! * [`wire`]: the UDP fast path's classification and header writing (smoltcp wire types).
//! * [`stack`]: [`Netstack`]: smoltcp's interface (ARP, IPv4, ICMP echo, UDP port
//!   unreachable), the client session and hosted apps, counters, and `poll -> Actions`.
//! * [`config`]: configuration from setvars, and TSC -> smoltcp time.
//!
//! The crate makes no kernel calls. PD main, in outline:
//! ```text
//! let cfg = Config::from_setvars(mac, ip_addr.get(), prefix_len.get(), gateway.get(), tsc_hz)?;
//! let mut ns = Netstack::new(cfg, net_buffers_region, rx_receiver, tx_sender, rdtsc())?;
//! ns.attach_client(socket_api::server_from_raw(echo_queues, len)?, echo_data_region)?;
//! loop {
//!     let a = ns.poll(rdtsc());
//!     if a.notify_driver() { driver_channel.notify() }
//!     if a.notify_client { client_channel.notify() }
//!     if a.more_work { continue }
//!     wait();   // any notification (driver or client) -> poll again
//! }
//! // protected(client channel, msg) => ns.protected(msg.label, msg.words)
//! ```
#![no_std]
#![deny(unsafe_op_in_unsafe_fn, missing_docs)]
#![forbid(unsafe_code)]

pub mod config;
pub mod device;
pub mod runner;
pub mod session;
pub mod stack;
pub mod wire;

#[cfg(feature = "testkit")]
pub mod testkit;

pub use config::{Clock, Config, ConfigError, PoolConfig, SLOT};

/// Entries per ring of the driver's receive and transmit queue pairs: the driver contract's
/// (`nic_api::QUEUE_CAPACITY`), named here for the PD binary.
pub use nic_api::QUEUE_CAPACITY as DRIVER_QUEUE_CAPACITY;
pub use device::DeviceStats;
pub use runner::{PdCounters, Platform, RateLimit, Runner};
pub use stack::{Actions, Netstack, Stats, MAX_PORTS};
