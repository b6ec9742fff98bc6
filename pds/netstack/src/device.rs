//! The zero-copy smoltcp device over the driver's queue pairs, and the packet-buffer pool.
//!
//! Receive: the stack is the `ring::Receiver` of the driver's rx pair. Every receive slot is
//! either with the driver (posted on the free ring, or filled and waiting on the active ring)
//! or with the stack (being processed). A descriptor from the driver must name a slot that is
//! with the driver, at its exact offset, in the packet dataspace, with `1..=SLOT` bytes;
//! anything else is counted and dropped, so a buggy or hostile driver costs packets, never the
//! stack's state. An [`RxToken`] hands smoltcp the frame in the shared buffer itself; consumed
//! or dropped, it gives the slot back to the driver.
//!
//! Transmit: the stack is the `ring::Sender` of the driver's tx pair. Free transmit slots sit
//! in a local free list; a [`TxToken`] takes one when smoltcp consumes it, smoltcp writes the
//! frame straight into it, and it goes onto the active ring. A token dropped unused takes
//! nothing. Sent slots come back on the free ring (`len == 0` = the driver refused it) and are
//! validated the same way.

use crate::config::{PoolConfig, MAX_FRAME, MAX_SLOTS, SLOT};
use ring::{Desc, EnqueueError};
use smoltcp::phy::{self, DeviceCapabilities, Medium};
use smoltcp::time::Instant;
use socket_api::Region;

/// Counters of the device layer.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DeviceStats {
    /// Frames taken from the driver (valid descriptors).
    pub frames_in: u64,
    /// Bytes in those frames.
    pub bytes_in: u64,
    /// Frames handed to the driver for transmission.
    pub frames_out: u64,
    /// Bytes in those frames.
    pub bytes_out: u64,
    /// Receive descriptors from the driver that failed validation (wrong dataspace, offset,
    /// length, or a slot the driver does not hold).
    pub rx_bad_desc: u64,
    /// Transmit returns from the driver that failed validation.
    pub tx_bad_desc: u64,
    /// Transmit buffers the driver returned with `len == 0` (it refused the frame).
    pub tx_refused: u64,
    /// Frames that could not be sent: no free transmit slot or the transmit ring was full.
    pub tx_no_buffer: u64,
    /// The driver moved a ring index impossibly (`ring::PeerError`).
    pub queue_corrupt: u64,
    /// Receive buffers (re)posted to the driver.
    pub rx_posted: u64,
}

/// A frame taken from the driver: which receive slot, how long.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Frame {
    /// Receive slot index.
    pub slot: u16,
    /// Frame length.
    pub len: u16,
}

/// Where a receive slot is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum SlotState {
    /// The stack holds it (processing, or waiting to be posted).
    Stack,
    /// On the free ring, not yet taken by the driver.
    Posted,
    /// Taken by the driver: only now may it come back filled.
    Taken,
}

/// The receive half: driver rx pair + receive slots.
pub struct RxSide<'a> {
    ring: ring::Receiver<'a>,
    mem: Region<'a>,
    ds: u32,
    slots: u32,
    state: [SlotState; MAX_SLOTS],
    /// Posted slots in the order they went onto the free ring; the driver takes them in this
    /// order, so the free ring's head tells exactly which ones it has taken.
    fifo: [u16; MAX_SLOTS],
    fifo_head: usize,
    fifo_len: usize,
    /// Slots the stack holds that are not posted yet (the free ring was full).
    unposted: [u16; MAX_SLOTS],
    nunposted: usize,
    /// Something was published on the free ring since the last `signal_needed`.
    published: bool,
    /// Counters (shared with the transmit half through `NetDevice::stats`).
    stats: DeviceStats,
}

