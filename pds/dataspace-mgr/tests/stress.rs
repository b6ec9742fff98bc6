//! The manager under load: (1) a driver thread reading the translation cache while the manager
//! thread refills, pins, unpins and reclaims the same entries, accepting only translations that
//! are right for their page; (2) a long random mix of well-formed and hostile requests from
//! every kind of caller, checking the manager's invariants after each (quota never exceeded,
//! cache never holds a wrong frame, refused requests change nothing, pinned pages are never
//! reclaimed). Both bounded and deterministic in length.
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread;

use dataspace_api::cache::{CacheEntry, CacheReader, Snapshot};
use dataspace_api::msg::{MgrError, MgrRequest};
use dataspace_api::DsId;
use dataspace_mgr::{Caller, DriverSpec, Manager};

mod common;
use common::{ds_spec, frame, pd};

struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

#[test]
fn driver_reads_while_manager_rewrites() {
    const ROUNDS: u64 = 100_000;
    let cache: Vec<CacheEntry> = (0..8).map(|_| CacheEntry::new()).collect();
    let mut m =
        Manager::new(vec![ds_spec(3, 8, &[2])], vec![DriverSpec { pd: pd(1), pin_quota: 4, cache: &cache }]).unwrap();
    let a = m.attach(pd(1), pd(2), DsId(3)).unwrap();
    let done = AtomicBool::new(false);
    let (hits, reads) = thread::scope(|s| {
        let reader = s.spawn(|| {
            let mut r = CacheReader::new(&cache);
            let (mut page, mut reads) = (0u32, 0u64);
            while !done.load(Ordering::Acquire) && reads < 50_000_000 {
                reads += 1;
                page = (page + 1) % 8;
                if let Some(t) = r.lookup(a.index(page).unwrap(), DsId(3), page) {
                    assert_eq!(t.frame, frame(3, page), "wrong frame for page {page}");
                    assert!(t.pinned || t.expiry == 0, "unpinned entry with an expiry");
                }
            }
            (r.stats().hits, reads)
        });
        let mut rng = Rng(7);
        let mut now = 1;
        for _ in 0..ROUNDS {
            now += rng.below(3);
            let page = rng.below(8) as u32;
            let _ = match rng.below(5) {
                0 => m.refill(pd(1), DsId(3), page, now).map(drop),
                1 => m.pin(pd(1), DsId(3), page, 1, if rng.below(2) == 0 { 0 } else { now + 5 }, now).map(drop),
                2 => m.unpin(pd(1), DsId(3), page, 1, now).map(drop),
                3 => m.reclaim(DsId(3), page, now),
                _ => {
                    m.expire(now);
                    Ok(())
                }
            };
        }
        done.store(true, Ordering::Release);
        reader.join().unwrap()
    });
    assert!(reads > 0 && hits > 0, "reader made {reads} reads, {hits} hits");
}

