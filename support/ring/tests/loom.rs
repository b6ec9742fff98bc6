//! Model check of the suppressed-notification protocol with loom: the interleavings (and the
//! weak-memory outcomes loom models) of bounded producer/consumer runs in which the consumer
//! really blocks on a notification. Passing proves: no lost wake-up (a consumer asleep with work
//! queued and no signal coming never wakes, which loom reports as a deadlock once the producer
//! is done), no deadlock, and every item delivered exactly once and in order. loom also fails
//! the model on any concurrent access to a descriptor slot. Negative controls run the same
//! model with the re-check, the consumer's SeqCst fence, or the producer's SeqCst fence left
//! out and must fail, showing the model can see the bug it guards against.
//!
//! Sizes are chosen so the whole file runs in about 15 s in release: the exhaustive run (no
//! preemption bound) has 2 items through a ring of 2 (3 items take loom many minutes); the
//! 3-item runs, which also fill the ring and wrap around, bound preemptions to 3 (one ring) and
//! 2 (queue pair, two notifications), loom's usual settings; a lost wake-up needs only one.
//!
//! Under loom a ring has no slack slots (`ring::SLACK_SLOTS` is 0), so these short runs reuse
//! slots: a consumer that published its head before reading the slot fails the 3-item model.
//!
//! Run: `make test-loom` (= `cargo test --release -p ring --features loom --test loom`).
#![cfg(feature = "loom")]

use loom::sync::{Arc, Notify};
use loom::thread;
use ring::{Consumer, Desc, EnqueueError, Producer};

/// How the consumer decides it may sleep.
#[derive(Clone, Copy, Debug)]
enum Protocol {
    /// `Consumer::prepare_to_block`: request, fence(SeqCst), re-check.
    Correct,
    /// Bug: request a signal and sleep without re-checking the ring.
    NoRecheck,
    /// Bug: request, re-check, but without the SeqCst fence in between.
    NoFence,
}

/// `true` if the consumer may go to sleep now.
fn may_sleep(c: &mut Consumer<'_>, protocol: Protocol) -> bool {
    match protocol {
        Protocol::Correct => c.prepare_to_block().expect("a correct peer"),
        Protocol::NoRecheck => {
            c.request_signal();
            true
        }
        Protocol::NoFence => {
            c.request_signal();
            if c.available().expect("a correct peer") > 0 {
                c.cancel_signal();
                false
            } else {
                true
            }
        }
    }
}

fn desc(i: u32) -> Desc {
    Desc { dataspace: 0, offset: i * 64, len: 64, cookie: i }
}

/// Runs `f` under loom: every interleaving if `preemptions` is `None`, else those with at most
/// that many preemptions. The env var `LOOM_MAX_PREEMPTIONS` does not override this.
fn check(preemptions: Option<usize>, f: impl Fn() + Sync + Send + 'static) {
    let mut builder = loom::model::Builder::new();
    builder.preemption_bound = preemptions;
    builder.check(f);
}

/// How the producer decides whether to signal.
#[derive(Clone, Copy, Debug)]
enum ProducerSide {
    /// `Producer::signal_needed`: fence(SeqCst), then take the request.
    Correct,
    /// Bug: take the request without the SeqCst fence after publishing the tail.
    NoFence,
}

/// Producer side: enqueue (yielding while the ring is full, as a PD would wait for the consumer
/// to catch up), then signal only if `signal_needed` says so.
fn send(p: &mut Producer<'_>, d: Desc, wake: &Notify) {
    send_with(p, d, wake, ProducerSide::Correct)
}

fn send_with(p: &mut Producer<'_>, d: Desc, wake: &Notify, side: ProducerSide) {
    loop {
        match p.enqueue(d) {
            Ok(()) => break,
            Err(EnqueueError::Full) => thread::yield_now(),
            Err(e) => panic!("{e}"),
        }
    }
    let wanted = match side {
        ProducerSide::Correct => p.signal_needed(),
        ProducerSide::NoFence => p.signal_needed_without_fence_for_loom_control(),
    };
    if wanted {
        wake.notify();
    }
}

