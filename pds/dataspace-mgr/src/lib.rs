//! The dataspace manager's state machine (issue 4, DESIGN.md section 6): pure logic with no
//! kernel calls, so it is tested on the host. [`service`] is the PD around it: configuration
//! from setvars, request dispatch (decode each PPC with [`dataspace_api::msg`], call
//! [`Manager::handle`] with the caller's role, known from the channel it came in on, log,
//! reply) and driver-fault notices; the PD's thin `main` (`pd/`) only wires it to the runtime.
//!
//! What it keeps:
//!
//! * **dataspaces** from the configuration: size, page size, the PDs that share each, and the
//!   physical frame of every page (given by the initialiser at boot);
//! * per driver, **attachments**: a dataspace attached to the driver's translation cache at a
//!   dense range `base .. base + pages`, with the set of clients whose sessions use it.
//!   ATTACH checks the client really shares the dataspace; DETACH of the last client frees the
//!   range, but only when no page is pinned;
//! * **on-demand refill**: REFILL writes one entry (seqlock, via
//!   [`dataspace_api::cache::CacheWriter`]) and returns the translation;
//! * **pins** per driver and page: a reference count and an optional deadline (TSC ticks).
//!   A page counts once against the driver's quota however often it is pinned; a pin past the
//!   quota fails with nothing changed; a timed pin lapses on its own at its deadline (expired
//!   pins are swept before every quota, reclaim and detach decision, and by [`Manager::expire`]);
//! * **reclaim** of a page: refused while any driver's pin holds; otherwise every cached
//!   translation of the page is invalidated first, then the page is no longer resident (the
//!   next REFILL brings it back);
//! * **driver faults**: after DRIVER_FAULTED the driver's requests are refused and its pins
//!   stay in force (its device may still be doing DMA); DEVICE_RESET (the device is quiet)
//!   drops all its pins and attachments and invalidates its cache;
//! * **counters** ([`MgrStats`]): refills, pins, unpins, expiries, refusals, reclaims. Cache
//!   hits and misses are counted by the reader (the driver), which never calls the manager on a
//!   hit.
//!
//! Allocation happens only in [`Manager::new`] (the PD gives it a small heap); requests never
//! allocate.
#![no_std]
#![forbid(unsafe_code)]
#![warn(missing_docs)]

extern crate alloc;

mod config;
pub mod service;

use alloc::vec;
use alloc::vec::Vec;

use dataspace_api::cache::{CacheWriter, Translation};
use dataspace_api::msg::{MgrError, MgrReply, MgrRequest, MgrStats};
use dataspace_api::Attachment;
use dataspace_api::{DsId, PdId, PdSet};

pub use config::{ConfigError, DataspaceSpec, DriverSpec};

/// Who sent a request, as the PD main knows it from the channel the call came in on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Caller {
    /// A driver PD (attach, detach, refill, pin, unpin, stats; device reset of itself).
    Driver(PdId),
    /// The monitor (driver faults, device resets, reclaim, stats).
    Monitor,
    /// An administrative or test PD (reclaim, stats).
    Admin,
}

struct Dataspace {
    id: DsId,
    page_size: u64,
    pages: u32,
    sharers: PdSet,
    frames: Vec<u64>,
    resident: Vec<bool>,
}

#[derive(Clone, Copy, Default)]
struct Pin {
    /// Pins held on the page (0 = unpinned).
    refs: u32,
    /// When the pin lapses (TSC ticks), 0 = held until unpinned.
    deadline: u64,
}

impl Pin {
    fn live(&self, now: u64) -> bool {
        self.refs > 0 && (self.deadline == 0 || now < self.deadline)
    }
}

#[derive(Clone, Copy)]
struct Attached {
    base: u32,
    clients: PdSet,
}

/// One driver's relation to one dataspace.
struct Binding {
    attached: Option<Attached>,
    pins: Vec<Pin>,
}

struct Driver<'a> {
    pd: PdId,
    quota: u32,
    writer: CacheWriter<'a>,
    faulted: bool,
    /// Distinct pages with `refs > 0` (lapsed ones included until swept).
    held: u32,
    /// Indexed like `Manager::dataspaces`.
    bindings: Vec<Binding>,
}

