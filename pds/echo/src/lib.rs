//! The paper's benchmark service: UDP echo on port 7, host-testable and `no_std`, in two forms.
//!
//! * [`Echo`]: the echo PD's logic. It talks to the network stack over a `socket_api`
//!   session: takes each received datagram record, copies the payload once into one of its
//!   own transmit slots, sends it back to the sender, and returns the receive slot. Bounded
//!   queues everywhere: with no free transmit slot or a full send queue the datagram is
//!   dropped and counted, never waited for.
//! * [`EchoApp`]: the same service as a `socket_api::UdpApp` the network stack hosts in its own
//!   PD (the paper's configuration): the reply is written straight into the transmit frame.
//!
//! * [`service`]: the echo PD around [`Echo`]: [`service::start`] (session views, the BIND
//!   call), [`service::EchoPd`] (poll until idle on every wake-up, the rate-limited statistics
//!   line), behind a small [`service::Platform`] trait the PD binary (`pd/`) implements with
//!   the runtime and the host tests fake.
//!
//! No kernel calls in this crate; the binary in `pd/` only wires it to the PD runtime.
#![no_std]
#![forbid(unsafe_code)]
#![deny(missing_docs)]

use core::cell::Cell;
use core::fmt;
use socket_api::msg::{self, BindError, DecodeError, Request};

pub mod service;
use socket_api::{
    free_desc, ClientEnd, DataLayout, DataRegionTooSmall, Datagram, Endpoint, Region, UdpApp, QUEUE_CAPACITY,
};

/// The echo service's well-known port.
pub const ECHO_PORT: u16 = 7;
/// Most transmit slots the echo tracks.
pub const MAX_SLOTS: usize = 512;

/// Counters of either form of the service.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct EchoStats {
    /// Datagrams received.
    pub received: u64,
    /// Datagrams sent back.
    pub echoed: u64,
    /// Payload copies made (one per echoed datagram).
    pub copies: u64,
    /// Payload bytes copied.
    pub bytes_copied: u64,
    /// Dropped: no free transmit slot.
    pub drop_no_buffer: u64,
    /// Dropped: the send queue to the stack was full.
    pub drop_queue_full: u64,
    /// Polls that stopped with deliveries waiting because every reply slot was out (being
    /// sent); they resume when the stack gives slots back.
    pub starved: u64,
    /// Records from the stack that failed validation.
    pub bad_records: u64,
    /// The stack moved a ring index impossibly.
    pub queue_corrupt: u64,
    /// Signals to the stack requested.
    pub notify_netstack: u64,
    /// `poll` calls.
    pub polls: u64,
}

/// What the echo PD's main must do after [`Echo::poll`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[must_use]
pub struct EchoActions {
    /// Signal the stack (it asked, and there is news: datagrams to send or slots returned).
    pub notify_netstack: bool,
    /// Work remains: poll again instead of blocking.
    pub more_work: bool,
}

/// Why binding the echo port failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EchoError {
    /// The stack refused.
    Refused(BindError),
    /// The stack's reply made no sense.
    BadReply(DecodeError),
}

impl fmt::Display for EchoError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Refused(e) => write!(f, "network stack refused to bind the echo port: {e}"),
            Self::BadReply(e) => write!(f, "network stack's reply to BIND is malformed: {e}"),
        }
    }
}

impl core::error::Error for EchoError {}

/// The echo PD's logic over its session with the stack.
pub struct Echo<'a> {
    end: ClientEnd<'a>,
    data: Region<'a>,
    layout: DataLayout,
    port: u16,
    slots: usize,
    free: [u16; MAX_SLOTS],
    nfree: usize,
    out: [bool; MAX_SLOTS],
    stats: EchoStats,
}

impl<'a> Echo<'a> {
    /// The service over a session (queue region end + data region), answering on `port`.
    pub fn new(end: ClientEnd<'a>, data: Region<'a>, port: u16) -> Result<Self, DataRegionTooSmall> {
        let layout = DataLayout::new(data.len())?;
        let slots = (layout.half() as usize).min(MAX_SLOTS);
        let mut e = Self {
            end,
            data,
            layout,
            port,
            slots,
            free: [0; MAX_SLOTS],
            nfree: 0,
            out: [false; MAX_SLOTS],
            stats: EchoStats::default(),
        };
        for i in (0..slots as u16).rev() {
            e.free[e.nfree] = i;
            e.nfree += 1;
        }
        Ok(e)
    }

