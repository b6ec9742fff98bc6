//! Memory regions the system file maps into the PD (shared with peers, or device memory):
//! bounds-checked, volatile byte access, since a peer may change the bytes at any time and
//! the compiler must not cache or elide the accesses.

use crate::error::Error;

/// A mapped memory region: `size` bytes at `base`.
#[derive(Debug)]
pub struct SharedRegion {
    base: *mut u8,
    size: usize,
}

impl SharedRegion {
    /// The region mapped at `vaddr` (normally a `setvar_vaddr` setvar) of `size` bytes
    /// (normally a `setvar_size` setvar).
    ///
    /// # Safety
    /// `vaddr .. vaddr + size` must be mapped into this PD (readable, and writable if
    /// [`SharedRegion::write`] is used) for as long as the value lives, and not be used
    /// through Rust references elsewhere.
    pub const unsafe fn new(vaddr: usize, size: usize) -> SharedRegion {
        SharedRegion {
            base: vaddr as *mut u8,
            size,
        }
    }

    pub fn size(&self) -> usize {
        self.size
    }

    pub fn vaddr(&self) -> usize {
        self.base as usize
    }

    fn check(&self, offset: usize, len: usize) -> Result<(), Error> {
        match offset.checked_add(len) {
            Some(end) if end <= self.size => Ok(()),
            _ => Err(Error::OutsideRegion {
                offset,
                len,
                size: self.size,
            }),
        }
    }

    /// Copies `buf.len()` bytes from `offset` into `buf`.
    pub fn read(&self, offset: usize, buf: &mut [u8]) -> Result<(), Error> {
        self.check(offset, buf.len())?;
        for (i, b) in buf.iter_mut().enumerate() {
            // SAFETY: offset + i < size (checked above) and the constructor's contract makes
            // the whole range readable.
            *b = unsafe { self.base.add(offset + i).read_volatile() };
        }
        Ok(())
    }

    /// Copies `data` to `offset`.
    pub fn write(&self, offset: usize, data: &[u8]) -> Result<(), Error> {
        self.check(offset, data.len())?;
        for (i, b) in data.iter().enumerate() {
            // SAFETY: in bounds (checked above); writable by the constructor's contract.
            unsafe { self.base.add(offset + i).write_volatile(*b) };
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_and_writes_inside_bounds_only() {
        let mut backing = [0u8; 64];
        // SAFETY: `backing` outlives `r` and is used only through it below.
        let r = unsafe { SharedRegion::new(backing.as_mut_ptr() as usize, backing.len()) };
        r.write(60, b"abcd").unwrap();
        let mut out = [0u8; 4];
        r.read(60, &mut out).unwrap();
        assert_eq!(&out, b"abcd");
        assert_eq!(
            r.write(61, b"abcd"),
            Err(Error::OutsideRegion {
                offset: 61,
                len: 4,
                size: 64
            })
        );
        assert!(
            r.read(usize::MAX, &mut out).is_err(),
            "overflowing offsets are errors"
        );
        assert_eq!(r.size(), 64);
        drop(r);
        assert_eq!(&backing[60..], b"abcd");
    }
}
