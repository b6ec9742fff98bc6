//! The UDP session between the network stack PD and a client PD (e.g. the echo service): one
//! definition both sides build against, so either can be replaced (DESIGN.md §6, issue 6).
//!
//! # Shared memory
//!
//! A session uses two regions the system file maps into both PDs:
//!
//! * the **queue region** (`echo_queues`, at least [`QUEUE_REGION_SIZE`] bytes) holds two
//!   `ring` queue pairs of [`QUEUE_CAPACITY`] entries each:
//!   - at [`TO_CLIENT_OFFSET`] the *to-client* pair: the stack is the `ring::Sender` (active =
//!     received datagrams, free = delivery buffers the client is done with);
//!   - at [`FROM_CLIENT_OFFSET`] the *from-client* pair: the client is the `ring::Sender`
//!     (active = datagrams to send, free = the client's buffers coming back once sent).
//! * the **data region** (`echo_data`) holds the payloads, in [`SLOT_SIZE`] slots
//!   ([`DataLayout`]): the first half belongs to the stack (it writes received payloads
//!   there), the second half to the client (it writes payloads to send there, after
//!   [`SEND_HEADROOM`] bytes the stack fills with headers). A side only writes its own half,
//!   and the stack a client slot's headroom while the client has handed the slot over; a side
//!   reads the peer's half only for a buffer the peer handed it.
//!
//! # Records
//!
//! Rings carry `ring::Desc`; on these rings its four words are a [`Datagram`] record:
//! `dataspace` = remote IPv4 address, `offset` = the slot, `len` = the payload's length (at the
//! slot's start from the stack, after [`SEND_HEADROOM`] from the client), `cookie` =
//! `remote_port << 16 | local_port`. Free-ring entries name only the buffer (`offset`).
//! Everything is a value copied out of shared memory and validated before use
//! ([`DataLayout::check_from_client`], [`DataLayout::check_from_stack`]): bounds in the right
//! half of the data region, `len <= MAX_PAYLOAD`, and (stack side) a local port the client
//! bound. A bad record costs the sender its datagram and bumps an error count; it never
//! corrupts the receiver.
//!
//! # Signalling and control
//!
//! Both pairs use the ring's suppressed-notification protocol; the session's channel carries
//! the signals both ways. Ports are bound with a protected call ([`msg`]). A stack can also
//! host an application in its own PD ([`UdpApp`]): the paper's configuration.
#![no_std]
#![deny(unsafe_op_in_unsafe_fn, missing_docs)]

pub mod msg;
mod region;
mod session;

use core::fmt;

pub use region::Region;
pub use session::{client_from_region, server_from_region, split_owned, ClientEnd, ServerEnd};

/// Largest UDP payload carried: an Ethernet MTU of 1500 minus 20 (IPv4) and 8 (UDP) bytes.
pub const MAX_PAYLOAD: u32 = 1472;
/// Bytes per data-region buffer slot (a payload never crosses one).
pub const SLOT_SIZE: u32 = 2048;
/// Bytes a client leaves free at the start of each slot it sends from: the payload to send
/// starts at `offset + SEND_HEADROOM` ([`Datagram::send_range`]). The stack writes the Ethernet,
/// IPv4 and UDP headers (42 bytes) there and, when the data region is a dataspace of its
/// driver session, transmits the slot as it is: the client's copy of the payload is the only
/// one. The slot comes back on the free ring once the NIC has sent it.
pub const SEND_HEADROOM: u32 = 42;

const _: () = assert!(SEND_HEADROOM + MAX_PAYLOAD <= SLOT_SIZE, "a frame fits its slot");
/// Entries per ring of each queue pair.
pub const QUEUE_CAPACITY: u32 = 128;
/// Offset of the to-client queue pair in the queue region.
pub const TO_CLIENT_OFFSET: usize = 0;
/// Offset of the from-client queue pair in the queue region.
pub const FROM_CLIENT_OFFSET: usize = 0x2000;
/// Smallest queue region: both pairs.
pub const QUEUE_REGION_SIZE: usize = 0x4000;

