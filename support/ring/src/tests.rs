//! Unit tests of the ring against a well-behaved and a hostile peer: layout sizes, FIFO order,
//! wrap-around, full/empty, batching, the signalling protocol, and every impossible value a
//! peer can write into shared memory.

extern crate std;

use crate::*;
use std::vec;
use std::vec::Vec;

fn d(cookie: u32) -> Desc {
    Desc { dataspace: 1, offset: cookie * 2048, len: 1500, cookie }
}

fn mem(cap: u32) -> Vec<CacheLine> {
    vec![CacheLine::ZERO; CacheLine::lines_for(cap).unwrap()]
}

/// Writes a word of the active ring as a (possibly hostile) peer would.
fn poke_tail(tx: &Sender<'_>, v: u32) {
    tx.active.ring.header.tail.word.store(v, core::sync::atomic::Ordering::SeqCst);
}
fn poke_head(rx: &Receiver<'_>, v: u32) {
    rx.active.ring.header.head.word.store(v, core::sync::atomic::Ordering::SeqCst);
}
fn poke_signal(rx: &Receiver<'_>, v: u32) {
    rx.active.ring.header.signal.word.store(v, core::sync::atomic::Ordering::SeqCst);
}

#[test]
fn sizes_follow_the_documented_layout() {
    // Header 384 bytes, then capacity + 8 slots of 16 bytes, rounded up to 64.
    assert_eq!(SLACK_SLOTS, 8);
    assert_eq!(queue_pair_size(1), Ok(2 * 576)); // 384 + 9 * 16 = 528 -> 576
    assert_eq!(queue_pair_size(8), Ok(2 * 640));
    assert_eq!(queue_pair_size(256), Ok(2 * (384 + 264 * 16)));
    assert_eq!(queue_pair_size(0), Err(LayoutError::CapacityNotPowerOfTwo(0)));
    assert_eq!(queue_pair_size(48), Err(LayoutError::CapacityNotPowerOfTwo(48)));
    assert_eq!(queue_pair_size(MAX_CAPACITY * 2), Err(LayoutError::CapacityTooLarge(1 << 21)));
    assert_eq!(CacheLine::lines_for(8), Ok(20));
}

#[test]
fn split_checks_the_region() {
    let mut small = vec![CacheLine::ZERO; 9];
    let err = split(&mut small, 8).err().unwrap();
    assert_eq!(err, LayoutError::RegionTooSmall { need: 1280, have: 576 });
    assert!(std::format!("{err}").contains("queue_pair_size"));
    let mut m = mem(8);
    assert_eq!(split(&mut m, 6).err(), Some(LayoutError::CapacityNotPowerOfTwo(6)));
}

#[test]
fn split_zeroes_stale_memory_and_places_rings_as_documented() {
    let mut m = vec![CacheLine([0xa5; 64]); 20];
    let base = m.as_ptr() as usize;
    {
        let (tx, rx) = split(&mut m, 8).unwrap();
        assert_eq!(tx.active.ring.header as *const _ as usize, base);
        assert_eq!(tx.active.ring.slots.as_ptr() as usize, base + HEADER_SIZE);
        assert_eq!(tx.active.ring.slots.len(), 8 + SLACK_SLOTS);
        assert_eq!(tx.free.ring.header as *const _ as usize, base + 640);
        assert_eq!(rx.active.ring.header as *const _ as usize, base);
    }
    assert!(m.iter().all(|l| l.0 == [0; 64]));
}

#[test]
fn fifo_across_wraparound() {
    let mut m = mem(4);
    let (mut tx, mut rx) = split(&mut m, 4).unwrap();
    for round in 0..10u32 {
        for i in 0..3 {
            tx.active.enqueue(d(round * 3 + i)).unwrap();
        }
        for i in 0..3 {
            assert_eq!(rx.active.dequeue().unwrap(), Some(d(round * 3 + i)));
        }
        assert_eq!(rx.active.dequeue().unwrap(), None);
    }
    assert_eq!(tx.active.stats().enqueued, 30);
    assert_eq!(rx.active.stats().dequeued, 30);
}

