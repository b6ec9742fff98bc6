//! Tests of the translation adapter against a fake manager that speaks the real protocol
//! over a real cache table.

extern crate std;
use super::*;
use core::cell::Cell;
use dataspace_api::cache::{table_from_bytes, CacheWriter, Translation};
use std::vec;
use std::vec::Vec;
use zerocopy::IntoBytes;

const DS: u32 = 3;
const CLIENT: u64 = 2;

/// A stand-in for the manager: the real protocol's replies over a real cache table
/// (written with the manager's `CacheWriter`), with a pin quota and call counting.
struct FakeMgr<'a> {
    writer: CacheWriter<'a>,
    base: u32,
    pages: u32,
    page_size: u64,
    frames: Vec<u64>,
    pins: Vec<u32>,
    quota: u32,
    calls: Vec<u64>,
    clock: &'a Cell<u64>,
}

impl FakeMgr<'_> {
    fn held(&self) -> u32 {
        self.pins.iter().filter(|&&p| p > 0).count() as u32
    }
    fn publish(&mut self, page: u32) -> Translation {
        let t = Translation {
            ds: DsId(DS),
            page,
            frame: self.frames[page as usize],
            pinned: self.pins[page as usize] > 0,
            expiry: 0,
        };
        self.writer.write((self.base + page) as usize, &t).unwrap();
        t
    }
}

impl MgrLink for FakeMgr<'_> {
    fn call(&mut self, req: &MgrRequest) -> Result<Result<MgrReply, MgrError>, LinkError> {
        self.calls.push(req.op().label());
        // Through the wire format, as in the PD.
        let m = req.encode();
        let req = MgrRequest::decode(&m).map_err(LinkError::Decode)?;
        let r = match req {
            MgrRequest::Attach { client, ds } => {
                if client.index() as u64 != CLIENT {
                    Err(MgrError::NotShared)
                } else if ds.0 != DS {
                    Err(MgrError::UnknownDataspace)
                } else {
                    Ok(MgrReply::Attached(Attachment::new(ds, self.base, self.pages, self.page_size).unwrap()))
                }
            }
            MgrRequest::Detach { .. } => {
                if self.held() > 0 {
                    Err(MgrError::Pinned)
                } else {
                    Ok(MgrReply::Done)
                }
            }
            MgrRequest::Refill { page, .. } => Ok(MgrReply::Translated(self.publish(page))),
            MgrRequest::Pin { first, .. } => {
                let new = u32::from(self.pins[first as usize] == 0);
                if self.held() + new > self.quota {
                    Err(MgrError::QuotaExceeded)
                } else {
                    self.pins[first as usize] += 1;
                    self.publish(first);
                    Ok(MgrReply::PinCount { held: self.held(), quota: self.quota })
                }
            }
            MgrRequest::Unpin { first, .. } => {
                if self.pins[first as usize] == 0 {
                    Err(MgrError::NotPinned)
                } else {
                    self.pins[first as usize] -= 1;
                    self.publish(first);
                    Ok(MgrReply::PinCount { held: self.held(), quota: self.quota })
                }
            }
            _ => Err(MgrError::NotAuthorized),
        };
        let m = MgrReply::encode(&r);
        MgrReply::decode(req.op(), &m).map_err(LinkError::Decode)
    }
    fn now(&self) -> u64 {
        self.clock.get()
    }
}

fn count(calls: &[u64], label: u64) -> usize {
    calls.iter().filter(|&&l| l == label).count()
}

use dataspace_api::msg::label;

fn setup<'a>(
    bytes: &'a mut [u8],
    clock: &'a Cell<u64>,
    pages: u32,
    page_size: u64,
    quota: u32,
) -> CacheXlate<'a, FakeMgr<'a>> {
    let table = table_from_bytes(bytes).unwrap();
    let mgr = FakeMgr {
        writer: CacheWriter::new(table),
        base: 4,
        pages,
        page_size,
        frames: (0..u64::from(pages)).map(|p| 0x4000_0000 + p * page_size).collect(),
        pins: vec![0; pages as usize],
        quota,
        calls: Vec::new(),
        clock,
    };
    let mut x = CacheXlate::new(table, mgr, 1000);
    x.attach(PdId::new(CLIENT).unwrap(), DsId(DS)).unwrap();
    x
}

/// An 8-byte aligned, zeroed table of `n` bytes (u64-backed).
fn aligned(n: usize) -> Vec<u64> {
    vec![0; n / 8]
}

#[test]
fn miss_refills_then_hits_with_plain_loads() {
    let mut words = aligned(64 * 32);
    let bytes = words.as_mut_bytes();
    let clock = Cell::new(0);
    let mut x = setup(bytes, &clock, 16, 4096, 16);
    assert_eq!(x.lookup(DS, 2), None, "nothing cached yet");
    assert_eq!(x.refill(DS, 2), Ok(0x4000_2000));
    assert_eq!(x.lookup(DS, 2), Some(0x4000_2000));
    assert_eq!(x.lookup(DS, 2), Some(0x4000_2000));
    let s = x.stats();
    assert_eq!((s.reader.hits, s.reader.misses, s.refill_calls), (2, 1, 1));
    assert_eq!(count(&x.link.calls, label::REFILL), 1, "hits never call the manager");
    assert_eq!(x.first_miss.map(|w| w.page), Some(2));
    assert_eq!(x.first_hit.get().map(|w| w.frame), Some(0x4000_2000));
    // Outside the dataspace, or another dataspace: a miss and a refused refill.
    assert_eq!(x.lookup(DS, 16), None);
    assert!(x.refill(DS, 16).is_err());
    assert!(x.refill(DS + 1, 0).is_err());
}

