//! The dataspace manager's behaviour end to end, with a fake frame table and a virtual clock:
//! translation miss -> refill -> hit through the shared cache, attach checks, pin quota and
//! expiry, reclaim refused while pinned, detach rules, driver-fault recovery, caller checks,
//! and hostile arguments. Requests go through the real message encode/decode where it matters.
use dataspace_api::cache::{CacheEntry, CacheReader, Translation};
use dataspace_api::msg::{MgrError, MgrReply, MgrRequest, Op};
use dataspace_api::Attachment;
use dataspace_api::DsId;
use dataspace_mgr::{Caller, ConfigError, DataspaceSpec, DriverSpec, Manager};

mod common;
use common::{ds_spec, frame, pd};

const DRIVER: u64 = 1;
const CLIENT: u64 = 2;
const OTHER_CLIENT: u64 = 3;
const DRIVER2: u64 = 4;
const ADMIN_PD: u64 = 5;

fn caches() -> (Vec<CacheEntry>, Vec<CacheEntry>) {
    ((0..16).map(|_| CacheEntry::new()).collect(), (0..8).map(|_| CacheEntry::new()).collect())
}

/// ds 10: 4 pages (client, other client); ds 11: 8 pages (other client);
/// ds 12: 6 pages (client); driver 1 (quota 3, 16 entries); driver 4 (quota 2, 8 entries).
fn manager<'a>(cache1: &'a [CacheEntry], cache2: &'a [CacheEntry]) -> Manager<'a> {
    Manager::new(
        vec![ds_spec(10, 4, &[CLIENT, OTHER_CLIENT]), ds_spec(11, 8, &[OTHER_CLIENT]), ds_spec(12, 6, &[CLIENT])],
        vec![
            DriverSpec { pd: pd(DRIVER), pin_quota: 3, cache: cache1 },
            DriverSpec { pd: pd(DRIVER2), pin_quota: 2, cache: cache2 },
        ],
    )
    .unwrap()
}

/// Sends a request as a PPC would: encode, decode, handle, encode the reply, decode it.
fn call(m: &mut Manager, caller: Caller, req: MgrRequest, now: u64) -> Result<MgrReply, MgrError> {
    let msg = req.encode();
    let decoded = MgrRequest::decode(&msg).unwrap();
    let result = m.handle(caller, &decoded, now);
    let reply = MgrReply::encode(&result);
    MgrReply::decode(req.op(), &reply).unwrap()
}

fn drv() -> Caller {
    Caller::Driver(pd(DRIVER))
}

fn attach(m: &mut Manager, client: u64, ds: u32) -> Attachment {
    match call(m, drv(), MgrRequest::Attach { client: pd(client), ds: DsId(ds) }, 0) {
        Ok(MgrReply::Attached(a)) => a,
        other => panic!("attach failed: {other:?}"),
    }
}

#[test]
fn translation_miss_refill_hit() {
    let (c1, c2) = caches();
    let mut m = manager(&c1, &c2);
    let a = attach(&mut m, CLIENT, 10);
    assert_eq!((a.pages(), a.page_size(), a.size()), (4, 4096, 4 * 4096));

    let mut reader = CacheReader::new(&c1);
    let index = a.index(2).unwrap();
    assert_eq!(reader.lookup(index, DsId(10), 2), None, "attach does not prefill");
    let reply = call(&mut m, drv(), MgrRequest::Refill { ds: DsId(10), page: 2 }, 5).unwrap();
    let expected = Translation { ds: DsId(10), page: 2, frame: frame(10, 2), pinned: false, expiry: 0 };
    assert_eq!(reply, MgrReply::Translated(expected));
    for _ in 0..3 {
        assert_eq!(reader.lookup(index, DsId(10), 2), Some(expected));
    }
    assert_eq!(reader.lookup(a.index(3).unwrap(), DsId(10), 3), None, "other pages still miss");
    let s = reader.stats();
    assert_eq!((s.hits, s.misses), (3, 2));
    assert_eq!(m.stats().refills, 1);
}