#[test]
fn free_running_indices_wrap_at_u32_max() {
    let mut m = mem(4);
    let (mut tx, mut rx) = split(&mut m, 4).unwrap();
    let start = u32::MAX - 5;
    // Start both ends (and the shared words) just below the wrap point.
    tx.active.tail = start;
    tx.active.head = start;
    rx.active.head = start;
    rx.active.tail = start;
    poke_tail(&tx, start);
    poke_head(&rx, start);
    for i in 0..20 {
        tx.active.enqueue(d(i)).unwrap();
        if i % 2 == 1 {
            assert_eq!(rx.active.dequeue().unwrap(), Some(d(i - 1)));
            assert_eq!(rx.active.dequeue().unwrap(), Some(d(i)));
        }
    }
    assert!(tx.active.tail < 100, "tail wrapped");
}

/// Entries go to the slots in turn, the slack slots included, so a producer refilling a full
/// ring writes behind the consumer rather than into the slot it just freed; the slot positions
/// wrap at `capacity + SLACK_SLOTS`, also in the middle of a batch.
#[test]
fn slots_are_used_in_turn_including_the_slack() {
    let mut m = mem(8);
    let (mut tx, mut rx) = split(&mut m, 8).unwrap();
    let slots = 8 + SLACK_SLOTS as u32;
    for i in 0..8 {
        tx.active.enqueue(d(i)).unwrap();
    }
    assert_eq!(tx.active.enqueue(d(99)), Err(EnqueueError::Full));
    assert_eq!(rx.active.dequeue().unwrap(), Some(d(0)));
    tx.active.enqueue(d(8)).unwrap();
    // Entry 8 went to slot 8, a slack slot: slot 0 (just freed) still holds entry 0.
    assert_eq!(tx.active.ring.slots[8].load(), d(8));
    assert_eq!(tx.active.ring.slots[0].load(), d(0));
    // Many laps of mixed single and batched use, with batches straddling the slot wrap.
    let mut out = [Desc::default(); 5];
    let (mut next_in, mut next_out) = (9u32, 1u32);
    for round in 0..200u32 {
        let batch: Vec<Desc> = (next_in..next_in + 1 + round % 5).map(d).collect();
        let n = tx.active.enqueue_batch(&batch).unwrap() as u32;
        next_in += n;
        if round % 3 == 0 && tx.active.enqueue(d(next_in)).is_ok() {
            next_in += 1;
        }
        let got = rx.active.dequeue_batch(&mut out[..(round % 5 + 1) as usize]).unwrap();
        for x in &out[..got] {
            assert_eq!(*x, d(next_out));
            next_out += 1;
        }
        if let Some(x) = rx.active.dequeue().unwrap() {
            assert_eq!(x, d(next_out));
            next_out += 1;
        }
        assert!(tx.active.slot < slots && rx.active.slot < slots);
        assert_eq!(tx.active.slot, next_in % slots);
        assert_eq!(rx.active.slot, next_out % slots);
    }
    assert!(next_out > 10 * slots, "went round the slots many times");
}

#[test]
fn full_and_refill() {
    let mut m = mem(4);
    let (mut tx, mut rx) = split(&mut m, 4).unwrap();
    for i in 0..4 {
        tx.active.enqueue(d(i)).unwrap();
    }
    assert_eq!(tx.active.enqueue(d(9)), Err(EnqueueError::Full));
    assert_eq!(tx.active.free_slots(), Ok(0));
    assert_eq!(rx.active.dequeue().unwrap(), Some(d(0)));
    assert_eq!(tx.active.free_slots(), Ok(1));
    tx.active.enqueue(d(4)).unwrap();
    assert_eq!(rx.active.available(), Ok(4));
    let mut out = [Desc::default(); 8];
    assert_eq!(rx.active.dequeue_batch(&mut out), Ok(4));
    assert_eq!(&out[..4], &[d(1), d(2), d(3), d(4)]);
}

#[test]
fn batches_enqueue_what_fits() {
    let mut m = mem(8);
    let (mut tx, mut rx) = split(&mut m, 8).unwrap();
    let items: Vec<Desc> = (0..12).map(d).collect();
    assert_eq!(tx.active.enqueue_batch(&items), Ok(8));
    assert_eq!(tx.active.enqueue_batch(&items[8..]), Ok(0));
    let mut out = [Desc::default(); 3];
    assert_eq!(rx.active.dequeue_batch(&mut out), Ok(3));
    assert_eq!(out, [d(0), d(1), d(2)]);
    assert_eq!(tx.active.enqueue_batch(&items[8..]), Ok(3));
    let mut rest = [Desc::default(); 16];
    assert_eq!(rx.active.dequeue_batch(&mut rest), Ok(8));
    assert_eq!(&rest[..8], &items[3..11]);
    assert_eq!(rx.active.dequeue_batch(&mut rest), Ok(0));
}

