//! The translation cache: a region shared by the dataspace manager (the only writer) and a
//! driver (the reader) that maps (dataspace, page) to a physical frame, so the driver
//! translates a buffer with a few plain loads and no kernel call on a hit.
//!
//! # Layout
//!
//! The region is an array of [`CacheEntry`], each [`ENTRY_BYTES`] = 32 bytes, `repr(C)`, four
//! little-endian 64-bit words (x86_64 is little-endian; the words are accessed atomically):
//!
//! | word | name     | contents                                                          |
//! |------|----------|-------------------------------------------------------------------|
//! | 0    | `seq`    | sequence: odd while the writer is changing the entry              |
//! | 1    | `tag`    | `dataspace << 32 \| page` the entry translates                    |
//! | 2    | `frame`  | physical frame address (page aligned) `\|` flags in bits 0..12    |
//! | 3    | `expiry` | pin expiry in TSC ticks (absolute), 0 = pinned until unpinned     |
//!
//! Flags: [`FLAG_VALID`] (the entry holds a translation) and [`FLAG_PINNED`] (the page is
//! pinned for this driver: the manager will not reclaim it while the pin holds).
//!
//! Indexing is dense: an attached dataspace owns entries `base .. base + pages`, with `base`
//! from the attach reply, so the entry of page `p` is `base + p`. The tag is checked on every
//! read, so a stale `base` gives a miss, never a wrong frame.
//!
//! # Seqlock protocol
//!
//! Writer (one per table): `seq` := `seq | 1` (odd, whatever parity a previous writer left);
//! release fence; store tag, frame, expiry; `seq` := that odd value + 1 (even, release). Reader: load `seq` (acquire), retry if odd; load the fields;
//! acquire fence; re-load `seq`; accept only if unchanged. A reader gives up after
//! [`MAX_READ_ATTEMPTS`] and reports a miss, and the driver then asks the manager (REFILL),
//! whose reply carries the translation itself. `tests/loom.rs` model-checks this.
use core::fmt;

use crate::sync::{fence, spin_hint, AtomicU64, Ordering};
use crate::{DsId, MIN_PAGE_SIZE};

/// Size of one entry in bytes.
pub const ENTRY_BYTES: usize = 32;
const _: () = assert!(ENTRY_BYTES.is_power_of_two());
/// The entry holds a translation.
pub const FLAG_VALID: u64 = 1 << 0;
/// The page is pinned for this driver (see the entry's expiry).
pub const FLAG_PINNED: u64 = 1 << 1;
/// The bits of the `frame` word that hold flags rather than address bits.
pub const FLAG_MASK: u64 = MIN_PAGE_SIZE - 1;
/// How often a reader retries a read that raced with the writer before treating it as a miss.
pub const MAX_READ_ATTEMPTS: u32 = 4;

/// Bytes a table of `entries` entries needs.
pub const fn table_bytes(entries: usize) -> usize {
    entries * ENTRY_BYTES
}

/// One translation-cache entry as it lies in shared memory (see the module docs for the
/// layout). Its fields are only touched through [`CacheWriter`] and [`CacheReader`].
#[repr(C)]
#[cfg_attr(not(feature = "loom"), derive(zerocopy::FromBytes, zerocopy::IntoBytes, zerocopy::KnownLayout))]
pub struct CacheEntry {
    seq: AtomicU64,
    tag: AtomicU64,
    frame: AtomicU64,
    expiry: AtomicU64,
}

#[cfg(not(feature = "loom"))]
const _: () = assert!(core::mem::size_of::<CacheEntry>() == ENTRY_BYTES);

impl CacheEntry {
    /// An invalid entry (all words zero, the same as fresh zeroed shared memory).
    #[cfg(not(feature = "loom"))]
    pub const fn new() -> Self {
        Self { seq: AtomicU64::new(0), tag: AtomicU64::new(0), frame: AtomicU64::new(0), expiry: AtomicU64::new(0) }
    }

    /// An invalid entry (all words zero, the same as fresh zeroed shared memory).
    #[cfg(feature = "loom")]
    pub fn new() -> Self {
        Self { seq: AtomicU64::new(0), tag: AtomicU64::new(0), frame: AtomicU64::new(0), expiry: AtomicU64::new(0) }
    }
}

#[cfg(feature = "loom")]
impl CacheEntry {
    /// For `tests/loom.rs` only: leaves the entry as a writer that stopped mid-write would
    /// (odd `seq`, `frame` already rewritten).
    #[doc(hidden)]
    pub fn leave_mid_write_for_loom(&self, frame: u64) {
        let seq = self.seq.load(Ordering::Relaxed);
        self.seq.store(seq.wrapping_add(1), Ordering::Relaxed);
        self.frame.store(frame, Ordering::Relaxed);
    }
}

