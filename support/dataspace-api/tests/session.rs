//! The driver-side bounds check of client buffer descriptors, with hostile input: unknown or
//! foreign dataspace ids, len 0, offset+len overflow, buffers past the end; and the split of an
//! accepted buffer into per-page chunks (the cache entries the driver translates).
use dataspace_api::msg::SessionError;
use dataspace_api::session::{Attachment, BufferError, Chunk, Session, MAX_SESSION_DATASPACES};
use dataspace_api::{DsId, PdId};

fn session() -> Session {
    let mut s = Session::new(PdId::new(2).unwrap());
    s.add(Attachment::new(DsId(1), 0, 4, 4096).unwrap()).unwrap();
    s.add(Attachment::new(DsId(5), 4, 2, 4096).unwrap()).unwrap();
    s
}

#[test]
fn accepts_in_bounds_buffers() {
    let mut s = session();
    let b = s.validate(1, 0, 4 * 4096).unwrap();
    assert_eq!(b.page_range(), (0, 3));
    let b = s.validate(5, 8191, 1).unwrap();
    assert_eq!(b.page_range(), (1, 1));
    assert_eq!(s.accepted(), 2);
    assert_eq!(s.rejected(), 0);
}

#[test]
fn rejects_hostile_descriptors_and_counts_them() {
    let mut s = session();
    assert_eq!(s.validate(2, 0, 1), Err(BufferError::NotInSession(2)), "not opened");
    assert_eq!(s.validate(u32::MAX, 0, 1), Err(BufferError::NotInSession(u32::MAX)));
    assert_eq!(s.validate(1, 0, 0), Err(BufferError::ZeroLength));
    assert_eq!(
        s.validate(1, u64::MAX, 2),
        Err(BufferError::Overflow { offset: u64::MAX, len: 2 })
    );
    assert_eq!(
        s.validate(1, 2, u64::MAX - 1),
        Err(BufferError::Overflow { offset: 2, len: u64::MAX - 1 })
    );
    assert_eq!(
        s.validate(1, 4 * 4096 - 10, 11),
        Err(BufferError::OutOfBounds { ds: 1, offset: 4 * 4096 - 10, len: 11, size: 4 * 4096 })
    );
    assert!(matches!(s.validate(5, 2 * 4096, 1), Err(BufferError::OutOfBounds { .. })));
    assert_eq!(s.rejected(), 7);
    assert_eq!(s.accepted(), 0);
    // Rejections changed nothing: a good descriptor still passes.
    assert!(s.validate(5, 0, 8192).is_ok());
    for e in [BufferError::ZeroLength, BufferError::NotInSession(3)] {
        assert!(!e.to_string().is_empty());
    }
}

#[test]
fn chunks_split_at_page_boundaries() {
    let mut s = session();
    let b = s.validate(5, 4000, 4000).unwrap();
    let chunks: Vec<Chunk> = b.chunks().collect();
    assert_eq!(
        chunks,
        vec![
            Chunk { page: 0, index: 4, offset_in_page: 4000, len: 96 },
            Chunk { page: 1, index: 5, offset_in_page: 0, len: 3904 },
        ]
    );
    assert_eq!(chunks.iter().map(|c| c.len).sum::<u64>(), 4000);
    let one: Vec<Chunk> = s.validate(1, 4096, 4096).unwrap().chunks().collect();
    assert_eq!(one, vec![Chunk { page: 1, index: 1, offset_in_page: 0, len: 4096 }]);
}

#[test]
fn session_add_refuses_duplicates_and_overflow() {
    let mut s = session();
    assert_eq!(
        s.add(Attachment::new(DsId(1), 10, 1, 4096).unwrap()),
        Err(SessionError::DuplicateDataspace)
    );
    for i in 0..(MAX_SESSION_DATASPACES as u32 - 2) {
        s.add(Attachment::new(DsId(100 + i), 20 + i, 1, 4096).unwrap()).unwrap();
    }
    assert_eq!(
        s.add(Attachment::new(DsId(200), 40, 1, 4096).unwrap()),
        Err(SessionError::TooManyDataspaces)
    );
    assert_eq!(s.attachments().count(), MAX_SESSION_DATASPACES);
}

#[test]
fn attachment_constructor_rejects_bad_geometry() {
    assert!(Attachment::new(DsId(1), 0, 0, 4096).is_none(), "no pages");
    assert!(Attachment::new(DsId(1), 0, 1, 2048).is_none(), "page smaller than 4 KiB");
    assert!(Attachment::new(DsId(1), 0, 1, 12288).is_none(), "not a power of two");
    assert!(Attachment::new(DsId(1), u32::MAX, 1, 4096).is_none(), "index space overflow");
    let a = Attachment::new(DsId(1), 10, 3, 1 << 21).unwrap();
    assert_eq!((a.size(), a.index(2), a.index(3)), (3 << 21, Some(12), None));
}
