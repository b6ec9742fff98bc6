//! The two roles of one SPSC ring: `Producer` (writes descriptors, publishes `tail`, decides
//! whether to signal) and `Consumer` (reads descriptors, publishes `head`, asks for a signal
//! before blocking). Each keeps its own indices privately and validates the peer's.

use crate::desc::Desc;
use crate::layout::{Capacity, RingHeader, Slot};
use crate::sync::{fence, Ordering};
use core::fmt;

/// A view of one ring in shared memory: its header and exactly `capacity + SLACK_SLOTS` slots.
///
/// Slot positions are private to each side (a `slot` cursor next to its index, both starting at
/// 0 and moving by one per entry), never derived from an index the peer wrote, so a hostile peer
/// cannot steer an access: every position is below `slots.len()` by construction. There are
/// more slots than entries so that a producer refilling a full ring writes [`SLACK_SLOTS`]
/// slots (two cache lines) behind the consumer's read position instead of into the line the
/// consumer is reading (`make bench`: that chase cost one-item throughput about half).
///
/// [`SLACK_SLOTS`]: crate::SLACK_SLOTS
#[derive(Clone, Copy)]
pub(crate) struct RingRef<'a> {
    pub(crate) header: &'a RingHeader,
    pub(crate) slots: &'a [Slot],
}

// The one-item paths are `#[inline]` so callers in other crates get them inlined (crossbeam's
// generic queue is, which is what `make bench` compares with); the batch paths are not: inlined
// they measured slower, and their call cost is spread over the batch.
impl RingRef<'_> {
    /// The position after `pos`.
    #[inline]
    fn next(&self, pos: u32) -> u32 {
        let p = pos + 1;
        if p as usize == self.slots.len() {
            0
        } else {
            p
        }
    }

    /// Stores `d` in slot `pos` (< `slots.len()`, from our own cursor).
    #[inline]
    fn write(&self, pos: u32, d: Desc) {
        self.slots[pos as usize].store(d);
    }

    /// Copies slot `pos` (< `slots.len()`, from our own cursor) out.
    #[inline]
    fn read(&self, pos: u32) -> Desc {
        self.slots[pos as usize].load()
    }

    /// Writes `descs` into consecutive slots from `pos` (wrapping); returns the slot after.
    #[inline]
    fn write_run(&self, pos: u32, descs: &[Desc]) -> u32 {
        let (wrapped, from_pos) = self.slots.split_at(pos as usize);
        let first = descs.len().min(from_pos.len());
        for (slot, d) in from_pos.iter().zip(&descs[..first]) {
            slot.store(*d);
        }
        for (slot, d) in wrapped.iter().zip(&descs[first..]) {
            slot.store(*d);
        }
        self.advance(pos, descs.len())
    }

    /// Reads consecutive slots from `pos` (wrapping) into `out`; returns the slot after.
    #[inline]
    fn read_run(&self, pos: u32, out: &mut [Desc]) -> u32 {
        let (wrapped, from_pos) = self.slots.split_at(pos as usize);
        let first = out.len().min(from_pos.len());
        let (head, rest) = out.split_at_mut(first);
        for (d, slot) in head.iter_mut().zip(from_pos) {
            *d = slot.load();
        }
        for (d, slot) in rest.iter_mut().zip(wrapped) {
            *d = slot.load();
        }
        self.advance(pos, out.len())
    }

    /// The position `n` after `pos` (`n` is at most the capacity, below `slots.len()`).
    #[inline]
    fn advance(&self, pos: u32, n: usize) -> u32 {
        let p = pos as usize + n;
        (if p >= self.slots.len() { p - self.slots.len() } else { p }) as u32
    }
}

/// The peer moved a shared index in a way no correct peer can. The reader's private state is
/// left as it was; treat the peer as faulty (e.g. close its session).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[allow(missing_docs)] // the fields are the values named in the variant's doc
pub enum PeerError {
    /// The producer's `tail` went backwards.
    TailBackwards { seen: u32, now: u32 },
    /// The producer's `tail` claims more entries than the ring holds.
    TailPastCapacity { head: u32, tail: u32, capacity: u32 },
    /// The consumer's `head` went backwards.
    HeadBackwards { seen: u32, now: u32 },
    /// The consumer's `head` claims it consumed entries that were never published.
    HeadPastTail { head: u32, tail: u32 },
}