impl Default for CacheEntry {
    fn default() -> Self {
        Self::new()
    }
}

/// What a valid entry says: page `page` of dataspace `ds` is the frame at physical `frame`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Translation {
    /// The dataspace.
    pub ds: DsId,
    /// The page within the dataspace.
    pub page: u32,
    /// Physical address of the page's frame (aligned to [`MIN_PAGE_SIZE`] at least).
    pub frame: u64,
    /// Whether the page is pinned for this driver (check [`Translation::pinned_at`]).
    pub pinned: bool,
    /// When a pin lapses, in TSC ticks (absolute); 0 = held until unpinned.
    pub expiry: u64,
}

impl Translation {
    /// Whether the pin still holds at time `now` (TSC ticks).
    pub const fn pinned_at(&self, now: u64) -> bool {
        self.pinned && (self.expiry == 0 || now < self.expiry)
    }
}

const fn tag_of(ds: DsId, page: u32) -> u64 {
    (ds.0 as u64) << 32 | page as u64
}

/// A table or entry operation the cache refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CacheError {
    /// `index` is past the end of a table of `len` entries.
    IndexOutOfRange {
        /// The index asked for.
        index: usize,
        /// Entries in the table.
        len: usize,
    },
    /// A frame address that is not aligned to [`MIN_PAGE_SIZE`] (its low bits hold flags).
    UnalignedFrame(u64),
    /// A region whose start is not 8-byte aligned.
    MisalignedRegion(usize),
    /// A region whose size is not a multiple of [`ENTRY_BYTES`] (or is zero).
    BadRegionSize(usize),
}

impl fmt::Display for CacheError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Self::IndexOutOfRange { index, len } => {
                write!(f, "translation-cache index {index} is past the table's {len} entries")
            }
            Self::UnalignedFrame(addr) => write!(
                f,
                "frame address {addr:#x} is not aligned to {MIN_PAGE_SIZE} bytes; \
                 the initialiser's frame table is wrong"
            ),
            Self::MisalignedRegion(addr) => {
                write!(f, "translation-cache region at {addr:#x} is not 8-byte aligned; map it page aligned")
            }
            Self::BadRegionSize(len) => write!(
                f,
                "translation-cache region of {len} bytes is not a non-zero multiple of \
                 {ENTRY_BYTES} (one entry)"
            ),
        }
    }
}

/// Views an owned (or otherwise exclusively borrowed) buffer as a table, e.g. in host tests.
/// `bytes` must be 8-byte aligned and a non-zero multiple of [`ENTRY_BYTES`] long.
#[cfg(not(feature = "loom"))]
pub fn table_from_bytes(bytes: &mut [u8]) -> Result<&[CacheEntry], CacheError> {
    use zerocopy::FromBytes;
    let addr = bytes.as_ptr() as usize;
    if addr & (core::mem::align_of::<CacheEntry>() - 1) != 0 {
        return Err(CacheError::MisalignedRegion(addr));
    }
    let len = bytes.len();
    if len == 0 || len & (ENTRY_BYTES - 1) != 0 {
        return Err(CacheError::BadRegionSize(len));
    }
    <[CacheEntry]>::mut_from_bytes(bytes).map(|table| &*table).map_err(|_| CacheError::BadRegionSize(len))
}

/// Views raw shared memory (a mapped memory region, e.g. a setvar address) as a table.
///
/// # Safety
///
/// `base .. base + len` must be memory that stays mapped, readable and writable for `'a`, and
/// that every party (this PD and its peers) accesses only through [`CacheEntry`]'s atomics,
/// i.e. through [`CacheWriter`] / [`CacheReader`] or aligned 64-bit atomic accesses.
/// Alignment and size are checked here. The reader side may map the region read-only: a
/// [`CacheReader`] only performs `Acquire`/`Relaxed` 64-bit atomic loads, which Rust permits on
/// read-only memory.
#[cfg(not(feature = "loom"))]
#[allow(unsafe_code)]
pub unsafe fn table_from_raw<'a>(base: *mut u8, len: usize) -> Result<&'a [CacheEntry], CacheError> {
    let addr = base as usize;
    if base.is_null() || addr & (core::mem::align_of::<CacheEntry>() - 1) != 0 {
        return Err(CacheError::MisalignedRegion(addr));
    }
    if len == 0 || len & (ENTRY_BYTES - 1) != 0 {
        return Err(CacheError::BadRegionSize(len));
    }
    // SAFETY: the pointer is non-null and aligned for `CacheEntry` (checked above); the caller
    // guarantees the `len` bytes stay valid for `'a` and are only accessed atomically, and any
    // bit pattern is a valid `CacheEntry` (four `AtomicU64`s), so a shared slice of
    // `len / ENTRY_BYTES` entries over it is sound.
    Ok(unsafe { core::slice::from_raw_parts(base.cast::<CacheEntry>(), len / ENTRY_BYTES) })
}

