//! The network stack PD's recovery after a peer restarts (DESIGN.md section 4), in whichever
//! order the monitor's notice and the new instance's first call arrive.
//!
//! * **The driver restarted** (its notice, [`NetstackPd::driver_faulted`]): the stack opens a
//!   new session (the restarted driver's OPEN zeroes both queue regions before it lays its
//!   ends, so both sides start clean), lays new ends over them, takes back every buffer the old
//!   driver held and posts the receive buffers again. A call the dead driver was serving is
//!   refused with `Refusal::RESTARTED`: the OPEN is tried again; if it still fails, the stack
//!   says so once and tries again at every wake-up.
//! * **The client restarted** (its notice, [`NetstackPd::client_faulted`], or a BIND for a
//!   port the client already holds, which only a new instance sends): the stack zeroes the
//!   client's queue region, lays a new end, takes back every delivery slot and unbinds the
//!   client's ports; the new instance binds again. A BIND that came first leaves the notice
//!   owed, so the late notice does not reset the new instance's session. A client's first BIND
//!   (it holds no port yet) also starts from zeroed queues: the client lays its end before the
//!   call and writes nothing until it returns, so whatever an old instance (or, after this
//!   stack's own restart, the client's old session) left there is gone.

use message::{Message, Refusal};
use region::MappedRegion;
use socket_api::msg::Request;

use super::{driver_call, Kernel, NetstackPd};
use crate::session::{self, CallError, StartError};
use crate::DRIVER_QUEUE_CAPACITY;

/// The regions recovery lays new queue ends over (kept from start-up).
pub struct SessionRegions {
    /// The driver's receive queue pair.
    pub rx_queues: MappedRegion,
    /// The driver's transmit queue pair.
    pub tx_queues: MappedRegion,
    /// The client session's queue region (none when an application is hosted).
    pub client_queues: Option<MappedRegion>,
    /// The packet buffers' dataspace, named in OPEN.
    pub ds: u32,
    /// The client's data region's dataspace, named in OPEN too when the stack sends the
    /// client's slots by reference.
    pub client_ds: Option<u32>,
}

/// Recovery's state in the PD.
pub(super) struct Recovery {
    regions: Option<SessionRegions>,
    /// The driver session is lost and not yet reopened.
    pub(super) driver_down: bool,
    /// A failed reopen was reported (once per loss).
    said: bool,
    /// Client fault notices owed by a new instance that bound before its notice came.
    owed: u32,
}

impl Recovery {
    pub(super) fn new(regions: Option<SessionRegions>) -> Self {
        Self { regions, driver_down: false, said: false, owed: 0 }
    }
}

/// Zeroes a queue region (a clean state both ends agree on).
pub(super) fn zero(r: &MappedRegion) {
    let zeros = [0u8; 64];
    for off in (0..r.size()).step_by(64) {
        let _ = r.write(off, &zeros[..64.min(r.size() - off)]);
    }
}

/// Tries of an OPEN refused because the driver restarted under it.
const OPEN_TRIES: usize = 3;

impl NetstackPd<'_> {
    /// The monitor's notice: the driver faulted and is being restarted.
    pub fn driver_faulted(&mut self, k: &mut impl Kernel) {
        k.print(format_args!("the driver faulted (monitor's notice); reopening the driver session"));
        self.recovery.driver_down = true;
        self.recovery.said = false;
        self.reopen(k);
    }

    /// Opens a new driver session and resets the stack's side of it (see the module docs).
    pub(super) fn reopen(&mut self, k: &mut impl Kernel) {
        let Some(r) = &self.recovery.regions else {
            k.print(format_args!("cannot reopen the driver session: the stack was built without its regions"));
            self.recovery.driver_down = false;
            return;
        };
        let mut opened = session::open(r.ds, r.client_ds, driver_call(k));
        for _ in 1..OPEN_TRIES {
            match opened {
                Err(StartError::Call(CallError::Refused(c))) if c == Refusal::RESTARTED.0 => {
                    opened = session::open(r.ds, r.client_ds, driver_call(k));
                }
                _ => break,
            }
        }
        let s = match opened {
            Ok(s) => s,
            Err(e) => {
                if !core::mem::replace(&mut self.recovery.said, true) {
                    k.print(format_args!("cannot reopen the driver session yet: {e}; trying again at each wake-up"));
                }
                return;
            }
        };
        let rx = ring::Receiver::from_region(&r.rx_queues, DRIVER_QUEUE_CAPACITY);
        let tx = ring::Sender::from_region(&r.tx_queues, DRIVER_QUEUE_CAPACITY);
        let (Ok(rx), Ok(tx)) = (rx, tx) else {
            // The same regions laid the first session's ends: cannot fail now.
            k.print(format_args!("cannot lay the driver queues again; networking stays down"));
            return;
        };
        self.runner.stack_mut().reset_driver(rx, tx);
        self.recovery.driver_down = false;
        // Signal unconditionally: the new driver has not asked for anything yet.
        k.notify_driver();
        let _ = self.runner.poll_until_idle(k);
        k.print(format_args!(
            "driver session {} reopened after the driver's restart; {} rx buffers posted",
            s.session,
            self.runner.stack().rx_posted()
        ));
    }

    /// The monitor's notice: the client faulted and is being restarted.
    pub fn client_faulted(&mut self, k: &mut impl Kernel) {
        if self.recovery.owed > 0 {
            self.recovery.owed -= 1;
            k.print(format_args!("the client's fault notice: its new instance has already bound again"));
            return;
        }
        if self.reset_client() {
            k.print(format_args!(
                "the client faulted (monitor's notice); its session queues reset, its delivery slots reclaimed, its ports unbound"
            ));
        }
        let _ = self.runner.poll_until_idle(k);
    }

    /// Before serving the client's call: a BIND from a new instance (or a first BIND) resets
    /// the client's session. True if it did.
    pub(super) fn before_client_call(&mut self, k: &mut impl Kernel, request: &Message) -> bool {
        let Ok(Request::Bind { port }) = Request::decode(request) else {
            return false;
        };
        let stack = self.runner.stack();
        if stack.client_holds(port) {
            self.recovery.owed = self.recovery.owed.saturating_add(1);
            k.print(format_args!(
                "BIND of port {port}, which the client already holds: the client was restarted; its session queues reset"
            ));
            self.reset_client()
        } else if !stack.client_holds_any() {
            self.reset_client()
        } else {
            false
        }
    }

    /// Zeroes the client's queue region and resets the stack's side of the session.
    fn reset_client(&mut self) -> bool {
        let Some(q) = self.recovery.regions.as_ref().and_then(|r| r.client_queues.as_ref()) else {
            return false;
        };
        zero(q);
        match socket_api::server_from_region(q) {
            Ok(end) => {
                self.runner.stack_mut().reset_client(end);
                true
            }
            Err(_) => false,
        }
    }
}
