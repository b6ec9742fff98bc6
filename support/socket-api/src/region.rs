//! A view of a shared memory region (packet buffers, a session's data region) that hands out
//! bounds-checked slices of the buffers its owner currently holds. Shared with another PD or a
//! device, so it is built from a raw pointer; ownership of each buffer is decided by the queue
//! protocol, and the view only ever creates slices of buffers this side owns.

use core::marker::PhantomData;
use core::ops::Range;

/// A region of shared memory; see the module docs. Not `Clone`: one view per user.
pub struct Region<'a> {
    ptr: *mut u8,
    len: usize,
    _life: PhantomData<&'a mut [u8]>,
}

impl<'a> Region<'a> {
    /// A view of `len` bytes at `ptr`.
    ///
    /// # Safety
    /// `ptr..ptr+len` must be valid for reads and writes for `'a` (e.g. a region the system file
    /// maps into this PD). Other views of the same memory (in this or another address space, or
    /// a device) may exist only under a protocol that gives each buffer one owner at a time, and
    /// the users of this view must create slices only of buffers they own. Bytes have no invalid
    /// values, so a misbehaving peer writing into our buffers corrupts data, never memory safety
    /// of this side's own state.
    pub unsafe fn from_raw(ptr: *mut u8, len: usize) -> Self {
        Self { ptr, len, _life: PhantomData }
    }

    /// The view of a mapped region (from the runtime's `region!`): packet buffers or a
    /// session's data region. Takes the region over, so there is one slice-making view per
    /// mapping in this PD.
    pub fn from_mapped(region: region::MappedRegion) -> Region<'static> {
        // SAFETY: `MappedRegion`'s invariant makes the range valid for reads and writes for
        // the rest of the program and reachable in this PD only through it; the region is
        // consumed here, so this view is its only user. Peers and the device share the bytes
        // under the queue protocol, as `from_raw` requires.
        unsafe { Region::from_raw(region.as_ptr(), region.size()) }
    }

    /// A view of memory this side owns outright (tests, or a single-PD configuration).
    pub fn from_mut(bytes: &'a mut [u8]) -> Self {
        Self { ptr: bytes.as_mut_ptr(), len: bytes.len(), _life: PhantomData }
    }

    /// Size in bytes.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether the region is empty.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Splits into `[0, mid)` and `[mid, len)` (clamped), two views that never overlap.
    pub fn split_at(self, mid: usize) -> (Region<'a>, Region<'a>) {
        let mid = mid.min(self.len);
        // `wrapping_add` keeps this free of unsafe; `mid <= len` keeps the pointer in bounds.
        let hi = self.ptr.wrapping_add(mid);
        (
            Region { ptr: self.ptr, len: mid, _life: PhantomData },
            Region { ptr: hi, len: self.len - mid, _life: PhantomData },
        )
    }

    fn check(&self, r: &Range<usize>) -> Option<()> {
        (r.start <= r.end && r.end <= self.len).then_some(())
    }

    /// The bytes in `r`, or `None` if `r` is not inside the region.
    pub fn get(&self, r: Range<usize>) -> Option<&[u8]> {
        self.check(&r)?;
        // SAFETY: `r` is inside the region, which is valid for `'a` (constructor contract); the
        // caller holds the buffer under the ownership protocol, and the returned borrow ties it
        // to `&self`, so this side creates no `&mut` to the same bytes meanwhile.
        Some(unsafe { core::slice::from_raw_parts(self.ptr.add(r.start), r.end - r.start) })
    }

    /// The bytes in `r` for writing, or `None` if `r` is not inside the region.
    pub fn get_mut(&mut self, r: Range<usize>) -> Option<&mut [u8]> {
        self.check(&r)?;
        // SAFETY: as in `get`; `&mut self` makes the borrow exclusive on this side.
        Some(unsafe { core::slice::from_raw_parts_mut(self.ptr.add(r.start), r.end - r.start) })
    }
}

impl Region<'_> {
    /// Copies the bytes in `src` to offset `dst` inside the region (the ranges may overlap);
    /// `None` if either range is not inside the region.
    pub fn copy_within(&mut self, src: Range<usize>, dst: usize) -> Option<()> {
        self.check(&src)?;
        let n = src.end - src.start;
        self.check(&(dst..dst.checked_add(n)?))?;
        // SAFETY: both ranges are inside the region (checked), which is valid for reads and
        // writes (constructor contract); `ptr::copy` allows overlap; `&mut self` keeps this
        // side from holding slices into the region meanwhile.
        unsafe { core::ptr::copy(self.ptr.add(src.start), self.ptr.add(dst), n) };
        Some(())
    }
}

// SAFETY: the view is a pointer + length with the access discipline above; moving it to another
// thread (host tests) moves that discipline with it.
unsafe impl Send for Region<'_> {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounds_are_checked() {
        let mut mem = [0u8; 64];
        let mut r = Region::from_mut(&mut mem);
        assert!(r.get(0..64).is_some());
        assert!(r.get(60..65).is_none());
        #[allow(clippy::reversed_empty_ranges)]
        let backwards = 10..5;
        assert!(r.get(backwards).is_none());
        r.get_mut(4..8).unwrap().copy_from_slice(&[1, 2, 3, 4]);
        let (a, b) = r.split_at(6);
        assert_eq!(a.len(), 6);
        assert_eq!(b.get(0..2).unwrap(), &[3, 4]);
        assert_eq!(a.get(4..6).unwrap(), &[1, 2]);
        let mut b = b;
        b.copy_within(0..2, 10).unwrap();
        assert_eq!(b.get(10..12).unwrap(), &[3, 4]);
        assert!(b.copy_within(0..2, 57).is_none(), "destination past the end");
        assert!(b.copy_within(0..59, 0).is_none(), "source past the end");
        assert!(b.copy_within(0..2, usize::MAX).is_none());
    }
}
