//! The PD logic against the e1000 model and a fake platform (manager, console, channels): the
//! start-up quiesce, OPEN (and its rollback), DRIVER_STATS, CLOSE, and malformed requests; and
//! recovery: a restarted client's re-OPEN or fault notice drops the old session (in either
//! order), the receive ring's pool back at its size, and a stopped manager.

extern crate std;

use std::cell::RefCell;
use std::rc::Rc;
use std::string::{String, ToString};
use std::vec::Vec;

use dataspace_api::cache::{table_from_region, CacheWriter, Translation};
use dataspace_api::msg::{MgrError, MgrReply, MgrRequest};
use dataspace_api::{Attachment, DsId, PdId};
use message::{Message, Refusal};
use nic_api::{DsList, MacAddr, Op, SessionError, SessionReply, SessionRequest};

use super::start::{config, Parts, SessionCfg, Settings};
use super::{DriverPd, Manager, PdPool, Platform, State, Xlate};
use crate::engine::SessionSet;
use crate::model::rig::{E1000Fx, Fixture, MAC, PHYS_BASE};
use crate::model::{Clock, PhysMem, PhysPool};
use crate::xlate::CacheXlate;

const DS: u32 = 1;
const DS_PHYS: u64 = PHYS_BASE + 0x10_0000;
const PAGES: u32 = 64;
/// Session 2's dataspace (a two-session driver), after DS in the fake memory.
const DS2: u32 = 2;
const DS2_PHYS: u64 = DS_PHYS + PAGES as u64 * 4096;
/// A two-session driver's receive pool, after DS2.
const POOL_PHYS: u64 = DS2_PHYS + PAGES as u64 * 4096;
/// Session 2's MAC (the system file's `mac1`).
const MAC1: [u8; 6] = [0x52, 0x54, 0x00, 0x12, 0x34, 0x57];

struct Fake {
    lines: Vec<String>,
    requests: Vec<MgrRequest>,
    writer: CacheWriter<'static>,
    notified: u64,
    acks: u64,
    /// The manager is stopped: every call is refused so.
    stopped: bool,
}

#[derive(Clone)]
struct FakePlatform(Rc<RefCell<Fake>>);

impl FakePlatform {
    fn lines(&self) -> Vec<String> {
        self.0.borrow().lines.clone()
    }
    fn requests(&self) -> Vec<MgrRequest> {
        self.0.borrow().requests.clone()
    }
}

impl Platform for FakePlatform {
    type CallError = &'static str;
    fn notify_client(&mut self, _k: usize) {
        self.0.borrow_mut().notified += 1;
    }
    fn irq_ack(&mut self) {
        self.0.borrow_mut().acks += 1;
    }
    fn call_manager(&mut self, m: &Message) -> Result<Message, &'static str> {
        let req = MgrRequest::decode(m).map_err(|_| "bad request")?;
        let mut f = self.0.borrow_mut();
        if f.stopped {
            return Err("stopped");
        }
        f.requests.push(req);
        // Dataspace DS (cache entries 0..PAGES) and DS2 (PAGES..2 * PAGES).
        let at = |ds: DsId| if ds.0 == DS2 { (PAGES, DS2_PHYS) } else { (0, DS_PHYS) };
        let publish = |f: &mut Fake, ds: DsId, page: u32, pinned| {
            let (base, phys) = at(ds);
            let t = Translation { ds, page, frame: phys + u64::from(page) * 4096, pinned, expiry: 0 };
            f.writer.write((base + page) as usize, &t).unwrap();
            t
        };
        let r = match req {
            MgrRequest::Attach { ds, .. } if ds.0 == DS || ds.0 == DS2 => {
                Ok(MgrReply::Attached(Attachment::new(ds, at(ds).0, PAGES, 4096).unwrap()))
            }
            MgrRequest::Attach { .. } => Err(MgrError::UnknownDataspace),
            MgrRequest::Detach { .. } => Ok(MgrReply::Done),
            MgrRequest::Refill { ds, page } => Ok(MgrReply::Translated(publish(&mut f, ds, page, false))),
            MgrRequest::Pin { ds, first, .. } => {
                publish(&mut f, ds, first, true);
                Ok(MgrReply::PinCount { held: 1, quota: 1000 })
            }
            MgrRequest::Unpin { ds, first, .. } => {
                publish(&mut f, ds, first, false);
                Ok(MgrReply::PinCount { held: 0, quota: 1000 })
            }
            MgrRequest::DeviceReset { .. } => Err(MgrError::NotFaulted),
            _ => Err(MgrError::NotAuthorized),
        };
        Ok(MgrReply::encode(&r))
    }
    fn now(&self) -> u64 {
        0
    }
    fn print(&self, line: core::fmt::Arguments<'_>) {
        self.0.borrow_mut().lines.push(line.to_string());
    }
    fn is_stopped(e: &&'static str) -> bool {
        *e == "stopped"
    }
}

