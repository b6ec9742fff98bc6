//! The dataspace manager PD (`dataspace_mgr.elf` in `system.xml`): wires the host-tested
//! `dataspace-mgr` library to the PD runtime.
//!
//! Its configuration comes from setvars (the scheme is documented in `system.xml`'s header and
//! the crate README): up to [`MAX_DATASPACES`] dataspaces `ds0..ds3`, each with
//! `dsK_size` (the `setvar_size` of the manager's map of the region), `dsK_paddr` (a
//! `region_paddr` setvar: regions are physically contiguous, the initialiser guarantees it, so
//! page `i`'s frame is `paddr + i * page size`), `dsK_sharers` (bit `p` = PD index `p` may use
//! it in a session), `dsK_id` and `dsK_page_size`; the driver's PD index `driver_pd`, its pin
//! quota `pin_quota` and the translation cache `translation_cache`/`translation_cache_size`.
//!
//! Callers are known by channel: 1 = the driver (data-path requests), 2 = an admin PD (RECLAIM,
//! STATS; test systems only). Time is the TSC (`pd::tsc`). A STATS request prints a summary.
//!
//! Driver faults: a notification on channel 3 comes from the monitor (the system file's
//! `<fault_notify pd="dataspace_mgr" id="3"/>` inside the driver's element) and means the driver
//! faulted: the manager marks it faulted (`DRIVER_FAULTED`, its pins stay: its device may still
//! be doing DMA) and prints how many pages it holds pinned. The restarted driver resets its
//! device and sends `DEVICE_RESET` for itself; the manager then recovers every pin and
//! attachment and prints how many. A `DEVICE_RESET` from a driver that never faulted (its
//! first start) changes nothing.
#![no_std]
#![no_main]

extern crate alloc;

use alloc::vec::Vec;

use dataspace_api::cache::table_from_raw;
use dataspace_api::msg::{MgrReply, MgrRequest};
use dataspace_api::{DsId, PdId, PdSet, MAX_PDS};
use dataspace_mgr::{Caller, DataspaceSpec, DriverSpec, Manager};
use linked_list_allocator::LockedHeap;
use pd::{debug_println, Channel, ChannelSet, Handler, Message, Refusal};

pd::setvar!(translation_cache: u64 = 0);
pd::setvar!(translation_cache_size: u64 = 0);
pd::setvar!(driver_pd: u64 = 1);
pd::setvar!(pin_quota: u64 = 512);

pd::setvar!(ds0_size: u64 = 0);
pd::setvar!(ds0_paddr: u64 = 0);
pd::setvar!(ds0_sharers: u64 = 0);
pd::setvar!(ds0_id: u64 = 0);
pd::setvar!(ds0_page_size: u64 = 4096);
pd::setvar!(ds1_size: u64 = 0);
pd::setvar!(ds1_paddr: u64 = 0);
pd::setvar!(ds1_sharers: u64 = 0);
pd::setvar!(ds1_id: u64 = 1);
pd::setvar!(ds1_page_size: u64 = 4096);
pd::setvar!(ds2_size: u64 = 0);
pd::setvar!(ds2_paddr: u64 = 0);
pd::setvar!(ds2_sharers: u64 = 0);
pd::setvar!(ds2_id: u64 = 2);
pd::setvar!(ds2_page_size: u64 = 4096);
pd::setvar!(ds3_size: u64 = 0);
pd::setvar!(ds3_paddr: u64 = 0);
pd::setvar!(ds3_sharers: u64 = 0);
pd::setvar!(ds3_id: u64 = 3);
pd::setvar!(ds3_page_size: u64 = 4096);

/// Dataspace slots the setvars describe.
const MAX_DATASPACES: usize = 4;
const DRIVER: Channel = Channel::new(1);
const ADMIN: Channel = Channel::new(2);
/// The monitor's fault notice: the driver faulted.
const DRIVER_FAULT: Channel = Channel::new(3);

/// The heap `Manager::new` allocates its tables from (requests never allocate).
const HEAP_SIZE: usize = 256 * 1024;
static mut HEAP: [u8; HEAP_SIZE] = [0; HEAP_SIZE];
#[global_allocator]
static ALLOCATOR: LockedHeap = LockedHeap::empty();

struct Slot {
    size: u64,
    paddr: u64,
    sharers: u64,
    id: u64,
    page_size: u64,
}