#[test]
fn attach_checks_sharing_and_places_ranges_apart() {
    let (c1, c2) = caches();
    let mut m = manager(&c1, &c2);
    let attach_as = |m: &mut Manager, caller, client, ds| {
        call(m, caller, MgrRequest::Attach { client: pd(client), ds: DsId(ds) }, 0)
    };
    assert_eq!(attach_as(&mut m, drv(), CLIENT, 11), Err(MgrError::NotShared), "client does not share 11");
    assert_eq!(attach_as(&mut m, drv(), CLIENT, 99), Err(MgrError::UnknownDataspace));
    assert_eq!(attach_as(&mut m, drv(), CLIENT, u32::MAX), Err(MgrError::UnknownDataspace));
    assert_eq!(attach_as(&mut m, Caller::Driver(pd(ADMIN_PD)), CLIENT, 10), Err(MgrError::NotDriver));
    assert_eq!(attach_as(&mut m, Caller::Admin, CLIENT, 10), Err(MgrError::NotAuthorized));

    let a10 = attach(&mut m, CLIENT, 10);
    let again = attach(&mut m, OTHER_CLIENT, 10);
    assert_eq!(a10, again, "a second sharer reuses the range");
    let a11 = attach(&mut m, OTHER_CLIENT, 11);
    let ranges = [a10, a11].map(|a| (a.base(), a.base() + a.pages()));
    assert!(ranges[0].1 <= ranges[1].0 || ranges[1].1 <= ranges[0].0, "{ranges:?} overlap");
    // 4 + 8 of 16 entries used: ds 12 (6 pages) does not fit.
    assert_eq!(attach_as(&mut m, drv(), CLIENT, 12), Err(MgrError::CacheFull));
    // First fit put ds 10 at [0,4) and ds 11 at [4,12): with ds 10 gone, [0,4) and [12,16)
    // are free but not contiguous, so ds 12 still does not fit; with ds 11 gone it does.
    m.detach(pd(DRIVER), pd(CLIENT), DsId(10), 0).unwrap();
    m.detach(pd(DRIVER), pd(OTHER_CLIENT), DsId(10), 0).unwrap();
    assert_eq!(attach_as(&mut m, drv(), CLIENT, 12), Err(MgrError::CacheFull));
    m.detach(pd(DRIVER), pd(OTHER_CLIENT), DsId(11), 0).unwrap();
    let a12 = attach(&mut m, CLIENT, 12);
    assert_eq!(a12.base(), 0);
}

#[test]
fn pin_quota_is_enforced_and_a_refused_pin_changes_nothing() {
    let (c1, c2) = caches();
    let mut m = manager(&c1, &c2);
    let a = attach(&mut m, CLIENT, 12);
    let pin =
        |m: &mut Manager, first, count| call(m, drv(), MgrRequest::Pin { ds: DsId(12), first, count, expiry: 0 }, 10);
    assert_eq!(pin(&mut m, 0, 2), Ok(MgrReply::PinCount { held: 2, quota: 3 }));
    assert_eq!(pin(&mut m, 1, 1), Ok(MgrReply::PinCount { held: 2, quota: 3 }), "re-pin is free");
    let before = m.stats();
    // Pages 2..4 would make 4 > quota 3: refused, and page 2 stays unpinned and uncached.
    assert_eq!(pin(&mut m, 2, 2), Err(MgrError::QuotaExceeded));
    assert!(!m.is_pinned(pd(DRIVER), DsId(12), 2, 10));
    assert_eq!(CacheReader::new(&c1).lookup(a.index(2).unwrap(), DsId(12), 2), None);
    let after = m.stats();
    assert_eq!(after.pins, before.pins);
    assert_eq!(after.pinned_pages, 2);
    assert_eq!(after.quota_refusals, 1);

    // The pins are in the cache, with the pin bit, for the reader.
    let t = CacheReader::new(&c1).lookup(a.index(0).unwrap(), DsId(12), 0).unwrap();
    assert!(t.pinned && t.expiry == 0 && t.frame == frame(12, 0));

    assert_eq!(pin(&mut m, 2, 1), Ok(MgrReply::PinCount { held: 3, quota: 3 }));
    let unpin = |m: &mut Manager, first, count| call(m, drv(), MgrRequest::Unpin { ds: DsId(12), first, count }, 10);
    // Page 1 has two pins: one unpin keeps it pinned.
    assert_eq!(unpin(&mut m, 1, 1), Ok(MgrReply::PinCount { held: 3, quota: 3 }));
    assert_eq!(unpin(&mut m, 0, 2), Ok(MgrReply::PinCount { held: 1, quota: 3 }));
    let t = CacheReader::new(&c1).lookup(a.index(1).unwrap(), DsId(12), 1).unwrap();
    assert!(!t.pinned, "unpinned page's entry lost its pin bit");
    // Unpin of an unpinned page (even within a range of pinned ones) fails and changes nothing.
    assert_eq!(unpin(&mut m, 1, 2), Err(MgrError::NotPinned));
    assert!(m.is_pinned(pd(DRIVER), DsId(12), 2, 10));
    assert_eq!(pin(&mut m, 3, 2), Ok(MgrReply::PinCount { held: 3, quota: 3 }));
}