/// The table laid over a mapped translation-cache region (from the runtime's `region!`);
/// the manager maps it read-write, the driver may map it read-only. The region is borrowed:
/// the mapping outlives it, so the table is `'static`.
#[cfg(not(feature = "loom"))]
#[allow(unsafe_code)]
pub fn table_from_region(region: &region::MappedRegion) -> Result<&'static [CacheEntry], CacheError> {
    // SAFETY: `MappedRegion`'s invariant: the bytes stay mapped for the rest of the program
    // and nothing in this PD reaches them except through views built from it, which for a
    // cache region are `CacheEntry` atomics only (the writer and reader here).
    unsafe { table_from_raw(region.as_ptr(), region.size()) }
}

/// The manager's side: the single writer of one table.
///
/// There must be exactly one writer per table (the seqlock has no writer-writer exclusion);
/// in the system that is the dataspace manager, and the driver only reads.
pub struct CacheWriter<'a> {
    table: &'a [CacheEntry],
}

impl<'a> CacheWriter<'a> {
    /// The writer of `table`.
    pub fn new(table: &'a [CacheEntry]) -> Self {
        Self { table }
    }

    /// Entries in the table.
    pub fn len(&self) -> usize {
        self.table.len()
    }

    /// Whether the table has no entries.
    pub fn is_empty(&self) -> bool {
        self.table.is_empty()
    }

    fn entry(&self, index: usize) -> Result<&'a CacheEntry, CacheError> {
        self.table.get(index).ok_or(CacheError::IndexOutOfRange { index, len: self.table.len() })
    }

    /// Publishes `t` at `index`, so a reader either sees the old entry or all of `t`.
    pub fn write(&mut self, index: usize, t: &Translation) -> Result<(), CacheError> {
        if t.frame & FLAG_MASK != 0 {
            return Err(CacheError::UnalignedFrame(t.frame));
        }
        let entry = self.entry(index)?;
        let flags = FLAG_VALID | if t.pinned { FLAG_PINNED } else { 0 };
        let expiry = if t.pinned { t.expiry } else { 0 };
        publish(entry, tag_of(t.ds, t.page), t.frame | flags, expiry, true);
        Ok(())
    }

    /// Negative control for `tests/loom.rs` only: [`CacheWriter::write`] without the release
    /// fence after the odd `seq`, which lets a reader accept a torn entry. loom must find it.
    #[cfg(feature = "loom")]
    #[doc(hidden)]
    pub fn write_without_fence_for_loom_control(&mut self, index: usize, t: &Translation) -> Result<(), CacheError> {
        let entry = self.entry(index)?;
        let flags = FLAG_VALID | if t.pinned { FLAG_PINNED } else { 0 };
        publish(entry, tag_of(t.ds, t.page), t.frame | flags, if t.pinned { t.expiry } else { 0 }, false);
        Ok(())
    }

    /// Marks the entry at `index` invalid: once this returns, no reader accepts the old
    /// translation any more (a read that started earlier either finished with it or retries).
    pub fn invalidate(&mut self, index: usize) -> Result<(), CacheError> {
        let entry = self.entry(index)?;
        publish(entry, 0, 0, 0, true);
        Ok(())
    }

    /// The translation currently published at `index` (the writer's own view: exact, since no
    /// one else writes), or `None` if the entry is invalid or out of range.
    pub fn current(&self, index: usize) -> Option<Translation> {
        let entry = self.table.get(index)?;
        decode(
            entry.tag.load(Ordering::Relaxed),
            entry.frame.load(Ordering::Relaxed),
            entry.expiry.load(Ordering::Relaxed),
        )
    }
}