    /// The protected call that binds the port (send it to the stack).
    pub fn bind_request(&self) -> msg::Message {
        Request::Bind { port: self.port }.encode()
    }

    /// Checks the stack's reply to [`Echo::bind_request`].
    pub fn bind_reply(&self, reply: &msg::Message) -> Result<(), EchoError> {
        msg::decode_reply(&Request::Bind { port: self.port }, reply)
            .map_err(EchoError::BadReply)?
            .map_err(EchoError::Refused)
    }

    /// Counters.
    pub fn stats(&self) -> EchoStats {
        self.stats
    }

    /// Free transmit slots.
    pub fn free_slots(&self) -> usize {
        self.nfree
    }

    /// The reply slots as a buffer pool (for the monitor's `status`): in all, free, with the
    /// stack (queued to it or being sent).
    pub fn pool(&self) -> (u32, u32, u32) {
        let (size, free) = (self.slots as u32, self.nfree as u32);
        (size, free, size - free)
    }

    /// The stack was restarted: a new end over the session's queue region (zeroed by the
    /// stack when it served our new BIND), and every reply slot free again (the old stack's
    /// queue entries are gone with it).
    pub fn reset(&mut self, end: ClientEnd<'a>) {
        self.end = end;
        self.nfree = 0;
        for i in (0..self.slots as u16).rev() {
            self.free[self.nfree] = i;
            self.nfree += 1;
        }
        self.out = [false; MAX_SLOTS];
    }

    fn reap(&mut self) {
        for _ in 0..=QUEUE_CAPACITY {
            let d = match self.end.from_client.free.dequeue() {
                Ok(Some(d)) => d,
                Ok(None) => return,
                Err(_) => {
                    self.stats.queue_corrupt += 1;
                    return;
                }
            };
            match self.layout.client_index(d.offset) {
                Ok(i) if (i as usize) < self.slots && self.out[i as usize] => {
                    self.out[i as usize] = false;
                    self.free[self.nfree] = i as u16;
                    self.nfree += 1;
                }
                _ => self.stats.bad_records += 1,
            }
        }
    }

    /// Echoes everything the stack delivered, returns its slots, and decides on signals.
    pub fn poll(&mut self) -> EchoActions {
        self.stats.polls += 1;
        self.reap();
        let (mut sent, mut returned, mut more) = (false, false, true);
        // Out of reply slots (they are with the NIC until sent): leave the deliveries queued
        // (the stack holds back) and wait for the slots, rather than drop.
        let mut starved = false;
        for _ in 0..QUEUE_CAPACITY {
            if self.nfree == 0 {
                self.reap();
                if self.nfree == 0 {
                    starved = matches!(self.end.to_client.active.available(), Ok(n) if n > 0);
                    more = false;
                    break;
                }
            }
            let d = match self.end.to_client.active.dequeue() {
                Ok(Some(d)) => d,
                Ok(None) => {
                    more = false;
                    break;
                }
                Err(_) => {
                    self.stats.queue_corrupt += 1;
                    more = false;
                    break;
                }
            };
            let dg = match self.layout.check_from_stack(&d) {
                Ok((dg, _)) if dg.local_port == self.port => dg,
                _ => {
                    self.stats.bad_records += 1;
                    if self.layout.stack_index(d.offset).is_ok() {
                        returned |= self.give_back(d.offset);
                    }
                    continue;
                }
            };
            self.stats.received += 1;
            sent |= self.echo(dg);
            returned |= self.give_back(dg.offset);
        }

        let mut notify = false;
        if sent {
            notify |= self.end.from_client.active.signal_needed();
        }
        if returned {
            notify |= self.end.to_client.free.signal_needed();
        }
        if starved {
            // Deliveries wait: only our slots coming back can let us go on.
            self.stats.starved += 1;
            self.end.to_client.active.cancel_signal();
            match self.end.from_client.free.prepare_to_block() {
                Ok(blocked) => more = !blocked,
                Err(_) => self.stats.queue_corrupt += 1,
            }
        } else if !more {
            match self.end.to_client.active.prepare_to_block() {
                Ok(blocked) => more = !blocked,
                Err(_) => self.stats.queue_corrupt += 1,
            }
            // Our transmit slots come back with each stack poll; ask only when out of them.
            if self.nfree == 0 {
                match self.end.from_client.free.prepare_to_block() {
                    Ok(blocked) => more |= !blocked,
                    Err(_) => self.stats.queue_corrupt += 1,
                }
            } else {
                self.end.from_client.free.cancel_signal();
            }
        }
        self.stats.notify_netstack += u64::from(notify);
        EchoActions { notify_netstack: notify, more_work: more }
    }

