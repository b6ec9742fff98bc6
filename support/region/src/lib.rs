//! Views of memory the system file maps into a PD: the one place where an address range that
//! the image tool wrote into a setvar becomes a value safe code can use.
//!
//! * [`MappedRegion`]: `size` bytes at a virtual address, mapped for the PD's whole life. It
//!   is made once per `<map>` (the PD runtime's `region!` macro, or `region_host::zeroed`
//!   in host tests) and owned: not `Clone`, so at most one owner per mapping, and it can be
//!   split into disjoint parts. Its own accessors are bounds-checked and volatile (a peer PD or
//!   a device may change the bytes at any time, so the compiler must not cache them); crates
//!   that lay typed structures over shared memory (`ring`, the translation cache, packet
//!   buffers) take a `MappedRegion` instead of a raw pointer, which keeps their constructors
//!   safe.
//! * [`Mmio`]: a device's register BAR (32-bit volatile accesses; outside the BAR reads as
//!   all-ones, as a PCI master abort would, and writes are dropped).
//! * [`DmaRegion`]: memory the CPU and a device both use (descriptor rings): a mapped region
//!   plus the bus address the device must be told.
#![no_std]
#![deny(unsafe_op_in_unsafe_fn)]

use core::fmt;

/// Why a region view could not be made.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RegionError {
    /// The system file maps no such region into this PD (its setvars were left at 0).
    NotMapped {
        /// The setvar (and region) name.
        name: &'static str,
    },
    /// The view was already taken (each mapping has one owner).
    AlreadyTaken {
        /// The region's name.
        name: &'static str,
    },
    /// The address range wraps around the address space.
    Wraps {
        /// The region's name.
        name: &'static str,
        /// Its virtual address.
        vaddr: usize,
        /// Its size.
        size: usize,
    },
    /// The region is smaller than its user needs.
    TooSmall {
        /// The region's name.
        name: &'static str,
        /// Bytes needed.
        need: usize,
        /// Bytes mapped.
        have: usize,
    },
    /// The region is not aligned as its user needs.
    Misaligned {
        /// The region's name.
        name: &'static str,
        /// Its virtual address.
        vaddr: usize,
        /// The alignment needed.
        align: usize,
    },
}

impl fmt::Display for RegionError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            RegionError::NotMapped { name } => write!(
                f,
                "the system file maps no `{name}` region into this PD (a <map> with \
                 setvar_vaddr=\"{name}\" and setvar_size=\"{name}_size\")"
            ),
            RegionError::AlreadyTaken { name } => {
                write!(f, "the `{name}` region was already taken (one owner per mapping)")
            }
            RegionError::Wraps { name, vaddr, size } => {
                write!(f, "the `{name}` region ({size:#x} bytes at {vaddr:#x}) wraps the address space")
            }
            RegionError::TooSmall { name, need, have } => write!(
                f,
                "the `{name}` region is {have:#x} bytes; it must be at least {need:#x} (raise its size in the system file)"
            ),
            RegionError::Misaligned { name, vaddr, align } => {
                write!(f, "the `{name}` region at {vaddr:#x} is not {align}-byte aligned")
            }
        }
    }
}

/// A memory region mapped into this address space for the rest of the program; see the
/// crate docs. Owned (not `Clone`): one view per mapping, split into disjoint parts if needed.
pub struct MappedRegion {
    name: &'static str,
    base: *mut u8,
    size: usize,
}

// SAFETY: the view is an address range with the access discipline of the crate docs (every
// access goes through volatile accessors or through a crate that takes the region over);
// moving it to another thread (host tests) moves that discipline with it.
unsafe impl Send for MappedRegion {}

impl fmt::Debug for MappedRegion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "MappedRegion {{ {}: {:#x} bytes at {:#x} }}", self.name, self.size, self.base as usize)
    }
}

