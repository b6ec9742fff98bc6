//! The dataspace manager PD around [`Manager`], kept out of the binary so the host can test
//! it: configuration from the PD's setvars ([`Setup`] -> [`start`], with the boot lines),
//! request dispatch (decode the PPC, call [`Manager::handle`] as the channel's [`Role`], log
//! what a reader of the console needs, encode the reply) and the monitor's driver-fault
//! notice. The PD binary supplies a [`Platform`] (clock, console); tests supply a fake.

use alloc::vec;
use alloc::vec::Vec;
use core::fmt;

use dataspace_api::cache::CacheEntry;
use dataspace_api::msg::{MgrError, MgrReply, MgrRequest};
use dataspace_api::{DsId, PdId, PdSet, MAX_PDS};
use message::{Message, Refusal};

use crate::{Caller, DataspaceSpec, DriverSpec, Manager};

/// Dataspace slots the setvars describe (`ds0..ds3`).
pub const MAX_DATASPACES: usize = 4;

/// What the manager PD needs from the runtime.
pub trait Platform {
    /// The TSC now (the manager's clock for pin expiry).
    fn now_tsc(&mut self) -> u64;
    /// Print one line on the console (the adapter prefixes the PD's name).
    fn print(&mut self, line: fmt::Arguments<'_>);
    /// How many faults of PD `pd` the monitor has counted (its fault notice's count,
    /// `pd::fault_count`).
    fn faults_of(&mut self, pd: PdId) -> u32;
}

/// One dataspace slot's setvars: `dsK_size` (0 = unused), `dsK_paddr`, `dsK_sharers` (bit `p`
/// = PD index `p`), `dsK_id`, `dsK_page_size`.
#[derive(Clone, Copy, Debug, Default)]
pub struct Slot {
    /// Bytes (the `setvar_size` of the manager's map of the region).
    pub size: u64,
    /// Physical address (a `region_paddr` setvar; regions are physically contiguous).
    pub paddr: u64,
    /// PD set that may use it in a session.
    pub sharers: u64,
    /// Dataspace id.
    pub id: u64,
    /// Page size.
    pub page_size: u64,
}

/// All the manager's setvars.
#[derive(Clone, Copy, Debug)]
pub struct Setup {
    /// The driver's PD index (`driver_pd`).
    pub driver_pd: u64,
    /// The driver's pin quota in pages (`pin_quota`).
    pub pin_quota: u64,
    /// The dataspace slots.
    pub slots: [Slot; MAX_DATASPACES],
}

/// Who a PPC came from, as the PD knows it by channel: 1 = the driver, 2 = an admin PD.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    /// The driver (data-path requests).
    Driver,
    /// An admin PD (RECLAIM, STATS; test systems only).
    Admin,
}

/// Why the manager could not start (printed as `cannot start: ...; refusing every request`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StartError(pub &'static str);

impl fmt::Display for StartError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0)
    }
}

/// The dataspaces the slots describe, each page's frame at `paddr + i * page_size`.
fn dataspaces(slots: &[Slot], p: &mut impl Platform) -> Result<Vec<DataspaceSpec>, StartError> {
    let mut specs = Vec::new();
    for (k, s) in slots.iter().enumerate().filter(|(_, s)| s.size != 0) {
        if s.paddr == 0 {
            p.print(format_args!("ds{k}: no ds{k}_paddr (a region_paddr setvar) given"));
            return Err(StartError("a dataspace has no physical address"));
        }
        if s.page_size == 0 || s.size % s.page_size != 0 {
            p.print(format_args!("ds{k}: size {:#x} is not a multiple of page size {:#x}", s.size, s.page_size));
            return Err(StartError("a dataspace's size is not a multiple of its page size"));
        }
        let id = u32::try_from(s.id).map_err(|_| StartError("a dsK_id does not fit 32 bits"))?;
        let sharers = (0..MAX_PDS)
            .filter(|&q| s.sharers & (1 << q) != 0)
            .filter_map(|q| PdId::new(u64::from(q)))
            .fold(PdSet::EMPTY, PdSet::with);
        let pages = s.size / s.page_size;
        specs.push(DataspaceSpec {
            id: DsId(id),
            size: s.size,
            page_size: s.page_size,
            sharers,
            frames: (0..pages).map(|i| s.paddr + i * s.page_size).collect(),
        });
        p.print(format_args!(
            "dataspace {id}: {:#x} bytes at physical {:#x}, {pages} pages of {:#x}, shared with PD set {:#x}",
            s.size, s.paddr, s.page_size, s.sharers
        ));
    }
    Ok(specs)
}

/// Builds the manager from its setvars over the translation cache (from
/// `dataspace_api::cache::table_from_region`), printing one line per dataspace and the `up:`
/// line. The manager allocates its tables here (and only here).
pub fn start<'a>(setup: &Setup, cache: &'a [CacheEntry], p: &mut impl Platform) -> Result<MgrPd<'a>, StartError> {
    let driver = PdId::new(setup.driver_pd).ok_or(StartError("setvar driver_pd is not a PD index"))?;
    let quota = u32::try_from(setup.pin_quota).map_err(|_| StartError("setvar pin_quota does not fit 32 bits"))?;
    let specs = dataspaces(&setup.slots, p)?;
    let entries = cache.len();
    let mgr = Manager::new(specs, vec![DriverSpec { pd: driver, pin_quota: quota, cache }]).map_err(|e| {
        p.print(format_args!("configuration: {e}"));
        StartError("bad configuration")
    })?;
    p.print(format_args!("up: driver {driver}, pin quota {quota} pages, translation cache of {entries} entries"));
    Ok(MgrPd { mgr, driver, requests: 0 })
}

