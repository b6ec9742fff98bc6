//! The driver PD's logic, host-tested: everything the PD binary does besides declaring its
//! setvars and regions and forwarding kernel events. The binary supplies a [`Platform`] (notify
//! the client, ack the IRQ, call the dataspace manager, the clock, the console) and calls
//! [`DriverPd::notified`] and [`DriverPd::protected`].
//!
//! * [`start`]: region checks, chip selection ([`AnyNic`]), the sessions the system file
//!   configures, and the start-up quiesce: reset the device, ack the IRQ, `DEVICE_RESET` to the
//!   manager (it recovers a faulted predecessor's pins).
//! * [`session_fsm`]: the sessions' state machine: OPEN (attach each dataspace, rolling back
//!   on failure), CLOSE (unpin, detach; a direct-mode driver also resets its device),
//!   DRIVER_STATS, each session on its own channel.
//! * [`pool`]: [`PdPool`], the receive pool and client-buffer windows a multi-session driver
//!   copies through.
//! * [`stats`]: the statistics line, the translation witnesses and the periodic-stats rate.
//! * [`nic`]: [`AnyNic`], the one backend type the PD runs (e1000 or DP83820, chosen at start).
//! * `hooks` (feature `test-hooks`, never in the production image): the crash-on-EtherType
//!   tripwire a test PD wraps around the backend.

use core::fmt;

use dataspace_api::msg::{MgrError, MgrReply, MgrRequest};
use message::Message;

use crate::xlate::{CacheXlate, LinkError, MgrLink};

#[cfg(feature = "test-hooks")]
pub mod hooks;
pub mod nic;
pub mod pool;
pub mod session_fsm;
pub mod start;
pub mod stats;
#[cfg(test)]
mod tests;

pub use nic::{AnyNic, Nic};
pub use pool::PdPool;
pub use session_fsm::{DriverPd, State};
pub use start::{Parts, Regions, SessionCfg, SessionRegions, Settings};

pub use nic_api::MAX_SESSIONS;

/// Where the transmit ring starts in `driver_dma` (the receive ring is at 0); `driver_dma` must
/// hold both rings, i.e. at least twice this.
pub const TX_RING_OFFSET: usize = 0x8000;
/// Where a multi-session driver's receive pool starts in `driver_dma` (after both rings); it
/// needs one 2 KiB buffer per receive slot after it.
pub const POOL_OFFSET: usize = 0x10000;

/// Session `k`'s id (what OPEN returns and CLOSE names): `k + 1`.
pub const fn session_id(k: usize) -> u32 {
    k as u32 + 1
}

/// The driver's channel on which session `k`'s client calls and is signalled: `1 + 4k`
/// (1, 5, 9, 13); channel 0 is the IRQ, 2 the dataspace manager.
pub const fn client_channel(k: usize) -> u8 {
    1 + 4 * k as u8
}

/// The id on which the monitor tells the driver that session `k`'s client faulted: `3 + 4k`
/// (3, 7, 11, 15).
pub const fn fault_channel(k: usize) -> u8 {
    3 + 4 * k as u8
}
/// Engine work per event before it polls again (bounded so the client is not starved).
pub const BUDGET: u32 = 64;

/// What the PD binary provides: the kernel and console, as a test can fake them.
pub trait Platform: Clone {
    /// Why a call to the manager failed (the runtime's error).
    type CallError: fmt::Display;
    /// Signals session `k`'s client (channel [`client_channel`]`(k)`); prints a failure itself.
    fn notify_client(&mut self, k: usize);
    /// Acks (unmasks) the NIC's IRQ (channel 0); prints a failure itself.
    fn irq_ack(&mut self);
    /// One PPC to the dataspace manager (channel 2).
    fn call_manager(&mut self, request: &Message) -> Result<Message, Self::CallError>;
    /// Now, in TSC ticks.
    fn now(&self) -> u64;
    /// Prints one console line, prefixed with the PD's name.
    fn print(&self, line: fmt::Arguments<'_>);
    /// Whether a failed call was refused because the manager is stopped (the monitor's
    /// `Refusal::STOPPED`): networking cannot go on, and the driver says so once.
    fn is_stopped(e: &Self::CallError) -> bool {
        let _ = e;
        false
    }
}

/// Prints a line through a [`Platform`].
macro_rules! say {
    ($p:expr, $($arg:tt)*) => { ($p).print(format_args!($($arg)*)) };
}
pub(crate) use say;

/// The manager, reached through the platform (what [`CacheXlate`] calls). Once a call is
/// refused because the manager is stopped, [`Manager::stopped`] says so and failed calls are
/// no longer printed one by one (the driver prints one plain line instead).
#[derive(Clone)]
pub struct Manager<P> {
    platform: P,
    stopped: bool,
}

impl<P: Platform> Manager<P> {
    /// The manager behind `platform`.
    pub fn new(platform: P) -> Self {
        Self { platform, stopped: false }
    }

    /// Whether a call was refused because the manager PD is stopped.
    pub fn stopped(&self) -> bool {
        self.stopped
    }
}

impl<P: Platform> MgrLink for Manager<P> {
    fn call(&mut self, req: &MgrRequest) -> Result<Result<MgrReply, MgrError>, LinkError> {
        let reply = self.platform.call_manager(&req.encode()).map_err(|e| {
            if P::is_stopped(&e) {
                self.stopped = true;
            } else {
                say!(self.platform, "call to the dataspace manager failed: {e}");
            }
            LinkError::Call
        })?;
        MgrReply::decode(req.op(), &reply).map_err(LinkError::Decode)
    }

    fn now(&self) -> u64 {
        self.platform.now()
    }
}

/// The translation adapter the PD runs.
pub type Xlate<P> = CacheXlate<'static, Manager<P>>;
