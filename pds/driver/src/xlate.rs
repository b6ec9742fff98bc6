//! The driver's [`Translate`] over the dataspace manager (issue 4, DESIGN.md §6): lookups are
//! plain loads of the shared translation cache (`dataspace_api::cache::CacheReader`), a miss
//! is a REFILL call to the manager, and pinning is **lazy**: a page is pinned with one PIN call
//! the first time the device gets a buffer in it and stays pinned while buffers cycle through
//! it, so the steady state makes no kernel call. A page nobody uses any more is unpinned by
//! [`CacheXlate::sweep`] once it has been idle for `idle_ticks` TSC ticks, or at once when a
//! PIN hits the driver's quota (idle pins are given back and the PIN retried).
//!
//! The manager is reached through [`MgrLink`] (a PPC in the PD, a fake in tests), so this file
//! makes no kernel call itself. Engine pages are 4 KiB ([`PAGE_SIZE`]); a dataspace may use
//! larger pages (e.g. one 2 MiB page), which this adapter maps onto the engine's pages.

use core::cell::RefCell;
use core::fmt;

use dataspace_api::cache::{CacheEntry, CacheReader, ReaderStats};
use dataspace_api::msg::{DecodeError, MgrError, MgrReply, MgrRequest};
use dataspace_api::{Attachment, DsId, PdId};
use nic_api::{SessionError, MAX_SESSION_DATASPACES};

use crate::hw::{Translate, XlateError, PAGE_SIZE};

/// Most dataspace pages one session's dataspaces may have in total (the pin bookkeeping is a
/// fixed table: two 2 MiB dataspaces of 4 KiB pages).
pub const MAX_TRACKED_PAGES: usize = 1024;

/// Why a call to the manager produced no answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LinkError {
    /// The PPC itself failed (channel not granted, the manager refused the message).
    Call,
    /// The manager's reply did not decode.
    Decode(DecodeError),
}

impl fmt::Display for LinkError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Call => f.write_str(
                "the call to the dataspace manager failed; check the driver's pp channel to it \
                 in the system file",
            ),
            Self::Decode(e) => write!(f, "the dataspace manager's reply is malformed: {e}"),
        }
    }
}

/// How the adapter reaches the dataspace manager and the clock.
pub trait MgrLink {
    /// One request, one reply (a PPC in the PD).
    fn call(&mut self, req: &MgrRequest) -> Result<Result<MgrReply, MgrError>, LinkError>;
    /// Now, in TSC ticks.
    fn now(&self) -> u64;
}

/// The adapter's counters (the cache reader's are in [`XlateStats::reader`]).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct XlateStats {
    /// Lookups, hits, misses and torn reads of the shared cache.
    pub reader: ReaderStats,
    /// REFILL calls made.
    pub refill_calls: u64,
    /// PIN calls made (one per page that was not already pinned).
    pub pin_calls: u64,
    /// UNPIN calls made (idle pages given back).
    pub unpin_calls: u64,
    /// PINs refused for quota even after giving back idle pins.
    pub quota_refusals: u64,
    /// Calls to the manager that failed or were refused.
    pub call_errors: u64,
    /// Pages this driver holds pinned now.
    pub pinned_pages: u64,
}

#[derive(Clone, Copy, Default)]
struct PageState {
    /// Device-owned buffers in the page.
    refs: u32,
    /// The manager holds a pin on the page for us.
    held: bool,
    /// When `refs` last dropped to 0 (TSC ticks).
    idle_since: u64,
}

#[derive(Clone, Copy)]
struct Att {
    at: Attachment,
    /// First entry of this attachment in `pages`.
    first: usize,
}

/// A (first-use) translation the PD may want to report once.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Witness {
    /// The dataspace.
    pub ds: u32,
    /// The engine (4 KiB) page.
    pub page: u64,
    /// Its frame.
    pub frame: u64,
}

/// The driver's view of the translation cache and the manager.
pub struct CacheXlate<'c, L: MgrLink> {
    reader: RefCell<CacheReader<'c>>,
    link: L,
    atts: [Option<Att>; MAX_SESSION_DATASPACES],
    pages: [PageState; MAX_TRACKED_PAGES],
    used: usize,
    idle_ticks: u64,
    idle_held: u32,
    next_sweep: u64,
    stats: XlateStats,
    /// The first miss and the first hit, for the boot log.
    pub first_miss: Option<Witness>,
    /// See `first_miss`.
    pub first_hit: core::cell::Cell<Option<Witness>>,
}

impl<'c, L: MgrLink> CacheXlate<'c, L> {
    /// An adapter over `table` (the translation-cache region, mapped read-only is enough).
    /// Idle pins are given back after `idle_ticks` TSC ticks.
    pub fn new(table: &'c [CacheEntry], link: L, idle_ticks: u64) -> Self {
        Self {
            reader: RefCell::new(CacheReader::new(table)),
            link,
            atts: [None; MAX_SESSION_DATASPACES],
            pages: [PageState::default(); MAX_TRACKED_PAGES],
            used: 0,
            idle_ticks,
            idle_held: 0,
            next_sweep: 0,
            stats: XlateStats::default(),
            first_miss: None,
            first_hit: core::cell::Cell::new(None),
        }
    }

