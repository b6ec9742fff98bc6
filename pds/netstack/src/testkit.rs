//! A [`Netstack`] over net-testkit's fake driver, for host tests (feature `testkit`, uses std):
//! the configuration the system file gives and [`setup`]. The frames, the test addresses and the
//! fake driver end itself ([`net_testkit::Wire`]) are `net_testkit`'s. Used by this crate's
//! tests and by the echo + netstack pipeline tests (`tests/pipeline`).

use crate::config::{Config, PoolConfig, SLOT};
use crate::stack::Netstack;
use crate::DRIVER_QUEUE_CAPACITY;
use net_testkit::{StackEnds, Wire, DS, MAC, QCAP};

// The fake driver's view of the buffers and queues is the stack's.
const _: () = assert!(net_testkit::SLOT == SLOT && QCAP == DRIVER_QUEUE_CAPACITY);

/// TSC ticks per second in tests (1 GHz).
pub const TSC_HZ: u64 = 1_000_000_000;

/// The configuration the system file gives (10.0.2.15/24 via 10.0.2.2).
pub fn config() -> Config {
    let mut c = Config::from_setvars(MAC, 0x0a00_020f, 24, 0x0a00_0202, TSC_HZ).expect("valid test config");
    c.pool = PoolConfig { dataspace: DS, rx_slots: 256, tx_slots: 256 };
    c
}

/// A stack over fresh in-memory queues and buffers, and the fake driver on the other side.
/// The stack has posted its receive buffers; call `poll` once to publish them.
pub fn setup(cfg: Config) -> (Wire, Netstack<'static>) {
    let (wire, StackEnds { buffers, rx, tx }) = Wire::new();
    let ns = Netstack::new(cfg, buffers, rx, tx, 0).expect("stack starts");
    (wire, ns)
}