#[test]
fn timed_pins_expire_on_their_own() {
    let (c1, c2) = caches();
    let mut m = manager(&c1, &c2);
    let a = attach(&mut m, CLIENT, 12);
    let r = m.pin(pd(DRIVER), DsId(12), 0, 3, 1_000, 100);
    assert_eq!(r, Ok((3, 3)));
    let t = CacheReader::new(&c1).lookup(a.index(0).unwrap(), DsId(12), 0).unwrap();
    assert!(t.pinned_at(999) && !t.pinned_at(1_000), "reader can judge expiry itself");
    assert_eq!(m.reclaim(DsId(12), 0, 999), Err(MgrError::Pinned));
    assert_eq!(m.pin(pd(DRIVER), DsId(12), 3, 1, 0, 999), Err(MgrError::QuotaExceeded));

    // At the deadline the pins lapse: quota is free again, reclaim succeeds, unpin says so.
    assert_eq!(m.pin(pd(DRIVER), DsId(12), 3, 1, 0, 1_000), Ok((1, 3)));
    assert_eq!(m.stats().expired, 3);
    assert_eq!(m.unpin(pd(DRIVER), DsId(12), 0, 1, 1_000), Err(MgrError::NotPinned));
    assert_eq!(m.reclaim(DsId(12), 0, 1_000), Ok(()));
    let t = CacheReader::new(&c1).lookup(a.index(1).unwrap(), DsId(12), 1).unwrap();
    assert!(!t.pinned, "lapsed pin bit cleared in the cache");

    // A deadline in the past is refused.
    assert_eq!(m.pin(pd(DRIVER), DsId(12), 1, 1, 1_000, 1_000), Err(MgrError::BadExpiry));
    assert_eq!(m.pin(pd(DRIVER), DsId(12), 1, 1, 5, 1_000), Err(MgrError::BadExpiry));
}

#[test]
fn untimed_pin_outlives_a_timed_one_on_the_same_page() {
    let (c1, c2) = caches();
    let mut m = manager(&c1, &c2);
    attach(&mut m, CLIENT, 12);
    m.pin(pd(DRIVER), DsId(12), 0, 1, 500, 0).unwrap();
    m.pin(pd(DRIVER), DsId(12), 0, 1, 0, 0).unwrap();
    assert!(m.is_pinned(pd(DRIVER), DsId(12), 0, 10_000), "untimed pin holds past the deadline");
    m.unpin(pd(DRIVER), DsId(12), 0, 1, 10_000).unwrap();
    m.unpin(pd(DRIVER), DsId(12), 0, 1, 10_000).unwrap();
    assert!(!m.is_pinned(pd(DRIVER), DsId(12), 0, 10_000));
    // Two timed pins: the later deadline wins.
    m.pin(pd(DRIVER), DsId(12), 1, 1, 300, 0).unwrap();
    m.pin(pd(DRIVER), DsId(12), 1, 1, 200, 0).unwrap();
    assert!(m.is_pinned(pd(DRIVER), DsId(12), 1, 250));
    assert!(!m.is_pinned(pd(DRIVER), DsId(12), 1, 300));
}

