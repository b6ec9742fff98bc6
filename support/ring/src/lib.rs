//! Shared-memory SPSC queues (free/active pairs) with the suppressed-notification protocol:
//! the one queue design every data-path component uses (DESIGN.md section 6).
//!
//! # Model
//!
//! Per direction a *queue pair* lives in one shared memory region: the **active** ring carries
//! work from a [`Sender`] to a [`Receiver`]; the **free** ring carries buffers back. Each ring
//! is single-producer/single-consumer and lock-free. Entries are [`Desc`] records naming a
//! buffer by `(dataspace, offset, len)` plus an opaque `cookie`, never by pointer, so the
//! region may be mapped at a different vaddr in each PD.
//!
//! # Layout (little-endian, all words `u32`)
//!
//! ```text
//! region offset 0                 active ring
//!   +0x000  tail    (own 128 bytes)  written only by the producer
//!   +0x080  head    (own 128 bytes)  written only by the consumer
//!   +0x100  signal  (own 128 bytes)  consumer sets 1 = "signal me", producer clears to 0
//!   +0x180  desc[capacity + 8]       16 bytes each: dataspace, offset, len, cookie
//!   (padded to a 64-byte boundary)
//! region offset R = ring_bytes     free ring, same layout
//! total = 2 * R = queue_pair_size(capacity),  R = roundup64(384 + 16 * (capacity + 8))
//! ```
//!
//! The region must be 64-byte aligned (a page-aligned map is). Each index word has 128 bytes
//! to itself so the two sides never share a cache line (nor an adjacent-line prefetch pair).
//!
//! `head` and `tail` are free-running u32 counters (they wrap). At most `capacity` entries are
//! in flight, but a ring has [`SLACK_SLOTS`] (8) more slots than that, used in turn: entry `n`
//! (counting from 0 since the region was zeroed) is in slot `n mod (capacity + 8)`. Each side
//! tracks that position itself, next to its index, never from the peer's. The slack keeps a
//! producer refilling a full ring two cache lines behind the slot the consumer reads.
//! The capacity is a power of two (1 ..= [`MAX_CAPACITY`]) that each side gets from the system
//! configuration; it is *not* stored in the region. The region must start zeroed.
//!
//! # Trust
//!
//! Each side keeps its own index privately and never reads it back; the peer's index is
//! validated on every read: a tail that moves backwards or runs more than `capacity` ahead of
//! our head, or a head that moves backwards or past our tail, is a [`PeerError`] and leaves the
//! reader's state unchanged. Every call does bounded work. Descriptors are copied out before
//! use; the server checks them against the session with [`Desc::validate`]. Any nonzero
//! `signal` word counts as a request. All shared words are accessed atomically, so a hostile
//! peer cannot cause undefined behaviour, only errors.
//!
//! # Suppressed notification
//!
//! Producer: write descriptors, publish `tail` (Release), then [`Producer::signal_needed`]:
//! `fence(SeqCst)`, and if the consumer asked, clear the request and tell the caller to signal.
//! Consumer, before blocking: [`Consumer::prepare_to_block`]: request a signal, `fence(SeqCst)`,
//! re-check the ring; if work arrived, withdraw the request and go on, else block. The two
//! fences make this store-buffering pattern safe: either the producer sees the request or the
//! consumer sees the work (model-checked in `tests/loom.rs`). A consumer that never asks (a
//! driver whose tx-complete interrupt will wake it) is never signalled. The crate makes no
//! kernel calls: the PD performs the signal and the wait.
//!
//! ```
//! let mut mem = vec![ring::CacheLine::ZERO; ring::CacheLine::lines_for(8).unwrap()];
//! let (mut tx, mut rx) = ring::split(&mut mem, 8).unwrap();
//! assert!(rx.active.prepare_to_block().unwrap()); // empty: safe to sleep, signal requested
//! tx.active.enqueue(ring::Desc { dataspace: 0, offset: 0, len: 64, cookie: 7 }).unwrap();
//! assert!(tx.active.signal_needed()); // receiver asked: the PD must signal it now
//! assert_eq!(rx.active.dequeue().unwrap().unwrap().cookie, 7);
//! ```
//!
//! # Performance
//!
//! `make bench` (= `cargo run --release -p ring --features bench --bin ring-bench`) runs a
//! producer and a consumer thread through a ring of 512 next to crossbeam's `ArrayQueue` in
//! the same run. Figures from 2026-12-02 on the 2-core dev VM (shared with other jobs), median
//! of 8 alternating runs of each binary, spread of the ratio in brackets:
//!
//! | consumer, batch     | before (9373460)        | after                     |
//! |---------------------|-------------------------|---------------------------|
//! | spins, 1            | 13.6 Mitems/s, 0.41x [0.39..0.47] | 33.8 Mitems/s, 1.15x [0.96..1.28] |
//! | spins, 32           | 219 Mitems/s, 6.8x      | 224 Mitems/s, 7.5x        |
//! | blocks, 1           | 15.0 Mitems/s, 0.29x [0.25..0.37] | 36.3 Mitems/s, 0.72x [0.63..0.86] |
//! | blocks, 32          | 218 Mitems/s, 4.4x      | 224 Mitems/s, 4.5x        |
//!
//! crossbeam itself ran at 30-33 Mitems/s (spinning) and about 50 (blocking). The two changes:
//! the slack slots (the one-item runs keep the ring full, and the producer's refill used to
//! land in the line the consumer was reading) and `#[inline]` on the one-item paths (crossbeam's
//! generic queue is inlined into its caller; ours were calls into another crate). Figures on a
//! loaded machine swing by 2-4x for both queues, so compare within one run.
#![no_std]
#![deny(unsafe_op_in_unsafe_fn, missing_docs)]

mod desc;
mod layout;
mod pair;
mod ring;
mod sync;

pub use desc::{Dataspaces, Desc, DescError};
pub use layout::{
    queue_pair_size, CacheLine, Capacity, LayoutError, RingHeader, CACHE_LINE, DESC_SIZE, HEADER_SIZE, HEAD_OFFSET,
    INDEX_SPACING, MAX_CAPACITY, SIGNAL_OFFSET, SLACK_SLOTS, TAIL_OFFSET,
};
#[cfg(feature = "loom")]
pub use pair::loom_pair;
#[cfg(not(feature = "loom"))]
pub use pair::split;
pub use pair::{Receiver, Sender};
pub use ring::{Consumer, ConsumerStats, EnqueueError, PeerError, Producer, ProducerStats};

#[cfg(all(test, not(feature = "loom")))]
mod tests;