fn settings() -> Settings {
    Settings {
        nic_pci_id: nic_api::CHIP_82540EM.pci_id(),
        holdoff_us: 0,
        sessions: 1,
        client_pds: [2, 0, 0, 0],
        macs: [0; 4],
        driver_pd: 1,
        stats_every_irqs: 0,
        tsc_hz: 1_000_000,
        generation: 0,
    }
}

type Nic = <E1000Fx as Fixture>::B;

/// The fake platform (manager, console) and a translation adapter over its cache.
fn platform() -> (FakePlatform, Xlate<FakePlatform>) {
    let cache = region_host::zeroed("translation_cache", 0x4000);
    let writer = CacheWriter::new(table_from_region(&cache).unwrap());
    let p = FakePlatform(Rc::new(RefCell::new(Fake {
        lines: Vec::new(),
        requests: Vec::new(),
        writer,
        notified: 0,
        acks: 0,
        stopped: false,
    })));
    let xlate = CacheXlate::new(table_from_region(&cache).unwrap(), Manager::new(p.clone()), 1 << 20);
    (p, xlate)
}

fn queue(name: &'static str) -> region::MappedRegion {
    region_host::zeroed(name, nic_api::QUEUE_REGION_SIZE)
}

fn driver() -> (DriverPd<Nic, FakePlatform>, FakePlatform) {
    let phys = PhysMem::new(PHYS_BASE, 0x10_0000 + PAGES as usize * 4096);
    let (_model, nic) = E1000Fx::build(&phys, &Clock::default());
    let (p, xlate) = platform();
    let session = SessionCfg {
        client: PdId::new(2).unwrap(),
        mac: None,
        rx_queues: queue("rx_queues"),
        tx_queues: queue("tx_queues"),
    };
    let parts = Parts { nic, xlate, pool: PdPool::none(), sessions: [Some(session), None, None, None], cfg: config(0) };
    let d = DriverPd::new(Some(parts), &settings(), p.clone(), |s| std::boxed::Box::leak(std::boxed::Box::new(s)));
    (d, p)
}

fn open(d: &mut DriverPd<Nic, FakePlatform>, ids: &[u32]) -> Result<SessionReply, SessionError> {
    let ids: Vec<DsId> = ids.iter().map(|&i| DsId(i)).collect();
    let reply = d.protected(0, &SessionRequest::Open(DsList::new(&ids).unwrap()).encode()).unwrap();
    SessionReply::decode(Op::Open, &reply).unwrap()
}

#[test]
fn start_quiesces_the_device_and_reports_device_reset() {
    let (d, p) = driver();
    assert!(matches!(d.state(), State::Running(_)) && d.open_sessions().is_empty());
    assert_eq!(p.requests(), [MgrRequest::DeviceReset { driver: PdId::new(1).unwrap(), generation: 0 }]);
    assert!(p.lines().iter().any(|l| l == "device reset; first start, no pins to recover"), "{:?}", p.lines());
    assert_eq!(p.0.borrow().acks, 1, "a stale IRQ is acked at start");
}