#[test]
fn free_ring_returns_buffers_the_other_way() {
    let mut m = mem(4);
    let (mut tx, mut rx) = split(&mut m, 4).unwrap();
    tx.active.enqueue(d(1)).unwrap();
    let got = rx.active.dequeue().unwrap().unwrap();
    rx.free.enqueue(got).unwrap();
    assert_eq!(tx.free.dequeue().unwrap(), Some(d(1)));
    assert_eq!(tx.free.dequeue().unwrap(), None);
}

#[test]
fn consumer_that_never_asks_is_never_signalled() {
    let mut m = mem(4);
    let (mut tx, mut rx) = split(&mut m, 4).unwrap();
    for i in 0..100 {
        if tx.active.enqueue(d(i)).is_err() {
            while rx.active.dequeue().unwrap().is_some() {}
            tx.active.enqueue(d(i)).unwrap();
        }
        assert!(!tx.active.signal_needed());
    }
    assert_eq!(tx.active.stats().signals_sent, 0);
    assert_eq!(tx.active.stats().signals_suppressed, 100);
}

#[test]
fn sleeping_consumer_is_signalled_exactly_once() {
    let mut m = mem(4);
    let (mut tx, mut rx) = split(&mut m, 4).unwrap();
    assert_eq!(rx.active.prepare_to_block(), Ok(true));
    tx.active.enqueue(d(0)).unwrap();
    assert!(tx.active.signal_needed(), "the consumer asked and is asleep");
    tx.active.enqueue(d(1)).unwrap();
    assert!(!tx.active.signal_needed(), "request was cleared by the first signal");
    // Woken: drain the batch fully, then it is not safe to sleep until the ring is empty.
    assert_eq!(rx.active.dequeue().unwrap(), Some(d(0)));
    assert_eq!(rx.active.prepare_to_block(), Ok(false));
    assert_eq!(rx.active.dequeue().unwrap(), Some(d(1)));
    assert_eq!(rx.active.prepare_to_block(), Ok(true));
    let (p, c) = (tx.active.stats(), rx.active.stats());
    assert_eq!((p.signals_sent, p.signals_suppressed), (1, 1));
    assert_eq!((c.signals_requested, c.sleeps, c.requests_cancelled), (2, 2, 0));
}

#[test]
fn withdrawn_request_is_not_signalled() {
    let mut m = mem(4);
    let (mut tx, mut rx) = split(&mut m, 4).unwrap();
    rx.active.request_signal();
    rx.active.cancel_signal();
    tx.active.enqueue(d(0)).unwrap();
    assert!(!tx.active.signal_needed());
}

// ---- hostile peer -------------------------------------------------------------------------

#[test]
fn hostile_tail_past_capacity_is_an_error_and_changes_nothing() {
    let mut m = mem(4);
    let (mut tx, mut rx) = split(&mut m, 4).unwrap();
    tx.active.enqueue(d(0)).unwrap();
    poke_tail(&tx, 5); // 5 entries ahead of head 0 with capacity 4
    let e = rx.active.dequeue().unwrap_err();
    assert_eq!(e, PeerError::TailPastCapacity { head: 0, tail: 5, capacity: 4 });
    assert!(std::format!("{e}").contains("faulty or hostile"));
    assert_eq!((rx.active.head, rx.active.tail), (0, 0));
    assert_eq!(rx.active.available(), Err(e));
    assert!(rx.active.prepare_to_block().is_err());
    let mut out = [Desc::default(); 4];
    assert_eq!(rx.active.dequeue_batch(&mut out), Err(e));
    // The peer comes back to its senses: the reader continues where it was.
    poke_tail(&tx, 1);
    assert_eq!(rx.active.dequeue().unwrap(), Some(d(0)));
    assert_eq!(rx.active.dequeue().unwrap(), None);
}

#[test]
fn hostile_tail_far_away_or_huge_is_rejected_in_bounded_time() {
    let mut m = mem(4);
    let (tx, mut rx) = split(&mut m, 4).unwrap();
    for bad in [u32::MAX / 2, u32::MAX / 2 + 1, 1 << 31, 0x7fff_ffff, 1000] {
        poke_tail(&tx, bad);
        assert!(rx.active.dequeue().is_err(), "tail {bad:#x}");
        let mut out = vec![Desc::default(); 1 << 16];
        assert!(rx.active.dequeue_batch(&mut out).is_err());
        assert_eq!(rx.active.stats().dequeued, 0);
    }
}

