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
//!
//! Where each part lives: `state.rs` the records kept per dataspace, driver and page,
//! `attach.rs` ATTACH and DETACH, `cache.rs` REFILL and the publishing of translations,
//! `pins.rs` PIN, UNPIN and expiry, `reclaim.rs` reclaim, `faults.rs` driver faults and
//! device resets; this file holds the manager, its queries and the request dispatch.
#![no_std]
#![forbid(unsafe_code)]
#![warn(missing_docs)]

extern crate alloc;

mod attach;
mod cache;
mod config;
mod faults;
mod pins;
mod reclaim;
pub mod service;
mod state;

use alloc::vec;
use alloc::vec::Vec;

use dataspace_api::cache::CacheWriter;
use dataspace_api::msg::{MgrError, MgrReply, MgrRequest, MgrStats};
use dataspace_api::Attachment;
use dataspace_api::{DsId, PdId};
use state::{Attached, Binding, Counters, Dataspace, Driver, Pin};

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

/// The dataspace manager's state.
pub struct Manager<'a> {
    dataspaces: Vec<Dataspace>,
    drivers: Vec<Driver<'a>>,
    counters: Counters,
}

impl<'a> Manager<'a> {
    /// Checks the configuration and builds the manager. Every translation cache is
    /// invalidated, so stale contents of a reused region are never read as translations.
    pub fn new(dataspaces: Vec<DataspaceSpec>, drivers: Vec<DriverSpec<'a>>) -> Result<Self, ConfigError> {
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
                .map(|d| Binding { attached: None, pins: vec![Pin::default(); d.pages as usize] })
                .collect();
            driver_state.push(Driver {
                pd: spec.pd,
                quota: spec.pin_quota,
                writer,
                faulted: false,
                instance: 0,
                held: 0,
                bindings,
            });
        }
        Ok(Self { dataspaces: ds_state, drivers: driver_state, counters: Counters::default() })
    }

    fn ds_index(&self, ds: DsId) -> Result<usize, MgrError> {
        self.dataspaces.iter().position(|d| d.id == ds).ok_or(MgrError::UnknownDataspace)
    }

    fn driver_index(&self, pd: PdId) -> Result<usize, MgrError> {
        self.drivers.iter().position(|d| d.pd == pd).ok_or(MgrError::NotDriver)
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
        self.drivers[d].bindings[di].attached.ok_or(MgrError::NotAttached)
    }

    fn attachment_of(&self, di: usize, at: Attached) -> Attachment {
        let ds = &self.dataspaces[di];
        Attachment::new(ds.id, at.base, ds.pages, ds.page_size)
            .expect("geometry checked at configuration and at allocation")
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
        self.drivers[d].bindings[di].pins.get(page as usize).is_some_and(|p| p.live(now))
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
            MgrRequest::Attach { client, ds } => self.attach(need_driver()?, client, ds).map(MgrReply::Attached),
            MgrRequest::Detach { client, ds } => self.detach(need_driver()?, client, ds, now).map(|()| MgrReply::Done),
            MgrRequest::Refill { ds, page } => self.refill(need_driver()?, ds, page, now).map(MgrReply::Translated),
            MgrRequest::Pin { ds, first, count, expiry } => self
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
            MgrRequest::DriverFaulted { driver: faulted, faults } => match caller {
                Caller::Monitor => self.driver_faulted(faulted, faults).map(|()| MgrReply::Done),
                _ => Err(MgrError::NotAuthorized),
            },
            MgrRequest::DeviceReset { driver: reset, generation } => match caller {
                Caller::Driver(pd) if pd != reset => Err(MgrError::NotAuthorized),
                Caller::Admin => Err(MgrError::NotAuthorized),
                _ => self
                    .device_reset(reset, generation)
                    .map(|(pins, attachments)| MgrReply::Recovered { pins, attachments }),
            },
        }
    }
}