/// Counters kept by the manager (see [`MgrStats`]; `pinned_pages` is computed on demand).
#[derive(Default)]
struct Counters {
    refills: u64,
    pins: u64,
    unpins: u64,
    expired: u64,
    quota_refusals: u64,
    reclaims: u64,
    reclaim_refusals: u64,
}

/// The dataspace manager's state.
pub struct Manager<'a> {
    dataspaces: Vec<Dataspace>,
    drivers: Vec<Driver<'a>>,
    counters: Counters,
}

impl<'a> Manager<'a> {
    /// Checks the configuration and builds the manager. Every translation cache is
    /// invalidated, so stale contents of a reused region are never read as translations.
    pub fn new(
        dataspaces: Vec<DataspaceSpec>,
        drivers: Vec<DriverSpec<'a>>,
    ) -> Result<Self, ConfigError> {
        let mut spans = Vec::new();
        let mut ds_state = Vec::with_capacity(dataspaces.len());
        for spec in dataspaces {
            let pages = config::check_dataspace(&spec)?;
            if ds_state.iter().any(|d: &Dataspace| d.id == spec.id) {
                return Err(ConfigError::DuplicateDataspace(spec.id));
            }
            spans.extend(spec.frames.iter().map(|&f| (f, f.saturating_add(spec.page_size))));
            ds_state.push(Dataspace {
                id: spec.id,
                page_size: spec.page_size,
                pages,
                sharers: spec.sharers,
                frames: spec.frames,
                resident: vec![true; pages as usize],
            });
        }
        spans.sort_unstable();
        if let Some(w) = spans.windows(2).find(|w| w[1].0 < w[0].1) {
            return Err(ConfigError::FrameReused { frame: w[1].0 });
        }

        let mut driver_state: Vec<Driver<'a>> = Vec::with_capacity(drivers.len());
        for spec in drivers {
            if driver_state.iter().any(|d| d.pd == spec.pd) {
                return Err(ConfigError::DuplicateDriver(spec.pd));
            }
            if spec.cache.is_empty() {
                return Err(ConfigError::EmptyCache(spec.pd));
            }
            let mut writer = CacheWriter::new(spec.cache);
            for i in 0..writer.len() {
                // In range by construction.
                let _ = writer.invalidate(i);
            }
            let bindings = ds_state
                .iter()
                .map(|d| Binding {
                    attached: None,
                    pins: vec![Pin::default(); d.pages as usize],
                })
                .collect();
            driver_state.push(Driver {
                pd: spec.pd,
                quota: spec.pin_quota,
                writer,
                faulted: false,
                held: 0,
                bindings,
            });
        }
        Ok(Self {
            dataspaces: ds_state,
            drivers: driver_state,
            counters: Counters::default(),
        })
    }

    fn ds_index(&self, ds: DsId) -> Result<usize, MgrError> {
        self.dataspaces
            .iter()
            .position(|d| d.id == ds)
            .ok_or(MgrError::UnknownDataspace)
    }

    fn driver_index(&self, pd: PdId) -> Result<usize, MgrError> {
        self.drivers
            .iter()
            .position(|d| d.pd == pd)
            .ok_or(MgrError::NotDriver)
    }

    /// A driver that is allowed to make data-path requests now.
    fn healthy_driver(&self, pd: PdId) -> Result<usize, MgrError> {
        let d = self.driver_index(pd)?;
        if self.drivers[d].faulted {
            return Err(MgrError::DriverFaulted);
        }
        Ok(d)
    }

    /// The driver's attachment of dataspace index `di`.
    fn attached(&self, d: usize, di: usize) -> Result<Attached, MgrError> {
        self.drivers[d].bindings[di]
            .attached
            .ok_or(MgrError::NotAttached)
    }

    fn attachment_of(&self, di: usize, at: Attached) -> Attachment {
        let ds = &self.dataspaces[di];
        Attachment::new(ds.id, at.base, ds.pages, ds.page_size)
            .expect("geometry checked at configuration and at allocation")
    }