#[test]
fn hostile_tail_moving_backwards_is_an_error() {
    let mut m = mem(4);
    let (mut tx, mut rx) = split(&mut m, 4).unwrap();
    for i in 0..3 {
        tx.active.enqueue(d(i)).unwrap();
    }
    assert_eq!(rx.active.dequeue().unwrap(), Some(d(0))); // sees tail 3, head now 1
    poke_tail(&tx, 2); // still ahead of our head but behind what we saw
    assert_eq!(rx.active.available(), Err(PeerError::TailBackwards { seen: 3, now: 2 }));
    poke_tail(&tx, 0); // behind our head
    assert_eq!(rx.active.available(), Err(PeerError::TailBackwards { seen: 3, now: 0 }));
    assert_eq!(rx.active.prepare_to_block(), Ok(false), "validated entries are still waiting");
    assert_eq!((rx.active.head, rx.active.tail), (1, 3));
    // Entries already validated stay readable without re-reading the bad tail.
    assert_eq!(rx.active.dequeue().unwrap(), Some(d(1)));
    assert_eq!(rx.active.dequeue().unwrap(), Some(d(2)));
    assert_eq!(rx.active.dequeue(), Err(PeerError::TailBackwards { seen: 3, now: 0 }));
    assert_eq!(rx.active.prepare_to_block(), Err(PeerError::TailBackwards { seen: 3, now: 0 }));
    assert_eq!((rx.active.head, rx.active.tail), (3, 3));
}

#[test]
fn hostile_head_past_tail_is_an_error_and_changes_nothing() {
    let mut m = mem(2);
    let (mut tx, rx) = split(&mut m, 2).unwrap();
    tx.active.enqueue(d(0)).unwrap();
    tx.active.enqueue(d(1)).unwrap();
    poke_head(&rx, 3); // consumed 3 of 2 published
    assert_eq!(tx.active.enqueue(d(2)), Err(EnqueueError::Peer(PeerError::HeadPastTail { head: 3, tail: 2 })));
    assert_eq!(tx.active.free_slots(), Err(PeerError::HeadPastTail { head: 3, tail: 2 }));
    assert_eq!(tx.active.enqueue_batch(&[d(2)]), Err(PeerError::HeadPastTail { head: 3, tail: 2 }));
    assert_eq!((tx.active.tail, tx.active.head), (2, 0));
    poke_head(&rx, 1);
    tx.active.enqueue(d(2)).unwrap();
}

#[test]
fn hostile_head_moving_backwards_is_an_error() {
    let mut m = mem(4);
    let (mut tx, mut rx) = split(&mut m, 4).unwrap();
    for i in 0..4 {
        tx.active.enqueue(d(i)).unwrap();
    }
    rx.active.dequeue().unwrap();
    rx.active.dequeue().unwrap();
    assert_eq!(tx.active.free_slots(), Ok(2)); // producer saw head 2
    poke_head(&rx, 1);
    assert_eq!(tx.active.free_slots(), Err(PeerError::HeadBackwards { seen: 2, now: 1 }));
    poke_head(&rx, u32::MAX);
    assert_eq!(tx.active.free_slots(), Err(PeerError::HeadBackwards { seen: 2, now: u32::MAX }));
    assert_eq!((tx.active.tail, tx.active.head), (4, 2));
}

#[test]
fn garbage_in_the_signal_word_means_wanted_and_is_cleared() {
    let mut m = mem(4);
    let (mut tx, rx) = split(&mut m, 4).unwrap();
    poke_signal(&rx, 0xdead_beef);
    tx.active.enqueue(d(0)).unwrap();
    assert!(tx.active.signal_needed());
    assert_eq!(rx.active.ring.header.signal.word.load(core::sync::atomic::Ordering::SeqCst), 0);
    assert!(!tx.active.signal_needed());
}