#[test]
fn open_stats_close_and_reopen() {
    let (mut d, p) = driver();
    let opened = open(&mut d, &[DS]).unwrap();
    assert_eq!(opened, SessionReply::Opened { session: 1, mac: MacAddr(MAC) });
    assert!(p.lines().iter().any(|l| l.starts_with("session 1 open for PD #2: 1 dataspace(s), MAC 52:54:00:12:34:56")));

    let reply = d.protected(0, &SessionRequest::Stats.encode()).unwrap();
    assert!(matches!(SessionReply::decode(Op::Stats, &reply), Ok(Ok(SessionReply::Stats(_)))));
    let line = p.lines().into_iter().rfind(|l| l.starts_with("stats ")).expect("a stats line");
    for key in [
        "irqs",
        "rx_packets",
        "tx_packets",
        "notify_sent",
        "notify_suppressed",
        "xlate_misses",
        "refills",
        "pin_calls",
        "max_work",
    ] {
        assert!(line.contains(&std::format!(" {key}=")), "{key} in {line}");
    }

    let close = SessionRequest::Close { session: 1 }.encode();
    let reply = d.protected(0, &close).unwrap();
    assert_eq!(SessionReply::decode(Op::Close, &reply), Ok(Ok(SessionReply::Closed)));
    assert!(p.lines().iter().any(|l| l.starts_with("session 1 closed: device reset")));
    assert!(p.requests().contains(&MgrRequest::Detach { client: PdId::new(2).unwrap(), ds: DsId(DS) }));
    let reply = d.protected(0, &close).unwrap();
    assert_eq!(SessionReply::decode(Op::Close, &reply), Ok(Err(SessionError::UnknownSession)));
    assert!(open(&mut d, &[DS]).is_ok(), "a closed session can be reopened");
}

#[test]
fn a_failed_open_detaches_what_it_attached() {
    let (mut d, p) = driver();
    assert_eq!(open(&mut d, &[DS, 7]), Err(SessionError::Manager(MgrError::UnknownDataspace)));
    assert!(matches!(d.state(), State::Running(_)) && d.open_sessions().is_empty());
    assert!(p.requests().contains(&MgrRequest::Detach { client: PdId::new(2).unwrap(), ds: DsId(DS) }), "rollback");
    assert!(open(&mut d, &[DS]).is_ok(), "the driver still serves a good OPEN");
}

#[test]
fn malformed_requests_and_stats_without_a_session_are_refused() {
    let (mut d, p) = driver();
    assert_eq!(d.protected(0, &Message::new(0x20, &[]).unwrap()), Err(Refusal::BAD_MESSAGE));
    assert!(p.lines().iter().any(|l| l.starts_with("bad session request")));
    let reply = d.protected(0, &SessionRequest::Stats.encode()).unwrap();
    assert_eq!(SessionReply::decode(Op::Stats, &reply), Ok(Err(SessionError::UnknownSession)));
}

#[test]
fn a_driver_that_could_not_start_refuses_every_session() {
    let p = driver().1;
    let mut d: DriverPd<Nic, FakePlatform> =
        DriverPd::new(None, &settings(), p, |s| std::boxed::Box::leak(std::boxed::Box::new(s)));
    assert_eq!(open(&mut d, &[DS]), Err(SessionError::DeviceFailed));
}

/// The client's ends of the session queues (as a client lays them after OPEN).
fn client_ends(d: &DriverPd<Nic, FakePlatform>) -> (ring::Receiver<'static>, ring::Sender<'static>) {
    let (rx, tx) = d.queue_regions(0).expect("queues");
    let cap = nic_api::QUEUE_CAPACITY;
    (ring::Receiver::from_region(rx, cap).unwrap(), ring::Sender::from_region(tx, cap).unwrap())
}