    /// Attaches `ds` to `driver`'s translation cache on behalf of `client`, after checking the
    /// client shares it. Attaching an already attached dataspace for another client reuses the
    /// range; attaching twice for the same client is harmless.
    pub fn attach(&mut self, driver: PdId, client: PdId, ds: DsId) -> Result<Attachment, MgrError> {
        let d = self.healthy_driver(driver)?;
        let di = self.ds_index(ds)?;
        if !self.dataspaces[di].sharers.contains(client) {
            return Err(MgrError::NotShared);
        }
        if let Some(at) = self.drivers[d].bindings[di].attached.as_mut() {
            at.clients = at.clients.with(client);
            let at = *at;
            return Ok(self.attachment_of(di, at));
        }
        let pages = self.dataspaces[di].pages;
        let base = self.free_range(d, pages).ok_or(MgrError::CacheFull)?;
        let driver_state = &mut self.drivers[d];
        for i in base..base + pages {
            // Entries of a free range are already invalid; make sure (in range by search).
            let _ = driver_state.writer.invalidate(i as usize);
        }
        let at = Attached {
            base,
            clients: PdSet::EMPTY.with(client),
        };
        driver_state.bindings[di].attached = Some(at);
        Ok(self.attachment_of(di, at))
    }

    /// The lowest base of `pages` consecutive entries no attachment of driver `d` uses.
    fn free_range(&self, d: usize, pages: u32) -> Option<u32> {
        let driver = &self.drivers[d];
        let len = u32::try_from(driver.writer.len()).unwrap_or(u32::MAX);
        let used = |start: u32| {
            driver
                .bindings
                .iter()
                .zip(&self.dataspaces)
                .filter_map(|(b, ds)| b.attached.map(|a| (a.base, a.base + ds.pages)))
                .filter(move |&(lo, hi)| lo < start.saturating_add(pages) && start < hi)
                .map(|(_, hi)| hi)
                .max()
        };
        let mut start = 0u32;
        loop {
            let end = start.checked_add(pages)?;
            if end > len {
                return None;
            }
            match used(start) {
                None => return Some(start),
                Some(next) => start = next,
            }
        }
    }

    /// `client` no longer uses `ds` through `driver`. When it was the last client, the range
    /// is freed and its entries invalidated, but only if no page is pinned ([`MgrError::Pinned`],
    /// nothing changed: retry after the DMA completes).
    pub fn detach(&mut self, driver: PdId, client: PdId, ds: DsId, now: u64) -> Result<(), MgrError> {
        let d = self.healthy_driver(driver)?;
        let di = self.ds_index(ds)?;
        let at = self.attached(d, di)?;
        if !at.clients.contains(client) {
            return Err(MgrError::NotAttached);
        }
        let remaining = at.clients.without(client);
        if !remaining.is_empty() {
            if let Some(a) = self.drivers[d].bindings[di].attached.as_mut() {
                a.clients = remaining;
            }
            return Ok(());
        }
        self.expire_driver(d, now);
        let driver_state = &mut self.drivers[d];
        if driver_state.bindings[di].pins.iter().any(|p| p.refs > 0) {
            return Err(MgrError::Pinned);
        }
        for i in at.base..at.base + self.dataspaces[di].pages {
            let _ = driver_state.writer.invalidate(i as usize);
        }
        driver_state.bindings[di].attached = None;
        Ok(())
    }

    /// The translation of page `page` for driver `d` as it should be published now.
    fn translation(&self, d: usize, di: usize, page: u32, now: u64) -> Translation {
        let ds = &self.dataspaces[di];
        let pin = self.drivers[d].bindings[di].pins[page as usize];
        let pinned = pin.live(now);
        Translation {
            ds: ds.id,
            page,
            frame: ds.frames[page as usize],
            pinned,
            expiry: if pinned { pin.deadline } else { 0 },
        }
    }

    /// Publishes page `page`'s translation in driver `d`'s cache (the page becomes resident).
    fn publish(&mut self, d: usize, di: usize, base: u32, page: u32, now: u64) -> Translation {
        let t = self.translation(d, di, page, now);
        self.dataspaces[di].resident[page as usize] = true;
        // The index is inside the attachment's range and frames are aligned (checked at
        // configuration), so the write cannot fail.
        let _ = self.drivers[d].writer.write((base + page) as usize, &t);
        t
    }