#[test]
fn reclaim_refused_while_pinned_succeeds_after_unpin() {
    let (c1, c2) = caches();
    let mut m = manager(&c1, &c2);
    let a = attach(&mut m, CLIENT, 10);
    let admin = Caller::Admin;
    m.pin(pd(DRIVER), DsId(10), 1, 1, 0, 0).unwrap();
    m.refill(pd(DRIVER), DsId(10), 2, 0).unwrap();
    let reclaim = |m: &mut Manager, page| call(m, admin, MgrRequest::Reclaim { ds: DsId(10), page }, 50);
    assert_eq!(reclaim(&mut m, 1), Err(MgrError::Pinned));
    assert_eq!(m.is_resident(DsId(10), 1), Some(true));
    let mut reader = CacheReader::new(&c1);
    assert!(reader.lookup(a.index(1).unwrap(), DsId(10), 1).is_some(), "refused reclaim kept the entry");
    // Unpinned page 2 can be reclaimed: its entry is invalidated first.
    assert_eq!(reclaim(&mut m, 2), Ok(MgrReply::Done));
    assert_eq!(reader.lookup(a.index(2).unwrap(), DsId(10), 2), None);
    assert_eq!(m.is_resident(DsId(10), 2), Some(false));
    // After unpin, page 1 goes too; a refill brings it back.
    m.unpin(pd(DRIVER), DsId(10), 1, 1, 60).unwrap();
    assert_eq!(reclaim(&mut m, 1), Ok(MgrReply::Done));
    assert_eq!(reader.lookup(a.index(1).unwrap(), DsId(10), 1), None);
    m.refill(pd(DRIVER), DsId(10), 1, 70).unwrap();
    assert_eq!(m.is_resident(DsId(10), 1), Some(true));
    assert_eq!(reader.lookup(a.index(1).unwrap(), DsId(10), 1).unwrap().frame, frame(10, 1));
    let s = m.stats();
    assert_eq!((s.reclaims, s.reclaim_refusals), (2, 1));
    // Hostile reclaims, and a driver may not reclaim.
    assert_eq!(reclaim(&mut m, 4), Err(MgrError::PageOutOfRange));
    assert_eq!(call(&mut m, admin, MgrRequest::Reclaim { ds: DsId(77), page: 0 }, 0), Err(MgrError::UnknownDataspace));
    assert_eq!(call(&mut m, drv(), MgrRequest::Reclaim { ds: DsId(10), page: 0 }, 0), Err(MgrError::NotAuthorized));
}

#[test]
fn a_pin_of_another_driver_also_blocks_reclaim() {
    let (c1, c2) = caches();
    let mut m = manager(&c1, &c2);
    attach(&mut m, CLIENT, 10);
    m.attach(pd(DRIVER2), pd(OTHER_CLIENT), DsId(10)).unwrap();
    m.refill(pd(DRIVER), DsId(10), 0, 0).unwrap();
    m.pin(pd(DRIVER2), DsId(10), 0, 1, 0, 0).unwrap();
    assert_eq!(m.reclaim(DsId(10), 0, 0), Err(MgrError::Pinned));
    m.unpin(pd(DRIVER2), DsId(10), 0, 1, 0).unwrap();
    assert_eq!(m.reclaim(DsId(10), 0, 0), Ok(()));
    // Both drivers' cached translations are gone.
    let a1 = m.attachment(pd(DRIVER), DsId(10)).unwrap();
    let a2 = m.attachment(pd(DRIVER2), DsId(10)).unwrap();
    assert_eq!(CacheReader::new(&c1).lookup(a1.index(0).unwrap(), DsId(10), 0), None);
    assert_eq!(CacheReader::new(&c2).lookup(a2.index(0).unwrap(), DsId(10), 0), None);
}

