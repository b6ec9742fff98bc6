//! The device-neutral driver core: descriptor-ring bookkeeping, the client's rx/tx queue pairs
//! (shared `ring` queues with the suppressed-notification protocol), buffer validation,
//! translation and pinning, batching, bounded work per event and statistics.
//!
//! It makes no kernel calls: each event method returns [`Actions`] the PD main performs
//! (signal the client, ack the IRQ, or call [`Driver::poll`] again before blocking).
//!
//! Queue roles (DESIGN.md §6): for **receive** the driver is the `Sender` (filled frames go out
//! on the active ring, empty buffers come back on the free ring); for **transmit** it is the
//! `Receiver` (frames arrive on the active ring, sent buffers go back on the free ring). A
//! refused transmit descriptor is returned on the free ring with `len = 0`; a refused receive
//! buffer is dropped (it is the client's own junk) — both are counted in the session.

use crate::backend::{Cause, InitError, MacAddr, NicBackend};
use crate::hw::{Translate, PAGE_SIZE};
use crate::session::{BufError, Session};
use ring::Desc;

/// Most descriptors per device ring.
pub const MAX_SLOTS: usize = 256;

/// Driver tuning, normally from the system file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Config {
    /// Receive descriptors (8..=256, multiple of 8).
    pub rx_slots: u16,
    /// Transmit descriptors (8..=256, multiple of 8).
    pub tx_slots: u16,
    /// Most packets (rx completions + tx submissions) handled per event before the driver
    /// returns `more_work` with device interrupts left masked.
    pub budget: u32,
    /// Interrupt hold-off in microseconds (0 = off; the paper used 100).
    pub holdoff_us: u32,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            rx_slots: 128,
            tx_slots: 128,
            budget: 64,
            holdoff_us: 0,
        }
    }
}

/// What the PD main must do after an event.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[must_use]
pub struct Actions {
    /// Signal the client (its channel): it asked to be woken and there is news for it.
    pub notify_client: bool,
    /// Acknowledge the IRQ to the kernel (unmasks the interrupt line).
    pub ack_irq: bool,
    /// A backlog remains and device interrupts stay masked: call [`Driver::poll`] again
    /// (after checking for other notifications) instead of blocking.
    pub more_work: bool,
}

/// Per-run statistics.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Stats {
    /// Interrupt events handled.
    pub irqs: u64,
    /// Client signals handled.
    pub client_wakeups: u64,
    /// `poll` calls (continuations of a backlog).
    pub polls: u64,
    /// Frames delivered to the client.
    pub rx_packets: u64,
    /// Bytes delivered to the client.
    pub rx_bytes: u64,
    /// Frames the device sent.
    pub tx_packets: u64,
    /// Bytes the device sent.
    pub tx_bytes: u64,
    /// Frames the device flagged as bad (buffer recycled).
    pub rx_frame_errors: u64,
    /// Transmissions the device flagged as failed.
    pub tx_errors: u64,
    /// Signals to the client the driver asked the PD to send.
    pub notify_sent: u64,
    /// Publications to the client that needed no signal (the client was running).
    pub notify_suppressed: u64,
    /// Times the driver blocked without asking for a tx-queue signal because transmissions
    /// were in flight (notification avoidance: the tx-complete interrupt wakes it).
    pub tx_signal_avoided: u64,
    /// Translation-cache misses (each cost a refill from the dataspace manager).
    pub xlate_misses: u64,
    /// Pages pinned.
    pub pins: u64,
    /// Pages unpinned.
    pub unpins: u64,
    /// Frames the device dropped: no free receive descriptor / FIFO overrun (device counter).
    pub rx_dropped_no_buffer: u64,
    /// Interrupts whose cause reported a receive overrun.
    pub rx_overrun_events: u64,
    /// Frames dropped because the client's receive queue was full (buffer recycled).
    pub rx_dropped_client_full: u64,
    /// Events that ended with the budget used up (interrupts left masked).
    pub budget_exhausted: u64,
    /// Most packets handled in one event (never above the budget + ring reaps).
    pub max_work_per_event: u64,
}

#[derive(Clone, Copy)]
struct Posted {
    desc: Desc,
    first_page: u64,
    pages: u64,
}