    /// Fills the cache entry of `page` of `ds` for `driver` (after a miss) and returns the
    /// translation.
    pub fn refill(&mut self, driver: PdId, ds: DsId, page: u32, now: u64) -> Result<Translation, MgrError> {
        let d = self.healthy_driver(driver)?;
        let di = self.ds_index(ds)?;
        let at = self.attached(d, di)?;
        if page >= self.dataspaces[di].pages {
            return Err(MgrError::PageOutOfRange);
        }
        // No sweep here: a lapsed pin is published as unpinned anyway (see `translation`).
        self.counters.refills += 1;
        Ok(self.publish(d, di, at.base, page, now))
    }

    /// Checks a page range of an attached dataspace; returns (driver, ds index, base, end).
    fn range(&self, driver: PdId, ds: DsId, first: u32, count: u32) -> Result<(usize, usize, u32, u32), MgrError> {
        let d = self.healthy_driver(driver)?;
        let di = self.ds_index(ds)?;
        let at = self.attached(d, di)?;
        let end = first.checked_add(count).ok_or(MgrError::RangeOverflow)?;
        if end > self.dataspaces[di].pages {
            return Err(MgrError::PageOutOfRange);
        }
        Ok((d, di, at.base, end))
    }

    /// Pins `count` pages of `ds` from `first` for `driver`, until unpinned or, if `expiry` is
    /// non-zero, until that TSC deadline; also fills their cache entries (with the pin bit).
    /// All or nothing: past the quota, [`MgrError::QuotaExceeded`] and nothing changes.
    /// Returns (pages the driver has pinned now, its quota).
    pub fn pin(
        &mut self,
        driver: PdId,
        ds: DsId,
        first: u32,
        count: u32,
        expiry: u64,
        now: u64,
    ) -> Result<(u32, u32), MgrError> {
        let (d, di, base, end) = self.range(driver, ds, first, count)?;
        if expiry != 0 && expiry <= now {
            return Err(MgrError::BadExpiry);
        }
        self.expire_driver(d, now);
        let driver_state = &mut self.drivers[d];
        let pins = &mut driver_state.bindings[di].pins[first as usize..end as usize];
        let new_pages = pins.iter().filter(|p| p.refs == 0).count() as u32;
        let over = driver_state
            .held
            .checked_add(new_pages)
            .is_none_or(|total| total > driver_state.quota);
        if over || pins.iter().any(|p| p.refs == u32::MAX) {
            self.counters.quota_refusals += 1;
            return Err(MgrError::QuotaExceeded);
        }
        for pin in pins.iter_mut() {
            pin.deadline = match (pin.refs, pin.deadline, expiry) {
                // An untimed pin keeps the page until it is unpinned.
                (_, _, 0) => 0,
                (0, _, e) => e,
                (_, 0, _) => 0,
                (_, d, e) => d.max(e),
            };
            pin.refs += 1;
        }
        driver_state.held += new_pages;
        self.counters.pins += u64::from(count);
        for page in first..end {
            self.publish(d, di, base, page, now);
        }
        let driver_state = &self.drivers[d];
        Ok((driver_state.held, driver_state.quota))
    }

    /// Drops one pin of each of `count` pages of `ds` from `first`. All or nothing: if a page
    /// has no live pin (never pinned, or its pin lapsed), [`MgrError::NotPinned`] and nothing
    /// changes. Returns (pages the driver has pinned now, its quota).
    pub fn unpin(&mut self, driver: PdId, ds: DsId, first: u32, count: u32, now: u64) -> Result<(u32, u32), MgrError> {
        let (d, di, base, end) = self.range(driver, ds, first, count)?;
        self.expire_driver(d, now);
        let driver_state = &mut self.drivers[d];
        let pins = &mut driver_state.bindings[di].pins[first as usize..end as usize];
        if pins.iter().any(|p| p.refs == 0) {
            return Err(MgrError::NotPinned);
        }
        let mut released = 0;
        for pin in pins.iter_mut() {
            pin.refs -= 1;
            if pin.refs == 0 {
                pin.deadline = 0;
                released += 1;
            }
        }
        driver_state.held -= released;
        self.counters.unpins += u64::from(count);
        for page in first..end {
            if self.drivers[d].bindings[di].pins[page as usize].refs == 0 {
                self.publish(d, di, base, page, now);
            }
        }
        let driver_state = &self.drivers[d];
        Ok((driver_state.held, driver_state.quota))
    }

