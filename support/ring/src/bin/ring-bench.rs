//! Host benchmark of the shared rings (`make bench`): a producer and a consumer thread at
//! saturation, our ring next to crossbeam's `ArrayQueue` of the same capacity in the same run,
//! with the consumer either spinning or blocking when empty (thread park/unpark stands in for a
//! seL4 notification), printing items/s, the ratio to crossbeam and signals per item.

#[cfg(feature = "loom")]
fn main() {
    eprintln!("ring-bench: build it without the `loom` feature (loom's atomics only run in a model)");
    std::process::exit(2);
}

#[cfg(not(feature = "loom"))]
fn main() -> std::process::ExitCode {
    bench::main()
}

#[cfg(not(feature = "loom"))]
mod bench {
    use crossbeam_queue::ArrayQueue;
    use ring::{CacheLine, Desc, EnqueueError};
    use std::hint::spin_loop;
    use std::process::ExitCode;
    use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
    use std::thread;
    use std::time::{Duration, Instant};

    const CAPACITY: u32 = 512;
    const BATCH: usize = 32;
    const RUNS: usize = 3;

    #[derive(Clone, Copy, PartialEq, Eq)]
    enum Queue {
        Crossbeam,
        Ring,
    }

    #[derive(Clone, Copy, PartialEq, Eq)]
    enum Consumer {
        Spins,
        Blocks,
    }

    #[derive(Clone, Copy)]
    struct Case {
        queue: Queue,
        consumer: Consumer,
        batch: usize,
    }

    struct Outcome {
        elapsed: Duration,
        /// Notifications the producer actually sent.
        signals: u64,
        /// Times the consumer really went to sleep.
        sleeps: u64,
    }

    /// Waits while a queue is full: spin a little, then let the other thread have the core.
    struct Backoff(u32);
    impl Backoff {
        fn wait(&mut self) {
            self.0 += 1;
            if self.0 < 64 {
                spin_loop();
            } else {
                thread::yield_now();
            }
        }
    }

    fn desc(i: u64) -> Desc {
        Desc { dataspace: 0, offset: (i as u32 % CAPACITY) * 2048, len: 1024, cookie: i as u32 }
    }

    fn run_ring(items: u64, case: Case) -> Outcome {
        let mut mem = vec![CacheLine::ZERO; CacheLine::lines_for(CAPACITY).expect("valid capacity")];
        let (mut tx, mut rx) = ring::split(&mut mem, CAPACITY).expect("buffer sized by lines_for");
        let blocking = case.consumer == Consumer::Blocks;
        let start = Instant::now();
        let (signals, sleeps) = thread::scope(|s| {
            let consumer = s.spawn(move || {
                let mut out = vec![Desc::default(); case.batch];
                let (mut next, mut sleeps) = (0u64, 0u64);
                while next < items {
                    let n = if case.batch == 1 {
                        match rx.active.dequeue().expect("well-behaved peer") {
                            Some(d) => {
                                out[0] = d;
                                1
                            }
                            None => 0,
                        }
                    } else {
                        rx.active.dequeue_batch(&mut out).expect("well-behaved peer")
                    };
                    for d in &out[..n] {
                        assert_eq!(d.cookie, next as u32, "ring delivered out of order");
                        next += 1;
                    }
                    if n == 0 {
                        if !blocking {
                            spin_loop();
                        } else if rx.active.prepare_to_block().expect("well-behaved peer") {
                            sleeps += 1;
                            thread::park();
                        }
                    }
                }
                sleeps
            });
            let wake = consumer.thread().clone();
            let mut signals = 0u64;
            let mut batch = Vec::with_capacity(case.batch);
            let mut i = 0u64;
            while i < items {
                let mut backoff = Backoff(0);
                if case.batch == 1 {
                    loop {
                        match tx.active.enqueue(desc(i)) {
                            Ok(()) => break,
                            Err(EnqueueError::Full) => backoff.wait(),
                            Err(e) => panic!("{e}"),
                        }
                    }
                    i += 1;
                } else {
                    batch.clear();
                    batch.extend((i..items.min(i + case.batch as u64)).map(desc));
                    let mut done = 0;
                    while done < batch.len() {
                        let n = tx.active.enqueue_batch(&batch[done..]).expect("well-behaved peer");
                        if n == 0 {
                            backoff.wait();
                        }
                        done += n;
                    }
                    i += batch.len() as u64;
                }
                if blocking && tx.active.signal_needed() {
                    signals += 1;
                    wake.unpark();
                }
            }
            (signals, consumer.join().expect("consumer thread"))
        });
        Outcome { elapsed: start.elapsed(), signals, sleeps }
    }