/// Ring bookkeeping for one direction: which client buffer sits in which slot.
struct SlotRing {
    slots: [Option<Posted>; MAX_SLOTS],
    n: u16,
    head: u16,
    tail: u16,
    count: u16,
}

impl SlotRing {
    fn new(n: u16) -> Self {
        Self {
            slots: [None; MAX_SLOTS],
            n,
            head: 0,
            tail: 0,
            count: 0,
        }
    }
    /// One slot stays empty so that head == tail always means "empty" for e1000's RDH/RDT.
    fn space(&self) -> u16 {
        self.n - 1 - self.count
    }
    fn push(&mut self, p: Posted) -> u16 {
        let slot = self.tail;
        self.slots[slot as usize] = Some(p);
        self.tail = (self.tail + 1) % self.n;
        self.count += 1;
        slot
    }
    fn pop(&mut self) -> Option<Posted> {
        let p = self.slots[self.head as usize].take();
        self.head = (self.head + 1) % self.n;
        self.count -= 1;
        p
    }
}

/// The driver: one device backend, one client session.
pub struct Driver<'q, B: NicBackend, T: Translate> {
    backend: B,
    xlate: T,
    rx: ring::Sender<'q>,
    tx: ring::Receiver<'q>,
    session: Session,
    cfg: Config,
    mac: MacAddr,
    rxr: SlotRing,
    txr: SlotRing,
    /// Receive buffers taken back from the device without a frame for the client (bad frame,
    /// client queue full): reused before asking the client for more.
    spare: [Desc; MAX_SLOTS],
    nspare: usize,
    irq_masked: bool,
    stats: Stats,
    last_cause: Cause,
}

impl<'q, B: NicBackend, T: Translate> Driver<'q, B, T> {
    /// Brings the device up and takes over the client's queues. Call [`Driver::poll`] once
    /// afterwards to post the client's first receive buffers.
    pub fn new(
        backend: B,
        xlate: T,
        rx: ring::Sender<'q>,
        tx: ring::Receiver<'q>,
        session: Session,
        cfg: Config,
    ) -> Result<Self, InitError> {
        Self::try_new(backend, xlate, rx, tx, session, cfg).map_err(|(e, _, _)| e)
    }

    /// As [`Driver::new`], but a failure hands the backend and the translation handle back
    /// (the PD keeps them for a later session, and can give back what the handle holds).
    #[allow(clippy::type_complexity)]
    pub fn try_new(
        mut backend: B,
        xlate: T,
        rx: ring::Sender<'q>,
        tx: ring::Receiver<'q>,
        session: Session,
        cfg: Config,
    ) -> Result<Self, (InitError, B, T)> {
        let checked = crate::backend::check_ring_size("receive", cfg.rx_slots)
            .and_then(|()| crate::backend::check_ring_size("transmit", cfg.tx_slots))
            .and_then(|()| backend.init(cfg.rx_slots, cfg.tx_slots, cfg.holdoff_us));
        let mac = match checked {
            Ok(mac) => mac,
            Err(e) => return Err((e, backend, xlate)),
        };
        Ok(Self {
            backend,
            xlate,
            rx,
            tx,
            session,
            cfg: Config {
                budget: cfg.budget.max(1),
                ..cfg
            },
            mac,
            rxr: SlotRing::new(cfg.rx_slots),
            txr: SlotRing::new(cfg.tx_slots),
            spare: [Desc::default(); MAX_SLOTS],
            nspare: 0,
            irq_masked: true,
            stats: Stats::default(),
            last_cause: Cause::default(),
        })
    }