    /// Drops driver `d`'s lapsed pins (and clears their pin bits in its cache); returns how many.
    fn expire_driver(&mut self, d: usize, now: u64) -> u32 {
        let mut lapsed = 0;
        for di in 0..self.dataspaces.len() {
            let Some(at) = self.drivers[d].bindings[di].attached else {
                continue;
            };
            for page in 0..self.dataspaces[di].pages {
                let pin = &mut self.drivers[d].bindings[di].pins[page as usize];
                if pin.refs > 0 && !pin.live(now) {
                    *pin = Pin::default();
                    lapsed += 1;
                    if self.dataspaces[di].resident[page as usize] {
                        self.publish(d, di, at.base, page, now);
                    }
                }
            }
        }
        self.drivers[d].held -= lapsed;
        self.counters.expired += u64::from(lapsed);
        lapsed
    }

    /// Drops every lapsed pin of every driver (call it on a timer tick); returns how many.
    pub fn expire(&mut self, now: u64) -> u32 {
        (0..self.drivers.len()).map(|d| self.expire_driver(d, now)).sum()
    }

    /// Takes page `page` of `ds` back. Refused with [`MgrError::Pinned`] while any driver's
    /// pin on it holds (lapsed pins do not count). Otherwise every driver's cached translation
    /// of it is invalidated (seqlock: once this returns no reader accepts it) before the page
    /// stops being resident.
    pub fn reclaim(&mut self, ds: DsId, page: u32, now: u64) -> Result<(), MgrError> {
        let di = self.ds_index(ds)?;
        if page >= self.dataspaces[di].pages {
            return Err(MgrError::PageOutOfRange);
        }
        for d in 0..self.drivers.len() {
            self.expire_driver(d, now);
        }
        if self
            .drivers
            .iter()
            .any(|drv| drv.bindings[di].pins[page as usize].refs > 0)
        {
            self.counters.reclaim_refusals += 1;
            return Err(MgrError::Pinned);
        }
        for drv in &mut self.drivers {
            if let Some(at) = drv.bindings[di].attached {
                let _ = drv.writer.invalidate((at.base + page) as usize);
            }
        }
        self.dataspaces[di].resident[page as usize] = false;
        self.counters.reclaims += 1;
        Ok(())
    }

    /// The monitor reports `driver` faulted: its requests are refused from now on and its
    /// pins stay in force until [`Manager::device_reset`] (its device may still do DMA).
    pub fn driver_faulted(&mut self, driver: PdId) -> Result<(), MgrError> {
        let d = self.driver_index(driver)?;
        self.drivers[d].faulted = true;
        Ok(())
    }

    /// `driver`'s device has been reset after a fault: every pin it held is dropped, every
    /// attachment removed and its whole cache invalidated, and it may make requests again
    /// (its restarted instance re-attaches as clients reopen sessions). Returns (pinned pages
    /// released, attachments removed).
    pub fn device_reset(&mut self, driver: PdId) -> Result<(u32, u32), MgrError> {
        let d = self.driver_index(driver)?;
        let drv = &mut self.drivers[d];
        if !drv.faulted {
            return Err(MgrError::NotFaulted);
        }
        let (mut pins, mut attachments) = (0, 0);
        for binding in &mut drv.bindings {
            pins += binding.pins.iter().filter(|p| p.refs > 0).count() as u32;
            binding.pins.fill(Pin::default());
            if binding.attached.take().is_some() {
                attachments += 1;
            }
        }
        for i in 0..drv.writer.len() {
            let _ = drv.writer.invalidate(i);
        }
        drv.held = 0;
        drv.faulted = false;
        Ok((pins, attachments))
    }