impl<'a> RxSide<'a> {
    fn new(ring: ring::Receiver<'a>, mem: Region<'a>, pool: &PoolConfig) -> Self {
        let mut s = Self {
            ring,
            mem,
            ds: pool.dataspace,
            slots: pool.rx_slots,
            state: [SlotState::Stack; MAX_SLOTS],
            fifo: [0; MAX_SLOTS],
            fifo_head: 0,
            fifo_len: 0,
            unposted: [0; MAX_SLOTS],
            nunposted: 0,
            published: false,
            stats: DeviceStats::default(),
        };
        for slot in (0..pool.rx_slots as u16).rev() {
            s.unposted[s.nunposted] = slot;
            s.nunposted += 1;
        }
        s
    }

    fn desc(&self, slot: u16) -> Desc {
        Desc { dataspace: self.ds, offset: u32::from(slot) * SLOT, len: SLOT, cookie: u32::from(slot) }
    }

    /// Posts every held-back slot the free ring has room for.
    pub fn post(&mut self) {
        while self.nunposted > 0 {
            let slot = self.unposted[self.nunposted - 1];
            match self.ring.free.enqueue(self.desc(slot)) {
                Ok(()) => {
                    self.nunposted -= 1;
                    self.state[slot as usize] = SlotState::Posted;
                    self.fifo[(self.fifo_head + self.fifo_len) % MAX_SLOTS] = slot;
                    self.fifo_len += 1;
                    self.published = true;
                    self.stats.rx_posted += 1;
                }
                Err(EnqueueError::Full) => break,
                Err(EnqueueError::Peer(_)) => {
                    self.stats.queue_corrupt += 1;
                    break;
                }
            }
        }
    }

    /// Gives a slot the stack is done with back to the driver (or holds it until there is room).
    pub fn give_back(&mut self, slot: u16) {
        if (slot as u32) < self.slots && self.state[slot as usize] == SlotState::Stack && self.nunposted < MAX_SLOTS {
            self.unposted[self.nunposted] = slot;
            self.nunposted += 1;
            self.post();
        }
    }

    /// The next valid frame from the driver, if any. Invalid descriptors are counted and
    /// skipped (a slot that really was the driver's is reclaimed and reposted).
    pub fn next_frame(&mut self) -> Option<Frame> {
        // Bounded: at most one ring's worth of junk per call.
        for _ in 0..=self.ring.active.capacity() {
            let d = match self.ring.active.dequeue() {
                Ok(Some(d)) => d,
                Ok(None) => return None,
                Err(_) => {
                    self.stats.queue_corrupt += 1;
                    return None;
                }
            };
            match self.check(&d) {
                Ok(f) => {
                    self.state[f.slot as usize] = SlotState::Stack;
                    self.stats.frames_in += 1;
                    self.stats.bytes_in += u64::from(f.len);
                    return Some(f);
                }
                Err(reclaim) => {
                    self.stats.rx_bad_desc += 1;
                    if let Some(slot) = reclaim {
                        self.state[slot as usize] = SlotState::Stack;
                        self.give_back(slot);
                    }
                }
            }
        }
        None
    }

    /// Marks the posted slots the driver has taken off the free ring (its head says how many).
    fn sync_taken(&mut self) {
        let Ok(room) = self.ring.free.free_slots() else {
            self.stats.queue_corrupt += 1;
            return;
        };
        let in_ring = (self.ring.free.capacity() - room) as usize;
        while self.fifo_len > in_ring {
            let slot = self.fifo[self.fifo_head];
            self.fifo_head = (self.fifo_head + 1) % MAX_SLOTS;
            self.fifo_len -= 1;
            self.state[slot as usize] = SlotState::Taken;
        }
    }

    /// `Err(Some(slot))`: bad descriptor for a slot the driver did hold (take it back).
    fn check(&mut self, d: &Desc) -> Result<Frame, Option<u16>> {
        if d.dataspace != self.ds || !d.offset.is_multiple_of(SLOT) || d.offset / SLOT >= self.slots {
            return Err(None);
        }
        let slot = (d.offset / SLOT) as u16;
        if self.state[slot as usize] == SlotState::Posted {
            self.sync_taken();
        }
        if self.state[slot as usize] != SlotState::Taken {
            // Delivered twice, still on the free ring, or never posted: not the driver's.
            return Err(None);
        }
        if d.len == 0 || d.len > SLOT {
            return Err(Some(slot));
        }
        Ok(Frame { slot, len: d.len as u16 })
    }