    /// The counters.
    pub fn stats(&self) -> XlateStats {
        XlateStats {
            reader: self.reader.borrow().stats(),
            ..self.stats
        }
    }

    /// The link (e.g. to ask the manager for its own counters).
    pub fn link_mut(&mut self) -> &mut L {
        &mut self.link
    }

    /// The attached dataspaces.
    pub fn attachments(&self) -> impl Iterator<Item = Attachment> + '_ {
        self.atts.iter().flatten().map(|a| a.at)
    }

    fn call(&mut self, req: &MgrRequest) -> Result<MgrReply, MgrError> {
        match self.link.call(req) {
            Ok(Ok(reply)) => Ok(reply),
            Ok(Err(e)) => {
                self.stats.call_errors += 1;
                Err(e)
            }
            Err(_) => {
                self.stats.call_errors += 1;
                // Treat a broken link like a refusal: the buffer is refused, the driver lives.
                Err(MgrError::NotAuthorized)
            }
        }
    }

    /// Asks the manager to attach `ds` for `client` (it checks the client shares it) and
    /// records where its entries are.
    pub fn attach(&mut self, client: PdId, ds: DsId) -> Result<Attachment, SessionError> {
        if self.atts.iter().flatten().any(|a| a.at.ds() == ds) {
            return Err(SessionError::DuplicateDataspace);
        }
        let slot = self
            .atts
            .iter()
            .position(Option::is_none)
            .ok_or(SessionError::TooManyDataspaces)?;
        let at = match self.call(&MgrRequest::Attach { client, ds }) {
            Ok(MgrReply::Attached(at)) if at.ds() == ds => at,
            Ok(_) => return Err(SessionError::Manager(MgrError::NotAttached)),
            Err(e) => return Err(SessionError::Manager(e)),
        };
        let pages = at.pages() as usize;
        if self.used + pages > MAX_TRACKED_PAGES {
            // Undo: the driver cannot keep pin state for this many pages.
            let _ = self.call(&MgrRequest::Detach { client, ds });
            return Err(SessionError::Manager(MgrError::CacheFull));
        }
        self.pages[self.used..self.used + pages].fill(PageState::default());
        self.atts[slot] = Some(Att {
            at,
            first: self.used,
        });
        self.used += pages;
        Ok(at)
    }

    /// Gives back every idle pin, then detaches every dataspace for `client`. Refused with
    /// [`SessionError::Busy`] (nothing detached) while the device still owns a buffer.
    pub fn detach_all(&mut self, client: PdId) -> Result<(), SessionError> {
        if self.pages[..self.used].iter().any(|p| p.refs > 0) {
            return Err(SessionError::Busy);
        }
        self.release_idle(true);
        let mut result = Ok(());
        for slot in 0..MAX_SESSION_DATASPACES {
            let Some(a) = self.atts[slot] else { continue };
            match self.call(&MgrRequest::Detach {
                client,
                ds: a.at.ds(),
            }) {
                Ok(_) => self.atts[slot] = None,
                Err(MgrError::Pinned) => result = Err(SessionError::Busy),
                Err(e) => {
                    // The manager no longer knows it (e.g. after a device reset): forget it.
                    self.atts[slot] = None;
                    result = result.and(Err(SessionError::Manager(e)));
                }
            }
        }
        if self.atts.iter().all(Option::is_none) {
            self.used = 0;
        }
        result
    }

    /// Engine page `page` of `ds`: (attachment, dataspace page, byte offset in that page,
    /// tracking index).
    fn locate(&self, ds: u32, page: u64) -> Option<(Attachment, u32, u64, usize)> {
        let a = self.atts.iter().flatten().find(|a| a.at.ds().0 == ds)?;
        let byte = page.checked_mul(PAGE_SIZE)?;
        let ps = a.at.page_size();
        let dpage = u32::try_from(byte / ps).ok()?;
        if dpage >= a.at.pages() {
            return None;
        }
        Some((a.at, dpage, byte % ps, a.first + dpage as usize))
    }

    /// Gives back pins of pages with no device-owned buffer: those idle for `idle_ticks`, or
    /// all of them if `all`.
    fn release_idle(&mut self, all: bool) {
        if self.idle_held == 0 {
            return;
        }
        let now = self.link.now();
        for slot in 0..MAX_SESSION_DATASPACES {
            let Some(a) = self.atts[slot] else { continue };
            for dpage in 0..a.at.pages() {
                let i = a.first + dpage as usize;
                let p = self.pages[i];
                let idle_long = now.wrapping_sub(p.idle_since) >= self.idle_ticks;
                if p.held && p.refs == 0 && (all || idle_long) {
                    self.stats.unpin_calls += 1;
                    match self.call(&MgrRequest::Unpin {
                        ds: a.at.ds(),
                        first: dpage,
                        count: 1,
                    }) {
                        // NotPinned: the manager already dropped it (a lapsed or reset pin).
                        Ok(_) | Err(MgrError::NotPinned) => {}
                        Err(_) => continue,
                    }
                    self.pages[i].held = false;
                    self.idle_held -= 1;
                    self.stats.pinned_pages -= 1;
                }
            }
        }
    }

    /// Unpins pages idle for longer than `idle_ticks`; cheap when there is nothing to do, and
    /// scans at most every `idle_ticks / 2`. Call it from the PD loop.
    pub fn sweep(&mut self) {
        if self.idle_held == 0 {
            return;
        }
        let now = self.link.now();
        if now < self.next_sweep {
            return;
        }
        self.next_sweep = now.saturating_add(self.idle_ticks / 2);
        self.release_idle(false);
    }

    /// Pages pinned but with no device-owned buffer (candidates for a lazy unpin).
    pub fn idle_pins(&self) -> u32 {
        self.idle_held
    }
}

