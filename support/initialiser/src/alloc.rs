//! The initialiser's two allocators, as pure bookkeeping (no kernel calls, host-tested):
//!
//! * [`UntypedPool`] mirrors the kernel's view of every bootinfo untyped: seL4 places each new
//!   object at the untyped's free watermark rounded up to the object's size, so by keeping the
//!   same watermark we know the physical address of every object before we retype it. That
//!   gives physically contiguous regions (all frames of one region from one untyped, in order)
//!   and frames at an exact device address (skip up to it with [`fillers`]).
//! * [`SlotAlloc`] hands out runs of empty slots of the root CNode.

use core::fmt;

/// Most untypeds the pool tracks (bootinfo holds at most 167).
pub const MAX_UNTYPEDS: usize = 192;

/// Why an allocation failed.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum AllocError {
    /// No RAM untyped has `bytes` of (suitably aligned) room left.
    OutOfMemory { bytes: u64, align_bits: u32 },
    /// No untyped covers the physical range, or its part below `paddr` was already used.
    NotCovered { paddr: u64, size: u64 },
    /// The root CNode has no `wanted` more free slots.
    OutOfSlots { wanted: u64, left: u64 },
    /// More untypeds than the pool tracks.
    TooManyUntypeds,
}

impl fmt::Display for AllocError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            AllocError::OutOfMemory { bytes, align_bits } => write!(
                f,
                "out of memory: no RAM untyped has {bytes:#x} bytes free at {}-byte alignment \
                 (give QEMU more memory with -m, or shrink the system's memory regions)",
                1u64 << align_bits
            ),
            AllocError::NotCovered { paddr, size } => write!(
                f,
                "physical range {paddr:#x}..{:#x} is not inside one unused untyped (is it RAM the \
                 kernel kept, outside physical memory, or claimed twice?)",
                paddr.saturating_add(size)
            ),
            AllocError::OutOfSlots { wanted, left } => write!(
                f,
                "the root CNode is full: {wanted} slots wanted, {left} left (use 2 MiB pages \
                 for big memory regions, or raise CONFIG_ROOT_CNODE_SIZE_BITS)"
            ),
            AllocError::TooManyUntypeds => write!(f, "bootinfo lists more than {MAX_UNTYPEDS} untypeds"),
        }
    }
}

/// One untyped as we track it.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq)]
pub struct Ut {
    /// Its cap in the root CNode.
    pub cap: u64,
    pub paddr: u64,
    pub size_bits: u8,
    pub device: bool,
    /// Bytes from `paddr` already handed out (the kernel's free index).
    pub used: u64,
}

impl Ut {
    pub const fn size(&self) -> u64 {
        1u64 << self.size_bits
    }
    pub const fn end(&self) -> u64 {
        self.paddr + self.size()
    }
    /// Where the next object of 2^`bits` bytes would start.
    fn next_aligned(&self, bits: u32) -> u64 {
        align_up(self.paddr + self.used, bits)
    }
}

/// Where a run of objects will be created: untyped `index` (cap `cap`), first object at `paddr`.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct Carve {
    pub index: usize,
    pub cap: u64,
    pub paddr: u64,
}

pub const fn align_up(v: u64, bits: u32) -> u64 {
    let m = (1u64 << bits) - 1;
    (v + m) & !m
}

/// All bootinfo untypeds with their watermarks.
pub struct UntypedPool {
    uts: [Ut; MAX_UNTYPEDS],
    n: usize,
}

impl Default for UntypedPool {
    fn default() -> Self {
        Self::new()
    }
}

impl UntypedPool {
    pub const fn new() -> Self {
        UntypedPool { uts: [Ut { cap: 0, paddr: 0, size_bits: 0, device: false, used: 0 }; MAX_UNTYPEDS], n: 0 }
    }

    pub fn add(&mut self, cap: u64, paddr: u64, size_bits: u8, device: bool) -> Result<(), AllocError> {
        let slot = self.uts.get_mut(self.n).ok_or(AllocError::TooManyUntypeds)?;
        *slot = Ut { cap, paddr, size_bits, device, used: 0 };
        self.n += 1;
        Ok(())
    }

    pub fn untypeds(&self) -> &[Ut] {
        &self.uts[..self.n]
    }