#[test]
fn detach_only_when_nothing_is_pinned() {
    let (c1, c2) = caches();
    let mut m = manager(&c1, &c2);
    let a = attach(&mut m, CLIENT, 12);
    m.pin(pd(DRIVER), DsId(12), 5, 1, 0, 0).unwrap();
    let detach = |m: &mut Manager, client| call(m, drv(), MgrRequest::Detach { client: pd(client), ds: DsId(12) }, 0);
    assert_eq!(detach(&mut m, OTHER_CLIENT), Err(MgrError::NotAttached), "never attached it");
    assert_eq!(detach(&mut m, CLIENT), Err(MgrError::Pinned));
    assert_eq!(m.attachment(pd(DRIVER), DsId(12)), Some(a), "refused detach changed nothing");
    m.unpin(pd(DRIVER), DsId(12), 5, 1, 0).unwrap();
    assert_eq!(detach(&mut m, CLIENT), Ok(MgrReply::Done));
    assert_eq!(m.attachment(pd(DRIVER), DsId(12)), None);
    assert_eq!(CacheReader::new(&c1).lookup(a.index(5).unwrap(), DsId(12), 5), None);
    assert_eq!(m.refill(pd(DRIVER), DsId(12), 5, 0), Err(MgrError::NotAttached));
    assert_eq!(m.pin(pd(DRIVER), DsId(12), 0, 1, 0, 0), Err(MgrError::NotAttached));
    // A lapsed pin does not block detach.
    let _ = attach(&mut m, CLIENT, 12);
    m.pin(pd(DRIVER), DsId(12), 0, 1, 100, 0).unwrap();
    assert_eq!(m.detach(pd(DRIVER), pd(CLIENT), DsId(12), 99), Err(MgrError::Pinned));
    assert_eq!(m.detach(pd(DRIVER), pd(CLIENT), DsId(12), 100), Ok(()));
}

#[test]
fn driver_fault_keeps_pins_until_device_reset_then_recovers_them() {
    let (c1, c2) = caches();
    let mut m = manager(&c1, &c2);
    let a = attach(&mut m, CLIENT, 12);
    attach(&mut m, CLIENT, 10);
    m.pin(pd(DRIVER), DsId(12), 0, 2, 0, 0).unwrap();
    m.pin(pd(DRIVER), DsId(10), 3, 1, 0, 0).unwrap();

    let faulted = MgrRequest::DriverFaulted { driver: pd(DRIVER), faults: 1 };
    assert_eq!(call(&mut m, drv(), faulted, 0), Err(MgrError::NotAuthorized), "only the monitor");
    assert_eq!(call(&mut m, Caller::Monitor, faulted, 0), Ok(MgrReply::Done));
    // Refused while faulted; pins still protect the pages (the device may still DMA).
    assert_eq!(m.refill(pd(DRIVER), DsId(12), 0, 1), Err(MgrError::DriverFaulted));
    assert_eq!(m.unpin(pd(DRIVER), DsId(12), 0, 1, 1), Err(MgrError::DriverFaulted));
    assert_eq!(m.reclaim(DsId(12), 0, 1), Err(MgrError::Pinned));
    // Another driver is unaffected.
    assert!(m.attach(pd(DRIVER2), pd(CLIENT), DsId(12)).is_ok());

    let reset = MgrRequest::DeviceReset { driver: pd(DRIVER), generation: 1 };
    assert_eq!(
        call(&mut m, Caller::Driver(pd(DRIVER2)), reset, 2),
        Err(MgrError::NotAuthorized),
        "a driver may only report its own reset"
    );
    assert_eq!(call(&mut m, drv(), reset, 2), Ok(MgrReply::Recovered { pins: 3, attachments: 2 }));
    assert_eq!(call(&mut m, Caller::Monitor, reset, 2), Err(MgrError::NotFaulted));
    assert_eq!(m.stats().pinned_pages, 0);
    assert_eq!(m.reclaim(DsId(12), 0, 3), Ok(()));
    assert_eq!(CacheReader::new(&c1).lookup(a.index(1).unwrap(), DsId(12), 1), None);
    // The restarted driver starts over: attach, pin with its full quota.
    attach(&mut m, CLIENT, 12);
    assert_eq!(m.pin(pd(DRIVER), DsId(12), 0, 3, 0, 4), Ok((3, 3)));
}