    /// The station address read from the device.
    pub fn mac(&self) -> MacAddr {
        self.mac
    }
    /// Statistics so far (device counters folded in at each interrupt).
    pub fn stats(&self) -> Stats {
        self.stats
    }
    /// The client's session, with its error counts.
    pub fn session(&self) -> &Session {
        &self.session
    }
    /// The cause decoded at the last interrupt.
    pub fn last_cause(&self) -> Cause {
        self.last_cause
    }
    /// Transmissions handed to the device and not yet reaped.
    pub fn tx_in_flight(&self) -> u16 {
        self.txr.count
    }
    /// Receive buffers currently owned by the device.
    pub fn rx_posted(&self) -> u16 {
        self.rxr.count
    }
    /// The backend (e.g. to inspect it in tests).
    pub fn backend(&self) -> &B {
        &self.backend
    }
    /// The translation cache handle.
    pub fn xlate(&self) -> &T {
        &self.xlate
    }
    /// The translation cache handle, mutable (e.g. for the PD's lazy-unpin sweep).
    pub fn xlate_mut(&mut self) -> &mut T {
        &mut self.xlate
    }

    /// Ends the session: resets the device (re-running its bring-up, which leaves both rings
    /// empty, so the device owns no client buffer and does no DMA any more), then unpins every
    /// buffer it owned. Returns the backend and the translation handle for a later session and
    /// the statistics of this one. The client owns all its buffers again; its queues are not
    /// touched (a client that reopens zeroes them first).
    pub fn shutdown(mut self) -> (B, T, Stats, Result<(), InitError>) {
        self.backend.irq_mask();
        let reset = self
            .backend
            .init(self.cfg.rx_slots, self.cfg.tx_slots, self.cfg.holdoff_us)
            .map(|_| ());
        // A device that did not come out of reset may still DMA: its pages stay pinned.
        if reset.is_ok() {
            while self.rxr.count > 0 {
                if let Some(p) = self.rxr.pop() {
                    self.unpin(&p);
                }
            }
            while self.txr.count > 0 {
                if let Some(p) = self.txr.pop() {
                    self.unpin(&p);
                }
            }
        }
        (self.backend, self.xlate, self.stats, reset)
    }

    /// The device interrupt arrived (notification on the IRQ channel): read and clear the
    /// cause, process with a bounded budget, and ack.
    pub fn on_irq(&mut self) -> Actions {
        self.stats.irqs += 1;
        if !self.irq_masked {
            self.backend.irq_mask();
            self.irq_masked = true;
        }
        let cause = self.backend.read_cause();
        self.last_cause = cause;
        if cause.rx_overrun {
            self.stats.rx_overrun_events += 1;
        }
        self.fold_counters();
        let mut a = self.service();
        // The cause read deasserted the line and device interrupts are masked until `service`
        // decides otherwise, so the kernel IRQ can be acked at once.
        a.ack_irq = true;
        a
    }

    /// The client signalled (it published work and had asked the driver to listen).
    pub fn on_client_notified(&mut self) -> Actions {
        self.stats.client_wakeups += 1;
        self.service()
    }

    /// Continues a backlog (after `more_work`), or performs the first posting after `new`.
    pub fn poll(&mut self) -> Actions {
        self.stats.polls += 1;
        self.fold_counters();
        self.service()
    }

    /// Folds the device's read-to-clear counters into the statistics.
    pub fn fold_counters(&mut self) {
        let c = self.backend.read_counters();
        self.stats.rx_dropped_no_buffer += c.rx_missed;
    }