    /// Bytes of RAM not yet handed out.
    pub fn free_ram(&self) -> u64 {
        self.untypeds().iter().filter(|u| !u.device).map(|u| u.size() - u.used).sum()
    }

    /// Reserves `count` objects of 2^`bits` bytes each, contiguous, from the RAM untyped that
    /// fits them most tightly (keeping big untypeds for big regions).
    pub fn alloc_ram(&mut self, bits: u32, count: u64) -> Result<Carve, AllocError> {
        let bytes =
            count.checked_mul(1u64 << bits).ok_or(AllocError::OutOfMemory { bytes: u64::MAX, align_bits: bits })?;
        let mut best: Option<(usize, u64)> = None;
        for (i, u) in self.untypeds().iter().enumerate() {
            if u.device || (u.size_bits as u32) < bits {
                continue;
            }
            let start = u.next_aligned(bits);
            if start.checked_add(bytes).is_some_and(|e| e <= u.end()) {
                let left = u.end() - start - bytes;
                if best.is_none_or(|(_, l)| left < l) {
                    best = Some((i, left));
                }
            }
        }
        let (i, _) = best.ok_or(AllocError::OutOfMemory { bytes, align_bits: bits })?;
        let u = &mut self.uts[i];
        let paddr = u.next_aligned(bits);
        u.used = paddr + bytes - u.paddr;
        Ok(Carve { index: i, cap: u.cap, paddr })
    }

    /// The untyped (device or RAM) whose unused part contains `paddr..paddr + size`.
    pub fn covering(&self, paddr: u64, size: u64) -> Result<usize, AllocError> {
        let end = paddr.checked_add(size).ok_or(AllocError::NotCovered { paddr, size })?;
        self.untypeds()
            .iter()
            .position(|u| u.paddr + u.used <= paddr && end <= u.end())
            .ok_or(AllocError::NotCovered { paddr, size })
    }

    /// The current watermark (physical address of the first unused byte) of untyped `index`.
    pub fn watermark(&self, index: usize) -> u64 {
        let u = &self.uts[index];
        u.paddr + u.used
    }

    /// Records that untyped `index` is used up to physical address `upto`.
    pub fn commit(&mut self, index: usize, upto: u64) {
        let u = &mut self.uts[index];
        if upto > u.paddr + u.used {
            u.used = upto.min(u.end()) - u.paddr;
        }
    }

    pub fn get(&self, index: usize) -> Ut {
        self.uts[index]
    }
}

/// The filler objects (untyped objects of the returned sizes, in order) that move an untyped's
/// watermark from `from` to exactly `to`: each is as large as both the alignment of the current
/// position and the remaining distance allow, so the kernel places each one exactly at the
/// watermark. At most about two per address bit.
pub fn fillers(from: u64, to: u64) -> Fillers {
    Fillers { at: from, to }
}

/// Iterator of [`fillers`].
#[derive(Clone, Debug)]
pub struct Fillers {
    at: u64,
    to: u64,
}

/// Smallest untyped object seL4 creates (`seL4_MinUntypedBits`).
const MIN_FILLER_BITS: u32 = 4;
/// Largest untyped object seL4 creates (`seL4_MaxUntypedBits`).
const MAX_FILLER_BITS: u32 = 47;

impl Iterator for Fillers {
    type Item = u32;
    fn next(&mut self) -> Option<u32> {
        if self.at >= self.to {
            return None;
        }
        let gap = self.to - self.at;
        let align = if self.at == 0 { 63 } else { self.at.trailing_zeros() };
        let bits = align.min(63 - gap.leading_zeros()).min(MAX_FILLER_BITS);
        if bits < MIN_FILLER_BITS {
            // Not reachable with 16-byte aligned endpoints; stop rather than loop.
            self.at = self.to;
            return None;
        }
        self.at += 1u64 << bits;
        Some(bits)
    }
}

/// A bump allocator over the root CNode's empty slots (bootinfo `empty`).
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct SlotAlloc {
    next: u64,
    end: u64,
}

impl SlotAlloc {
    pub const fn new(start: u64, end: u64) -> Self {
        SlotAlloc { next: start, end }
    }

    /// `n` consecutive empty slots; returns the first.
    pub fn alloc(&mut self, n: u64) -> Result<u64, AllocError> {
        let left = self.end - self.next;
        if n > left {
            return Err(AllocError::OutOfSlots { wanted: n, left });
        }
        let first = self.next;
        self.next += n;
        Ok(first)
    }