// Each queue pair must fit in its 8 KiB half of the queue region.
const _: () = {
    match ring::queue_pair_size(QUEUE_CAPACITY) {
        Ok(n) => assert!(n <= FROM_CLIENT_OFFSET && FROM_CLIENT_OFFSET + n <= QUEUE_REGION_SIZE),
        Err(_) => panic!("QUEUE_CAPACITY must be a valid ring capacity"),
    }
};

/// An IPv4 address and UDP port.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Endpoint {
    /// IPv4 address, network order octets.
    pub addr: [u8; 4],
    /// UDP port.
    pub port: u16,
}

impl fmt::Display for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let [a, b, c, d] = self.addr;
        write!(f, "{a}.{b}.{c}.{d}:{}", self.port)
    }
}

/// One datagram record: where its payload is and who it is from / for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Datagram {
    /// Byte offset of the payload in the data region.
    pub offset: u32,
    /// Payload length in bytes (`0..=MAX_PAYLOAD`).
    pub len: u32,
    /// The peer on the network: the sender of a received datagram, the destination of one to
    /// send.
    pub remote: Endpoint,
    /// Our port: the one it arrived on, or the one to send from (bound by the client).
    pub local_port: u16,
}

impl Datagram {
    /// The ring descriptor carrying this record.
    pub fn to_desc(&self) -> ring::Desc {
        ring::Desc {
            dataspace: u32::from_be_bytes(self.remote.addr),
            offset: self.offset,
            len: self.len,
            cookie: u32::from(self.remote.port) << 16 | u32::from(self.local_port),
        }
    }

    /// The record in a descriptor, unchecked (see [`DataLayout`] for the checks).
    pub fn from_desc(d: &ring::Desc) -> Self {
        Self {
            offset: d.offset,
            len: d.len,
            remote: Endpoint { addr: d.dataspace.to_be_bytes(), port: (d.cookie >> 16) as u16 },
            local_port: d.cookie as u16,
        }
    }

    /// The byte range of a received datagram's payload (a record from the stack).
    pub fn range(&self) -> core::ops::Range<usize> {
        self.offset as usize..self.offset as usize + self.len as usize
    }

    /// The byte range of the payload of a datagram to send (a record from the client): after
    /// [`SEND_HEADROOM`] bytes of its slot.
    pub fn send_range(&self) -> core::ops::Range<usize> {
        let start = self.offset as usize + SEND_HEADROOM as usize;
        start..start + self.len as usize
    }
}

/// A free-ring entry: hands the buffer at `offset` back to its owner.
pub fn free_desc(offset: u32) -> ring::Desc {
    ring::Desc { dataspace: 0, offset, len: 0, cookie: 0 }
}

/// Why a record or free-ring entry from the peer was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[allow(missing_docs)] // the fields are the values named in the variant's doc
pub enum RecordError {
    /// The buffer does not start on a slot of the half it must be in.
    BadOffset { offset: u32 },
    /// The payload is longer than [`MAX_PAYLOAD`].
    TooLong { len: u32 },
    /// The client names a local port it has not bound.
    PortNotBound { port: u16 },
    /// The remote port is 0 or the remote address is unusable (0.0.0.0 or broadcast).
    BadRemote { remote: Endpoint },
    /// The entry returns a buffer that is not currently out with the peer.
    NotOutstanding { offset: u32 },
}

impl fmt::Display for RecordError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Self::BadOffset { offset } => write!(
                f,
                "record names offset {offset:#x}, which is not the start of a {SLOT_SIZE}-byte \
                 slot in the sender's half of the data region"
            ),
            Self::TooLong { len } => {
                write!(f, "datagram payload of {len} bytes exceeds the maximum of {MAX_PAYLOAD}")
            }
            Self::PortNotBound { port } => {
                write!(f, "local port {port} is not bound by this client: bind it first (BIND)")
            }
            Self::BadRemote { remote } => {
                write!(f, "remote {remote} is not a unicast address with a nonzero port")
            }
            Self::NotOutstanding { offset } => write!(
                f,
                "buffer at offset {offset:#x} was returned but is not out with the peer \
                 (returned twice, or never handed out)"
            ),
        }
    }
}

impl core::error::Error for RecordError {}

/// The data region's slot layout, from its size: stack slots first, then client slots.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DataLayout {
    slots: u32,
}