/// `fenced` is false only in the loom negative control.
fn publish(entry: &CacheEntry, tag: u64, frame: u64, expiry: u64, fenced: bool) {
    // Only this writer stores to `seq`, so a relaxed load reads its own last value. That is
    // even unless a previous writer (a manager restarted mid-write) stopped half-way: start
    // from `seq | 1` either way, so the entry is odd while we write and even after, whatever
    // parity we found (deriving both from the found value would flip the parity for good).
    let odd = entry.seq.load(Ordering::Relaxed) | 1;
    entry.seq.store(odd, Ordering::Relaxed);
    // Orders the odd `seq` before the field stores for any reader that sees one of them.
    if fenced {
        fence(Ordering::Release);
    }
    entry.tag.store(tag, Ordering::Relaxed);
    entry.frame.store(frame, Ordering::Relaxed);
    entry.expiry.store(expiry, Ordering::Relaxed);
    entry.seq.store(odd.wrapping_add(1), Ordering::Release);
}

fn decode(tag: u64, frame: u64, expiry: u64) -> Option<Translation> {
    if frame & FLAG_VALID == 0 {
        return None;
    }
    let pinned = frame & FLAG_PINNED != 0;
    Some(Translation {
        ds: DsId((tag >> 32) as u32),
        page: tag as u32,
        frame: frame & !FLAG_MASK,
        pinned,
        expiry: if pinned { expiry } else { 0 },
    })
}

/// A reader's counters, kept locally by the reader (the driver), never in shared memory.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ReaderStats {
    /// Lookups answered from the cache.
    pub hits: u64,
    /// Lookups that found no valid, matching entry (the driver then sends REFILL).
    pub misses: u64,
    /// Reads repeated because the writer was changing the entry.
    pub retries: u64,
    /// Lookups abandoned after [`MAX_READ_ATTEMPTS`] racing reads (also counted as misses).
    pub torn: u64,
}

/// The result of one consistent read of an entry.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Snapshot {
    /// The entry was read consistently and holds this translation (or none: invalid).
    Stable(Option<Translation>),
    /// Every attempt raced with the writer.
    Torn,
}

/// The driver's side: reads a table without ever writing it.
pub struct CacheReader<'a> {
    table: &'a [CacheEntry],
    stats: ReaderStats,
}

impl<'a> CacheReader<'a> {
    /// A reader of `table`, with zeroed counters.
    pub fn new(table: &'a [CacheEntry]) -> Self {
        Self { table, stats: ReaderStats::default() }
    }

    /// Entries in the table.
    pub fn len(&self) -> usize {
        self.table.len()
    }

    /// Whether the table has no entries.
    pub fn is_empty(&self) -> bool {
        self.table.is_empty()
    }

    /// The counters so far.
    pub fn stats(&self) -> ReaderStats {
        self.stats
    }

    /// Translates page `page` of dataspace `ds`, whose entry is `index` (= base + page).
    /// `None` is a miss (invalid entry, another page's entry, an index past the table, or a
    /// read that kept racing with the writer): ask the manager with REFILL.
    pub fn lookup(&mut self, index: usize, ds: DsId, page: u32) -> Option<Translation> {
        let found = match self.snapshot_counted(index) {
            Snapshot::Stable(Some(t)) if t.ds == ds && t.page == page => Some(t),
            Snapshot::Stable(_) => None,
            Snapshot::Torn => {
                self.stats.torn += 1;
                None
            }
        };
        if found.is_some() {
            self.stats.hits += 1;
        } else {
            self.stats.misses += 1;
        }
        found
    }

    /// One consistent read of entry `index`, without touching the hit/miss counters.
    pub fn snapshot(&self, index: usize) -> Snapshot {
        read(self.table.get(index), &mut 0)
    }

    fn snapshot_counted(&mut self, index: usize) -> Snapshot {
        read(self.table.get(index), &mut self.stats.retries)
    }
}

fn read(entry: Option<&CacheEntry>, retries: &mut u64) -> Snapshot {
    let Some(entry) = entry else {
        return Snapshot::Stable(None);
    };
    for attempt in 0..MAX_READ_ATTEMPTS {
        if attempt > 0 {
            *retries += 1;
            spin_hint();
        }
        let before = entry.seq.load(Ordering::Acquire);
        if before & 1 != 0 {
            continue;
        }
        let tag = entry.tag.load(Ordering::Relaxed);
        let frame = entry.frame.load(Ordering::Relaxed);
        let expiry = entry.expiry.load(Ordering::Relaxed);
        // If any field load saw a store made after the writer's release fence, this fence
        // makes the writer's odd `seq` visible to the re-load below, so the check fails.
        fence(Ordering::Acquire);
        if entry.seq.load(Ordering::Relaxed) == before {
            return Snapshot::Stable(decode(tag, frame, expiry));
        }
    }
    Snapshot::Torn
}