/// The unfavourable order: the restarted driver's DEVICE_RESET (generation 1) reaches the
/// manager before the monitor's notice of the fault that killed generation 0. The reset still
/// recovers the old pins, and the late notice must not mark the healthy new instance faulted.
#[test]
fn a_device_reset_before_the_fault_notice_recovers_and_the_late_notice_is_stale() {
    let (c1, c2) = caches();
    let mut m = manager(&c1, &c2);
    attach(&mut m, CLIENT, 12);
    m.pin(pd(DRIVER), DsId(12), 0, 2, 0, 0).unwrap();
    let first = MgrRequest::DeviceReset { driver: pd(DRIVER), generation: 0 };
    assert_eq!(call(&mut m, drv(), first, 0), Err(MgrError::NotFaulted), "first start: nothing to recover");
    let reset = MgrRequest::DeviceReset { driver: pd(DRIVER), generation: 1 };
    assert_eq!(call(&mut m, drv(), reset, 1), Ok(MgrReply::Recovered { pins: 2, attachments: 1 }));
    let late = MgrRequest::DriverFaulted { driver: pd(DRIVER), faults: 1 };
    assert_eq!(call(&mut m, Caller::Monitor, late, 2), Err(MgrError::NotFaulted), "stale: generation 1 is live");
    attach(&mut m, CLIENT, 12);
    assert!(m.refill(pd(DRIVER), DsId(12), 0, 3).is_ok(), "the new instance is served");
    // A later real fault of generation 1 is not stale, and an old generation cannot reset.
    let second = MgrRequest::DriverFaulted { driver: pd(DRIVER), faults: 2 };
    assert_eq!(call(&mut m, Caller::Monitor, second, 4), Ok(MgrReply::Done));
    assert_eq!(m.refill(pd(DRIVER), DsId(12), 0, 5), Err(MgrError::DriverFaulted));
    let old = MgrRequest::DeviceReset { driver: pd(DRIVER), generation: 0 };
    assert_eq!(call(&mut m, drv(), old, 6), Err(MgrError::NotAuthorized));
    let gen2 = MgrRequest::DeviceReset { driver: pd(DRIVER), generation: 2 };
    assert!(matches!(call(&mut m, drv(), gen2, 7), Ok(MgrReply::Recovered { .. })));
}

#[test]
fn hostile_ranges_are_refused() {
    let (c1, c2) = caches();
    let mut m = manager(&c1, &c2);
    attach(&mut m, CLIENT, 10);
    let d = pd(DRIVER);
    assert_eq!(m.pin(d, DsId(10), u32::MAX, 2, 0, 0), Err(MgrError::RangeOverflow));
    assert_eq!(m.pin(d, DsId(10), 3, 2, 0, 0), Err(MgrError::PageOutOfRange));
    assert_eq!(m.pin(d, DsId(10), 4, 1, 0, 0), Err(MgrError::PageOutOfRange));
    assert_eq!(m.unpin(d, DsId(10), 2, u32::MAX, 0), Err(MgrError::RangeOverflow));
    assert_eq!(m.refill(d, DsId(10), 4, 0), Err(MgrError::PageOutOfRange));
    assert_eq!(m.refill(d, DsId(10), u32::MAX, 0), Err(MgrError::PageOutOfRange));
    assert_eq!(m.refill(d, DsId(11), 0, 0), Err(MgrError::NotAttached));
    assert_eq!(m.refill(d, DsId(1 << 31), 0, 0), Err(MgrError::UnknownDataspace));
    assert_eq!(m.pin(pd(DRIVER2), DsId(10), 0, 1, 0, 0), Err(MgrError::NotAttached));
    assert_eq!(m.stats().pinned_pages, 0);
    // Zero-count pins decode as errors on the wire; the library treats them as no-ops.
    assert_eq!(m.pin(d, DsId(10), 0, 0, 0, 0), Ok((0, 3)));
}