/// Why a data region cannot hold a session.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DataRegionTooSmall {
    /// Its size in bytes.
    pub size: usize,
}

impl fmt::Display for DataRegionTooSmall {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "data region of {:#x} bytes is too small: it needs at least two {SLOT_SIZE}-byte slots", self.size)
    }
}

impl DataLayout {
    /// Most slots a data region may have (so every offset fits in a u32 with room to spare).
    pub const MAX_SLOTS: u32 = 1 << 16;

    /// The layout of a data region of `size` bytes (a trailing partial slot is unused).
    pub fn new(size: usize) -> Result<Self, DataRegionTooSmall> {
        let slots = (size / SLOT_SIZE as usize).min(Self::MAX_SLOTS as usize) as u32 & !1;
        if slots < 2 {
            return Err(DataRegionTooSmall { size });
        }
        Ok(Self { slots })
    }

    /// Slots in each half.
    pub fn half(&self) -> u32 {
        self.slots / 2
    }

    /// Offset of the stack's slot `i` (`i < half()`).
    pub fn stack_slot(&self, i: u32) -> u32 {
        i * SLOT_SIZE
    }

    /// Offset of the client's slot `i` (`i < half()`).
    pub fn client_slot(&self, i: u32) -> u32 {
        (self.half() + i) * SLOT_SIZE
    }

    /// The stack-half slot index of `offset`, if it is the start of one.
    pub fn stack_index(&self, offset: u32) -> Result<u32, RecordError> {
        if !offset.is_multiple_of(SLOT_SIZE) || offset / SLOT_SIZE >= self.half() {
            return Err(RecordError::BadOffset { offset });
        }
        Ok(offset / SLOT_SIZE)
    }

    /// The client-half slot index of `offset`, if it is the start of one.
    pub fn client_index(&self, offset: u32) -> Result<u32, RecordError> {
        let slot = offset / SLOT_SIZE;
        if !offset.is_multiple_of(SLOT_SIZE) || slot < self.half() || slot >= self.slots {
            return Err(RecordError::BadOffset { offset });
        }
        Ok(slot - self.half())
    }

    fn check_common(d: &Datagram) -> Result<(), RecordError> {
        if d.len > MAX_PAYLOAD {
            return Err(RecordError::TooLong { len: d.len });
        }
        let [a, ..] = d.remote.addr;
        if d.remote.port == 0 || d.remote.addr == [0; 4] || d.remote.addr == [255; 4] || a >= 224 {
            return Err(RecordError::BadRemote { remote: d.remote });
        }
        Ok(())
    }

    /// Stack side: checks a datagram the client wants sent. Returns it and its client slot.
    pub fn check_from_client(
        &self,
        desc: &ring::Desc,
        bound: impl Fn(u16) -> bool,
    ) -> Result<(Datagram, u32), RecordError> {
        let d = Datagram::from_desc(desc);
        let slot = self.client_index(d.offset)?;
        Self::check_common(&d)?;
        if !bound(d.local_port) {
            return Err(RecordError::PortNotBound { port: d.local_port });
        }
        Ok((d, slot))
    }

    /// Client side: checks a datagram the stack delivered. Returns it and its stack slot.
    pub fn check_from_stack(&self, desc: &ring::Desc) -> Result<(Datagram, u32), RecordError> {
        let d = Datagram::from_desc(desc);
        let slot = self.stack_index(d.offset)?;
        Self::check_common(&d)?;
        Ok((d, slot))
    }
}

/// An application hosted inside the network stack PD (the paper's configuration: no session,
/// no second PD). The stack calls it for each valid datagram to its port with a reply buffer
/// that is the payload area of a transmit frame, so a reply costs the application one copy and
/// the stack none.
pub trait UdpApp {
    /// The UDP port the application serves.
    fn port(&self) -> u16;

    /// A datagram `payload` arrived from `from`. To answer, write at most `reply.len()` bytes
    /// (always `MAX_PAYLOAD`) into `reply` and return their count and the destination; `None`
    /// sends nothing.
    fn on_datagram(&mut self, payload: &[u8], from: Endpoint, reply: &mut [u8]) -> Option<(usize, Endpoint)>;
}

#[cfg(test)]
mod tests;
