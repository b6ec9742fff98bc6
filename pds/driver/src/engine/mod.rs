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
//! refused transmit descriptor is returned on the free ring with `len = 0`; a receive buffer
//! refused as the client's own junk is dropped, one that could not be pinned for a reason
//! that is not the client's fault (pin quota, manager refusal or unreachable) is returned on
//! the active ring with `len = 0` — all are counted in the session.
//!
//! Every event runs one bounded round (`service`), in steps each in the file named for it:
//! `tx.rs` reaps transmit completions and takes the client's transmit work, `rx.rs` hands
//! receive completions to the client and refills the receive ring, `notify.rs` publishes
//! to the client and decides whether to block; `map.rs` translates and pins buffers and
//! `slots.rs` remembers which client buffer sits in which device slot.

use crate::backend::{Cause, InitError, MacAddr, NicBackend};
use crate::hw::Translate;
use crate::session::Session;
use ring::Desc;
use slots::SlotRing;

mod map;
mod notify;
mod rx;
mod slots;
mod tx;

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
        Self { rx_slots: 128, tx_slots: 128, budget: 64, holdoff_us: 0 }
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
    /// The last refill stopped at a buffer the manager would not pin (not the client's
    /// fault): do not ask the client to signal new free buffers until the next event.
    rx_refill_deferred: bool,
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
            cfg: Config { budget: cfg.budget.max(1), ..cfg },
            mac,
            rxr: SlotRing::new(cfg.rx_slots),
            txr: SlotRing::new(cfg.tx_slots),
            spare: [Desc::default(); MAX_SLOTS],
            nspare: 0,
            rx_refill_deferred: false,
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
    /// The backend, mutably (the session layer programs its receive-address filter).
    pub fn backend_mut(&mut self) -> &mut B {
        &mut self.backend
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
        let reset = self.backend.init(self.cfg.rx_slots, self.cfg.tx_slots, self.cfg.holdoff_us).map(|_| ());
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

    /// One bounded round of work. The steps run in this order, each touching the device and
    /// the queues exactly as the single loop they were cut from did.
    fn service(&mut self) -> Actions {
        let budget = u64::from(self.cfg.budget);

        // 1. Transmit completions: cheap, and they free ring space and client buffers.
        let mut returned = self.reap_tx_completions();
        // 2. Receive completions, bounded by the budget.
        let rx = self.deliver_rx_completions(budget);
        let mut work = rx.work;
        // 3. Refill the receive ring: spares first, then the client's free buffers.
        let refill = self.refill_rx();
        // 4. Transmit submissions, bounded by what is left of the budget and by ring space.
        let tx = self.take_client_tx(budget.saturating_sub(work));
        work += tx.work;
        returned |= tx.returned;
        self.kick_device(tx.posted, refill.posted);

        // 5. Publish to the client: signal only if it asked (suppressed notification).
        let notify = self.publish(rx.delivered || refill.returned, returned);

        let rx_backlog = rx.backlog || self.rx_frame_waiting(work >= budget);
        let mut more = rx_backlog || tx.backlog;
        // 6. About to block: ask for signals only where one is needed, with the re-check.
        if !more {
            more = self.prepare_to_block();
        }
        self.set_irq_mask(more, work >= budget);
        self.stats.max_work_per_event = self.stats.max_work_per_event.max(work);
        Actions { notify_client: notify, ack_irq: false, more_work: more }
    }
}
