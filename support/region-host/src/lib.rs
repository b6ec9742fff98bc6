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
    }
}