    /// The bytes of a frame the stack holds.
    pub fn frame(&self, f: Frame) -> &[u8] {
        let start = f.slot as usize * SLOT as usize;
        // `next_frame` only yields slots inside the region with len <= SLOT.
        self.mem.get(start..start + f.len as usize).unwrap_or(&[])
    }

    /// Receive slots with the driver right now.
    pub fn posted(&self) -> usize {
        self.state[..self.slots as usize].iter().filter(|s| **s != SlotState::Stack).count()
    }

    pub(crate) fn ring(&mut self) -> &mut ring::Receiver<'a> {
        &mut self.ring
    }

    pub(crate) fn take_published(&mut self) -> bool {
        core::mem::take(&mut self.published)
    }
}

/// The transmit half: driver tx pair + transmit slots.
pub struct TxSide<'a> {
    ring: ring::Sender<'a>,
    /// The client's data region, when the driver session names it: its slots sent by
    /// reference (the client's payload behind headers the stack wrote in its headroom).
    foreign: Option<Foreign>,
    mem: Region<'a>,
    ds: u32,
    base: u32,
    slots: u32,
    free: [u16; MAX_SLOTS],
    nfree: usize,
    with_driver: [bool; MAX_SLOTS],
    /// Where a frame goes that smoltcp insists on writing when no slot is free (dropped).
    scratch: [u8; SLOT as usize],
    published: bool,
    stats: DeviceStats,
}

/// Most client slots that can be out with the driver at once (by reference).
pub const FOREIGN_SLOTS: usize = 256;

/// A client slot sent by reference: not out, out for the current client instance, or out for
/// one that has since been replaced (it comes back to nobody).
#[derive(Clone, Copy, PartialEq, Eq)]
enum Lent {
    No,
    Current,
    Stale,
}

/// The client data region the driver may read (dataspace `ds`), by slot.
struct Foreign {
    ds: u32,
    lent: [Lent; FOREIGN_SLOTS],
    /// Slots the driver has sent, to give back to the client.
    back: [u32; FOREIGN_SLOTS],
    nback: usize,
    /// Slots out for the current client instance.
    current: usize,
}

impl<'a> TxSide<'a> {
    fn new(ring: ring::Sender<'a>, mem: Region<'a>, pool: &PoolConfig) -> Self {
        let mut s = Self {
            ring,
            foreign: None,
            mem,
            ds: pool.dataspace,
            base: pool.rx_slots * SLOT,
            slots: pool.tx_slots,
            free: [0; MAX_SLOTS],
            nfree: 0,
            with_driver: [false; MAX_SLOTS],
            scratch: [0; SLOT as usize],
            published: false,
            stats: DeviceStats::default(),
        };
        for slot in (0..pool.tx_slots as u16).rev() {
            s.free[s.nfree] = slot;
            s.nfree += 1;
        }
        s
    }

    /// Takes back the buffers the driver has sent (or refused).
    pub fn reap(&mut self) {
        for _ in 0..=self.ring.free.capacity() {
            let d = match self.ring.free.dequeue() {
                Ok(Some(d)) => d,
                Ok(None) => return,
                Err(_) => {
                    self.stats.queue_corrupt += 1;
                    return;
                }
            };
            if let Some(f) = self.foreign.as_mut().filter(|f| f.ds == d.dataspace && d.dataspace != self.ds) {
                let i = (d.offset / SLOT) as usize;
                if !d.offset.is_multiple_of(SLOT) || i >= FOREIGN_SLOTS || f.lent[i] == Lent::No {
                    self.stats.tx_bad_desc += 1;
                    continue;
                }
                if d.len == 0 {
                    self.stats.tx_refused += 1;
                }
                if f.lent[i] == Lent::Current {
                    f.back[f.nback] = d.offset;
                    f.nback += 1;
                    f.current -= 1;
                }
                f.lent[i] = Lent::No;
                continue;
            }
            let rel = d.offset.wrapping_sub(self.base);
            let ok = d.dataspace == self.ds
                && d.offset >= self.base
                && rel % SLOT == 0
                && rel / SLOT < self.slots
                && self.with_driver[(rel / SLOT) as usize];
            if !ok {
                self.stats.tx_bad_desc += 1;
                continue;
            }
            if d.len == 0 {
                self.stats.tx_refused += 1;
            }
            let slot = (rel / SLOT) as u16;
            self.with_driver[slot as usize] = false;
            self.release(slot);
        }
    }