#[test]
fn random_requests_keep_invariants() {
    const STEPS: usize = 30_000;
    let c1: Vec<CacheEntry> = (0..12).map(|_| CacheEntry::new()).collect();
    let c2: Vec<CacheEntry> = (0..6).map(|_| CacheEntry::new()).collect();
    let quotas = [(pd(1), 3u32), (pd(4), 2u32)];
    let dataspaces = [(DsId(10), 4u32), (DsId(11), 6), (DsId(12), 2)];
    let mut m = Manager::new(
        vec![ds_spec(10, 4, &[2, 3]), ds_spec(11, 6, &[3]), ds_spec(12, 2, &[2])],
        vec![DriverSpec { pd: pd(1), pin_quota: 3, cache: &c1 }, DriverSpec { pd: pd(4), pin_quota: 2, cache: &c2 }],
    )
    .unwrap();
    let pinned_map = |m: &Manager, now| -> Vec<bool> {
        let mut v = Vec::new();
        for (d, _) in quotas {
            for (ds, pages) in dataspaces {
                for p in 0..pages + 1 {
                    v.push(m.is_pinned(d, ds, p, now));
                }
            }
        }
        v
    };
    let mut rng = Rng(0x1234_5678);
    let mut now = 1u64;
    let mut outcomes = std::collections::BTreeMap::<String, u32>::new();
    for _ in 0..STEPS {
        now += rng.below(4);
        let caller = match rng.below(6) {
            0 => Caller::Monitor,
            1 => Caller::Admin,
            2 => Caller::Driver(pd(rng.below(6))),
            3 => Caller::Driver(pd(4)),
            _ => Caller::Driver(pd(1)),
        };
        let ds = DsId(match rng.below(8) {
            0 => rng.next() as u32,
            n => 9 + (n % 4) as u32,
        });
        let page = match rng.below(6) {
            0 => rng.next() as u32,
            _ => rng.below(7) as u32,
        };
        let count = match rng.below(6) {
            0 => u32::MAX,
            1 => 2,
            _ => 1,
        };
        let expiry = match rng.below(3) {
            0 => 0,
            1 => now + rng.below(40),
            _ => rng.below(now + 1),
        };
        let req = match rng.below(20) {
            0..=1 => MgrRequest::Attach { client: pd(rng.below(5)), ds },
            2 => MgrRequest::Detach { client: pd(rng.below(5)), ds },
            3..=6 => MgrRequest::Refill { ds, page },
            7..=10 => MgrRequest::Pin { ds, first: page, count, expiry },
            11..=13 => MgrRequest::Unpin { ds, first: page, count },
            14..=15 => MgrRequest::Reclaim { ds, page },
            16 => MgrRequest::Stats,
            17 => MgrRequest::DriverFaulted { driver: pd(rng.below(5)), faults: rng.below(4) as u32 },
            _ => MgrRequest::DeviceReset { driver: pd(rng.below(5)), generation: rng.below(4) as u32 },
        };
        let pinned_before = pinned_map(&m, now);
        let live_pin_on_page = quotas.iter().any(|&(d, _)| m.is_pinned(d, ds, page, now));
        let result = m.handle(caller, &req, now);
        *outcomes.entry(format!("{:?} {:?}", req.op(), result.as_ref().map(|_| ()).err())).or_default() += 1;

        match (&req, &result) {
            (MgrRequest::Reclaim { .. }, Ok(_)) => {
                assert!(!live_pin_on_page, "reclaimed a page with a live pin: {req:?}");
            }
            (MgrRequest::Pin { .. } | MgrRequest::Unpin { .. } | MgrRequest::Reclaim { .. }, Err(e))
                if *e != MgrError::NotAuthorized =>
            {
                assert_eq!(pinned_map(&m, now), pinned_before, "refused {req:?} ({e}) changed pins");
            }
            (MgrRequest::Pin { ds, first, count, .. }, Ok(_)) => {
                let Caller::Driver(d) = caller else { panic!("pin by {caller:?} succeeded") };
                for p in *first..first + count {
                    assert!(m.is_pinned(d, *ds, p, now), "pin ok but page {p} not pinned");
                }
            }
            _ => {}
        }
        // Quotas hold (lapsed pins do not count).
        for (d, quota) in quotas {
            let held: u32 = dataspaces
                .iter()
                .map(|&(ds, pages)| (0..pages).filter(|&p| m.is_pinned(d, ds, p, now)).count() as u32)
                .sum();
            assert!(held <= quota, "driver {d} holds {held} pinned pages, quota {quota}");
        }
        // Every valid cache entry holds the right frame, within an attached range.
        for (d, cache) in [(pd(1), &c1), (pd(4), &c2)] {
            let r = CacheReader::new(cache);
            for i in 0..cache.len() {
                if let Snapshot::Stable(Some(t)) = r.snapshot(i) {
                    assert_eq!(t.frame, frame(t.ds.0, t.page), "entry {i} of {d}: wrong frame");
                    let a = m.attachment(d, t.ds).expect("valid entry of a detached dataspace");
                    assert_eq!(a.index(t.page), Some(i), "entry in the wrong slot");
                }
            }
        }
    }
    // The mix reached the interesting outcomes, not only errors.
    for key in [
        "Pin None",
        "Unpin None",
        "Reclaim None",
        "Refill None",
        "Attach None",
        "Pin Some(QuotaExceeded)",
        "Reclaim Some(Pinned)",
    ] {
        assert!(outcomes.get(key).copied().unwrap_or(0) > 0, "never saw {key}: {outcomes:?}");
    }
}