#[test]
fn pins_are_lazy_and_idle_pages_are_given_back_after_the_idle_time() {
    let mut words = aligned(64 * 32);
    let bytes = words.as_mut_bytes();
    let clock = Cell::new(100);
    let mut x = setup(bytes, &clock, 16, 4096, 16);
    // Two buffers in page 1, cycled many times: one PIN call in all.
    for _ in 0..50 {
        x.pin(DS, 1).unwrap();
        x.pin(DS, 1).unwrap();
        x.unpin(DS, 1);
        x.unpin(DS, 1);
    }
    assert_eq!(count(&x.link.calls, label::PIN), 1);
    assert_eq!(count(&x.link.calls, label::UNPIN), 0, "steady state makes no call");
    assert_eq!(x.stats().pinned_pages, 1);
    assert_eq!(x.idle_pins(), 1);
    // Not idle long enough yet.
    clock.set(600);
    x.sweep();
    assert_eq!(count(&x.link.calls, label::UNPIN), 0);
    clock.set(1200);
    x.sweep();
    assert_eq!(count(&x.link.calls, label::UNPIN), 1);
    assert_eq!((x.stats().pinned_pages, x.idle_pins()), (0, 0));
    assert_eq!(x.link.held(), 0, "the manager's pin is gone too");
    // A page in use is never swept.
    x.pin(DS, 4).unwrap();
    clock.set(1_000_000);
    x.sweep();
    assert_eq!(x.link.pins[4], 1);
}

#[test]
fn quota_gives_back_idle_pins_first_and_then_refuses_cleanly() {
    let mut words = aligned(64 * 32);
    let bytes = words.as_mut_bytes();
    let clock = Cell::new(0);
    let mut x = setup(bytes, &clock, 16, 4096, 2);
    x.pin(DS, 0).unwrap();
    x.pin(DS, 1).unwrap();
    x.unpin(DS, 0); // idle, still held
    x.pin(DS, 2).unwrap(); // quota: page 0's idle pin is given back, then the PIN succeeds
    assert_eq!(x.link.pins[..3], [0, 1, 1]);
    assert_eq!(x.pin(DS, 3), Err(XlateError::PinQuota { dataspace: DS, page: 3 }));
    assert_eq!(x.stats().quota_refusals, 1);
    assert_eq!(x.link.held(), 2, "a refused pin changes nothing");
    // Detach waits for the device to give its buffers back.
    assert_eq!(x.detach_all(PdId::new(CLIENT).unwrap()), Err(SessionError::Busy));
    x.unpin(DS, 1);
    x.unpin(DS, 2);
    assert_eq!(x.detach_all(PdId::new(CLIENT).unwrap()), Ok(()));
    assert_eq!(x.link.held(), 0);
    assert_eq!(x.attachments().count(), 0);
}

#[test]
fn large_dataspace_pages_map_onto_4k_engine_pages() {
    let mut words = aligned(64 * 32);
    let bytes = words.as_mut_bytes();
    let clock = Cell::new(0);
    let mut x = setup(bytes, &clock, 1, 0x20_0000, 8);
    assert_eq!(x.refill(DS, 5), Ok(0x4000_0000 + 5 * 4096));
    assert_eq!(x.lookup(DS, 7), Some(0x4000_0000 + 7 * 4096));
    assert_eq!(x.lookup(DS, 512), None, "past the 2 MiB page");
    // Every 4 KiB page of the one 2 MiB page shares one pin.
    x.pin(DS, 0).unwrap();
    x.pin(DS, 300).unwrap();
    assert_eq!(count(&x.link.calls, label::PIN), 1);
}

#[test]
fn attach_is_checked_by_the_manager() {
    let mut words = aligned(64 * 32);
    let bytes = words.as_mut_bytes();
    let clock = Cell::new(0);
    let mut x = setup(bytes, &clock, 16, 4096, 8);
    // Attached already (by `setup`) for this client: taken over, no second ATTACH; another
    // client naming it is refused.
    let calls = x.link.calls.len();
    assert!(x.attach(PdId::new(CLIENT).unwrap(), DsId(DS)).is_ok_and(|a| a.ds() == DsId(DS)));
    assert_eq!(x.link.calls.len(), calls);
    assert_eq!(x.attach(PdId::new(CLIENT + 1).unwrap(), DsId(DS)), Err(SessionError::DuplicateDataspace));
    assert_eq!(x.attach(PdId::new(CLIENT).unwrap(), DsId(9)), Err(SessionError::Manager(MgrError::UnknownDataspace)));
    assert_eq!(x.attach(PdId::new(5).unwrap(), DsId(DS + 100)), Err(SessionError::Manager(MgrError::NotShared)));
}