#[test]
fn bad_configurations_are_refused() {
    let c: Vec<CacheEntry> = (0..4).map(|_| CacheEntry::new()).collect();
    let drivers = || vec![DriverSpec { pd: pd(DRIVER), pin_quota: 1, cache: &c[..] }];
    let check = |ds: Vec<DataspaceSpec>| Manager::new(ds, drivers()).err();

    assert_eq!(check(vec![ds_spec(1, 2, &[2]), ds_spec(1, 1, &[2])]), Some(ConfigError::DuplicateDataspace(DsId(1))));
    let mut s = ds_spec(1, 2, &[2]);
    s.page_size = 3000;
    assert!(matches!(check(vec![s]), Some(ConfigError::BadPageSize { .. })));
    let mut s = ds_spec(1, 2, &[2]);
    s.size = 4096 + 1;
    assert!(matches!(check(vec![s]), Some(ConfigError::BadSize { .. })));
    let mut s = ds_spec(1, 2, &[2]);
    s.size = 0;
    assert!(matches!(check(vec![s]), Some(ConfigError::BadSize { .. })));
    let mut s = ds_spec(1, 2, &[2]);
    s.frames.pop();
    assert_eq!(check(vec![s]), Some(ConfigError::FrameCount { ds: DsId(1), expected: 2, got: 1 }));
    let mut s = ds_spec(1, 2, &[2]);
    s.frames[1] += 8;
    assert!(matches!(check(vec![s]), Some(ConfigError::UnalignedFrame { page: 1, .. })));
    let mut s = ds_spec(2, 1, &[2]);
    s.frames[0] = frame(1, 1);
    assert!(matches!(check(vec![ds_spec(1, 2, &[2]), s]), Some(ConfigError::FrameReused { .. })));
    let mut s = ds_spec(1, 1, &[2]);
    s.size = 1 << 44;
    assert_eq!(check(vec![s]), Some(ConfigError::TooManyPages(DsId(1))));

    let e = Manager::new(
        vec![ds_spec(1, 1, &[2])],
        vec![
            DriverSpec { pd: pd(1), pin_quota: 1, cache: &c[..] },
            DriverSpec { pd: pd(1), pin_quota: 1, cache: &c[..] },
        ],
    )
    .err();
    assert_eq!(e, Some(ConfigError::DuplicateDriver(pd(1))));
    let e = Manager::new(vec![], vec![DriverSpec { pd: pd(1), pin_quota: 1, cache: &c[..0] }]).err();
    assert_eq!(e, Some(ConfigError::EmptyCache(pd(1))));
    assert!(e.unwrap().to_string().contains("translation cache"));
}

#[test]
fn new_invalidates_stale_cache_contents() {
    let (c1, c2) = caches();
    {
        let mut m = manager(&c1, &c2);
        attach(&mut m, CLIENT, 10);
        m.refill(pd(DRIVER), DsId(10), 0, 0).unwrap();
    }
    assert!(CacheReader::new(&c1).lookup(0, DsId(10), 0).is_some());
    let _m = manager(&c1, &c2);
    assert_eq!(CacheReader::new(&c1).lookup(0, DsId(10), 0), None);
}

#[test]
fn stats_reply_carries_the_counters() {
    let (c1, c2) = caches();
    let mut m = manager(&c1, &c2);
    attach(&mut m, CLIENT, 10);
    m.refill(pd(DRIVER), DsId(10), 0, 0).unwrap();
    m.pin(pd(DRIVER), DsId(10), 0, 2, 10, 0).unwrap();
    let Ok(MgrReply::Stats(s)) = call(&mut m, Caller::Admin, MgrRequest::Stats, 20) else {
        panic!("no stats");
    };
    // STATS sweeps lapsed pins first.
    assert_eq!((s.refills, s.pins, s.expired, s.pinned_pages), (1, 2, 2, 0));
    assert_eq!(Op::Stats, MgrRequest::Stats.op());
}