impl fmt::Display for PeerError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Self::TailBackwards { seen, now } => write!(
                f,
                "ring producer moved its tail backwards (from {seen} to {now}); \
                 the peer is faulty or hostile"
            ),
            Self::TailPastCapacity { head, tail, capacity } => write!(
                f,
                "ring producer's tail {tail} is {} entries past our head {head}, more than the \
                 capacity {capacity}; the peer is faulty or hostile (or was configured with a \
                 different capacity)",
                tail.wrapping_sub(head)
            ),
            Self::HeadBackwards { seen, now } => write!(
                f,
                "ring consumer moved its head backwards (from {seen} to {now}); \
                 the peer is faulty or hostile"
            ),
            Self::HeadPastTail { head, tail } => write!(
                f,
                "ring consumer's head {head} is past our tail {tail}: it claims entries that were \
                 never published; the peer is faulty or hostile"
            ),
        }
    }
}

impl core::error::Error for PeerError {}

/// Why an `enqueue` did not happen.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EnqueueError {
    /// All slots hold entries the consumer has not taken yet; retry after it catches up.
    Full,
    /// The consumer's `head` is impossible.
    Peer(PeerError),
}

impl From<PeerError> for EnqueueError {
    fn from(e: PeerError) -> Self {
        Self::Peer(e)
    }
}

impl fmt::Display for EnqueueError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Full => f.write_str("ring is full: wait for the consumer to return entries"),
            Self::Peer(e) => e.fmt(f),
        }
    }
}

impl core::error::Error for EnqueueError {}

/// Local counters of a producer handle (never in shared memory).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ProducerStats {
    /// Descriptors published.
    pub enqueued: u64,
    /// `signal_needed` calls that told the caller to signal.
    pub signals_sent: u64,
    /// `signal_needed` calls that found no request, so no kernel call was needed.
    pub signals_suppressed: u64,
}

/// Local counters of a consumer handle (never in shared memory).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ConsumerStats {
    /// Descriptors taken.
    pub dequeued: u64,
    /// Times a signal was requested from the producer.
    pub signals_requested: u64,
    /// Requests withdrawn because the re-check found work.
    pub requests_cancelled: u64,
    /// `prepare_to_block` calls that said it is safe to sleep.
    pub sleeps: u64,
}

/// The writing end of one ring.
pub struct Producer<'a> {
    pub(crate) ring: RingRef<'a>,
    pub(crate) capacity: u32,
    /// Our tail: the next index to fill. Never read back from shared memory.
    pub(crate) tail: u32,
    /// The consumer's head as last validated; `tail - head` is the number in flight.
    pub(crate) head: u32,
    /// The slot our next entry goes to (tracks `tail`; see [`RingRef`]).
    pub(crate) slot: u32,
    pub(crate) stats: ProducerStats,
}

impl<'a> Producer<'a> {
    pub(crate) fn new(ring: RingRef<'a>, capacity: Capacity) -> Self {
        debug_assert_eq!(ring.slots.len(), capacity.slots());
        Self { ring, capacity: capacity.get(), tail: 0, head: 0, slot: 0, stats: ProducerStats::default() }
    }

    /// The capacity this side was configured with.
    pub fn capacity(&self) -> u32 {
        self.capacity
    }

    /// The local counters.
    pub fn stats(&self) -> ProducerStats {
        self.stats
    }

    /// Reads and validates the consumer's head: it may only move forward, up to our tail.
    #[inline]
    fn refresh_head(&mut self) -> Result<(), PeerError> {
        let now = self.ring.header.head.word.load(Ordering::Acquire);
        let in_flight = self.tail.wrapping_sub(self.head);
        let advanced = now.wrapping_sub(self.head);
        if advanced > in_flight {
            return Err(if (advanced as i32) < 0 {
                PeerError::HeadBackwards { seen: self.head, now }
            } else {
                PeerError::HeadPastTail { head: now, tail: self.tail }
            });
        }
        self.head = now;
        Ok(())
    }

