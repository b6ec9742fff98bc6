//! The manager PD's dispatch and log on the host: configuration from setvar slots (with the
//! boot lines), PPCs decoded, handled as the channel's role and logged, garbage refused, and
//! the driver-fault notice followed by the driver's DEVICE_RESET.
use std::fmt;

use dataspace_api::cache::CacheEntry;
use dataspace_api::msg::{MgrReply, MgrRequest};
use dataspace_api::DsId;
use dataspace_mgr::service::{start, Platform, Role, Setup, Slot, StartError};
use message::{Message, Refusal};

fn pd(i: u64) -> dataspace_api::PdId {
    dataspace_api::PdId::new(i).unwrap()
}

#[derive(Default)]
struct Fake {
    now: u64,
    lines: Vec<String>,
    /// The fault count the monitor's notice carries.
    faults: u32,
}

impl Platform for Fake {
    fn now_tsc(&mut self) -> u64 {
        self.now
    }
    fn print(&mut self, line: fmt::Arguments<'_>) {
        self.lines.push(line.to_string());
    }
    fn faults_of(&mut self, _pd: dataspace_api::PdId) -> u32 {
        self.faults
    }
}

fn setup() -> Setup {
    let mut slots = [Slot::default(); 4];
    slots[0] = Slot { size: 0x4000, paddr: 0x10_0000, sharers: 1 << 2, id: 0, page_size: 4096 };
    Setup { driver_pd: 1, pin_quota: 8, slots }
}

fn msg(req: MgrRequest) -> Message {
    req.encode()
}

#[test]
fn start_prints_each_dataspace_and_the_up_line() {
    let cache: Vec<CacheEntry> = (0..16).map(|_| CacheEntry::new()).collect();
    let mut p = Fake::default();
    let mgr = start(&setup(), &cache, &mut p).unwrap();
    assert_eq!(mgr.manager().stats().pins, 0);
    assert_eq!(p.lines[0], "dataspace 0: 0x4000 bytes at physical 0x100000, 4 pages of 0x1000, shared with PD set 0x4");
    assert!(
        p.lines[1].starts_with("up: driver PD #1, pin quota 8 pages, translation cache of 16 entries"),
        "{:?}",
        p.lines
    );

    let mut bad = setup();
    bad.slots[1] = Slot { size: 0x1000, paddr: 0, ..bad.slots[0] };
    assert_eq!(start(&bad, &cache, &mut p).err(), Some(StartError("a dataspace has no physical address")));
    assert_eq!(p.lines.last().unwrap(), "ds1: no ds1_paddr (a region_paddr setvar) given");
    let bad = Setup { driver_pd: 1000, ..setup() };
    assert!(start(&bad, &cache, &mut p).is_err());
}

#[test]
fn requests_are_dispatched_by_role_and_logged() {
    let cache: Vec<CacheEntry> = (0..16).map(|_| CacheEntry::new()).collect();
    let mut p = Fake::default();
    let mut mgr = start(&setup(), &cache, &mut p).unwrap();
    let attach = MgrRequest::Attach { client: pd(2), ds: DsId(0) };
    let reply = mgr.protected(Role::Driver, "channel 1", &msg(attach), &mut p).unwrap();
    match MgrReply::decode(attach.op(), &reply) {
        Ok(Ok(MgrReply::Attached(a))) => assert_eq!((a.base(), a.pages()), (0, 4)),
        other => panic!("expected an attachment, got {other:?}"),
    }
    assert_eq!(p.lines.last().unwrap(), "ATTACH dataspace 0 for client PD #2: cache entries 0..4");

    // An admin may not attach: refused and logged, not a refusal of the call.
    mgr.protected(Role::Admin, "channel 2", &msg(MgrRequest::Attach { client: pd(2), ds: DsId(0) }), &mut p).unwrap();
    assert!(p.lines.last().unwrap().contains("from channel 2 refused"), "{:?}", p.lines.last());

    // Garbage is refused as a bad message.
    let garbage = Message::new(0x7777, &[1]).unwrap();
    assert_eq!(mgr.protected(Role::Driver, "channel 1", &garbage, &mut p), Err(Refusal::BAD_MESSAGE));
    assert!(p.lines.last().unwrap().starts_with("bad request on channel 1: "));

    mgr.protected(Role::Admin, "channel 2", &msg(MgrRequest::Stats), &mut p).unwrap();
    let stats = p.lines.last().unwrap();
    assert!(stats.starts_with("stats requests=3 refills=0 pins=0 "), "{stats}");
    assert!(stats.ends_with(" pinned_pages=0"), "{stats}");
}

#[test]
fn a_driver_fault_then_its_device_reset_are_reported() {
    let cache: Vec<CacheEntry> = (0..16).map(|_| CacheEntry::new()).collect();
    let mut p = Fake::default();
    let mut mgr = start(&setup(), &cache, &mut p).unwrap();
    let reset = |generation| msg(MgrRequest::DeviceReset { driver: pd(1), generation });
    mgr.protected(Role::Driver, "channel 1", &reset(0), &mut p).unwrap();
    assert_eq!(p.lines.last().unwrap(), "DEVICE_RESET from driver PD #1 at its first start: nothing to recover");
    p.faults = 1;
    mgr.driver_faulted(&mut p);
    assert!(p.lines.last().unwrap().starts_with("driver PD #1 faulted (told by the monitor): 0 pins held"));
    mgr.protected(Role::Driver, "channel 1", &reset(1), &mut p).unwrap();
    assert!(p.lines.last().unwrap().starts_with("DEVICE_RESET from driver PD #1: recovered 0 pins after device reset"));
    // The same notice again (delivered late): about the instance the reset replaced.
    mgr.driver_faulted(&mut p);
    assert!(
        p.lines.last().unwrap().contains("fault #1) is about an instance its restarted successor already replaced"),
        "{:?}",
        p.lines
    );
}