impl MappedRegion {
    /// The region `name` of `size` bytes mapped at `vaddr`. `vaddr == 0` or `size == 0` is
    /// [`RegionError::NotMapped`] (setvars the system file did not set).
    ///
    /// # Safety
    /// `vaddr .. vaddr + size` must stay mapped in this address space (readable; writable if
    /// written) for the rest of the program, and must not be reachable through any other Rust
    /// reference or view made in this address space (peers in other address spaces and
    /// devices may write it at any time).
    pub unsafe fn new(name: &'static str, vaddr: usize, size: usize) -> Result<MappedRegion, RegionError> {
        if vaddr == 0 || size == 0 {
            return Err(RegionError::NotMapped { name });
        }
        if vaddr.checked_add(size).is_none() {
            return Err(RegionError::Wraps { name, vaddr, size });
        }
        Ok(MappedRegion { name, base: vaddr as *mut u8, size })
    }

    /// The region's name (its setvar), for messages.
    pub fn name(&self) -> &'static str {
        self.name
    }

    /// Its virtual address.
    pub fn vaddr(&self) -> usize {
        self.base as usize
    }

    /// Its size in bytes.
    pub fn size(&self) -> usize {
        self.size
    }

    /// The first byte, for crates that take the region over and lay their own atomics or
    /// slices over it (under their own `// SAFETY:` argument, which may rely on this type's
    /// invariant: `size` bytes from here stay mapped for the rest of the program and are
    /// reachable only through this value).
    pub fn as_ptr(&self) -> *mut u8 {
        self.base
    }

    /// [`RegionError::TooSmall`] unless the region has at least `need` bytes.
    pub fn require(&self, need: usize) -> Result<(), RegionError> {
        if self.size < need {
            return Err(RegionError::TooSmall { name: self.name, need, have: self.size });
        }
        Ok(())
    }

    /// [`RegionError::Misaligned`] unless the region starts on an `align` boundary.
    pub fn require_aligned(&self, align: usize) -> Result<(), RegionError> {
        if align == 0 || !self.vaddr().is_multiple_of(align) {
            return Err(RegionError::Misaligned { name: self.name, vaddr: self.vaddr(), align });
        }
        Ok(())
    }

    /// Splits into `[0, mid)` and `[mid, size)` (`mid` clamped to the size): two views that
    /// never overlap.
    pub fn split_at(self, mid: usize) -> (MappedRegion, MappedRegion) {
        let mid = mid.min(self.size);
        // In bounds (`mid <= size`); `wrapping_add` only keeps this free of unsafe.
        let hi = self.base.wrapping_add(mid);
        (
            MappedRegion { name: self.name, base: self.base, size: mid },
            MappedRegion { name: self.name, base: hi, size: self.size - mid },
        )
    }

    fn range(&self, offset: usize, len: usize) -> Result<(), OutOfBounds> {
        match offset.checked_add(len) {
            Some(end) if end <= self.size => Ok(()),
            _ => Err(OutOfBounds { offset, len, size: self.size }),
        }
    }

    /// Copies `buf.len()` bytes from `offset` into `buf` (volatile loads, 8 bytes at a time
    /// where the region address is 8-byte aligned: a frame is copied in ~190 loads, not 1514).
    pub fn read(&self, offset: usize, buf: &mut [u8]) -> Result<(), OutOfBounds> {
        self.range(offset, buf.len())?;
        let mut i = 0;
        while i < buf.len() {
            let p = self.base.wrapping_add(offset + i);
            if (p as usize).is_multiple_of(8) && buf.len() - i >= 8 {
                // SAFETY: offset + i + 8 <= size (checked above), `p` is 8-byte aligned, and the
                // constructor's contract makes the whole range mapped and readable.
                let w = unsafe { p.cast::<u64>().read_volatile() };
                buf[i..i + 8].copy_from_slice(&w.to_ne_bytes());
                i += 8;
            } else {
                // SAFETY: offset + i < size (checked above); readable by the constructor's contract.
                buf[i] = unsafe { p.read_volatile() };
                i += 1;
            }
        }
        Ok(())
    }

    /// Copies `data` to `offset` (volatile stores, 8 bytes at a time where aligned, as `read`).
    pub fn write(&self, offset: usize, data: &[u8]) -> Result<(), OutOfBounds> {
        self.range(offset, data.len())?;
        let mut i = 0;
        while i < data.len() {
            let p = self.base.wrapping_add(offset + i);
            if (p as usize).is_multiple_of(8) && data.len() - i >= 8 {
                let mut w = [0u8; 8];
                w.copy_from_slice(&data[i..i + 8]);
                // SAFETY: in bounds (checked above), 8-byte aligned, writable by the
                // constructor's contract.
                unsafe { p.cast::<u64>().write_volatile(u64::from_ne_bytes(w)) };
                i += 8;
            } else {
                // SAFETY: in bounds (checked above); writable by the constructor's contract.
                unsafe { p.write_volatile(data[i]) };
                i += 1;
            }
        }
        Ok(())
    }

    /// Copies `len` bytes from `offset` in this region to `dst_offset` in `dst` in one pass
    /// (volatile loads and stores, 8 bytes at a time where both sides are aligned alike): e.g.
    /// a received frame from a driver's pool into a client's buffer without a bounce buffer.
    pub fn copy_to(&self, offset: usize, dst: &MappedRegion, dst_offset: usize, len: usize) -> Result<(), OutOfBounds> {
        self.range(offset, len)?;
        dst.range(dst_offset, len)?;
        let mut i = 0;
        while i < len {
            let s = self.base.wrapping_add(offset + i);
            let d = dst.base.wrapping_add(dst_offset + i);
            if (s as usize).is_multiple_of(8) && (d as usize).is_multiple_of(8) && len - i >= 8 {
                // SAFETY: both ranges are in bounds (checked above) and 8-byte aligned here; the
                // constructors' contracts make them mapped, readable and (dst) writable.
                unsafe { d.cast::<u64>().write_volatile(s.cast::<u64>().read_volatile()) };
                i += 8;
            } else {
                // SAFETY: in bounds (checked above), as above.
                unsafe { d.write_volatile(s.read_volatile()) };
                i += 1;
            }
        }
        Ok(())
    }

    /// The 4-byte-aligned `u32` at `offset`, if inside the region.
    fn word(&self, offset: usize) -> Option<*mut u32> {
        let p = self.base.wrapping_add(offset);
        if (p as usize) & 3 != 0 || self.range(offset, 4).is_err() {
            return None;
        }
        Some(p.cast::<u32>())
    }

    /// Volatile load of the aligned `u32` at `offset`; `None` if misaligned or outside.
    pub fn read32(&self, offset: usize) -> Option<u32> {
        // SAFETY: `word` checked alignment and bounds; the constructor's contract makes the
        // range mapped memory for volatile access.
        self.word(offset).map(|p| unsafe { p.read_volatile() })
    }

    /// Volatile store of the aligned `u32` at `offset`; `None` (nothing written) if
    /// misaligned or outside.
    pub fn write32(&self, offset: usize, value: u32) -> Option<()> {
        // SAFETY: as in `read32`; writable by the constructor's contract.
        self.word(offset).map(|p| unsafe { p.write_volatile(value) })
    }
}

