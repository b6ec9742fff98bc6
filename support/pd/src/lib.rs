//! The runtime every protection domain (PD) links: a Microkit-like API over seL4 5.0, in the
//! shape of `sel4-microkit`'s Rust API.
//!
//! ```ignore
//! #![no_std]
//! #![no_main]
//! use pd::{debug_println, Channel, ChannelSet, Handler, Message, Refusal};
//!
//! const SERVER: Channel = Channel::new(1);
//!
//! fn init() -> impl Handler {
//!     debug_println!("{}: up", pd::name());
//!     SERVER.notify().unwrap_or_else(|e| debug_println!("{}: {e}", pd::name()));
//!     Client
//! }
//!
//! struct Client;
//! impl Handler for Client {
//!     fn notified(&mut self, channels: ChannelSet) { /* ... */ }
//! }
//!
//! pd::protection_domain!(init);
//! ```
//!
//! * [`protection_domain!`] names the PD's `init`; the runtime's `_start` runs it and then
//!   the event loop ([`event`]), which calls [`Handler::notified`] with each batch of
//!   signalled channels and [`Handler::protected`] for each PPC (servers only).
//! * [`Channel::notify`], [`Channel::pp_call`] and [`Channel::irq_ack`] check the grants the
//!   system file gave (recorded by the image tool in `__pd_info`): anything not granted is
//!   [`Error::NotGranted`], never a silent no-op and never a fault.
//! * [`IoPort`] gives bounds-checked access to granted x86 I/O port ranges, [`SetVar`] reads
//!   values the system file patches into the image, [`debug_println!`] prints on the kernel's
//!   debug console, and a panic prints `<pd>: panicked at <file>:<line>: <msg>` and then
//!   faults on purpose so the monitor reports the PD.
//!
//! A PD binary is built with `pd-build` (one line in its `build.rs`) and `panic = "abort"`.
#![cfg_attr(not(test), no_std)]

pub mod channel;
pub mod error;
pub mod event;
pub mod grants;
pub mod ioport;
pub mod message;
pub mod pools;
mod print;
pub mod region;
#[cfg(not(test))]
mod rt;
pub mod setvar;
mod state;

pub use channel::{Channel, ChannelSet, Event};
pub use error::{Error, GrantKind};
pub use grants::Grants;
pub use ioport::IoPort;
pub use message::{Message, MessageError, Refusal, REFUSED_LABEL};
pub use pools::Pool;
pub use print::_print;
pub use region::{DmaRegion, MappedRegion, Mmio, RegionError};
pub use setvar::SetVar;
pub use state::{__pd_info, fault_count, generation, grants, name, restarted, tsc, tsc_hz, InfoBlock};

/// What a PD does after `init`: react to notifications and (servers) protected calls.
pub trait Handler {
    /// Called with every channel (and IRQ) that signalled since the last call. The default
    /// says so on the console: a PD that is notified should handle it.
    fn notified(&mut self, channels: ChannelSet) {
        debug_println!("{}: notified on {channels:?}, but it has no notified handler", name());
    }

    /// Called for a PPC through `channel`; the result is the reply (`Err` refuses the call,
    /// and the caller's `pp_call` returns `Error::Refused`).
    fn protected(&mut self, channel: Channel, msg: Message) -> Result<Message, Refusal> {
        debug_println!("{}: refused {msg:?} on {channel}: no protected handler", name());
        Err(Refusal::UNSUPPORTED)
    }
}

/// A handler that does nothing beyond the defaults, for PDs whose work is all in `init`.
#[derive(Clone, Copy, Debug, Default)]
pub struct NullHandler;

impl Handler for NullHandler {
    fn notified(&mut self, _channels: ChannelSet) {}
}

/// Gives the processor to the next runnable PD of the same priority (`seL4_Yield`: this PD goes
/// to the back of its priority's queue; returns at once if no other is runnable). A PD with a
/// backlog calls it between bounded batches, so PDs of one priority share the processor batch
/// by batch rather than a whole time slice at a time.
pub fn yield_now() {
    sel4::syscall::yield_now();
}

/// Faults the PD on purpose (the monitor then reports it); what the panic handler ends with.
#[cfg(not(test))]
pub fn fault() -> ! {
    rt::fault()
}

/// Declares the PD's entry: `pd::protection_domain!(init);` with `fn init() -> impl Handler`.
#[macro_export]
macro_rules! protection_domain {
    ($init:path) => {
        #[no_mangle]
        fn __pd_entry() -> ! {
            $crate::event::run($init())
        }
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ungranted_channel_operations_are_errors_not_kernel_calls() {
        // On the host nothing is granted, and reaching a syscall would crash the test: the
        // errors prove the grant check runs first.
        let ch = Channel::new(3);
        assert_eq!(ch.notify(), Err(Error::NotGranted { kind: GrantKind::Notify, id: 3 }));
        assert_eq!(ch.irq_ack(), Err(Error::NotGranted { kind: GrantKind::Irq, id: 3 }));
        let msg = Message::new(1, &[2]).unwrap();
        assert_eq!(ch.pp_call(&msg), Err(Error::NotGranted { kind: GrantKind::PpCall, id: 3 }));
    }
}