    /// Whether a frame can be sent now (a free slot and room on the ring).
    pub fn can_send(&mut self) -> bool {
        if self.nfree == 0 {
            self.reap();
        }
        self.nfree > 0
            && match self.ring.active.free_slots() {
                Ok(n) => n > 0,
                Err(_) => {
                    self.stats.queue_corrupt += 1;
                    false
                }
            }
    }

    /// Takes a free transmit slot.
    pub fn alloc(&mut self) -> Option<u16> {
        if !self.can_send() {
            return None;
        }
        self.nfree -= 1;
        Some(self.free[self.nfree])
    }

    /// Returns an unused slot to the pool.
    pub fn release(&mut self, slot: u16) {
        if self.nfree < MAX_SLOTS {
            self.free[self.nfree] = slot;
            self.nfree += 1;
        }
    }

    /// The whole buffer of a slot the stack holds.
    pub fn buf(&mut self, slot: u16) -> &mut [u8] {
        let start = slot as usize * SLOT as usize;
        self.mem.get_mut(start..start + SLOT as usize).unwrap_or(&mut [])
    }

    /// Hands the first `len` bytes of `slot` to the driver.
    pub fn send(&mut self, slot: u16, len: usize) -> bool {
        let d = Desc {
            dataspace: self.ds,
            offset: self.base + u32::from(slot) * SLOT,
            len: len.min(MAX_FRAME) as u32,
            cookie: u32::from(slot),
        };
        if self.enqueue(d, len) {
            self.with_driver[slot as usize] = true;
            true
        } else {
            self.release(slot);
            false
        }
    }

    /// Queues a frame descriptor to the driver, counting it; false (counted) if the ring is
    /// full or the driver corrupted it.
    fn enqueue(&mut self, d: Desc, len: usize) -> bool {
        match self.ring.active.enqueue(d) {
            Ok(()) => {
                self.published = true;
                self.stats.frames_out += 1;
                self.stats.bytes_out += len as u64;
                true
            }
            Err(e) => {
                if let EnqueueError::Peer(_) = e {
                    self.stats.queue_corrupt += 1;
                }
                self.stats.tx_no_buffer += 1;
                false
            }
        }
    }

    /// Free transmit slots.
    pub fn free_slots(&self) -> usize {
        self.nfree
    }

    /// Lets the stack send the client's slots of dataspace `ds` by reference (the driver
    /// session names it).
    pub fn set_foreign(&mut self, ds: u32) {
        self.foreign =
            Some(Foreign { ds, lent: [Lent::No; FOREIGN_SLOTS], back: [0; FOREIGN_SLOTS], nback: 0, current: 0 });
    }

    /// The current client's slots with the driver: their return must wake the stack (the
    /// client may be waiting for them).
    pub fn foreign_out(&self) -> usize {
        self.foreign.as_ref().map_or(0, |f| f.current)
    }

    /// The dataspace the client's slots are sent from by reference, if any.
    pub fn foreign_ds(&self) -> Option<u32> {
        self.foreign.as_ref().map(|f| f.ds)
    }