/// The running manager PD: what its `Handler` forwards to.
pub struct MgrPd<'a> {
    mgr: Manager<'a>,
    driver: PdId,
    requests: u64,
}

impl<'a> MgrPd<'a> {
    /// The manager.
    pub fn manager(&self) -> &Manager<'a> {
        &self.mgr
    }

    /// The monitor's notice that the driver faulted: mark it faulted (its pins stay: its
    /// device may still be doing DMA) and say how many pages it holds pinned.
    pub fn driver_faulted(&mut self, p: &mut impl Platform) {
        let (now, driver) = (p.now_tsc(), self.driver);
        // Pinned pages as the driver left them (lapsed timed pins swept first).
        let held = match self.mgr.handle(Caller::Monitor, &MgrRequest::Stats, now) {
            Ok(MgrReply::Stats(s)) => s.pinned_pages,
            _ => 0,
        };
        let faults = p.faults_of(driver);
        match self.mgr.handle(Caller::Monitor, &MgrRequest::DriverFaulted { driver, faults }, now) {
            Ok(_) => p.print(format_args!(
                "driver {driver} faulted (told by the monitor): {held} pins held; its pins stay and its requests are refused until it resets its device"
            )),
            Err(MgrError::NotFaulted) => p.print(format_args!(
                "driver {driver} fault notice (fault #{faults}) is about an instance its restarted successor already replaced with a device reset; nothing to do"
            )),
            Err(e) => p.print(format_args!("driver {driver} faulted, but DRIVER_FAULTED failed: {e}")),
        }
    }

    /// A PPC from `role` (`channel` only names it in log lines): decode, handle, log, reply.
    /// A request that does not decode is refused with [`Refusal::BAD_MESSAGE`].
    pub fn protected(
        &mut self,
        role: Role,
        channel: impl fmt::Display,
        msg: &Message,
        p: &mut impl Platform,
    ) -> Result<Message, Refusal> {
        let caller = match role {
            Role::Driver => Caller::Driver(self.driver),
            Role::Admin => Caller::Admin,
        };
        let request = MgrRequest::decode(msg).map_err(|e| {
            p.print(format_args!("bad request on {channel}: {e}"));
            Refusal::BAD_MESSAGE
        })?;
        self.requests += 1;
        let result = self.mgr.handle(caller, &request, p.now_tsc());
        log(&request, &result, self.requests, &channel, p);
        Ok(MgrReply::encode(&result))
    }
}

/// The manager's request log: attachments, reclaims, resets, statistics and refusals (pin
/// refusals are the driver's business and stay quiet).
fn log(
    request: &MgrRequest,
    result: &Result<MgrReply, MgrError>,
    requests: u64,
    channel: &dyn fmt::Display,
    p: &mut impl Platform,
) {
    match (request, result) {
        (MgrRequest::Attach { client, ds }, Ok(MgrReply::Attached(a))) => {
            p.print(format_args!("ATTACH {ds} for client {client}: cache entries {}..{}", a.base(), a.base() + a.pages()))
        }
        (MgrRequest::Detach { client, ds }, Ok(_)) => p.print(format_args!("DETACH {ds} for client {client}")),
        (MgrRequest::Reclaim { ds, page }, r) => match r {
            Ok(_) => p.print(format_args!("RECLAIM {ds} page {page}: done (page unpinned; its translations invalidated)")),
            Err(e) => p.print(format_args!("RECLAIM {ds} page {page}: refused: {e}")),
        },
        (MgrRequest::DeviceReset { driver, .. }, Ok(MgrReply::Recovered { pins, attachments })) => p.print(format_args!(
            "DEVICE_RESET from driver {driver}: recovered {pins} pins after device reset ({attachments} attachment(s) dropped, its cache invalidated); serving it again"
        )),
        (MgrRequest::DeviceReset { driver, generation: 0 }, Err(MgrError::NotFaulted)) => {
            p.print(format_args!("DEVICE_RESET from driver {driver} at its first start: nothing to recover"))
        }
        (MgrRequest::Stats, Ok(MgrReply::Stats(s))) => p.print(format_args!(
            "stats requests={} refills={} pins={} unpins={} expired={} quota_refusals={} \
             reclaims={} reclaim_refusals={} pinned_pages={}",
            requests, s.refills, s.pins, s.unpins, s.expired, s.quota_refusals, s.reclaims, s.reclaim_refusals, s.pinned_pages
        )),
        (req, Err(e)) if !matches!(req, MgrRequest::Pin { .. }) => p.print(format_args!("{:?} from {channel} refused: {e}", req.op())),
        _ => {}
    }
}
