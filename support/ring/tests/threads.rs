//! The rings on real threads and real atomics (not loom): a client and a server exchange
//! buffers through a queue pair, both blocking with the suppressed-notification protocol
//! (thread park/unpark stands in for seL4 notifications). Checks order, completeness, buffer
//! return and that blocking happened without hanging. A sleep that only its 5 s timeout ended
//! is a lost wake-up and fails the test (the timeout only keeps a broken protocol from hanging
//! the test run; it must never be what wakes a side).
#![cfg(not(feature = "loom"))]

use ring::{CacheLine, Desc};
use std::thread;
use std::time::{Duration, Instant};

const ITEMS: u32 = 200_000;
const CAP: u32 = 16;
/// How long a side sleeps at most: only a safety net, see [`sleep`].
const WAKE_TIMEOUT: Duration = Duration::from_secs(5);

/// Blocks as a PD blocks on its notification (park/unpark stand in for it). Fails if nothing
/// but the timeout ended the sleep: the peer never signalled, i.e. a lost wake-up.
fn sleep(who: &str) {
    let start = Instant::now();
    thread::park_timeout(WAKE_TIMEOUT);
    let slept = start.elapsed();
    assert!(slept < WAKE_TIMEOUT, "the {who} slept {slept:?}: only the timeout woke it (a lost wake-up)");
}

#[test]
fn queue_pair_round_trips_on_two_threads_with_blocking() {
    let mut mem = vec![CacheLine::ZERO; CacheLine::lines_for(CAP).unwrap()];
    let (mut tx, mut rx) = ring::split(&mut mem, CAP).unwrap();
    let client = thread::current();
    let start = Instant::now();

    thread::scope(|s| {
        let server = s.spawn(move || {
            let mut next = 0u32;
            let mut batch = [Desc::default(); 8];
            let mut sleeps = 0u64;
            while next < ITEMS {
                let n = rx.active.dequeue_batch(&mut batch).unwrap();
                for d in &batch[..n] {
                    assert_eq!(d.cookie, next, "in order, exactly once");
                    next += 1;
                }
                if n > 0 {
                    assert_eq!(rx.free.enqueue_batch(&batch[..n]).unwrap(), n, "free ring has room");
                    if rx.free.signal_needed() {
                        client.unpark();
                    }
                } else if rx.active.prepare_to_block().unwrap() {
                    sleeps += 1;
                    sleep("server");
                }
            }
            (rx.active.stats(), rx.free.stats(), sleeps)
        });
        let server_thread = server.thread().clone();

        // Client: CAP buffers, each sent, returned, and sent again with the next cookie.
        let mut owned: Vec<u32> = (0..CAP).collect();
        let (mut sent, mut returned) = (0u32, 0u32);
        while returned < ITEMS {
            while sent < ITEMS {
                let Some(buf) = owned.pop() else { break };
                let d = Desc { dataspace: 0, offset: buf * 2048, len: 64, cookie: sent };
                tx.active.enqueue(d).unwrap();
                sent += 1;
            }
            if tx.active.signal_needed() {
                server_thread.unpark();
            }
            match tx.free.dequeue().unwrap() {
                Some(d) => {
                    assert_eq!(d.len, 64);
                    owned.push(d.offset / 2048);
                    returned += 1;
                }
                None => {
                    if tx.free.prepare_to_block().unwrap() {
                        sleep("client");
                    }
                }
            }
            assert!(start.elapsed() < Duration::from_secs(60), "stuck: a lost wake-up?");
        }
        let (active, free, sleeps) = server.join().unwrap();
        assert_eq!(active.dequeued, u64::from(ITEMS));
        assert_eq!(free.enqueued, u64::from(ITEMS));
        // Every sleep's request is cleared by exactly one signal; a request withdrawn after the
        // re-check may also have drawn one (harmless early wake-up).
        let sent = tx.active.stats().signals_sent;
        assert!(sent >= active.sleeps && sent <= active.sleeps + active.requests_cancelled);
        assert!(active.sleeps > 0, "the server did block at some point");
        assert_eq!(active.sleeps, sleeps);
        assert_eq!(owned.len(), CAP as usize, "every buffer came back");
    });
}