    /// The counters, with the number of pages pinned now (lapsed pins not yet swept included).
    pub fn stats(&self) -> MgrStats {
        let c = &self.counters;
        MgrStats {
            refills: c.refills,
            pins: c.pins,
            unpins: c.unpins,
            expired: c.expired,
            quota_refusals: c.quota_refusals,
            reclaims: c.reclaims,
            reclaim_refusals: c.reclaim_refusals,
            pinned_pages: self.drivers.iter().map(|d| u64::from(d.held)).sum(),
        }
    }

    /// Whether page `page` of `ds` is resident (not reclaimed since its last refill or pin).
    pub fn is_resident(&self, ds: DsId, page: u32) -> Option<bool> {
        let di = self.ds_index(ds).ok()?;
        self.dataspaces[di].resident.get(page as usize).copied()
    }

    /// Whether `driver` holds a live pin on page `page` of `ds` at `now`.
    pub fn is_pinned(&self, driver: PdId, ds: DsId, page: u32, now: u64) -> bool {
        let (Ok(d), Ok(di)) = (self.driver_index(driver), self.ds_index(ds)) else {
            return false;
        };
        self.drivers[d].bindings[di]
            .pins
            .get(page as usize)
            .is_some_and(|p| p.live(now))
    }

    /// `driver`'s attachment of `ds`, if any.
    pub fn attachment(&self, driver: PdId, ds: DsId) -> Option<Attachment> {
        let d = self.driver_index(driver).ok()?;
        let di = self.ds_index(ds).ok()?;
        let at = self.drivers[d].bindings[di].attached?;
        Some(self.attachment_of(di, at))
    }

    /// Carries out a decoded request from `caller` at time `now` (TSC ticks), checking the
    /// caller may make it: data-path operations only from a driver, on its own behalf; driver
    /// faults only from the monitor; device resets from the monitor or the driver itself;
    /// reclaim from the monitor or an admin; stats from anyone.
    pub fn handle(&mut self, caller: Caller, request: &MgrRequest, now: u64) -> Result<MgrReply, MgrError> {
        let driver = match caller {
            Caller::Driver(pd) => Some(pd),
            Caller::Monitor | Caller::Admin => None,
        };
        let need_driver = || driver.ok_or(MgrError::NotAuthorized);
        match *request {
            MgrRequest::Attach { client, ds } => {
                self.attach(need_driver()?, client, ds).map(MgrReply::Attached)
            }
            MgrRequest::Detach { client, ds } => {
                self.detach(need_driver()?, client, ds, now).map(|()| MgrReply::Done)
            }
            MgrRequest::Refill { ds, page } => {
                self.refill(need_driver()?, ds, page, now).map(MgrReply::Translated)
            }
            MgrRequest::Pin {
                ds,
                first,
                count,
                expiry,
            } => self
                .pin(need_driver()?, ds, first, count, expiry, now)
                .map(|(held, quota)| MgrReply::PinCount { held, quota }),
            MgrRequest::Unpin { ds, first, count } => self
                .unpin(need_driver()?, ds, first, count, now)
                .map(|(held, quota)| MgrReply::PinCount { held, quota }),
            MgrRequest::Reclaim { ds, page } => match caller {
                Caller::Monitor | Caller::Admin => self.reclaim(ds, page, now).map(|()| MgrReply::Done),
                Caller::Driver(_) => Err(MgrError::NotAuthorized),
            },
            MgrRequest::Stats => {
                self.expire(now);
                Ok(MgrReply::Stats(self.stats()))
            }
            MgrRequest::DriverFaulted { driver: faulted } => match caller {
                Caller::Monitor => self.driver_faulted(faulted).map(|()| MgrReply::Done),
                _ => Err(MgrError::NotAuthorized),
            },
            MgrRequest::DeviceReset { driver: reset } => match caller {
                Caller::Driver(pd) if pd != reset => Err(MgrError::NotAuthorized),
                Caller::Admin => Err(MgrError::NotAuthorized),
                _ => self
                    .device_reset(reset)
                    .map(|(pins, attachments)| MgrReply::Recovered { pins, attachments }),
            },
        }
    }
}