    /// Hands the client's slot at `offset` (a frame of `len` bytes: headers the stack wrote in
    /// its headroom, then the client's payload) to the driver as it is. False (nothing
    /// queued) if there is no room on the ring, no foreign dataspace, or the slot is bad or
    /// out already.
    pub fn send_foreign(&mut self, offset: u32, len: usize) -> bool {
        let Some(f) = self.foreign.as_ref() else { return false };
        let i = (offset / SLOT) as usize;
        if !offset.is_multiple_of(SLOT) || i >= FOREIGN_SLOTS || f.lent[i] != Lent::No {
            return false;
        }
        let d = Desc { dataspace: f.ds, offset, len: len.min(MAX_FRAME) as u32, cookie: offset };
        if !self.enqueue(d, len) {
            return false;
        }
        if let Some(f) = self.foreign.as_mut() {
            f.lent[i] = Lent::Current;
            f.current += 1;
        }
        true
    }

    /// The client's slots the driver has sent since the last call (to give back to it).
    pub fn take_foreign_back(&mut self, mut give: impl FnMut(u32)) {
        if let Some(f) = self.foreign.as_mut() {
            for &off in &f.back[..f.nback] {
                give(off);
            }
            f.nback = 0;
        }
    }

    /// The client was replaced: its slots still with the driver come back to nobody (the new
    /// instance starts with every slot its own).
    pub fn forget_foreign(&mut self) {
        if let Some(f) = self.foreign.as_mut() {
            for l in f.lent.iter_mut().filter(|l| **l == Lent::Current) {
                *l = Lent::Stale;
            }
            f.nback = 0;
            f.current = 0;
        }
    }

    pub(crate) fn ring(&mut self) -> &mut ring::Sender<'a> {
        &mut self.ring
    }

    pub(crate) fn take_published(&mut self) -> bool {
        core::mem::take(&mut self.published)
    }
}

/// The smoltcp device: both halves, plus the one frame the stack is letting smoltcp see.
pub struct NetDevice<'a> {
    /// Receive half.
    pub rx: RxSide<'a>,
    /// Transmit half.
    pub tx: TxSide<'a>,
    /// The frame `receive` hands out next (set by the stack before it polls smoltcp).
    pub(crate) pending: Option<Frame>,
}

impl<'a> NetDevice<'a> {
    /// Lays the pool over `net_buffers` (receive slots first) and takes the driver queue ends.
    /// Call [`RxSide::post`] to post the receive buffers.
    pub fn new(net_buffers: Region<'a>, rx: ring::Receiver<'a>, tx: ring::Sender<'a>, pool: &PoolConfig) -> Self {
        let (rx_mem, rest) = net_buffers.split_at((pool.rx_slots * SLOT) as usize);
        let (tx_mem, _) = rest.split_at((pool.tx_slots * SLOT) as usize);
        Self { rx: RxSide::new(rx, rx_mem, pool), tx: TxSide::new(tx, tx_mem, pool), pending: None }
    }

    /// Device counters of both halves.
    pub fn stats(&self) -> DeviceStats {
        let (r, t) = (&self.rx.stats, &self.tx.stats);
        DeviceStats {
            frames_in: r.frames_in,
            bytes_in: r.bytes_in,
            rx_bad_desc: r.rx_bad_desc,
            rx_posted: r.rx_posted,
            frames_out: t.frames_out,
            bytes_out: t.bytes_out,
            tx_bad_desc: t.tx_bad_desc,
            tx_refused: t.tx_refused,
            tx_no_buffer: t.tx_no_buffer,
            queue_corrupt: r.queue_corrupt + t.queue_corrupt,
        }
    }
}

/// A received frame lent to smoltcp: the bytes in the shared buffer. Consumed or dropped, the
/// slot goes back to the driver.
pub struct RxToken<'d, 'a> {
    rx: &'d mut RxSide<'a>,
    frame: Frame,
}

impl phy::RxToken for RxToken<'_, '_> {
    fn consume<R, F: FnOnce(&[u8]) -> R>(self, f: F) -> R {
        f(self.rx.frame(self.frame))
        // `Drop` returns the slot.
    }
}

