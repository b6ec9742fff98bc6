//! Translation-cache behaviour as the driver and manager see it: hit/miss/invalidate, tag
//! checks, table constructors, and a multi-threaded stress test that readers never accept a
//! torn entry while a writer keeps rewriting the same entries.
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread;

use dataspace_api::cache::{
    table_from_bytes, table_from_raw, CacheEntry, CacheError, CacheReader, CacheWriter, Snapshot, Translation,
    ENTRY_BYTES,
};
use dataspace_api::DsId;

fn table(n: usize) -> Vec<CacheEntry> {
    (0..n).map(|_| CacheEntry::new()).collect()
}

fn t(ds: u32, page: u32, frame: u64) -> Translation {
    Translation { ds: DsId(ds), page, frame, pinned: false, expiry: 0 }
}

#[test]
fn miss_then_hit_then_invalidated_miss() {
    let entries = table(8);
    let mut w = CacheWriter::new(&entries);
    let mut r = CacheReader::new(&entries);

    assert_eq!(r.lookup(3, DsId(1), 3), None, "fresh table is all misses");
    w.write(3, &t(1, 3, 0x1234_5000)).unwrap();
    let hit = r.lookup(3, DsId(1), 3).expect("hit after write");
    assert_eq!(hit.frame, 0x1234_5000);
    assert!(!hit.pinned);
    w.invalidate(3).unwrap();
    assert_eq!(r.lookup(3, DsId(1), 3), None);

    let s = r.stats();
    assert_eq!((s.hits, s.misses, s.torn), (1, 2, 0));
}

#[test]
fn tag_mismatch_and_out_of_range_are_misses() {
    let entries = table(4);
    let mut w = CacheWriter::new(&entries);
    let mut r = CacheReader::new(&entries);
    w.write(2, &t(7, 2, 0x8000)).unwrap();
    assert_eq!(r.lookup(2, DsId(8), 2), None, "other dataspace");
    assert_eq!(r.lookup(2, DsId(7), 3), None, "other page");
    assert_eq!(r.lookup(99, DsId(7), 2), None, "index past the table");
    assert_eq!(r.stats().misses, 3);
    assert_eq!(r.stats().hits, 0);
}

#[test]
fn pinned_entry_carries_expiry() {
    let entries = table(2);
    let mut w = CacheWriter::new(&entries);
    let mut r = CacheReader::new(&entries);
    let pinned = Translation { pinned: true, expiry: 1_000, ..t(1, 0, 0x10_0000) };
    w.write(0, &pinned).unwrap();
    let got = r.lookup(0, DsId(1), 0).unwrap();
    assert_eq!(got, pinned);
    assert!(got.pinned_at(999));
    assert!(!got.pinned_at(1_000), "a pin lapses at its deadline");
    // An unpinned translation never reports an expiry.
    w.write(1, &Translation { expiry: 55, ..t(1, 1, 0x20_0000) }).unwrap();
    assert_eq!(r.lookup(1, DsId(1), 1).unwrap().expiry, 0);
}

#[test]
fn writer_rejects_bad_frames_and_indices() {
    let entries = table(2);
    let mut w = CacheWriter::new(&entries);
    assert_eq!(w.write(0, &t(1, 0, 0x1001)), Err(CacheError::UnalignedFrame(0x1001)));
    assert_eq!(w.write(2, &t(1, 0, 0x1000)), Err(CacheError::IndexOutOfRange { index: 2, len: 2 }));
    assert_eq!(w.invalidate(5), Err(CacheError::IndexOutOfRange { index: 5, len: 2 }));
    assert_eq!(w.current(0), None, "a refused write changed nothing");
    assert!(!CacheError::UnalignedFrame(1).to_string().is_empty());
}

#[test]
fn table_from_bytes_checks_alignment_and_size() {
    let mut words = [0u64; 4 * 3];
    let bytes: &mut [u8] = zerocopy::IntoBytes::as_mut_bytes(&mut words[..]);
    let table = table_from_bytes(bytes).unwrap();
    assert_eq!(table.len(), 3);
    let mut w = CacheWriter::new(table);
    w.write(1, &t(2, 1, 0x3000)).unwrap();
    assert_eq!(CacheReader::new(table).snapshot(1), Snapshot::Stable(Some(t(2, 1, 0x3000))));

    let mut words = [0u64; 8];
    let bytes: &mut [u8] = zerocopy::IntoBytes::as_mut_bytes(&mut words[..]);
    assert!(matches!(table_from_bytes(&mut bytes[..ENTRY_BYTES + 8]), Err(CacheError::BadRegionSize(40))));
    assert!(matches!(table_from_bytes(&mut bytes[..0]), Err(CacheError::BadRegionSize(0))));
    assert!(matches!(table_from_bytes(&mut bytes[1..33]), Err(CacheError::MisalignedRegion(_))));
}

