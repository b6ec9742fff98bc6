//! The NIC driver PD's logic, host-testable: a device-neutral core ([`engine`]) that moves
//! frames between its clients' shared queues (`ring`; up to four sessions, each its own queues,
//! dataspaces and MAC) and a device's descriptor rings, and two
//! backends behind [`backend::NicBackend`]: [`e1000`] (Intel 82540EM, what QEMU emulates) and
//! [`dp83820`] (NatSemi DP83820, the paper's NIC). Hardware sits behind the traits in [`hw`]
//! so that tests run the same code against the behavioural models in `model` (feature
//! `model`). [`pd`] holds the PD's own logic (sessions, start-up quiesce, statistics) behind
//! a small platform trait, so the PD binary only wires it to the runtime; this crate makes
//! no kernel calls.
//!
//! PD main loop, in outline:
//! ```text
//! let mut a = driver.poll();                       // post the first receive buffers
//! loop {
//!     for k in a.notify.iter() { client_channel(k).notify() }
//!     if a.ack_irq { irq_channel.irq_ack() }
//!     if a.more_work { a = driver.poll(); continue }   // device IRQs stay masked
//!     match wait() {                                   // block for notifications
//!         Irq => a = driver.on_irq(),
//!         Client => a = driver.on_client_notified(),
//!     }
//! }
//! ```
#![no_std]
#![forbid(unsafe_code)]

pub mod backend;
pub mod dp83820;
pub mod e1000;
pub mod engine;
pub mod hw;
pub mod pd;
pub mod session;
pub mod xlate;

#[cfg(any(test, feature = "model"))]
pub mod model;

#[cfg(test)]
mod tests;

pub use backend::{Cause, InitError, MacAddr, NicBackend};
pub use engine::{Actions, Config, Driver, Stats};
pub use hw::{DmaMem, Regs, Translate, XlateError};
pub use session::{BufError, Session, SessionError, SessionErrors};
pub use xlate::{CacheXlate, LinkError, MgrLink, XlateStats};