/// An access outside a region.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OutOfBounds {
    /// Where the access started.
    pub offset: usize,
    /// Its length.
    pub len: usize,
    /// The region's size.
    pub size: usize,
}

impl fmt::Display for OutOfBounds {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "access of {} bytes at offset {:#x} is outside the {:#x}-byte memory region",
            self.len, self.offset, self.size
        )
    }
}

/// A device's register BAR, mapped uncached: 32-bit volatile accesses at byte offsets.
#[derive(Debug)]
pub struct Mmio(MappedRegion);

impl Mmio {
    /// The registers in `region` (a `<map cached="false">` of a PCI BAR).
    pub fn new(region: MappedRegion) -> Mmio {
        Mmio(region)
    }

    /// Size of the BAR in bytes.
    pub fn size(&self) -> usize {
        self.0.size()
    }

    /// Reads the register at byte `offset` (may have side effects on the device). Outside
    /// the BAR, or misaligned, reads as all-ones, as a PCI master abort would.
    pub fn read32(&self, offset: usize) -> u32 {
        self.0.read32(offset).unwrap_or(u32::MAX)
    }

    /// Writes the register at byte `offset`; outside the BAR (or misaligned) does nothing.
    pub fn write32(&self, offset: usize, value: u32) {
        let _ = self.0.write32(offset, value);
    }
}