/// Consumer side: take the next entry, blocking on `wake` (a seL4 notification: a pending bit,
/// set by signals, consumed by a wait) whenever the ring is empty and the protocol allows it.
fn receive(c: &mut Consumer<'_>, wake: &Notify, protocol: Protocol) -> Desc {
    loop {
        if let Some(d) = c.dequeue().expect("a correct peer") {
            return d;
        }
        if may_sleep(c, protocol) {
            wake.wait();
        }
    }
}

/// One ring: the producer sends `items` through a ring of `capacity`; the consumer takes them,
/// blocking whenever the ring is empty.
fn one_ring(items: u32, capacity: u32, protocol: Protocol, preemptions: Option<usize>) {
    one_ring_with(items, capacity, protocol, ProducerSide::Correct, preemptions)
}

fn one_ring_with(items: u32, capacity: u32, protocol: Protocol, side: ProducerSide, preemptions: Option<usize>) {
    check(preemptions, move || {
        let (mut tx, mut rx) = ring::loom_pair(capacity).unwrap();
        let wake_consumer = Arc::new(Notify::new());
        let wake = wake_consumer.clone();

        let producer = thread::spawn(move || {
            for i in 0..items {
                send_with(&mut tx.active, desc(i), &wake, side);
            }
        });

        let got: Vec<Desc> = (0..items).map(|_| receive(&mut rx.active, &wake_consumer, protocol)).collect();
        producer.join().unwrap();
        assert_eq!(got, (0..items).map(desc).collect::<Vec<_>>(), "delivered once, in order");
        assert_eq!(rx.active.dequeue().unwrap(), None, "nothing extra");
    });
}

/// A whole queue pair, as between a client and a server: the sender owns one buffer; each item
/// goes out on the active ring and the buffer must come back on the free ring before the next
/// one can go. Both sides block, each on its own notification, with the same protocol.
fn round_trip(items: u32, capacity: u32, preemptions: Option<usize>) {
    check(preemptions, move || {
        let (mut tx, mut rx) = ring::loom_pair(capacity).unwrap();
        let wake_server = Arc::new(Notify::new());
        let wake_client = Arc::new(Notify::new());
        let (ws, wc) = (wake_server.clone(), wake_client.clone());

        let server = thread::spawn(move || {
            for i in 0..items {
                let d = receive(&mut rx.active, &ws, Protocol::Correct);
                assert_eq!(d, desc(i), "in order");
                send(&mut rx.free, d, &wc); // done with the buffer: hand it back
            }
        });

        send(&mut tx.active, desc(0), &wake_server);
        for i in 1..items {
            let back = receive(&mut tx.free, &wake_client, Protocol::Correct);
            assert_eq!(back, desc(i - 1), "buffer returned");
            send(&mut tx.active, desc(i), &wake_server);
        }
        assert_eq!(receive(&mut tx.free, &wake_client, Protocol::Correct), desc(items - 1));
        server.join().unwrap();
    });
}

#[test]
fn exhaustive_one_ring_2_items_capacity_2() {
    one_ring(2, 2, Protocol::Correct, None);
}

#[test]
fn bounded_one_ring_3_items_capacity_2_fills_and_wraps() {
    one_ring(3, 2, Protocol::Correct, Some(3));
}

#[test]
fn bounded_queue_pair_round_trip_3_items() {
    round_trip(3, 2, Some(2));
}

#[test]
#[should_panic(expected = "deadlock")]
fn negative_control_without_recheck_loses_a_wakeup() {
    one_ring(2, 2, Protocol::NoRecheck, None);
}

#[test]
#[should_panic(expected = "deadlock")]
fn negative_control_without_fence_loses_a_wakeup() {
    one_ring(2, 2, Protocol::NoFence, None);
}

#[test]
#[should_panic(expected = "deadlock")]
fn negative_control_without_producer_fence_loses_a_wakeup() {
    one_ring_with(2, 2, Protocol::Correct, ProducerSide::NoFence, None);
}