    /// One bounded round of work.
    fn service(&mut self) -> Actions {
        let budget = u64::from(self.cfg.budget);
        let mut work: u64 = 0;
        let mut notify = false;

        // 1. Transmit completions: cheap, and they free ring space and client buffers.
        let mut returned = false;
        while self.txr.count > 0 {
            let Some(done) = self.backend.tx_poll(self.txr.head) else {
                break;
            };
            let Some(p) = self.txr.pop() else { continue };
            self.unpin(&p);
            if done.ok {
                self.stats.tx_packets += 1;
                self.stats.tx_bytes += u64::from(p.desc.len);
            } else {
                self.stats.tx_errors += 1;
            }
            returned |= self.return_tx(p.desc);
        }

        // 2. Receive completions, bounded by the budget.
        let mut delivered = false;
        let mut rx_backlog = false;
        while self.rxr.count > 0 {
            let Some(done) = self.backend.rx_poll(self.rxr.head) else {
                break;
            };
            if work >= budget {
                rx_backlog = true;
                break;
            }
            work += 1;
            self.backend.rx_clear(self.rxr.head);
            let Some(p) = self.rxr.pop() else { continue };
            self.unpin(&p);
            if !done.ok || done.len == 0 || done.len > p.desc.len {
                self.stats.rx_frame_errors += 1;
                self.keep_spare(p.desc);
                continue;
            }
            let out = Desc {
                len: done.len,
                ..p.desc
            };
            match self.rx.active.enqueue(out) {
                Ok(()) => {
                    self.stats.rx_packets += 1;
                    self.stats.rx_bytes += u64::from(done.len);
                    delivered = true;
                }
                Err(ring::EnqueueError::Full) => {
                    self.stats.rx_dropped_client_full += 1;
                    self.keep_spare(p.desc);
                }
                Err(ring::EnqueueError::Peer(_)) => {
                    self.session.errors.queue_corrupt += 1;
                    self.keep_spare(p.desc);
                }
            }
        }

        // 3. Refill the receive ring: spares first, then the client's free buffers.
        let posted_rx = self.refill_rx();

        // 4. Transmit submissions, bounded by what is left of the budget and by ring space.
        let mut tx_backlog = false;
        let mut posted_tx = 0u16;
        let avail = match self.tx.active.available() {
            Ok(n) => u64::from(n),
            Err(_) => {
                self.session.errors.queue_corrupt += 1;
                0
            }
        };
        let room = u64::from(self.txr.space());
        let take = avail.min(room).min(budget.saturating_sub(work));
        if avail > take && take < room {
            tx_backlog = true; // stopped by the budget, not by ring space
        }
        for i in 0..take {
            let d = match self.tx.active.dequeue() {
                Ok(Some(d)) => d,
                Ok(None) => break,
                Err(_) => {
                    self.session.errors.queue_corrupt += 1;
                    break;
                }
            };
            work += 1;
            match self.session.check_tx(&d).and_then(|len| self.map(&d, len)) {
                Ok((phys, first_page, pages)) => {
                    let slot = self.txr.push(Posted {
                        desc: d,
                        first_page,
                        pages,
                    });
                    // Interrupt on the last descriptor of the batch only: one completion
                    // interrupt per batch, further coalesced by the hold-off timer.
                    self.backend.tx_post(slot, phys, d.len, i + 1 == take);
                    posted_tx += 1;
                }
                Err(e) => {
                    self.session.errors.count(&e);
                    returned |= self.return_tx(Desc { len: 0, ..d });
                }
            }
        }
        if posted_tx > 0 {
            self.backend.tx_kick(self.txr.tail);
        }
        if posted_rx > 0 {
            self.backend.rx_kick(self.rxr.tail);
        }

        // 5. Publish to the client: signal only if it asked (suppressed notification).
        if delivered {
            notify |= self.producer_signal(true);
        }
        if returned {
            notify |= self.producer_signal(false);
        }

        // A frame may already wait in the next slot: more receive work than the budget allowed.
        if !rx_backlog && self.rxr.count > 0 && work >= budget {
            rx_backlog = self.backend.rx_poll(self.rxr.head).is_some();
        }
        let mut more = rx_backlog || tx_backlog;

        // 6. About to block: ask for signals only where one is needed, with the re-check.
        if !more {
            if self.rxr.space() > 0 {
                match self.rx.free.prepare_to_block() {
                    Ok(true) => {}
                    Ok(false) => more = true, // buffers arrived meanwhile
                    Err(_) => self.session.errors.queue_corrupt += 1,
                }
            } else {
                // Ring full of buffers: interrupts will wake us; the client need not signal.
                self.rx.free.cancel_signal();
            }
            if self.txr.count == 0 {
                match self.tx.active.prepare_to_block() {
                    Ok(true) => {}
                    Ok(false) => more = true,
                    Err(_) => self.session.errors.queue_corrupt += 1,
                }
            } else {
                // Notification avoidance: the tx-complete interrupt will wake us, so a busy
                // client can enqueue without any kernel call.
                self.tx.active.cancel_signal();
                self.stats.tx_signal_avoided += 1;
            }
        }

        if more {
            self.stats.budget_exhausted += u64::from(work >= budget);
            if !self.irq_masked {
                self.backend.irq_mask();
                self.irq_masked = true;
            }
        } else if self.irq_masked {
            self.backend.irq_unmask();
            self.irq_masked = false;
        }
        self.stats.max_work_per_event = self.stats.max_work_per_event.max(work);
        Actions {
            notify_client: notify,
            ack_irq: false,
            more_work: more,
        }
    }