/// Posts `n` receive buffers as the client and lets the driver take them.
fn post(d: &mut DriverPd<Nic, FakePlatform>, rx: &mut ring::Receiver<'static>, n: u32) {
    for i in 0..n {
        rx.free.enqueue(ring::Desc { dataspace: DS, offset: i * 2048, len: 2048, cookie: i }).unwrap();
    }
    d.notified(false, SessionSet::EMPTY.with(0));
}

fn unpins(p: &FakePlatform) -> usize {
    p.requests().iter().filter(|r| matches!(r, MgrRequest::Unpin { .. })).count()
}

#[test]
fn a_restarted_clients_reopen_drops_the_old_session_and_its_late_notice_is_paid() {
    let (mut d, p) = driver();
    assert_eq!(d.rx_pool(), (255, 255, 0), "no session: no buffer with the device");
    open(&mut d, &[DS]).unwrap();
    let (mut rx, _tx) = client_ends(&d);
    post(&mut d, &mut rx, 8);
    assert_eq!(d.rx_pool(), (255, 247, 8));
    // The client's new instance opens again before the monitor's notice arrives.
    let before = unpins(&p);
    assert!(open(&mut d, &[DS]).is_ok(), "a re-OPEN is served");
    assert!(p.lines().iter().any(|l| l.contains("the client was restarted; dropping its old session")));
    assert!(unpins(&p) > before, "the old session's buffers were unpinned");
    assert!(p.requests().contains(&MgrRequest::Detach { client: PdId::new(2).unwrap(), ds: DsId(DS) }));
    assert_eq!(d.rx_pool(), (255, 255, 0), "the old buffers are no longer with the device");
    // The new instance's queues start clean: it posts from index 0 and the driver takes them.
    let (mut rx, _tx) = client_ends(&d);
    post(&mut d, &mut rx, 8);
    assert_eq!(d.rx_pool(), (255, 247, 8));
    // The late notice is for the old instance: the new session stays.
    d.client_faulted(0);
    assert!(d.open_sessions().contains(0));
    assert!(p.lines().iter().any(|l| l.contains("its session was already replaced")));
    // A later fault of the new instance drops its session.
    d.client_faulted(0);
    assert!(matches!(d.state(), State::Running(_)) && d.open_sessions().is_empty());
    assert_eq!(d.rx_pool(), (255, 255, 0));
}

#[test]
fn a_clients_fault_notice_drops_its_session_and_the_new_open_is_served() {
    let (mut d, p) = driver();
    open(&mut d, &[DS]).unwrap();
    let (mut rx, _tx) = client_ends(&d);
    post(&mut d, &mut rx, 16);
    // The dead instance left junk in the queues (posted twice, indices moved).
    post(&mut d, &mut rx, 4);
    d.client_faulted(0);
    assert!(matches!(d.state(), State::Running(_)) && d.open_sessions().is_empty());
    assert!(p.lines().iter().any(|l| l == "session 1's client faulted (monitor's notice); dropping its session"));
    assert!(p.lines().iter().any(|l| l.starts_with("session 1 closed: device reset")));
    assert_eq!(d.rx_pool(), (255, 255, 0));
    assert!(open(&mut d, &[DS]).is_ok());
    let (mut rx, _tx) = client_ends(&d);
    post(&mut d, &mut rx, 16);
    assert_eq!(d.rx_pool(), (255, 239, 16), "the new session's buffers, none of the old");
}

#[test]
fn a_stopped_manager_stops_networking_with_one_plain_line() {
    let (mut d, p) = driver();
    open(&mut d, &[DS]).unwrap();
    p.0.borrow_mut().stopped = true;
    let (mut rx, _tx) = client_ends(&d);
    post(&mut d, &mut rx, 4);
    post(&mut d, &mut rx, 4);
    let said: Vec<String> = p.lines().into_iter().filter(|l| l.starts_with("networking stopped")).collect();
    assert_eq!(said.len(), 1, "{:?}", p.lines());
    assert!(said[0].contains("the dataspace manager stopped"), "{}", said[0]);
    assert!(!p.lines().iter().any(|l| l.contains("call to the dataspace manager failed")), "no line per call");
    assert!(matches!(d.state(), State::Broken));
    assert_eq!(open(&mut d, &[DS]), Err(SessionError::DeviceFailed));
    d.notified(true, SessionSet::EMPTY.with(0));
    assert_eq!(p.lines().iter().filter(|l| l.starts_with("networking stopped")).count(), 1);
}