fn slots() -> [Slot; MAX_DATASPACES] {
    [
        Slot { size: ds0_size.get(), paddr: ds0_paddr.get(), sharers: ds0_sharers.get(), id: ds0_id.get(), page_size: ds0_page_size.get() },
        Slot { size: ds1_size.get(), paddr: ds1_paddr.get(), sharers: ds1_sharers.get(), id: ds1_id.get(), page_size: ds1_page_size.get() },
        Slot { size: ds2_size.get(), paddr: ds2_paddr.get(), sharers: ds2_sharers.get(), id: ds2_id.get(), page_size: ds2_page_size.get() },
        Slot { size: ds3_size.get(), paddr: ds3_paddr.get(), sharers: ds3_sharers.get(), id: ds3_id.get(), page_size: ds3_page_size.get() },
    ]
}

enum MgrPd {
    Up { mgr: Manager<'static>, driver: PdId, requests: u64 },
    Down,
}

fn start() -> Result<(Manager<'static>, PdId), &'static str> {
    let driver = PdId::new(driver_pd.get()).ok_or("setvar driver_pd is not a PD index")?;
    let quota = u32::try_from(pin_quota.get()).map_err(|_| "setvar pin_quota does not fit 32 bits")?;
    let mut specs = Vec::new();
    for (k, s) in slots().iter().enumerate() {
        if s.size == 0 {
            continue;
        }
        if s.paddr == 0 {
            debug_println!("{}: ds{k}: no ds{k}_paddr (a region_paddr setvar) given", pd::name());
            return Err("a dataspace has no physical address");
        }
        if s.page_size == 0 || s.size % s.page_size != 0 {
            debug_println!("{}: ds{k}: size {:#x} is not a multiple of page size {:#x}", pd::name(), s.size, s.page_size);
            return Err("a dataspace's size is not a multiple of its page size");
        }
        let id = u32::try_from(s.id).map_err(|_| "a dsK_id does not fit 32 bits")?;
        let sharers = (0..MAX_PDS)
            .filter(|&p| s.sharers & (1 << p) != 0)
            .filter_map(|p| PdId::new(u64::from(p)))
            .fold(PdSet::EMPTY, PdSet::with);
        let pages = s.size / s.page_size;
        specs.push(DataspaceSpec {
            id: DsId(id),
            size: s.size,
            page_size: s.page_size,
            sharers,
            frames: (0..pages).map(|i| s.paddr + i * s.page_size).collect(),
        });
        debug_println!(
            "{}: dataspace {id}: {:#x} bytes at physical {:#x}, {pages} pages of {:#x}, shared with PD set {:#x}",
            pd::name(),
            s.size,
            s.paddr,
            s.page_size,
            s.sharers
        );
    }
    if translation_cache.get() == 0 {
        return Err("the translation_cache region is not mapped (setvar_vaddr translation_cache)");
    }
    // SAFETY: the system file maps the translation cache read-write into this PD at this
    // address and size for its whole life; the driver maps it read-only, and everyone accesses
    // it only through `dataspace_api::cache` (atomics), this PD being its only writer.
    let cache = unsafe { table_from_raw(translation_cache.get() as *mut u8, translation_cache_size.get() as usize) }
        .map_err(|e| {
            debug_println!("{}: translation cache: {e}", pd::name());
            "bad translation cache region"
        })?;
    let entries = cache.len();
    let mgr = Manager::new(specs, alloc::vec![DriverSpec { pd: driver, pin_quota: quota, cache }]).map_err(|e| {
        debug_println!("{}: configuration: {e}", pd::name());
        "bad configuration"
    })?;
    debug_println!(
        "{}: up: driver {driver}, pin quota {quota} pages, translation cache of {entries} entries",
        pd::name()
    );
    Ok((mgr, driver))
}

fn init() -> MgrPd {
    // SAFETY: HEAP is used by nothing but the allocator, which is initialised exactly once,
    // here, before anything allocates; the range is valid static memory for the PD's life.
    unsafe { ALLOCATOR.lock().init(core::ptr::addr_of_mut!(HEAP).cast::<u8>(), HEAP_SIZE) };
    match start() {
        Ok((mgr, driver)) => MgrPd::Up { mgr, driver, requests: 0 },
        Err(why) => {
            debug_println!("{}: cannot start: {why}; refusing every request", pd::name());
            MgrPd::Down
        }
    }
}

impl Handler for MgrPd {
    fn notified(&mut self, channels: ChannelSet) {
        if !channels.contains(DRIVER_FAULT) {
            debug_println!("{}: notified on {channels:?}; only channel {DRIVER_FAULT} (driver faults) is expected", pd::name());
            return;
        }
        let MgrPd::Up { mgr, driver, .. } = self else {
            debug_println!("{}: told that the driver faulted, but this manager never started", pd::name());
            return;
        };
        let now = pd::tsc();
        // Pinned pages as the driver left them (lapsed timed pins swept first).
        let held = match mgr.handle(Caller::Monitor, &MgrRequest::Stats, now) {
            Ok(MgrReply::Stats(s)) => s.pinned_pages,
            _ => 0,
        };
        match mgr.handle(Caller::Monitor, &MgrRequest::DriverFaulted { driver: *driver }, now) {
            Ok(_) => debug_println!(
                "{}: driver {driver} faulted (told by the monitor): {held} pins held; its pins stay and its requests are refused until it resets its device",
                pd::name()
            ),
            Err(e) => debug_println!("{}: driver {driver} faulted, but DRIVER_FAULTED failed: {e}", pd::name()),
        }
    }

    fn protected(&mut self, channel: Channel, msg: Message) -> Result<Message, Refusal> {
        let MgrPd::Up { mgr, driver, requests } = self else {
            return Err(Refusal::UNSUPPORTED);
        };
        let caller = match channel {
            DRIVER => Caller::Driver(*driver),
            ADMIN => Caller::Admin,
            _ => return Err(Refusal::UNSUPPORTED),
        };
        let request = match MgrRequest::decode(msg.label(), msg.words()) {
            Ok(r) => r,
            Err(e) => {
                debug_println!("{}: bad request on {channel}: {e}", pd::name());
                return Err(Refusal::BAD_MESSAGE);
            }
        };
        *requests += 1;
        let result = mgr.handle(caller, &request, pd::tsc());
        match (&request, &result) {
            (MgrRequest::Attach { client, ds }, Ok(MgrReply::Attached(a))) => debug_println!(
                "{}: ATTACH {ds} for client {client}: cache entries {}..{}",
                pd::name(),
                a.base(),
                a.base() + a.pages()
            ),
            (MgrRequest::Detach { client, ds }, Ok(_)) => {
                debug_println!("{}: DETACH {ds} for client {client}", pd::name())
            }
            (MgrRequest::Reclaim { ds, page }, r) => match r {
                Ok(_) => debug_println!("{}: RECLAIM {ds} page {page}: done (page unpinned; its translations invalidated)", pd::name()),
                Err(e) => debug_println!("{}: RECLAIM {ds} page {page}: refused: {e}", pd::name()),
            },
            (MgrRequest::DeviceReset { driver }, Ok(MgrReply::Recovered { pins, attachments })) => debug_println!(
                "{}: DEVICE_RESET from driver {driver}: recovered {pins} pins after device reset ({attachments} attachment(s) dropped, its cache invalidated); serving it again",
                pd::name()
            ),
            (MgrRequest::DeviceReset { driver }, Err(dataspace_api::msg::MgrError::NotFaulted)) => debug_println!(
                "{}: DEVICE_RESET from driver {driver} at its first start: nothing to recover",
                pd::name()
            ),
            (MgrRequest::Stats, Ok(MgrReply::Stats(s))) => debug_println!(
                "{}: stats requests={} refills={} pins={} unpins={} expired={} quota_refusals={} \
                 reclaims={} reclaim_refusals={} pinned_pages={}",
                pd::name(),
                requests,
                s.refills,
                s.pins,
                s.unpins,
                s.expired,
                s.quota_refusals,
                s.reclaims,
                s.reclaim_refusals,
                s.pinned_pages
            ),
            (req, Err(e)) if !matches!(req, MgrRequest::Pin { .. }) => {
                debug_println!("{}: {:?} from {channel} refused: {e}", pd::name(), req.op())
            }
            _ => {}
        }
        let m = MgrReply::encode(&result);
        Message::new(m.label, m.mrs()).map_err(|_| Refusal::BAD_MESSAGE)
    }
}

pd::protection_domain!(init);
