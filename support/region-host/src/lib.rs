//! Regions for host tests: what a `<map>` gives a PD, made from a fresh allocation that lives
//! for the rest of the test process (as a mapping lives for the PD's life).

use region::MappedRegion;

/// A fresh zeroed, page-aligned region of `size` bytes (at least one byte) named `name`.
pub fn zeroed(name: &'static str, size: usize) -> MappedRegion {
    let layout = std::alloc::Layout::from_size_align(size.max(1), 4096).expect("a test region size fits a layout");
    // SAFETY: the layout has a non-zero size.
    let base = unsafe { std::alloc::alloc_zeroed(layout) };
    assert!(!base.is_null(), "out of memory for a {size}-byte test region");
    // SAFETY: the allocation is never freed (leaked on purpose), so the range stays valid for
    // the rest of the program, and nothing else refers to it: this view is its only user.
    unsafe { MappedRegion::new(name, base as usize, size.max(1)) }
        .expect("a fresh allocation is neither null nor wrapping")
}

/// Two views of one fresh zeroed region, as two PDs that map the same `<memory_region>` have
/// (each PD's code sees only its own): for host tests of the two ends of a shared layout.
pub fn shared_pair(name: &'static str, size: usize) -> (MappedRegion, MappedRegion) {
    let a = zeroed(name, size);
    // SAFETY: the same leaked allocation as `a`, valid for the rest of the program; the two
    // views stand for two address spaces, and their users share the bytes only through the
    // protocol under test (rings' atomics, buffers handed over by the queues), never through
    // Rust references held at the same time.
    let b = unsafe { MappedRegion::new(name, a.vaddr(), a.size()) }.expect("a fresh allocation is a valid range");
    (a, b)
}

#[cfg(test)]
mod tests {
    #[test]
    fn regions_are_zeroed_aligned_and_distinct() {
        let a = super::zeroed("a", 100);
        let b = super::zeroed("b", 0);
        assert_eq!((a.size(), b.size()), (100, 1));
        assert_eq!(a.vaddr() % 4096, 0);
        assert_ne!(a.vaddr(), b.vaddr());
        let mut byte = [1u8];
        a.read(99, &mut byte).unwrap();
        assert_eq!(byte, [0]);
        let (x, y) = super::shared_pair("s", 16);
        x.write(3, b"z").unwrap();
        y.read(3, &mut byte).unwrap();
        assert_eq!(byte, *b"z", "two views of the same bytes");
    }
}