    /// Copies the payload once into a transmit slot and queues it back to the sender.
    fn echo(&mut self, dg: Datagram) -> bool {
        if self.nfree == 0 {
            self.reap();
        }
        if self.nfree == 0 {
            self.stats.drop_no_buffer += 1;
            return false;
        }
        let i = self.free[self.nfree - 1];
        let offset = self.layout.client_slot(u32::from(i));
        // After the headroom: the stack writes the headers in front and sends the slot as is.
        if self.data.copy_within(dg.range(), (offset + socket_api::SEND_HEADROOM) as usize).is_none() {
            self.stats.bad_records += 1;
            return false;
        }
        self.stats.copies += 1;
        self.stats.bytes_copied += u64::from(dg.len);
        let reply = Datagram { offset, len: dg.len, remote: dg.remote, local_port: self.port };
        match self.end.from_client.active.enqueue(reply.to_desc()) {
            Ok(()) => {
                self.nfree -= 1;
                self.out[i as usize] = true;
                self.stats.echoed += 1;
                true
            }
            Err(e) => {
                if let ring::EnqueueError::Peer(_) = e {
                    self.stats.queue_corrupt += 1;
                }
                self.stats.drop_queue_full += 1;
                false
            }
        }
    }

    fn give_back(&mut self, offset: u32) -> bool {
        match self.end.to_client.free.enqueue(free_desc(offset)) {
            Ok(()) => true,
            Err(ring::EnqueueError::Full) => false, // cannot happen with a correct stack
            Err(ring::EnqueueError::Peer(_)) => {
                self.stats.queue_corrupt += 1;
                false
            }
        }
    }
}

/// Counters an [`EchoApp`] updates while the stack owns it, readable by its host meanwhile.
#[derive(Debug, Default)]
pub struct EchoCounters(Cell<EchoStats>);

impl EchoCounters {
    /// The counters now.
    pub fn get(&self) -> EchoStats {
        self.0.get()
    }

    fn update(&self, f: impl FnOnce(&mut EchoStats)) {
        let mut s = self.0.get();
        f(&mut s);
        self.0.set(s);
    }
}

/// The hosted echo's statistics line (the stack PD prints it after its own):
/// `echo stats received=.. echoed=.. drop_no_buffer=.. bytes_copied=..`.
#[derive(Clone, Copy, Debug)]
pub struct HostedStatsLine<'s>(pub &'s EchoCounters);

impl fmt::Display for HostedStatsLine<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = self.0.get();
        write!(
            f,
            "echo stats received={} echoed={} drop_no_buffer={} bytes_copied={}",
            s.received, s.echoed, s.drop_no_buffer, s.bytes_copied
        )
    }
}

/// The echo hosted inside the network stack PD (the paper's configuration).
#[derive(Clone, Copy, Debug)]
pub struct EchoApp<'s> {
    port: u16,
    counters: &'s EchoCounters,
}

impl<'s> EchoApp<'s> {
    /// An echo on `port` (normally [`ECHO_PORT`]) counting into `counters`.
    pub fn new(port: u16, counters: &'s EchoCounters) -> Self {
        Self { port, counters }
    }
}

impl UdpApp for EchoApp<'_> {
    fn port(&self) -> u16 {
        self.port
    }

    fn on_datagram(&mut self, payload: &[u8], from: Endpoint, reply: &mut [u8]) -> Option<(usize, Endpoint)> {
        let Some(dst) = reply.get_mut(..payload.len()) else {
            // Longer than a reply can be (the stack never delivers one): drop.
            self.counters.update(|s| {
                s.received += 1;
                s.drop_no_buffer += 1;
            });
            return None;
        };
        dst.copy_from_slice(payload);
        self.counters.update(|s| {
            s.received += 1;
            s.copies += 1;
            s.bytes_copied += payload.len() as u64;
            s.echoed += 1;
        });
        Some((payload.len(), from))
    }
}