    #[inline]
    fn free_known(&self) -> u32 {
        self.capacity - self.tail.wrapping_sub(self.head)
    }

    /// Free slots right now (reads the consumer's head).
    #[inline]
    pub fn free_slots(&mut self) -> Result<u32, PeerError> {
        self.refresh_head()?;
        Ok(self.free_known())
    }

    /// Writes `desc` and publishes it. Call [`Producer::signal_needed`] after the last
    /// enqueue of a batch to learn whether the consumer must be signalled.
    #[inline]
    pub fn enqueue(&mut self, desc: Desc) -> Result<(), EnqueueError> {
        if self.free_known() == 0 {
            self.refresh_head()?;
            if self.free_known() == 0 {
                return Err(EnqueueError::Full);
            }
        }
        self.ring.write(self.slot, desc);
        self.slot = self.ring.next(self.slot);
        self.tail = self.tail.wrapping_add(1);
        self.ring.header.tail.word.store(self.tail, Ordering::Release);
        self.stats.enqueued += 1;
        Ok(())
    }

    /// Writes as many of `descs` as fit and publishes them with one tail update; returns how
    /// many were enqueued (0 when full).
    pub fn enqueue_batch(&mut self, descs: &[Desc]) -> Result<usize, PeerError> {
        if (self.free_known() as usize) < descs.len() {
            self.refresh_head()?;
        }
        let n = descs.len().min(self.free_known() as usize);
        self.slot = self.ring.write_run(self.slot, &descs[..n]);
        if n > 0 {
            self.tail = self.tail.wrapping_add(n as u32);
            self.ring.header.tail.word.store(self.tail, Ordering::Release);
            self.stats.enqueued += n as u64;
        }
        Ok(n)
    }

    /// The producer half of the suppressed-notification protocol, to call after publishing:
    /// `fence(SeqCst)`, then, if the consumer asked for a signal, clear its request and return
    /// `true`: the caller must then signal the consumer (the ring makes no kernel calls).
    /// `false` means the consumer is running (or chose not to be woken): no signal needed.
    ///
    /// Any nonzero value in the signal word counts as a request, so garbage from a hostile
    /// consumer costs at most one signal per call, which it could have asked for anyway.
    #[must_use = "if this returns true the consumer is (about to be) asleep and must be signalled"]
    #[inline]
    pub fn signal_needed(&mut self) -> bool {
        // Orders our tail store before the load of the request (store-buffering pattern: the
        // consumer does the mirror image; Release/Acquire alone would let both miss each other).
        fence(Ordering::SeqCst);
        self.take_signal_request()
    }

    /// Negative control for `tests/loom.rs` only: [`Producer::signal_needed`] without its
    /// SeqCst fence, which loses wake-ups. loom must find it.
    #[cfg(feature = "loom")]
    #[doc(hidden)]
    #[must_use]
    pub fn signal_needed_without_fence_for_loom_control(&mut self) -> bool {
        self.take_signal_request()
    }

    #[inline]
    fn take_signal_request(&mut self) -> bool {
        let word = &self.ring.header.signal.word;
        let wanted = word.load(Ordering::Relaxed) != 0 && word.swap(0, Ordering::Relaxed) != 0;
        if wanted {
            self.stats.signals_sent += 1;
        } else {
            self.stats.signals_suppressed += 1;
        }
        wanted
    }
}

/// The reading end of one ring.
pub struct Consumer<'a> {
    pub(crate) ring: RingRef<'a>,
    pub(crate) capacity: u32,
    /// Our head: the next index to read. Never read back from shared memory.
    pub(crate) head: u32,
    /// The producer's tail as last validated; `tail - head` entries are ready.
    pub(crate) tail: u32,
    /// The slot our next entry comes from (tracks `head`; see [`RingRef`]).
    pub(crate) slot: u32,
    pub(crate) stats: ConsumerStats,
}

impl<'a> Consumer<'a> {
    pub(crate) fn new(ring: RingRef<'a>, capacity: Capacity) -> Self {
        debug_assert_eq!(ring.slots.len(), capacity.slots());
        Self { ring, capacity: capacity.get(), head: 0, tail: 0, slot: 0, stats: ConsumerStats::default() }
    }