/// The chip comes from the initialiser (`nic_pci_id`): unset, or an id without a backend, is
/// said plainly and the driver starts no device (it checks this before touching any region).
#[test]
fn the_chip_must_be_one_the_initialiser_bound_and_the_driver_supports() {
    use super::start::{parts, Regions};
    use region::RegionError;
    let (_, p) = driver();
    let none = || Regions {
        nic_regs: Err(RegionError::NotMapped { name: "nic_regs" }),
        driver_dma: Err(RegionError::NotMapped { name: "driver_dma" }),
        translation_cache: Err(RegionError::NotMapped { name: "translation_cache" }),
        sessions: core::array::from_fn(|_| super::SessionRegions {
            rx_queues: Err(RegionError::NotMapped { name: "rx_queues" }),
            tx_queues: Err(RegionError::NotMapped { name: "tx_queues" }),
            buffers: Err(RegionError::NotMapped { name: "client_buffers" }),
        }),
    };
    let unset = Settings { nic_pci_id: 0, ..settings() };
    assert!(parts(none(), &unset, &p).is_none());
    assert!(p.lines().iter().any(|l| l.starts_with("setvar nic_pci_id is not set: add <setvar symbol=\"nic_pci_id\"")));
    let other = Settings { nic_pci_id: 0x10ec_8139, ..settings() };
    assert!(parts(none(), &other, &p).is_none());
    assert!(
        p.lines().iter().any(|l| {
            l
            == "PCI device 10ec:8139 is no NIC this driver has a backend for (supported: 8086:100e (e1000 (82540EM)), \
                8086:10d3 (e1000e (82574L)), 100b:0022 (DP83820))"
        }),
        "{:?}",
        p.lines()
    );
    // A supported chip gets as far as the regions (here: none mapped, said by name).
    let e1000e = Settings { nic_pci_id: nic_api::CHIP_82574L.pci_id(), ..settings() };
    assert!(parts(none(), &e1000e, &p).is_none());
    assert!(p.lines().iter().any(|l| l.contains("nic_regs")), "{:?}", p.lines());
    assert_eq!(p.lines().last().map(String::as_str), Some("cannot start; refusing every session"));
}

type Nic2 = DriverPd<Nic, FakePlatform, PhysPool>;

/// A two-session driver (pooled receive): session 1 for PD #2 (dataspace DS, the NIC's MAC),
/// session 2 for PD #3 (dataspace DS2, MAC1).
fn driver2() -> (Nic2, FakePlatform) {
    let pool_len = 256 * crate::engine::POOL_BUF;
    let phys = PhysMem::new(PHYS_BASE, (POOL_PHYS - PHYS_BASE) as usize + pool_len);
    let (_model, nic) = E1000Fx::build(&phys, &Clock::default());
    let (p, xlate) = platform();
    let s0 = SessionCfg {
        client: PdId::new(2).unwrap(),
        mac: None,
        rx_queues: queue("rx_queues"),
        tx_queues: queue("tx_queues"),
    };
    let s1 = SessionCfg {
        client: PdId::new(3).unwrap(),
        mac: Some(MacAddr(MAC1)),
        rx_queues: queue("rx_queues1"),
        tx_queues: queue("tx_queues1"),
    };
    let windows = std::vec![(DS_PHYS, u64::from(PAGES) * 4096), (DS2_PHYS, u64::from(PAGES) * 4096)];
    let pool = PhysPool::new(&phys, POOL_PHYS, pool_len, windows);
    let parts = Parts { nic, xlate, pool, sessions: [Some(s0), Some(s1), None, None], cfg: config(0) };
    let settings =
        Settings { sessions: 2, client_pds: [2, 3, 0, 0], macs: [0, MacAddr(MAC1).to_word(), 0, 0], ..settings() };
    let d = DriverPd::new(Some(parts), &settings, p.clone(), |s| std::boxed::Box::leak(std::boxed::Box::new(s)));
    (d, p)
}