    fn producer_signal(&mut self, rx: bool) -> bool {
        let wanted = if rx {
            self.rx.active.signal_needed()
        } else {
            self.tx.free.signal_needed()
        };
        if wanted {
            self.stats.notify_sent += 1;
        } else {
            self.stats.notify_suppressed += 1;
        }
        wanted
    }

    /// Gives a transmit buffer back to the client; true if it was published.
    fn return_tx(&mut self, d: Desc) -> bool {
        match self.tx.free.enqueue(d) {
            Ok(()) => true,
            Err(ring::EnqueueError::Full) => {
                self.session.errors.returns_dropped += 1;
                false
            }
            Err(ring::EnqueueError::Peer(_)) => {
                self.session.errors.queue_corrupt += 1;
                false
            }
        }
    }

    fn keep_spare(&mut self, d: Desc) {
        // At most one spare per ring slot, so this never overflows; guard anyway.
        if self.nspare < MAX_SLOTS {
            self.spare[self.nspare] = d;
            self.nspare += 1;
        }
    }

    fn refill_rx(&mut self) -> u16 {
        let mut posted = 0;
        while self.rxr.space() > 0 {
            let d = if self.nspare > 0 {
                self.nspare -= 1;
                self.spare[self.nspare]
            } else {
                match self.rx.free.dequeue() {
                    Ok(Some(d)) => d,
                    Ok(None) => break,
                    Err(_) => {
                        self.session.errors.queue_corrupt += 1;
                        break;
                    }
                }
            };
            match self
                .session
                .check_rx(&d)
                .and_then(|len| self.map(&d, len).map(|m| (m, len)))
            {
                Ok(((phys, first_page, pages), len)) => {
                    let slot = self.rxr.push(Posted {
                        desc: d,
                        first_page,
                        pages,
                    });
                    self.backend.rx_post(slot, phys, len);
                    posted += 1;
                }
                Err(e) => self.session.errors.count(&e),
            }
        }
        posted
    }

    /// Translates and pins the first `len` bytes of a validated buffer: returns its physical
    /// address and the pinned page range. The pages must be physically contiguous.
    fn map(&mut self, d: &Desc, len: u32) -> Result<(u64, u64, u64), BufError> {
        let off = u64::from(d.offset);
        let first = off / PAGE_SIZE;
        let last = (off + u64::from(len) - 1) / PAGE_SIZE;
        let pages = last - first + 1;
        let mut base = 0;
        for (i, page) in (first..=last).enumerate() {
            let frame = match self.xlate.lookup(d.dataspace, page) {
                Some(f) => f,
                None => {
                    self.stats.xlate_misses += 1;
                    self.xlate
                        .refill(d.dataspace, page)
                        .map_err(BufError::Xlate)?
                }
            };
            if i == 0 {
                base = frame;
            } else if frame != base + i as u64 * PAGE_SIZE {
                return Err(BufError::NotContiguous {
                    dataspace: d.dataspace,
                    offset: d.offset,
                });
            }
        }
        let phys = base + off % PAGE_SIZE;
        let limit = self.backend.dma_limit();
        if phys
            .checked_add(u64::from(len))
            .is_none_or(|end| end > limit)
        {
            return Err(BufError::Unreachable { phys, limit });
        }
        for page in first..=last {
            if let Err(e) = self.xlate.pin(d.dataspace, page) {
                for undo in first..page {
                    self.xlate.unpin(d.dataspace, undo);
                    self.stats.unpins += 1;
                }
                return Err(BufError::Xlate(e));
            }
            self.stats.pins += 1;
        }
        Ok((phys, first, pages))
    }

    fn unpin(&mut self, p: &Posted) {
        for page in p.first_page..p.first_page + p.pages {
            self.xlate.unpin(p.desc.dataspace, page);
            self.stats.unpins += 1;
        }
    }
}
