//! The attachment geometry check: only power-of-two pages of at least 4 KiB, at least one
//! page, and an index range that fits.
use dataspace_api::{Attachment, DsId};

#[test]
fn attachment_constructor_rejects_bad_geometry() {
    assert!(Attachment::new(DsId(1), 0, 0, 4096).is_none(), "no pages");
    assert!(Attachment::new(DsId(1), 0, 1, 2048).is_none(), "page smaller than 4 KiB");
    assert!(Attachment::new(DsId(1), 0, 1, 12288).is_none(), "not a power of two");
    assert!(Attachment::new(DsId(1), u32::MAX, 1, 4096).is_none(), "index space overflow");
    let a = Attachment::new(DsId(1), 10, 3, 1 << 21).unwrap();
    assert_eq!((a.size(), a.index(2), a.index(3)), (3 << 21, Some(12), None));
}