    /// The capacity this side was configured with.
    pub fn capacity(&self) -> u32 {
        self.capacity
    }

    /// The local counters.
    pub fn stats(&self) -> ConsumerStats {
        self.stats
    }

    /// Reads and validates the producer's tail: it may only move forward, and never more than
    /// `capacity` entries ahead of our head.
    #[inline]
    fn refresh_tail(&mut self) -> Result<u32, PeerError> {
        let now = self.ring.header.tail.word.load(Ordering::Acquire);
        let seen = self.tail.wrapping_sub(self.head);
        let ready = now.wrapping_sub(self.head);
        if ready < seen || ready > self.capacity {
            return Err(if (now.wrapping_sub(self.tail) as i32) < 0 {
                PeerError::TailBackwards { seen: self.tail, now }
            } else {
                PeerError::TailPastCapacity { head: self.head, tail: now, capacity: self.capacity }
            });
        }
        self.tail = now;
        Ok(ready)
    }

    /// Entries ready to dequeue right now (reads the producer's tail).
    #[inline]
    pub fn available(&mut self) -> Result<u32, PeerError> {
        self.refresh_tail()
    }

    /// Takes the next descriptor, or `None` if the ring is empty.
    #[inline]
    pub fn dequeue(&mut self) -> Result<Option<Desc>, PeerError> {
        if self.tail == self.head && self.refresh_tail()? == 0 {
            return Ok(None);
        }
        let d = self.ring.read(self.slot);
        self.slot = self.ring.next(self.slot);
        self.head = self.head.wrapping_add(1);
        // Release: our reads of the slot happen before the producer may reuse it.
        self.ring.header.head.word.store(self.head, Ordering::Release);
        self.stats.dequeued += 1;
        Ok(Some(d))
    }

    /// Takes up to `out.len()` descriptors with one head update; returns how many.
    pub fn dequeue_batch(&mut self, out: &mut [Desc]) -> Result<usize, PeerError> {
        let mut ready = self.tail.wrapping_sub(self.head) as usize;
        if ready < out.len() {
            ready = self.refresh_tail()? as usize;
        }
        let n = ready.min(out.len());
        self.slot = self.ring.read_run(self.slot, &mut out[..n]);
        if n > 0 {
            self.head = self.head.wrapping_add(n as u32);
            self.ring.header.head.word.store(self.head, Ordering::Release);
            self.stats.dequeued += n as u64;
        }
        Ok(n)
    }

    /// Asks the producer to signal after its next publication. Prefer
    /// [`Consumer::prepare_to_block`], which also does the re-check that makes this safe.
    pub fn request_signal(&mut self) {
        // A swap rather than a store: C11 would be satisfied with a store, but loom tracks the
        // modification order only partially and needs the read half of an RMW to see that this
        // request follows the producer's last clear (else it reports a false lost wake-up).
        // One locked instruction on the way to a kernel call is free.
        self.ring.header.signal.word.swap(1, Ordering::Relaxed);
        self.stats.signals_requested += 1;
    }

    /// Withdraws a request (a signal already on its way arrives anyway; waking for it is
    /// harmless). A consumer that never requests, e.g. a driver with transmissions in flight
    /// whose completion interrupt will wake it, is never signalled.
    pub fn cancel_signal(&mut self) {
        self.ring.header.signal.word.store(0, Ordering::Relaxed);
    }

    /// The consumer half of the suppressed-notification protocol, to call once the ring looks
    /// drained and before waiting for a signal: request a signal, `fence(SeqCst)`, re-check.
    /// `Ok(true)`: the ring is empty and the producer will signal on its next publication, so
    /// it is safe to block. `Ok(false)`: work is ready (any request is withdrawn): keep going.
    pub fn prepare_to_block(&mut self) -> Result<bool, PeerError> {
        if self.tail != self.head {
            return Ok(false); // entries already validated and waiting: no need to look
        }
        self.request_signal();
        // Orders our request before the re-read of the tail; pairs with the producer's fence.
        fence(Ordering::SeqCst);
        if self.available()? > 0 {
            self.cancel_signal();
            self.stats.requests_cancelled += 1;
            return Ok(false);
        }
        self.stats.sleeps += 1;
        Ok(true)
    }
}