/// Memory both the CPU and a device use (descriptor rings): a mapped, physically contiguous
/// region and the bus address of its first byte.
#[derive(Debug)]
pub struct DmaRegion {
    region: MappedRegion,
    phys: u64,
}

impl DmaRegion {
    /// `region`, which the device sees at bus address `phys` (a `region_paddr` setvar).
    pub fn new(region: MappedRegion, phys: u64) -> DmaRegion {
        DmaRegion { region, phys }
    }

    /// Bus address of byte 0.
    pub fn phys_base(&self) -> u64 {
        self.phys
    }

    /// Size in bytes.
    pub fn len(&self) -> usize {
        self.region.size()
    }

    /// Whether the region is empty.
    pub fn is_empty(&self) -> bool {
        self.region.size() == 0
    }

    /// Splits off the bytes from `at` on (rounded down to 4 bytes) as a second region, e.g.
    /// one per descriptor ring. `at` past the end gives an empty second region.
    pub fn split(self, at: usize) -> (DmaRegion, DmaRegion) {
        let at = at.min(self.region.size()) & !3;
        let (lo, hi) = self.region.split_at(at);
        (DmaRegion { region: lo, phys: self.phys }, DmaRegion { region: hi, phys: self.phys + at as u64 })
    }

    /// Volatile load of the aligned `u32` at `offset`; 0 outside the region.
    pub fn read32(&self, offset: usize) -> u32 {
        self.region.read32(offset).unwrap_or(0)
    }

    /// Volatile store of the aligned `u32` at `offset`; outside the region does nothing.
    pub fn write32(&self, offset: usize, value: u32) {
        let _ = self.region.write32(offset, value);
    }

    /// Copies `buf.len()` bytes from `offset` out of the region (e.g. a frame the device
    /// received into a driver-owned buffer); an error if the range leaves the region.
    pub fn read(&self, offset: usize, buf: &mut [u8]) -> Result<(), OutOfBounds> {
        self.region.read(offset, buf)
    }

    /// Copies `data` into the region at `offset`; an error if the range leaves the region.
    pub fn write(&self, offset: usize, data: &[u8]) -> Result<(), OutOfBounds> {
        self.region.write(offset, data)
    }

    /// Copies `len` bytes at `offset` into `dst` at `dst_offset` in one pass (e.g. a received
    /// frame from the driver's pool into a client's buffer); an error if either range leaves
    /// its region.
    pub fn copy_to(&self, offset: usize, dst: &DmaRegion, dst_offset: usize, len: usize) -> Result<(), OutOfBounds> {
        self.region.copy_to(offset, &dst.region, dst_offset, len)
    }
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::*;
    use std::format;

    /// A leaked, zeroed allocation standing in for a mapping (what `region-host` gives other
    /// crates' tests).
    impl MappedRegion {
        fn zeroed(name: &'static str, size: usize) -> MappedRegion {
            let mem: &'static mut [u8] = std::vec![0u8; size].leak();
            // SAFETY: leaked, so valid for the rest of the test process, and used only here.
            unsafe { MappedRegion::new(name, mem.as_mut_ptr() as usize, size) }.unwrap()
        }
    }

    #[test]
    fn bytes_inside_bounds_only() {
        let r = MappedRegion::zeroed("t", 64);
        r.write(60, b"abcd").unwrap();
        let mut out = [0u8; 4];
        r.read(60, &mut out).unwrap();
        assert_eq!(&out, b"abcd");
        assert_eq!(r.write(61, b"abcd"), Err(OutOfBounds { offset: 61, len: 4, size: 64 }));
        assert!(r.read(usize::MAX, &mut out).is_err(), "overflowing offsets are errors");
        assert!(r.require(65).is_err());
        r.require(64).unwrap();
        r.require_aligned(1).unwrap();
        assert!(r.require_aligned(0).is_err());
    }