    pub fn used_up_to(&self) -> u64 {
        self.next
    }

    pub fn left(&self) -> u64 {
        self.end - self.next
    }
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::*;
    use std::vec::Vec;

    fn pool() -> UntypedPool {
        let mut p = UntypedPool::new();
        p.add(20, 0x10_0000, 20, false).unwrap(); // 1 MiB at 1 MiB
        p.add(21, 0x800_0000, 27, false).unwrap(); // 128 MiB at 128 MiB
        p.add(22, 0xfeb0_0000, 20, true).unwrap(); // 1 MiB of device memory
        p
    }

    #[test]
    fn ram_objects_are_aligned_contiguous_and_best_fit() {
        let mut p = pool();
        // A small object goes to the small untyped.
        let c = p.alloc_ram(12, 1).unwrap();
        assert_eq!((c.cap, c.paddr), (20, 0x10_0000));
        // A TCB (2 KiB) after it, then a 16 KiB CNode aligned to 16 KiB.
        assert_eq!(p.alloc_ram(11, 1).unwrap().paddr, 0x10_1000);
        assert_eq!(p.alloc_ram(14, 1).unwrap().paddr, 0x10_4000);
        // 512 frames do not fit the 1 MiB untyped any more: the big one, contiguous.
        let c = p.alloc_ram(12, 512).unwrap();
        assert_eq!((c.cap, c.paddr), (21, 0x800_0000));
        // A 2 MiB page is 2 MiB aligned.
        let c = p.alloc_ram(21, 1).unwrap();
        assert_eq!(c.paddr, 0x820_0000);
        // Device untypeds never serve RAM requests.
        assert!(p.alloc_ram(12, 1).unwrap().cap != 22);
    }

    #[test]
    fn out_of_memory_is_an_error_with_the_size() {
        let mut p = pool();
        let e = p.alloc_ram(21, 100).unwrap_err();
        assert_eq!(e, AllocError::OutOfMemory { bytes: 200 << 20, align_bits: 21 });
        assert!(std::format!("{e}").contains("-m"));
        // Overflowing counts do not panic.
        assert!(p.alloc_ram(30, u64::MAX).is_err());
    }

    #[test]
    fn covering_finds_device_memory_and_respects_the_watermark() {
        let mut p = pool();
        let i = p.covering(0xfebc_0000, 0x2_0000).unwrap();
        assert_eq!(p.get(i).cap, 22);
        p.commit(i, 0xfebe_0000);
        // Below the watermark: refused (it could not be reached any more).
        assert!(p.covering(0xfeb0_0000, 0x1000).is_err());
        assert!(p.covering(0xfebe_0000, 0x1000).is_ok());
        // Straddling the end of the untyped: refused.
        assert!(p.covering(0xfebf_f000, 0x2000).is_err());
        assert!(p.covering(u64::MAX - 10, 100).is_err());
    }

    #[test]
    fn fillers_reach_the_target_exactly_with_aligned_objects() {
        for (from, to) in [(0xfeb0_0000u64, 0xfebc_0000u64), (0x1000, 0x3_5000), (0, 0x40_0000), (0x10, 0x20)] {
            let mut at = from;
            let sizes: Vec<u32> = fillers(from, to).collect();
            for &b in &sizes {
                assert_eq!(at % (1 << b), 0, "filler 2^{b} misaligned at {at:#x}");
                at += 1 << b;
            }
            assert_eq!(at, to, "{from:#x}..{to:#x}: {sizes:?}");
            assert!(sizes.len() <= 2 * 64);
        }
        assert_eq!(fillers(0xfeb0_0000, 0xfebc_0000).collect::<Vec<_>>(), [19, 18]);
        assert_eq!(fillers(0x1000, 0x4000).collect::<Vec<_>>(), [12, 13]);
        assert_eq!(fillers(5, 5).count(), 0);
    }

    #[test]
    fn slots_are_handed_out_in_runs_until_full() {
        let mut s = SlotAlloc::new(100, 110);
        assert_eq!(s.alloc(4).unwrap(), 100);
        assert_eq!(s.alloc(6).unwrap(), 104);
        assert_eq!(s.alloc(1).unwrap_err(), AllocError::OutOfSlots { wanted: 1, left: 0 });
        assert_eq!(s.left(), 0);
    }
}