#[test]
fn peer_overwriting_our_own_index_does_not_affect_us() {
    let mut m = mem(4);
    let (mut tx, mut rx) = split(&mut m, 4).unwrap();
    tx.active.enqueue(d(0)).unwrap();
    // A hostile producer scribbles on the consumer's head word (and vice versa).
    poke_head(&rx, 77);
    assert_eq!(rx.active.dequeue().unwrap(), Some(d(0)));
    poke_tail(&tx, 99);
    assert!(rx.active.dequeue().is_err());
    poke_tail(&tx, 1);
    tx.active.enqueue(d(1)).unwrap(); // producer writes its own tail 2 again
    assert_eq!(rx.active.dequeue().unwrap(), Some(d(1)));
}

#[test]
fn descriptors_are_validated_against_the_session() {
    let session = [0x1000u64, 0x4000];
    let ok = Desc { dataspace: 1, offset: 0x3000, len: 0x1000, cookie: 0 };
    assert_eq!(ok.validate(&session[..]), Ok(0x3000..0x4000));
    let past = Desc { dataspace: 1, offset: 0x3001, len: 0x1000, cookie: 0 };
    assert_eq!(
        past.validate(&session[..]),
        Err(DescError::OutOfBounds { dataspace: 1, offset: 0x3001, len: 0x1000, size: 0x4000 })
    );
    let unknown = Desc { dataspace: 2, ..ok };
    assert_eq!(unknown.validate(&session[..]), Err(DescError::UnknownDataspace { dataspace: 2 }));
    // offset + len wraps around in u32 (0x1000): must still be rejected.
    let wrap = Desc { dataspace: 0, offset: 0xffff_f000, len: 0x2000, cookie: 0 };
    assert!(matches!(wrap.validate(&session[..]), Err(DescError::OutOfBounds { .. })));
    let huge = Desc { dataspace: 0, offset: u32::MAX, len: u32::MAX, cookie: 0 };
    assert!(huge.validate(&|_| Some(u64::MAX)).is_ok());
    assert!(huge.validate(&|_| Some(1u64 << 32)).is_err());
    let msg = std::format!("{}", unknown.validate(&session[..]).unwrap_err());
    assert!(msg.contains("dataspace 2"), "{msg}");
}

#[test]
fn from_raw_checks_and_shares_one_region() {
    let mut m = mem(8);
    let len = m.len() * CACHE_LINE;
    let base = m.as_mut_ptr() as *mut u8;
    // SAFETY: `m` outlives the handles below and is only touched through them.
    unsafe {
        assert_eq!(
            Sender::from_raw(base.add(8), len - 64, 8).err(),
            Some(LayoutError::Misaligned { addr: base as usize + 8 })
        );
        assert_eq!(
            Receiver::from_raw(base, len - 64, 8).err(),
            Some(LayoutError::RegionTooSmall { need: len, have: len - 64 })
        );
        assert_eq!(Receiver::from_raw(base, len, 3).err(), Some(LayoutError::CapacityNotPowerOfTwo(3)));
        let mut tx = Sender::from_raw(base, len, 8).unwrap();
        let mut rx = Receiver::from_raw(base, len, 8).unwrap();
        assert!(rx.active.prepare_to_block().unwrap());
        tx.active.enqueue(d(5)).unwrap();
        assert!(tx.active.signal_needed());
        let got = rx.active.dequeue().unwrap().unwrap();
        rx.free.enqueue(got).unwrap();
        assert_eq!(tx.free.dequeue().unwrap(), Some(d(5)));
        // The words really are where the docs say.
        let words = base as *const u32;
        assert_eq!(words.add(TAIL_OFFSET / 4).read_volatile(), 1);
        assert_eq!(words.add(HEAD_OFFSET / 4).read_volatile(), 1);
        assert_eq!(words.add(SIGNAL_OFFSET / 4).read_volatile(), 0);
        assert_eq!(words.add(HEADER_SIZE / 4 + 3).read_volatile(), 5, "cookie of slot 0");
    }
}

#[test]
fn from_region_lays_both_ends_over_a_mapped_region() {
    let len = crate::queue_pair_size(8).unwrap();
    let region = region_host::zeroed("rx_queues", len);
    let mut tx = Sender::from_region(&region, 8).unwrap();
    let mut rx = Receiver::from_region(&region, 8).unwrap();
    tx.active.enqueue(d(9)).unwrap();
    assert_eq!(rx.active.dequeue().unwrap(), Some(d(9)));
    let (small, _) = region_host::zeroed("small", len).split_at(len - 64);
    assert_eq!(Sender::from_region(&small, 8).err(), Some(LayoutError::RegionTooSmall { need: len, have: len - 64 }));
}