impl<L: MgrLink> Translate for CacheXlate<'_, L> {
    fn lookup(&self, dataspace: u32, page: u64) -> Option<u64> {
        let (at, dpage, off, _) = self.locate(dataspace, page)?;
        let index = at.index(dpage)?;
        let t = self.reader.borrow_mut().lookup(index, at.ds(), dpage)?;
        let frame = t.frame + off;
        if self.first_hit.get().is_none() {
            self.first_hit.set(Some(Witness {
                ds: dataspace,
                page,
                frame,
            }));
        }
        Some(frame)
    }

    fn refill(&mut self, dataspace: u32, page: u64) -> Result<u64, XlateError> {
        let no_mapping = XlateError::NoMapping { dataspace, page };
        let (at, dpage, off, _) = self.locate(dataspace, page).ok_or(no_mapping)?;
        self.stats.refill_calls += 1;
        match self.call(&MgrRequest::Refill {
            ds: at.ds(),
            page: dpage,
        }) {
            Ok(MgrReply::Translated(t)) if t.ds == at.ds() && t.page == dpage => {
                let frame = t.frame + off;
                if self.first_miss.is_none() {
                    self.first_miss = Some(Witness {
                        ds: dataspace,
                        page,
                        frame,
                    });
                }
                Ok(frame)
            }
            _ => Err(no_mapping),
        }
    }

    fn pin(&mut self, dataspace: u32, page: u64) -> Result<(), XlateError> {
        let (at, dpage, _, i) = self
            .locate(dataspace, page)
            .ok_or(XlateError::NoMapping { dataspace, page })?;
        if !self.pages[i].held {
            let req = MgrRequest::Pin {
                ds: at.ds(),
                first: dpage,
                count: 1,
                expiry: 0,
            };
            self.stats.pin_calls += 1;
            let mut result = self.call(&req);
            if result == Err(MgrError::QuotaExceeded) && self.idle_held > 0 {
                self.release_idle(true);
                self.stats.pin_calls += 1;
                result = self.call(&req);
            }
            match result {
                Ok(_) => {}
                Err(MgrError::QuotaExceeded) => {
                    self.stats.quota_refusals += 1;
                    return Err(XlateError::PinQuota { dataspace, page });
                }
                Err(_) => return Err(XlateError::NoMapping { dataspace, page }),
            }
            self.pages[i].held = true;
            self.stats.pinned_pages += 1;
        } else if self.pages[i].refs == 0 {
            self.idle_held -= 1;
        }
        self.pages[i].refs += 1;
        Ok(())
    }

    fn unpin(&mut self, dataspace: u32, page: u64) {
        let Some((_, _, _, i)) = self.locate(dataspace, page) else {
            return;
        };
        let now = self.link.now();
        let p = &mut self.pages[i];
        if p.refs == 0 {
            return;
        }
        p.refs -= 1;
        if p.refs == 0 && p.held {
            p.idle_since = now;
            self.idle_held += 1;
        }
    }
}

#[cfg(test)]
mod tests {
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
                        Ok(MgrReply::Attached(
                            Attachment::new(ds, self.base, self.pages, self.page_size).unwrap(),
                        ))
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
        assert_eq!(
            x.attach(PdId::new(CLIENT).unwrap(), DsId(DS)),
            Err(SessionError::DuplicateDataspace)
        );
        assert_eq!(
            x.attach(PdId::new(CLIENT).unwrap(), DsId(9)),
            Err(SessionError::Manager(MgrError::UnknownDataspace))
        );
        assert_eq!(
            x.attach(PdId::new(5).unwrap(), DsId(DS + 100)),
            Err(SessionError::Manager(MgrError::NotShared))
        );
    }
}
