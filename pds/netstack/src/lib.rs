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
//! * [`runner`]: poll until idle on every wake-up, PD counters, the rate-limited stats line.
//! * [`session`]: the stack's side of its session with the driver (OPEN, DRIVER_STATS).
//! * [`startup`]: the PD's start-up sequence ([`startup::start`]: driver session, stack over
//!   the regions, client session or hosted application) and what its `Handler` forwards to
//!   ([`startup::NetstackPd`]), behind the [`startup::Kernel`] trait.
//!
//! The crate makes no kernel calls: the PD binary (`pd/`) declares the setvars and region
//! views, implements [`startup::Kernel`] with the runtime, and forwards its `Handler` to
//! [`startup::NetstackPd`].
#![no_std]
#![deny(unsafe_op_in_unsafe_fn, missing_docs)]
#![forbid(unsafe_code)]

pub mod config;
pub mod device;
pub mod runner;
pub mod session;
pub mod stack;
pub mod startup;
pub mod wire;

#[cfg(feature = "testkit")]
pub mod testkit;

pub use config::{Clock, Config, ConfigError, PoolConfig, SLOT};

pub use device::DeviceStats;
/// Entries per ring of the driver's receive and transmit queue pairs: the driver contract's
/// (`nic_api::QUEUE_CAPACITY`), named here for the PD binary.
pub use nic_api::QUEUE_CAPACITY as DRIVER_QUEUE_CAPACITY;
pub use runner::{PdCounters, Platform, RateLimit, Runner};
pub use stack::{Actions, Netstack, PoolCounts, Pools, Stats, MAX_PORTS};