    /// Copies of every length at every alignment land byte-exact and touch nothing else (the
    /// word-at-a-time path and its byte head and tail).
    #[test]
    fn copies_at_any_alignment_are_exact() {
        let r = MappedRegion::zeroed("t", 96);
        for offset in 0..17 {
            for len in [0usize, 1, 7, 8, 9, 15, 16, 17, 40, 63] {
                r.write(0, &[0u8; 96]).unwrap();
                let data: std::vec::Vec<u8> = (0..len).map(|i| (i * 7 + offset + 1) as u8).collect();
                r.write(offset, &data).unwrap();
                let mut all = [0u8; 96];
                r.read(0, &mut all).unwrap();
                assert_eq!(&all[offset..offset + len], &data[..], "offset {offset} len {len}");
                assert!(all[..offset].iter().chain(&all[offset + len..]).all(|&b| b == 0), "offset {offset} len {len}");
                let mut back = std::vec![0u8; len];
                r.read(offset, &mut back).unwrap();
                assert_eq!(back, data);
            }
        }
    }

    #[test]
    fn region_to_region_copies_are_exact_and_bounded() {
        let a = MappedRegion::zeroed("a", 64);
        let b = MappedRegion::zeroed("b", 64);
        let data: std::vec::Vec<u8> = (0..64u8).map(|i| i ^ 0xa5).collect();
        a.write(0, &data).unwrap();
        for (so, d_o, len) in [(0, 0, 64), (3, 5, 40), (8, 1, 17), (1, 9, 0)] {
            b.write(0, &[0u8; 64]).unwrap();
            a.copy_to(so, &b, d_o, len).unwrap();
            let mut out = [0u8; 64];
            b.read(0, &mut out).unwrap();
            assert_eq!(&out[d_o..d_o + len], &data[so..so + len]);
            assert!(out[..d_o].iter().chain(&out[d_o + len..]).all(|&x| x == 0));
        }
        assert!(a.copy_to(60, &b, 0, 8).is_err(), "source past its end");
        assert!(a.copy_to(0, &b, 60, 8).is_err(), "destination past its end");
    }

    #[test]
    fn unmapped_and_wrapping_ranges_are_errors() {
        // SAFETY: both calls are refused before any access could happen.
        unsafe {
            assert_eq!(MappedRegion::new("x", 0, 16).unwrap_err(), RegionError::NotMapped { name: "x" });
            assert!(matches!(MappedRegion::new("x", usize::MAX - 4, 16), Err(RegionError::Wraps { .. })));
        }
        let msg = format!("{}", RegionError::NotMapped { name: "rx_queues" });
        assert!(msg.contains("setvar_size=\"rx_queues_size\""), "{msg}");
    }

    #[test]
    fn words_are_aligned_and_bounded() {
        let r = MappedRegion::zeroed("t", 16);
        r.write32(12, 0xdead_beef).unwrap();
        assert_eq!(r.read32(12), Some(0xdead_beef));
        assert_eq!(r.read32(13), None, "misaligned");
        assert_eq!(r.read32(16), None, "outside");
        let mmio = Mmio::new(r);
        assert_eq!(mmio.read32(100), u32::MAX, "outside the BAR reads as all-ones");
        mmio.write32(100, 1);
        assert_eq!(mmio.read32(12), 0xdead_beef);
    }

    #[test]
    fn splits_never_overlap() {
        let dma = DmaRegion::new(MappedRegion::zeroed("d", 0x100), 0x1000);
        let (a, b) = dma.split(0x42);
        assert_eq!((a.len(), b.len()), (0x40, 0xc0));
        assert_eq!(b.phys_base(), 0x1040);
        b.write32(0, 7);
        assert_eq!(a.read32(0), 0);
        assert_eq!(b.read32(0), 7);
        assert_eq!(a.read32(0x40), 0, "past the first part");
        let (_, empty) = DmaRegion::new(MappedRegion::zeroed("e", 8), 0).split(100);
        assert!(empty.is_empty());
    }
}