impl Drop for RxToken<'_, '_> {
    fn drop(&mut self) {
        self.rx.give_back(self.frame.slot);
    }
}

/// A transmit opportunity: takes a slot only when consumed.
pub struct TxToken<'d, 'a> {
    tx: &'d mut TxSide<'a>,
}

impl phy::TxToken for TxToken<'_, '_> {
    fn consume<R, F: FnOnce(&mut [u8]) -> R>(self, len: usize, f: F) -> R {
        // smoltcp never asks for more than the MTU we advertise; anything else is written to
        // scratch and dropped rather than trusted.
        if len <= MAX_FRAME {
            if let Some(slot) = self.tx.alloc() {
                let r = f(&mut self.tx.buf(slot)[..len]);
                self.tx.send(slot, len);
                return r;
            }
        }
        self.tx.stats.tx_no_buffer += 1;
        let n = len.min(self.tx.scratch.len());
        f(&mut self.tx.scratch[..n])
    }
}

impl<'a> phy::Device for NetDevice<'a> {
    type RxToken<'d>
        = RxToken<'d, 'a>
    where
        Self: 'd;
    type TxToken<'d>
        = TxToken<'d, 'a>
    where
        Self: 'd;

    fn receive(&mut self, _now: Instant) -> Option<(Self::RxToken<'_>, Self::TxToken<'_>)> {
        let frame = self.pending.take()?;
        Some((RxToken { rx: &mut self.rx, frame }, TxToken { tx: &mut self.tx }))
    }

    fn transmit(&mut self, _now: Instant) -> Option<Self::TxToken<'_>> {
        if self.tx.can_send() {
            Some(TxToken { tx: &mut self.tx })
        } else {
            None
        }
    }

    fn capabilities(&self) -> DeviceCapabilities {
        let mut caps = DeviceCapabilities::default();
        caps.medium = Medium::Ethernet;
        caps.max_transmission_unit = MAX_FRAME;
        caps
    }
}

/// Recovery (a restarted driver): new queue ends over queues the driver zeroed at OPEN, and
/// every buffer back with the stack, whatever the old driver held; nothing is leaked.
impl<'a> NetDevice<'a> {
    /// Takes the new session's queue ends and reclaims every receive and transmit slot (the
    /// receive slots are posted again by the next [`RxSide::post`]).
    pub fn reset(&mut self, rx: ring::Receiver<'a>, tx: ring::Sender<'a>) {
        let r = &mut self.rx;
        r.ring = rx;
        r.state = [SlotState::Stack; MAX_SLOTS];
        r.fifo_head = 0;
        r.fifo_len = 0;
        r.nunposted = 0;
        for slot in (0..r.slots as u16).rev() {
            r.unposted[r.nunposted] = slot;
            r.nunposted += 1;
        }
        r.published = false;
        let t = &mut self.tx;
        t.ring = tx;
        // The old driver's NIC was reset: the client's slots it held are the client's again.
        if let Some(f) = t.foreign.as_mut() {
            for i in 0..FOREIGN_SLOTS {
                if f.lent[i] == Lent::Current {
                    f.back[f.nback] = (i as u32) * SLOT;
                    f.nback += 1;
                }
                f.lent[i] = Lent::No;
            }
            f.current = 0;
        }
        t.with_driver = [false; MAX_SLOTS];
        t.nfree = 0;
        for slot in (0..t.slots as u16).rev() {
            t.free[t.nfree] = slot;
            t.nfree += 1;
        }
        t.published = false;
        self.pending = None;
    }
}

impl TxSide<'_> {
    /// Transmit slots in all.
    pub fn size(&self) -> usize {
        self.slots as usize
    }

    /// Transmit slots with the driver (queued or being sent).
    pub fn with_driver(&self) -> usize {
        self.with_driver[..self.slots as usize].iter().filter(|w| **w).count()
    }
}

impl RxSide<'_> {
    /// Receive slots in all.
    pub fn size(&self) -> usize {
        self.slots as usize
    }
}
