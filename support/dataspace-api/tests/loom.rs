//! Loom model of the translation cache's seqlock: for every interleaving (and every value a
//! relaxed load may see) of one writer rewriting an entry and one reader looking it up, the
//! reader accepts only a whole write, never a mix of two; also when a previous writer left the
//! entry mid-write (odd `seq`). A negative control runs the same model with the writer's
//! release fence left out and must fail, showing the model can see the bug it guards against.
//! Run with `make test-loom` (= `cargo test --release -p dataspace-api --features loom --test
//! loom`).
use dataspace_api::cache::{CacheEntry, CacheReader, CacheWriter, Snapshot, Translation};
use dataspace_api::DsId;
use loom::model::Builder;
use loom::sync::Arc;
use loom::thread;

/// Bounded preemptions keep the run to seconds; 3 covers every interleaving of one write (odd
/// seq, fields, even seq) against one read attempt and its retry.
fn model(f: impl Fn() + Sync + Send + 'static) {
    let mut b = Builder::new();
    b.preemption_bound = Some(3);
    b.check(f);
}

fn gen(g: u64) -> Translation {
    Translation {
        ds: DsId(g as u32),
        page: 0,
        frame: g << 12,
        pinned: g % 2 == 1,
        expiry: if g % 2 == 1 { g } else { 0 },
    }
}

fn consistent(t: &Translation) -> bool {
    *t == gen(t.frame >> 12)
}

/// How the writer publishes.
#[derive(Clone, Copy)]
enum Writer {
    /// `CacheWriter::write`.
    Correct,
    /// Bug: no release fence between the odd `seq` and the field stores.
    NoFence,
}

fn write(w: &mut CacheWriter<'_>, t: &Translation, how: Writer) {
    match how {
        Writer::Correct => w.write(0, t).unwrap(),
        Writer::NoFence => w.write_without_fence_for_loom_control(0, t).unwrap(),
    }
}

/// One writer writes gen(1) then gen(2) while one reader takes a snapshot.
fn torn_read_model(how: Writer) {
    model(move || {
        let table = Arc::new([CacheEntry::new()]);
        let writer_table = table.clone();
        let writer = thread::spawn(move || {
            let mut w = CacheWriter::new(&writer_table[..]);
            write(&mut w, &gen(1), how);
            write(&mut w, &gen(2), how);
        });
        let r = CacheReader::new(&table[..]);
        match r.snapshot(0) {
            Snapshot::Stable(Some(t)) => assert!(consistent(&t), "torn entry accepted: {t:?}"),
            Snapshot::Stable(None) | Snapshot::Torn => {}
        }
        writer.join().unwrap();
        // After the writer is done, the reader sees the last write.
        assert_eq!(r.snapshot(0), Snapshot::Stable(Some(gen(2))));
    });
}

#[test]
fn reader_never_accepts_a_torn_entry() {
    torn_read_model(Writer::Correct);
}

#[test]
#[should_panic(expected = "torn entry accepted")]
fn negative_control_without_writer_fence_accepts_a_torn_entry() {
    torn_read_model(Writer::NoFence);
}

#[test]
fn a_writer_after_one_that_stopped_mid_write_is_read_whole() {
    model(|| {
        let table = Arc::new([CacheEntry::new()]);
        {
            // A previous writer (a manager restarted mid-write) stopped after its odd `seq`
            // and half of the fields.
            let mut w = CacheWriter::new(&table[..]);
            w.write(0, &gen(3)).unwrap();
            table[0].leave_mid_write_for_loom(gen(4).frame | 1);
        }
        let writer_table = table.clone();
        let writer = thread::spawn(move || {
            let mut w = CacheWriter::new(&writer_table[..]);
            w.write(0, &gen(1)).unwrap();
        });
        let r = CacheReader::new(&table[..]);
        match r.snapshot(0) {
            Snapshot::Stable(Some(t)) => assert_eq!(t, gen(1), "only the new writer's entry is accepted"),
            Snapshot::Stable(None) => panic!("the half-written entry read as stable"),
            Snapshot::Torn => {}
        }
        writer.join().unwrap();
        assert_eq!(r.snapshot(0), Snapshot::Stable(Some(gen(1))), "the parity recovered");
    });
}

#[test]
fn invalidate_is_never_half_seen() {
    model(|| {
        let table = Arc::new([CacheEntry::new()]);
        {
            let mut w = CacheWriter::new(&table[..]);
            w.write(0, &gen(3)).unwrap();
        }
        let writer_table = table.clone();
        let writer = thread::spawn(move || {
            let mut w = CacheWriter::new(&writer_table[..]);
            w.invalidate(0).unwrap();
        });
        let mut r = CacheReader::new(&table[..]);
        if let Some(t) = r.lookup(0, DsId(3), 0) {
            assert_eq!(t, gen(3), "a lookup during invalidation saw a mix");
        }
        writer.join().unwrap();
        assert_eq!(r.lookup(0, DsId(3), 0), None, "invalidated entry still hit");
    });
}
