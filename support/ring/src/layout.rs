//! The bytes both sides of a queue pair agree on: ring header, descriptor slots and the size of
//! a queue-pair region for a given capacity (see the crate docs for the picture).

use crate::sync::AtomicU32;
use core::fmt;

/// Size of a cache line on the machines we target (x86_64): the alignment a region needs.
pub const CACHE_LINE: usize = 64;
/// Distance between the shared index words: two cache lines, because x86's adjacent-line
/// prefetcher moves lines in 128-byte pairs (the bench measured the ring at under half of
/// crossbeam's speed with 64-byte spacing, on par with 128).
pub const INDEX_SPACING: usize = 2 * CACHE_LINE;
/// Byte offset of the producer's `tail` word inside a ring.
pub const TAIL_OFFSET: usize = 0;
/// Byte offset of the consumer's `head` word inside a ring.
pub const HEAD_OFFSET: usize = INDEX_SPACING;
/// Byte offset of the consumer's "signal wanted" word inside a ring.
pub const SIGNAL_OFFSET: usize = 2 * INDEX_SPACING;
/// Byte size of a ring header; the descriptor array starts here.
pub const HEADER_SIZE: usize = 3 * INDEX_SPACING;
/// Byte size of one descriptor slot (`Desc`).
pub const DESC_SIZE: usize = 16;
/// Largest supported capacity. Free-running u32 indices need capacity <= 2^31; we stop far
/// below so every size computation fits in a u32 on any target.
pub const MAX_CAPACITY: u32 = 1 << 20;
/// Descriptor slots a ring has beyond its capacity: two cache lines, so that a producer
/// refilling a full ring writes two lines behind the slot the consumer reads rather than into
/// the same line (or its prefetch pair). The bench measured one-item throughput about doubled.
#[cfg(not(feature = "loom"))]
pub const SLACK_SLOTS: usize = 2 * CACHE_LINE / DESC_SIZE;
/// No slack under loom: the bounded models (2-3 entries through a ring of 2) must reuse slots to
/// check that the index protocol keeps a reused slot's write after the consumer's read; that
/// argument does not depend on how many entries later the reuse comes.
#[cfg(feature = "loom")]
pub const SLACK_SLOTS: usize = 0;

/// Why a ring could not be laid out over a piece of memory.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[allow(missing_docs)] // the fields are the values named in the variant's doc
pub enum LayoutError {
    /// The capacity is zero or not a power of two.
    CapacityNotPowerOfTwo(u32),
    /// The capacity is above [`MAX_CAPACITY`].
    CapacityTooLarge(u32),
    /// The region is smaller than a queue pair of this capacity needs.
    RegionTooSmall { need: usize, have: usize },
    /// The region does not start on a cache line.
    Misaligned { addr: usize },
}

impl fmt::Display for LayoutError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Self::CapacityNotPowerOfTwo(c) => {
                write!(f, "ring capacity {c} is not a power of two: use 1, 2, 4, ... {MAX_CAPACITY}")
            }
            Self::CapacityTooLarge(c) => {
                write!(f, "ring capacity {c} is above the maximum {MAX_CAPACITY}")
            }
            Self::RegionTooSmall { need, have } => write!(
                f,
                "queue-pair region is {have:#x} bytes but this capacity needs {need:#x}: \
                 size the memory region with ring::queue_pair_size"
            ),
            Self::Misaligned { addr } => write!(
                f,
                "queue-pair region at {addr:#x} is not {CACHE_LINE}-byte aligned: map it at a \
                 page-aligned vaddr"
            ),
        }
    }
}

impl core::error::Error for LayoutError {}

/// A validated ring capacity: a power of two in `1..=MAX_CAPACITY`. Each side gets it from the
/// system configuration; it is never read from shared memory.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Capacity(u32);

impl Capacity {
    /// Checks that `n` is a usable capacity.
    pub const fn new(n: u32) -> Result<Self, LayoutError> {
        if n == 0 || !n.is_power_of_two() {
            Err(LayoutError::CapacityNotPowerOfTwo(n))
        } else if n > MAX_CAPACITY {
            Err(LayoutError::CapacityTooLarge(n))
        } else {
            Ok(Self(n))
        }
    }

    /// The number of descriptors a ring holds.
    pub const fn get(self) -> u32 {
        self.0
    }

    /// Descriptor slots of one ring: the capacity plus [`SLACK_SLOTS`].
    pub const fn slots(self) -> usize {
        self.0 as usize + SLACK_SLOTS
    }

    /// Bytes of one ring (header + descriptors), rounded up to a cache line.
    pub const fn ring_bytes(self) -> usize {
        let raw = HEADER_SIZE + DESC_SIZE * self.slots();
        raw.div_ceil(CACHE_LINE) * CACHE_LINE
    }

    /// Bytes of a queue pair (active ring, then free ring).
    pub const fn pair_bytes(self) -> usize {
        2 * self.ring_bytes()
    }
}

/// Bytes a queue-pair region (active + free ring) of `capacity` descriptors per ring needs.
/// Round up to the page size when declaring the memory region in `system.xml`.
pub const fn queue_pair_size(capacity: u32) -> Result<usize, LayoutError> {
    match Capacity::new(capacity) {
        Ok(c) => Ok(c.pair_bytes()),
        Err(e) => Err(e),
    }
}