    /// crossbeam has no notification protocol: a blocking consumer announces that it sleeps
    /// with a flag, and the producer signals whenever it sees the flag (checked with SeqCst after
    /// every push, the same store-buffering pattern as ours, so both sides pay for it).
    fn run_crossbeam(items: u64, case: Case) -> Outcome {
        let q = ArrayQueue::<Desc>::new(CAPACITY as usize);
        let sleeping = AtomicBool::new(false);
        let signals = AtomicU64::new(0);
        let blocking = case.consumer == Consumer::Blocks;
        let start = Instant::now();
        let sleeps = thread::scope(|s| {
            let (q, sleeping) = (&q, &sleeping);
            let consumer = s.spawn(move || {
                let (mut next, mut sleeps) = (0u64, 0u64);
                while next < items {
                    match q.pop() {
                        Some(d) => {
                            assert_eq!(d.cookie, next as u32, "crossbeam delivered out of order");
                            next += 1;
                        }
                        None if !blocking => spin_loop(),
                        None => {
                            sleeping.store(true, Ordering::SeqCst);
                            if q.is_empty() {
                                sleeps += 1;
                                thread::park();
                            }
                            sleeping.store(false, Ordering::SeqCst);
                        }
                    }
                }
                sleeps
            });
            let wake = consumer.thread().clone();
            for i in 0..items {
                let mut d = desc(i);
                let mut backoff = Backoff(0);
                while let Err(back) = q.push(d) {
                    d = back;
                    backoff.wait();
                }
                if blocking && sleeping.swap(false, Ordering::SeqCst) {
                    signals.fetch_add(1, Ordering::Relaxed);
                    wake.unpark();
                }
            }
            consumer.join().expect("consumer thread")
        });
        Outcome { elapsed: start.elapsed(), signals: signals.into_inner(), sleeps }
    }

    /// Best of `RUNS` (least disturbed by other work on the machine).
    fn measure(items: u64, case: Case) -> Outcome {
        (0..RUNS)
            .map(|_| match case.queue {
                Queue::Crossbeam => run_crossbeam(items, case),
                Queue::Ring => run_ring(items, case),
            })
            .min_by_key(|o| o.elapsed)
            .expect("RUNS > 0")
    }

    fn parse_items() -> Result<u64, String> {
        match std::env::args().nth(1) {
            None => Ok(4_000_000),
            Some(a) => a.replace('_', "").parse::<u64>().ok().filter(|&n| n > 0).ok_or_else(|| {
                format!("ring-bench: expected a positive item count, got {a:?} (usage: ring-bench [ITEMS])")
            }),
        }
    }

    pub fn main() -> ExitCode {
        let items = match parse_items() {
            Ok(n) => n,
            Err(e) => {
                eprintln!("{e}");
                return ExitCode::from(2);
            }
        };
        let cores = thread::available_parallelism().map_or(1, |n| n.get());
        println!(
            "ring-bench: {items} items per run, capacity {CAPACITY}, best of {RUNS} runs, \
             producer + consumer threads on {cores} cores"
        );
        println!(
            "{:<22} {:<9} {:>5} {:>10} {:>12} {:>13} {:>12}",
            "queue", "consumer", "batch", "Mitems/s", "vs crossbeam", "signals/item", "sleeps/item"
        );
        let cases = [
            (Consumer::Spins, [(Queue::Crossbeam, 1), (Queue::Ring, 1), (Queue::Ring, BATCH)]),
            (Consumer::Blocks, [(Queue::Crossbeam, 1), (Queue::Ring, 1), (Queue::Ring, BATCH)]),
        ];
        for (consumer, rows) in cases {
            let mut baseline = None;
            for (queue, batch) in rows {
                let o = measure(items, Case { queue, consumer, batch });
                let rate = items as f64 / o.elapsed.as_secs_f64();
                let base = *baseline.get_or_insert(rate);
                let name = match queue {
                    Queue::Crossbeam => "crossbeam ArrayQueue",
                    Queue::Ring => "ring (this crate)",
                };
                let (mode, per_item) = match consumer {
                    Consumer::Spins => ("spins", "-".to_string()),
                    Consumer::Blocks => ("blocks", format!("{:.5}", o.signals as f64 / items as f64)),
                };
                println!(
                    "{:<22} {:<9} {:>5} {:>10.1} {:>11.2}x {:>13} {:>12.5}",
                    name,
                    mode,
                    batch,
                    rate / 1e6,
                    rate / base,
                    per_item,
                    o.sleeps as f64 / items as f64
                );
            }
        }
        println!(
            "signals/item: notifications the producer actually sent (a seL4 Signal each); \
             'vs crossbeam' compares with crossbeam in the same consumer mode."
        );
        ExitCode::SUCCESS
    }
}