fn open_k(d: &mut Nic2, k: usize, ids: &[u32]) -> Result<SessionReply, SessionError> {
    let ids: Vec<DsId> = ids.iter().map(|&i| DsId(i)).collect();
    let reply = d.protected(k, &SessionRequest::Open(DsList::new(&ids).unwrap()).encode()).unwrap();
    SessionReply::decode(Op::Open, &reply).unwrap()
}

fn close_k(d: &mut Nic2, k: usize, session: u32) -> Result<SessionReply, SessionError> {
    let reply = d.protected(k, &SessionRequest::Close { session }.encode()).unwrap();
    SessionReply::decode(Op::Close, &reply).unwrap()
}

/// Each session opens on its own channel with its own id and MAC, is closed, dropped on its
/// client's fault and reopened without touching the other; a session the file does not
/// configure, and a CLOSE naming another session's id, are refused.
#[test]
fn two_sessions_open_close_and_fail_independently() {
    let (mut d, p) = driver2();
    assert_eq!(open_k(&mut d, 0, &[DS]), Ok(SessionReply::Opened { session: 1, mac: MacAddr(MAC) }));
    assert_eq!(open_k(&mut d, 1, &[DS2]), Ok(SessionReply::Opened { session: 2, mac: MacAddr(MAC1) }));
    assert!(p.lines().iter().any(|l| l.starts_with("session 2 open for PD #3: 1 dataspace(s), MAC 52:54:00:12:34:57")));
    assert_eq!(d.open_sessions(), SessionSet::EMPTY.with(0).with(1));
    // Session 2's client cannot open with session 1's dataspace: it is attached for session 1.
    assert_eq!(open_k(&mut d, 1, &[DS]), Err(SessionError::DuplicateDataspace), "replaced, then refused");
    assert!(p.lines().iter().any(|l| l.contains("OPEN while session 2 is open")), "{:?}", p.lines());
    assert_eq!(open_k(&mut d, 1, &[DS2]), Ok(SessionReply::Opened { session: 2, mac: MacAddr(MAC1) }));

    // DRIVER_STATS answers each session with its own counters.
    let reply = d.protected(1, &SessionRequest::Stats.encode()).unwrap();
    assert!(matches!(SessionReply::decode(Op::Stats, &reply), Ok(Ok(SessionReply::Stats(_)))));
    // A CLOSE from session 2's client naming session 1 is refused; its own is served.
    assert_eq!(close_k(&mut d, 1, 1), Err(SessionError::UnknownSession));
    let before = p.requests().len();
    assert_eq!(close_k(&mut d, 1, 2), Ok(SessionReply::Closed));
    assert!(p
        .lines()
        .iter()
        .any(|l| l.starts_with("session 2 closed: buffers returned, 0 transmission(s) still with the device")));
    let detached: Vec<_> =
        p.requests()[before..].iter().filter(|r| matches!(r, MgrRequest::Detach { .. })).cloned().collect();
    assert_eq!(
        detached,
        std::vec![MgrRequest::Detach { client: PdId::new(3).unwrap(), ds: DsId(DS2) }],
        "only its own"
    );
    assert_eq!(d.open_sessions(), SessionSet::EMPTY.with(0), "session 1 untouched");
    assert!(!p.lines().iter().any(|l| l.starts_with("session 1 closed")));

    // Session 1's client faults: only session 1 goes; session 2 reopens meanwhile.
    assert!(open_k(&mut d, 1, &[DS2]).is_ok());
    d.client_faulted(0);
    assert!(p.lines().iter().any(|l| l == "session 1's client faulted (monitor's notice); dropping its session"));
    assert_eq!(d.open_sessions(), SessionSet::EMPTY.with(1));
    assert!(open_k(&mut d, 0, &[DS]).is_ok(), "its new instance is served");

    // A session the system file does not give the driver.
    assert_eq!(open_k(&mut d, 2, &[DS]), Err(SessionError::NoFreeSession));
    assert!(p.lines().iter().any(|l| l
        .starts_with("OPEN for session 3, which the system file does not give this driver (it serves 2 session(s))")));
}