/// One shared index word alone in its 128-byte block. The padding is atomic words too, so every
/// byte the peer can write is only ever seen through an atomic (no data race, even with a
/// hostile peer scribbling over it).
#[repr(C, align(64))]
#[cfg_attr(not(feature = "loom"), derive(zerocopy::FromBytes, zerocopy::IntoBytes, zerocopy::KnownLayout))]
pub struct IndexLine {
    pub(crate) word: AtomicU32,
    #[cfg(not(feature = "loom"))]
    _pad: [AtomicU32; INDEX_SPACING / 4 - 1],
}

/// The header at the start of every ring. `tail` is written only by the producer, `head` only
/// by the consumer, `signal` set by the consumer and cleared by the producer.
#[repr(C)]
#[cfg_attr(not(feature = "loom"), derive(zerocopy::FromBytes, zerocopy::IntoBytes, zerocopy::KnownLayout))]
pub struct RingHeader {
    pub(crate) tail: IndexLine,
    pub(crate) head: IndexLine,
    pub(crate) signal: IndexLine,
}

/// A descriptor slot in shared memory: the four words of a [`crate::Desc`], in field order.
/// Accessed with relaxed atomics (ordering comes from `tail`/`head`), so a peer writing a slot
/// while we read it gives us a torn value to validate, never undefined behaviour.
#[cfg(not(feature = "loom"))]
#[repr(C)]
#[derive(zerocopy::FromBytes, zerocopy::IntoBytes, zerocopy::KnownLayout)]
pub(crate) struct Slot {
    words: [AtomicU32; 4],
}

#[cfg(not(feature = "loom"))]
impl Slot {
    pub(crate) fn store(&self, d: crate::Desc) {
        use crate::sync::Ordering::Relaxed;
        self.words[0].store(d.dataspace, Relaxed);
        self.words[1].store(d.offset, Relaxed);
        self.words[2].store(d.len, Relaxed);
        self.words[3].store(d.cookie, Relaxed);
    }

    pub(crate) fn load(&self) -> crate::Desc {
        use crate::sync::Ordering::Relaxed;
        crate::Desc {
            dataspace: self.words[0].load(Relaxed),
            offset: self.words[1].load(Relaxed),
            len: self.words[2].load(Relaxed),
            cookie: self.words[3].load(Relaxed),
        }
    }
}

/// Under loom a slot is a checked cell instead: loom then proves that the index protocol alone
/// keeps slot reads and writes apart (it fails the model on any concurrent access), and the
/// model stays small enough to explore exhaustively.
#[cfg(feature = "loom")]
pub(crate) struct Slot {
    cell: loom::cell::UnsafeCell<crate::Desc>,
}

#[cfg(feature = "loom")]
impl Slot {
    pub(crate) fn new() -> Self {
        Self { cell: loom::cell::UnsafeCell::new(crate::Desc::default()) }
    }

    pub(crate) fn store(&self, d: crate::Desc) {
        // SAFETY: loom checks that no other access to this cell is concurrent with this write
        // (the model fails if one is); `Desc` is plain data.
        self.cell.with_mut(|p| unsafe { p.write(d) });
    }

    pub(crate) fn load(&self) -> crate::Desc {
        // SAFETY: as for `store`: loom checks that no write is concurrent with this read.
        self.cell.with(|p| unsafe { p.read() })
    }
}

#[cfg(feature = "loom")]
impl IndexLine {
    pub(crate) fn new() -> Self {
        Self { word: AtomicU32::new(0) }
    }
}

#[cfg(feature = "loom")]
impl RingHeader {
    pub(crate) fn new() -> Self {
        Self { tail: IndexLine::new(), head: IndexLine::new(), signal: IndexLine::new() }
    }
}

// The documented layout, checked at compile time (the loom build uses loom's bigger atomics).
#[cfg(not(feature = "loom"))]
const _: () = {
    use core::mem::{align_of, offset_of, size_of};
    assert!(offset_of!(RingHeader, tail) == TAIL_OFFSET);
    assert!(offset_of!(RingHeader, head) == HEAD_OFFSET);
    assert!(offset_of!(RingHeader, signal) == SIGNAL_OFFSET);
    assert!(size_of::<RingHeader>() == HEADER_SIZE);
    assert!(align_of::<RingHeader>() == CACHE_LINE);
    assert!(size_of::<Slot>() == DESC_SIZE);
    assert!(size_of::<crate::Desc>() == DESC_SIZE);
    assert!(size_of::<CacheLine>() == CACHE_LINE && align_of::<CacheLine>() == CACHE_LINE);
};

/// A cache-line-sized, cache-line-aligned chunk of plain memory: the unit of the owned buffers
/// that [`crate::split`] lays a queue pair over (e.g. `vec![CacheLine::ZERO; n]` in a host test,
/// or a `static` array).
#[repr(C, align(64))]
#[derive(Clone, Copy)]
#[cfg_attr(
    not(feature = "loom"),
    derive(zerocopy::FromBytes, zerocopy::IntoBytes, zerocopy::KnownLayout, zerocopy::Immutable)
)]
pub struct CacheLine(pub [u8; CACHE_LINE]);

impl CacheLine {
    /// An all-zero line.
    pub const ZERO: Self = Self([0; CACHE_LINE]);

    /// How many lines a queue pair of `capacity` needs.
    pub const fn lines_for(capacity: u32) -> Result<usize, LayoutError> {
        match queue_pair_size(capacity) {
            Ok(bytes) => Ok(bytes / CACHE_LINE),
            Err(e) => Err(e),
        }
    }
}
