//! One direction of the data path: an *active* ring (work) and a *free* ring (buffers coming
//! back) in one region, and the two ends that use it: `Sender` and `Receiver`. Also the ways to
//! lay a pair over memory: shared memory from the system file, an owned buffer, or loom.

use crate::layout::{Capacity, LayoutError};
use crate::ring::{Consumer, Producer, RingRef};

/// The end that hands out work: produces on the active ring, takes buffers back from the free
/// ring. E.g. a client's transmit side, or the driver's receive side.
pub struct Sender<'a> {
    /// Work to the receiver.
    pub active: Producer<'a>,
    /// Buffers the receiver is done with.
    pub free: Consumer<'a>,
}

/// The end that does the work: consumes the active ring, returns buffers on the free ring.
pub struct Receiver<'a> {
    /// Work from the sender.
    pub active: Consumer<'a>,
    /// Buffers handed back to the sender.
    pub free: Producer<'a>,
}

fn ends<'a>(
    active: RingRef<'a>,
    active_peer: RingRef<'a>,
    free: RingRef<'a>,
    free_peer: RingRef<'a>,
    cap: Capacity,
) -> (Sender<'a>, Receiver<'a>) {
    (
        Sender { active: Producer::new(active, cap), free: Consumer::new(free, cap) },
        Receiver { active: Consumer::new(active_peer, cap), free: Producer::new(free_peer, cap) },
    )
}

#[cfg(not(feature = "loom"))]
mod memory {
    use super::*;
    use crate::layout::{CacheLine, RingHeader, Slot, CACHE_LINE};
    use region::MappedRegion;
    use zerocopy::{FromBytes, IntoBytes};

    fn check(addr: usize, len: usize, cap: Capacity) -> Result<(), LayoutError> {
        if addr & (CACHE_LINE - 1) != 0 {
            return Err(LayoutError::Misaligned { addr });
        }
        if len < cap.pair_bytes() {
            return Err(LayoutError::RegionTooSmall { need: cap.pair_bytes(), have: len });
        }
        Ok(())
    }