/// The session setvars and regions a multi-session driver needs are checked at start, each
/// missing piece said by name.
#[test]
fn session_settings_are_checked_at_start() {
    use super::start::{parts, Regions};
    use super::SessionRegions;
    use region::DmaRegion;
    let (_, p) = driver();
    let regions = |windows: bool| Regions {
        nic_regs: Ok(region_host::zeroed("nic_regs", 0x20000)),
        driver_dma: Ok(DmaRegion::new(region_host::zeroed("driver_dma", 0x90000), 0x100000)),
        translation_cache: Ok(region_host::zeroed("translation_cache", 0x4000)),
        sessions: core::array::from_fn(|k| SessionRegions {
            rx_queues: Ok(region_host::zeroed("rx_queues", nic_api::QUEUE_REGION_SIZE)),
            tx_queues: Ok(region_host::zeroed("tx_queues", nic_api::QUEUE_REGION_SIZE)),
            buffers: if windows {
                Ok(DmaRegion::new(region_host::zeroed("client_buffers", 0x1000), 0x200000 + k as u64 * 0x1000))
            } else {
                Err(region::RegionError::NotMapped { name: "client_buffers1" })
            },
        }),
    };
    let two =
        Settings { sessions: 2, client_pds: [2, 3, 0, 0], macs: [0, MacAddr(MAC1).to_word(), 0, 0], ..settings() };
    let said = |p: &FakePlatform, text: &str| p.lines().iter().any(|l| l.contains(text));

    assert!(parts(regions(true), &Settings { sessions: 5, ..two }, &p).is_none());
    assert!(said(&p, "setvar sessions = 5 must be 1..=4"), "{:?}", p.lines());
    assert!(parts(regions(true), &Settings { macs: [0; 4], ..two }, &p).is_none());
    assert!(said(&p, "session 2 has no MAC: set <setvar symbol=\"mac1\""), "{:?}", p.lines());
    assert!(parts(regions(true), &Settings { macs: [0, 0x01, 0, 0], ..two }, &p).is_none());
    assert!(said(&p, "setvar mac1 = 0x1 is not a unicast station address"), "{:?}", p.lines());
    assert!(parts(regions(true), &Settings { client_pds: [2, super::start::NOT_SET, 0, 0], ..two }, &p).is_none());
    assert!(said(&p, "session 2: setvar client_pd1 is not set"), "{:?}", p.lines());
    assert!(parts(regions(true), &Settings { client_pds: [2, 1 << 40, 0, 0], ..two }, &p).is_none());
    assert!(said(&p, "setvar client_pd1 = 1099511627776 is not a PD index (session 2)"), "{:?}", p.lines());
    assert!(parts(regions(false), &two, &p).is_none());
    assert!(said(&p, "setvar_vaddr=\"client_buffers\""), "{:?}", p.lines());
    let mut small = regions(true);
    small.driver_dma = Ok(DmaRegion::new(region_host::zeroed("driver_dma", 0x10000), 0x100000));
    assert!(parts(small, &two, &p).is_none());
    assert!(said(&p, "driver_dma must be at least 0x90000 bytes (it is 0x10000)"), "{:?}", p.lines());

    let built = parts(regions(true), &two, &p).expect("a good two-session configuration");
    assert!(built.sessions[1].as_ref().is_some_and(|s| s.mac == Some(MacAddr(MAC1))));
    assert!(said(&p, "2 sessions (session 1 PD #2, session 2 PD #3), receive pool of 256 buffers"), "{:?}", p.lines());
}