#[test]
fn table_from_raw_checks_alignment_and_size() {
    let mut words = [0u64; 8];
    let base = words.as_mut_ptr().cast::<u8>();
    // SAFETY: `words` outlives every use of the tables below and is accessed only through them.
    unsafe {
        assert_eq!(table_from_raw(base, 64).unwrap().len(), 2);
        assert!(matches!(table_from_raw(base.add(4), 32), Err(CacheError::MisalignedRegion(_))));
        assert!(matches!(table_from_raw(base, 33), Err(CacheError::BadRegionSize(33))));
        assert!(matches!(table_from_raw(std::ptr::null_mut(), 32), Err(CacheError::MisalignedRegion(0))));
    }
}

/// A writer rewrites a few entries as fast as it can, each time with a new generation `g`
/// encoded redundantly in every field (tag page = entry, frame = g << 12, pinned = g odd,
/// expiry = g); readers check every translation they accept is one whole write.
#[test]
fn readers_never_accept_torn_entries() {
    const ENTRIES: usize = 4;
    const WRITES: u64 = 200_000;
    const READERS: usize = 2;
    let entries = table(ENTRIES);
    let done = AtomicBool::new(false);

    let (accepted, torn) = thread::scope(|s| {
        let writer = s.spawn(|| {
            let mut w = CacheWriter::new(&entries);
            for g in 1..=WRITES {
                let i = (g as usize) % ENTRIES;
                if g % 97 == 0 {
                    w.invalidate(i).unwrap();
                } else {
                    w.write(
                        i,
                        &Translation {
                            ds: DsId(g as u32),
                            page: i as u32,
                            frame: g << 12,
                            pinned: g % 2 == 1,
                            expiry: if g % 2 == 1 { g } else { 0 },
                        },
                    )
                    .unwrap();
                }
            }
            done.store(true, Ordering::Release);
        });
        let readers: Vec<_> = (0..READERS)
            .map(|_| {
                s.spawn(|| {
                    let r = CacheReader::new(&entries);
                    let (mut accepted, mut torn, mut rounds) = (0u64, 0u64, 0u64);
                    // Bounded: stop when the writer is done or after a fixed number of reads.
                    while !done.load(Ordering::Acquire) && rounds < 20_000_000 {
                        rounds += 1;
                        let i = (rounds as usize) % ENTRIES;
                        match r.snapshot(i) {
                            Snapshot::Stable(Some(t)) => {
                                let g = t.frame >> 12;
                                assert_eq!(t.ds.0 as u64, g & 0xffff_ffff, "tag from another write");
                                assert_eq!(t.page as usize, i, "page from another entry");
                                assert_eq!(t.pinned, g % 2 == 1, "flags from another write");
                                assert_eq!(t.expiry, if t.pinned { g } else { 0 }, "expiry torn");
                                assert_eq!(g as usize % ENTRIES, i);
                                accepted += 1;
                            }
                            Snapshot::Stable(None) => {}
                            Snapshot::Torn => torn += 1,
                        }
                    }
                    (accepted, torn)
                })
            })
            .collect();
        writer.join().unwrap();
        readers.into_iter().map(|h| h.join().unwrap()).fold((0, 0), |(a, t), (a2, t2)| (a + a2, t + t2))
    });
    assert!(accepted > 0, "readers accepted nothing (torn reads: {torn})");
}

/// A manager restarted in the middle of a write leaves the entry's `seq` odd. The next writer
/// must not derive its parity from that: it starts from `seq | 1` and finishes on the next even
/// value, so readers accept its write (and every later one).
#[test]
fn a_write_left_half_done_by_a_previous_writer_does_not_flip_the_parity() {
    for stale in [1u64, 7, u64::MAX] {
        // Word 0 of entry 1 is its `seq`: odd, as a writer that died mid-write left it.
        let mut words = [0u64; 2 * ENTRY_BYTES / 8];
        words[ENTRY_BYTES / 8] = stale;
        let bytes: &mut [u8] = zerocopy::IntoBytes::as_mut_bytes(&mut words[..]);
        let entries = table_from_bytes(bytes).unwrap();
        let r = CacheReader::new(entries);
        assert_eq!(r.snapshot(1), Snapshot::Torn, "seq {stale}: a half-written entry is never accepted");

        let mut w = CacheWriter::new(entries);
        for round in 0..3u64 {
            let want = t(2, 1, 0x4000_0000 + (round << 12));
            w.write(1, &want).unwrap();
            assert_eq!(r.snapshot(1), Snapshot::Stable(Some(want)), "seq {stale}, write {round}: readers accept it");
        }
        w.invalidate(1).unwrap();
        assert_eq!(r.snapshot(1), Snapshot::Stable(None), "seq {stale}: invalidation is seen");
        assert_eq!(r.snapshot(0), Snapshot::Stable(None), "the neighbour entry is untouched");
    }
}