    /// Views `bytes` (one ring's worth) as header + slots; zerocopy checks size and alignment.
    fn ring_over(bytes: &mut [u8], cap: Capacity) -> Result<RingRef<'_>, LayoutError> {
        let addr = bytes.as_ptr() as usize;
        let have = bytes.len();
        let too_small = LayoutError::RegionTooSmall { need: cap.pair_bytes(), have };
        let (header, rest) = RingHeader::mut_from_prefix(bytes).map_err(|_| LayoutError::Misaligned { addr })?;
        let (slots, _) = <[Slot]>::mut_from_prefix_with_elems(rest, cap.slots()).map_err(|_| too_small)?;
        Ok(RingRef { header, slots })
    }

    /// Lays a queue pair over an owned buffer (zeroing it) and returns both ends. Safe: the
    /// exclusive borrow guarantees nobody else touches the memory while the ends live. For host
    /// tests and single-address-space use; PDs use [`Sender::from_region`]/[`Receiver::from_region`].
    pub fn split(mem: &mut [CacheLine], capacity: u32) -> Result<(Sender<'_>, Receiver<'_>), LayoutError> {
        let cap = Capacity::new(capacity)?;
        let bytes = mem.as_mut_bytes();
        check(bytes.as_ptr() as usize, bytes.len(), cap)?;
        bytes.fill(0);
        let (active, free) = bytes.split_at_mut(cap.ring_bytes());
        let active = ring_over(active, cap)?;
        let free = ring_over(free, cap)?;
        // Both ends share the rings: `&RingHeader` is all atomics, so sharing is sound.
        Ok(ends(active, active, free, free, cap))
    }

    /// # Safety
    /// As for [`Sender::from_raw`].
    unsafe fn rings_from_raw<'a>(
        ptr: *mut u8,
        len: usize,
        capacity: u32,
    ) -> Result<(RingRef<'a>, RingRef<'a>, Capacity), LayoutError> {
        let cap = Capacity::new(capacity)?;
        check(ptr as usize, len, cap)?;
        let ring = |offset: usize| {
            // SAFETY: `check` showed that `ptr` is cache-line aligned and that `len` covers both
            // rings, so `offset` (0 or `ring_bytes`, a multiple of the line size) and the
            // `HEADER_SIZE + capacity * DESC_SIZE` bytes after it are inside the region. The
            // caller guarantees the region is valid for reads and writes for `'a` and is only
            // accessed atomically by others; header and slots consist solely of `AtomicU32`s
            // (the layout is checked at compile time), which have no invalid bit patterns, so
            // shared references to them are sound even while the peer writes to the memory.
            unsafe {
                let base = ptr.add(offset);
                let header = &*(base as *const RingHeader);
                let slots =
                    core::slice::from_raw_parts(base.add(crate::layout::HEADER_SIZE) as *const Slot, cap.slots());
                RingRef { header, slots }
            }
        };
        Ok((ring(0), ring(cap.ring_bytes()), cap))
    }

    impl<'a> Sender<'a> {
        /// The sender's end of a queue pair in shared memory (mapped at any vaddr; the layout
        /// holds no pointers). `capacity` must be the one the system configured for this pair,
        /// never a value read from the region.
        ///
        /// # Safety
        /// `ptr..ptr+len` must be memory valid for reads and writes for all of `'a` (e.g. a
        /// region the system file maps into this PD, never unmapped while the PD runs), and
        /// nothing in this address space may access it other than through this crate's handles
        /// (the peer in another PD may write anything: every value read is validated). The
        /// region should be zeroed before either end first uses it (fresh frames are). Create
        /// at most one `Sender` per region; a second one breaks the queue, not memory safety.
        pub unsafe fn from_raw(ptr: *mut u8, len: usize, capacity: u32) -> Result<Self, LayoutError> {
            // SAFETY: forwarded from our caller.
            let (active, free, cap) = unsafe { rings_from_raw(ptr, len, capacity)? };
            Ok(Sender { active: Producer::new(active, cap), free: Consumer::new(free, cap) })
        }
    }

    impl Sender<'static> {
        /// The sender's end of the queue pair in a mapped region (how a PD gets it: the
        /// region comes from the runtime's `region!`). `capacity` is the one the contract
        /// fixes for this pair, never a value read from the region. The region is only
        /// borrowed: the mapping outlives it, so the ends are `'static`; a second end of the
        /// same kind over one region breaks the queue, not memory safety.
        pub fn from_region(region: &MappedRegion, capacity: u32) -> Result<Self, LayoutError> {
            Self::from_region_at(region, 0, region.size(), capacity)
        }

        /// The sender's end of a queue pair laid at `offset .. offset + len` inside a mapped
        /// region (a region that holds several pairs); outside the region is
        /// [`LayoutError::RegionTooSmall`].
        pub fn from_region_at(
            region: &MappedRegion,
            offset: usize,
            len: usize,
            capacity: u32,
        ) -> Result<Self, LayoutError> {
            let ptr = part(region, offset, len)?;
            // SAFETY: `MappedRegion`'s invariant: its `size` bytes stay mapped for the rest of
            // the program and nothing in this address space reaches them except through views
            // built from it, which for a queue region are this crate's atomic handles only;
            // `part` checked that `offset .. offset + len` lies inside it.
            unsafe { Self::from_raw(ptr, len, capacity) }
        }
    }

    impl Receiver<'static> {
        /// The receiver's end of the queue pair in a mapped region; see
        /// [`Sender::from_region`].
        pub fn from_region(region: &MappedRegion, capacity: u32) -> Result<Self, LayoutError> {
            Self::from_region_at(region, 0, region.size(), capacity)
        }

        /// The receiver's end of a queue pair inside a mapped region; see
        /// [`Sender::from_region_at`].
        pub fn from_region_at(
            region: &MappedRegion,
            offset: usize,
            len: usize,
            capacity: u32,
        ) -> Result<Self, LayoutError> {
            let ptr = part(region, offset, len)?;
            // SAFETY: as in `Sender::from_region_at`.
            unsafe { Self::from_raw(ptr, len, capacity) }
        }
    }

    /// The start of `offset .. offset + len` inside `region`, or the error a short region gets.
    fn part(region: &MappedRegion, offset: usize, len: usize) -> Result<*mut u8, LayoutError> {
        match offset.checked_add(len) {
            Some(end) if end <= region.size() => Ok(region.as_ptr().wrapping_add(offset)),
            _ => Err(LayoutError::RegionTooSmall { need: offset.saturating_add(len), have: region.size() }),
        }
    }

    impl<'a> Receiver<'a> {
        /// The receiver's end of a queue pair in shared memory; see [`Sender::from_raw`].
        ///
        /// # Safety
        /// As for [`Sender::from_raw`], with "at most one `Receiver` per region".
        pub unsafe fn from_raw(ptr: *mut u8, len: usize, capacity: u32) -> Result<Self, LayoutError> {
            // SAFETY: forwarded from our caller.
            let (active, free, cap) = unsafe { rings_from_raw(ptr, len, capacity)? };
            Ok(Receiver { active: Consumer::new(active, cap), free: Producer::new(free, cap) })
        }
    }
}

#[cfg(not(feature = "loom"))]
pub use memory::split;

/// Under loom the shared memory is made of loom's atomics, so it is built as Rust values
/// rather than laid over bytes. Leaked (a few hundred bytes per explored execution) so that the
/// ends are `'static` and can move into `loom::thread::spawn`.
#[cfg(feature = "loom")]
pub fn loom_pair(capacity: u32) -> Result<(Sender<'static>, Receiver<'static>), LayoutError> {
    extern crate std;
    use crate::layout::{RingHeader, Slot};
    use std::boxed::Box;
    use std::vec::Vec;

    let cap = Capacity::new(capacity)?;
    let ring = || -> RingRef<'static> {
        let header: &'static RingHeader = Box::leak(Box::new(RingHeader::new()));
        let slots: Vec<Slot> = (0..cap.slots()).map(|_| Slot::new()).collect();
        RingRef { header, slots: Box::leak(slots.into_boxed_slice()) }
    };
    let (active, free) = (ring(), ring());
    Ok(ends(active, active, free, free, cap))
}
