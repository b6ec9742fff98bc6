//! The device-neutral driver core: descriptor-ring bookkeeping, each client session's rx/tx
//! queue pairs (shared `ring` queues with the suppressed-notification protocol), buffer
//! validation, translation and pinning, receive demultiplexing, fair transmit arbitration,
//! batching, bounded work per event and statistics.
//!
//! It makes no kernel calls: each event method returns [`Actions`] the PD main performs
//! (signal clients, ack the IRQ, or call [`Driver::poll`] again before blocking).
//!
//! Queue roles (DESIGN.md §6): for **receive** the driver is the `Sender` (filled frames go out
//! on the active ring, empty buffers come back on the free ring); for **transmit** it is the
//! `Receiver` (frames arrive on the active ring, sent buffers go back on the free ring). A
//! refused transmit descriptor is returned on the free ring with `len = 0`; a receive buffer
//! refused as the client's own junk is dropped, one that could not be pinned for a reason
//! that is not the client's fault (pin quota, manager refusal or unreachable) is returned on
//! the active ring with `len = 0` — all are counted in the session.
//!
//! **Sessions and receive modes.** A driver serves up to [`MAX_SESSIONS`] sessions, each with
//! its own queues, dataspaces, MAC address and counters; the device's unicast filter holds
//! exactly the open sessions' addresses. How frames reach a client depends on whether the
//! driver was started with a receive pool ([`RxPool`]):
//!
//! * **Direct** (no pool; one session at a time): the device receives straight into the
//!   client's own buffers, pinned while it owns them: zero copies. Closing the session resets
//!   the device, so it owns no client buffer any more.
//! * **Pooled** (several sessions): a NIC with one receive ring cannot know whose frame comes
//!   next, and a buffer of client A holding B's frame would let A read (or rewrite) B's
//!   traffic. So the device receives into driver-owned pool buffers no client can see, and
//!   the driver copies each frame once into a buffer its destination posted (unicast by
//!   destination MAC; broadcast and multicast into every session's own buffer). Transmit
//!   stays zero-copy. Sessions come and go without touching the device.
//!
//! Every event runs one bounded round (`service`), in steps each in the file named for it:
//! `tx.rs` reaps transmit completions and takes the clients' transmit work round-robin,
//! `rx.rs` (direct) and `pool.rs` (pooled) hand receive completions to clients and refill
//! the receive ring, `notify.rs` publishes to clients and decides whether to block;
//! `map.rs` translates and pins buffers, `slots.rs` remembers which buffer sits in which
//! device slot and `client.rs` holds one session's state.

use crate::backend::{Cause, FilterError, InitError, MacAddr, NicBackend};
use crate::hw::Translate;
use crate::session::{Session, SessionErrors};
use client::Client;
use ring::Desc;
use slots::SlotRing;

mod client;
mod map;
mod notify;
mod pool;
mod rx;
mod slots;
mod tx;

pub use client::SessionStats;
pub use nic_api::MAX_SESSIONS;
pub use pool::{NoPool, RxPool, POOL_BUF};

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
    /// returns `more_work` with device interrupts left masked. Transmit work is shared out
    /// round-robin: each session with work gets an equal part of what is left of it.
    pub budget: u32,
    /// Interrupt hold-off in microseconds (0 = off; the paper used 100).
    pub holdoff_us: u32,
}

impl Default for Config {
    fn default() -> Self {
        Self { rx_slots: 128, tx_slots: 128, budget: 64, holdoff_us: 0 }
    }
}

/// A set of sessions (bit `k` = session `k`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SessionSet(u8);

impl SessionSet {
    /// No session.
    pub const EMPTY: Self = Self(0);
    /// Whether session `k` is in the set.
    pub fn contains(self, k: usize) -> bool {
        k < MAX_SESSIONS && self.0 & (1 << k) != 0
    }
    /// The set with session `k` added.
    pub fn with(self, k: usize) -> Self {
        if k < MAX_SESSIONS {
            Self(self.0 | 1 << k)
        } else {
            self
        }
    }
    /// Whether the set is empty.
    pub fn is_empty(self) -> bool {
        self.0 == 0
    }
    /// The sessions in the set, lowest first.
    pub fn iter(self) -> impl Iterator<Item = usize> {
        (0..MAX_SESSIONS).filter(move |&k| self.contains(k))
    }
}

/// What the PD main must do after an event.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[must_use]
pub struct Actions {
    /// Signal these clients (each on its session's channel): each asked to be woken and there
    /// is news for it.
    pub notify: SessionSet,
    /// Acknowledge the IRQ to the kernel (unmasks the interrupt line).
    pub ack_irq: bool,
    /// A backlog remains and device interrupts stay masked: call [`Driver::poll`] again
    /// (after checking for other notifications) instead of blocking.
    pub more_work: bool,
}

impl Actions {
    /// Whether session 0's client must be signalled (single-session systems and tests).
    pub fn notify_client(&self) -> bool {
        self.notify.contains(0)
    }
}

/// Per-run statistics of the device and of every session together.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Stats {
    /// Interrupt events handled.
    pub irqs: u64,
    /// Client signals handled.
    pub client_wakeups: u64,
    /// `poll` calls (continuations of a backlog).
    pub polls: u64,
    /// Frames delivered to clients (a broadcast copied to three sessions counts three).
    pub rx_packets: u64,
    /// Bytes delivered to clients.
    pub rx_bytes: u64,
    /// Frames the device sent.
    pub tx_packets: u64,
    /// Bytes the device sent.
    pub tx_bytes: u64,
    /// Frames the device flagged as bad (buffer recycled).
    pub rx_frame_errors: u64,
    /// Transmissions the device flagged as failed.
    pub tx_errors: u64,
    /// Signals to clients the driver asked the PD to send.
    pub notify_sent: u64,
    /// Publications to clients that needed no signal (the client was running).
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
    /// Frames dropped because a client's receive queue was full or it had posted no free
    /// buffer (buffer recycled).
    pub rx_dropped_client_full: u64,
    /// Pooled mode: frames copied from the receive pool into a client's buffer.
    pub rx_copies: u64,
    /// Pooled mode: bytes those copies moved.
    pub rx_bytes_copied: u64,
    /// Pooled mode: frames addressed to no open session (the hardware filter passes broadcast,
    /// and a hash filter may pass a few others), dropped.
    pub rx_no_session: u64,
    /// Transmissions of a closed session that completed after it closed (unpinned, not
    /// returned to anyone).
    pub tx_orphans: u64,
    /// Events that ended with the budget used up (interrupts left masked).
    pub budget_exhausted: u64,
    /// Most packets handled in one event (never above the budget + ring reaps).
    pub max_work_per_event: u64,
}

/// Why a session could not be opened in the engine.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OpenError {
    /// No session slot `k` (k >= [`MAX_SESSIONS`]).
    NoSuchSession { k: usize },
    /// Session `k` is open already.
    Busy { k: usize },
    /// A direct-mode driver (no receive pool) serves one session at a time.
    OneAtATime,
    /// The MAC is not a unicast station address.
    BadMac(MacAddr),
    /// Another open session uses this MAC.
    MacInUse { mac: MacAddr, other: usize },
    /// The device's filter cannot hold the open sessions' addresses.
    Filter(FilterError),
}

impl core::fmt::Display for OpenError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match *self {
            Self::NoSuchSession { k } => write!(f, "no session {k}: the driver serves at most {MAX_SESSIONS}"),
            Self::Busy { k } => write!(f, "session {k} is open already"),
            Self::OneAtATime => {
                write!(f, "this driver has no receive pool, so it serves one session at a time")
            }
            Self::BadMac(m) => write!(f, "MAC {m} is not a unicast station address"),
            Self::MacInUse { mac, other } => write!(f, "MAC {mac} is already session {other}'s"),
            Self::Filter(e) => write!(f, "receive filter: {e}"),
        }
    }
}

/// What closing a session leaves behind.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Closed {
    /// The session's counters.
    pub stats: SessionStats,
    /// What the client got wrong.
    pub errors: SessionErrors,
    /// Direct mode: whether the device reset that took its buffers back completed (if not,
    /// its pages stay pinned). Pooled mode: always `Ok`.
    pub reset: Result<(), InitError>,
    /// Pooled mode: its transmissions still with the device (their pages stay pinned until
    /// they complete and are counted in [`Stats::tx_orphans`]).
    pub tx_in_flight: u16,
    /// Other sessions given transmit buffers back on the way (the transmissions that had
    /// completed were reaped first) that must be signalled.
    pub notify: SessionSet,
}

/// The driver: one device backend, its receive pool (if any) and up to [`MAX_SESSIONS`]
/// client sessions.
pub struct Driver<'q, B: NicBackend, T: Translate, C: RxPool = NoPool> {
    backend: B,
    xlate: T,
    pool: C,
    pooled: bool,
    clients: [Option<Client<'q>>; MAX_SESSIONS],
    next_generation: u32,
    cfg: Config,
    mac: MacAddr,
    rxr: SlotRing,
    txr: SlotRing,
    /// Direct mode: receive buffers taken back from the device without a frame for the client
    /// (bad frame, client queue full): reused before asking the client for more.
    spare: [Desc; MAX_SLOTS],
    nspare: usize,
    /// The last refill stopped at a buffer the manager would not pin (not the client's
    /// fault): do not ask the client to signal new free buffers until the next event.
    rx_refill_deferred: bool,
    /// The session whose transmit queue is served first in the next round.
    tx_cursor: usize,
    irq_masked: bool,
    stats: Stats,
    last_cause: Cause,
}

impl<'q, B: NicBackend, T: Translate> Driver<'q, B, T, NoPool> {
    /// A direct-mode driver serving `session` as session 0 with the device's own MAC: brings
    /// the device up and takes over the client's queues. Call [`Driver::poll`] once afterwards
    /// to post the client's first receive buffers.
    pub fn new(
        backend: B,
        xlate: T,
        rx: ring::Sender<'q>,
        tx: ring::Receiver<'q>,
        session: Session,
        cfg: Config,
    ) -> Result<Self, InitError> {
        let mut d = Self::start(backend, xlate, NoPool, cfg).map_err(|(e, _, _, _)| e)?;
        let mac = d.mac;
        d.open(0, rx, tx, session, mac).map_err(|e| match e {
            OpenError::Filter(f) => InitError::Filter(f),
            _ => InitError::NoMacAddress { chip: B::NAME },
        })?;
        Ok(d)
    }
}

impl<'q, B: NicBackend, T: Translate, C: RxPool> Driver<'q, B, T, C> {
    /// Brings the device up with no session open (interrupts masked, nothing posted in direct
    /// mode; the pool's buffers posted in pooled mode, with the unicast filter empty so only
    /// broadcast and multicast arrive, and are dropped). A failure hands the parts back (the PD
    /// keeps them, and can give back what the translation handle holds).
    #[allow(clippy::type_complexity)]
    pub fn start(mut backend: B, xlate: T, pool: C, cfg: Config) -> Result<Self, (InitError, B, T, C)> {
        let checked = crate::backend::check_ring_size("receive", cfg.rx_slots)
            .and_then(|()| crate::backend::check_ring_size("transmit", cfg.tx_slots))
            .and_then(|()| pool::check(&pool, cfg.rx_slots, backend.dma_limit()))
            .and_then(|()| backend.init(cfg.rx_slots, cfg.tx_slots, cfg.holdoff_us));
        let mac = match checked {
            Ok(mac) => mac,
            Err(e) => return Err((e, backend, xlate, pool)),
        };
        backend.irq_mask();
        let pooled = pool.buffers() > 0;
        let mut d = Self {
            backend,
            xlate,
            pool,
            pooled,
            clients: [const { None }; MAX_SESSIONS],
            next_generation: 1,
            cfg: Config { budget: cfg.budget.max(1), ..cfg },
            mac,
            rxr: SlotRing::new(cfg.rx_slots),
            txr: SlotRing::new(cfg.tx_slots),
            spare: [Desc::default(); MAX_SLOTS],
            nspare: 0,
            rx_refill_deferred: false,
            tx_cursor: 0,
            irq_masked: true,
            stats: Stats::default(),
            last_cause: Cause::default(),
        };
        if pooled {
            if let Err(e) = d.backend.set_unicast_filter(&[]) {
                return Err((InitError::Filter(e), d.backend, d.xlate, d.pool));
            }
            let posted = d.post_pool();
            d.kick_device(0, posted);
        }
        Ok(d)
    }

    /// Opens session `k` over the client's queues and checked dataspaces, with station
    /// address `mac` (the device's own for a single client, or one from the system file).
    /// The device's filter then passes the open sessions' addresses. Call [`Driver::poll`]
    /// afterwards to take the client's first buffers.
    pub fn open(
        &mut self,
        k: usize,
        rx: ring::Sender<'q>,
        tx: ring::Receiver<'q>,
        session: Session,
        mac: MacAddr,
    ) -> Result<(), OpenError> {
        if k >= MAX_SESSIONS {
            return Err(OpenError::NoSuchSession { k });
        }
        if self.clients[k].is_some() {
            return Err(OpenError::Busy { k });
        }
        if !self.pooled && self.clients.iter().any(Option::is_some) {
            return Err(OpenError::OneAtATime);
        }
        if !mac.is_valid_station() {
            return Err(OpenError::BadMac(mac));
        }
        if let Some(other) = self.clients.iter().position(|c| c.as_ref().is_some_and(|c| c.mac == mac)) {
            return Err(OpenError::MacInUse { mac, other });
        }
        let generation = self.next_generation;
        self.next_generation = self.next_generation.wrapping_add(1).max(1);
        self.clients[k] = Some(Client::new(rx, tx, session, mac, generation));
        if let Err(e) = self.program_filter() {
            self.clients[k] = None;
            let _ = self.program_filter();
            return Err(OpenError::Filter(e));
        }
        Ok(())
    }

    /// Closes session `k`: the client owns all its buffers again (direct mode: by resetting
    /// the device; pooled mode: none is with the device except transmissions in flight, which
    /// become orphans). Its queues are not touched (a client that reopens zeroes them first).
    /// `None` if it was not open.
    pub fn close(&mut self, k: usize) -> Option<Closed> {
        self.clients.get(k)?.as_ref()?;
        // Completed transmissions go back to their owners first (and so unpin this session's
        // pages, which lets it detach).
        let returned = self.reap_tx_completions();
        let c = self.clients[k].take()?;
        let notify = self.publish(notify::News { tx: returned, rx: SessionSet::EMPTY });
        let mut closed = Closed { stats: c.stats, errors: c.session.errors, reset: Ok(()), tx_in_flight: 0, notify };
        if self.pooled {
            closed.tx_in_flight = self.txr.count_where(|p| p.session == k as u8 && p.generation == c.generation);
        } else {
            closed.reset = self.reset_rings();
        }
        let _ = self.program_filter();
        Some(closed)
    }

    /// Direct mode: resets the device (re-running its bring-up, which leaves both rings
    /// empty, so it owns no client buffer and does no DMA any more), then unpins every buffer
    /// it owned. A device that did not come out of reset may still DMA: its pages stay pinned.
    fn reset_rings(&mut self) -> Result<(), InitError> {
        self.backend.irq_mask();
        self.irq_masked = true;
        let reset = self.backend.init(self.cfg.rx_slots, self.cfg.tx_slots, self.cfg.holdoff_us).map(|mac| {
            self.mac = mac;
        });
        self.backend.irq_mask();
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
            self.rxr = SlotRing::new(self.cfg.rx_slots);
            self.txr = SlotRing::new(self.cfg.tx_slots);
            self.nspare = 0;
            self.rx_refill_deferred = false;
        }
        reset
    }

    /// Programs the device's unicast filter with the open sessions' addresses.
    fn program_filter(&mut self) -> Result<(), FilterError> {
        let mut macs = [MacAddr::default(); MAX_SESSIONS];
        let mut n = 0;
        for c in self.clients.iter().flatten() {
            macs[n] = c.mac;
            n += 1;
        }
        // Direct mode with no session: the device was reset and holds no buffer; leave its
        // filter as the reset left it.
        if n == 0 && !self.pooled {
            return Ok(());
        }
        self.backend.set_unicast_filter(&macs[..n])
    }

    /// The station address read from the device.
    pub fn mac(&self) -> MacAddr {
        self.mac
    }
    /// Statistics so far (device counters folded in at each interrupt).
    pub fn stats(&self) -> Stats {
        self.stats
    }
    /// Whether the driver receives through a pool (several sessions) rather than directly.
    pub fn pooled(&self) -> bool {
        self.pooled
    }
    /// The open sessions.
    pub fn open_sessions(&self) -> SessionSet {
        (0..MAX_SESSIONS).filter(|&k| self.clients[k].is_some()).fold(SessionSet::EMPTY, SessionSet::with)
    }
    /// Session 0's session, with its error counts (single-session systems and tests).
    ///
    /// # Panics
    /// If session 0 is not open (a test's mistake).
    pub fn session(&self) -> &Session {
        match self.session_at(0) {
            Some(s) => s,
            None => panic!("session 0 is not open"),
        }
    }
    /// Session `k`'s session, with its error counts.
    pub fn session_at(&self, k: usize) -> Option<&Session> {
        self.clients.get(k)?.as_ref().map(|c| &c.session)
    }
    /// Session `k`'s counters.
    pub fn session_stats(&self, k: usize) -> Option<SessionStats> {
        self.clients.get(k)?.as_ref().map(|c| c.stats)
    }
    /// Session `k`'s MAC.
    pub fn session_mac(&self, k: usize) -> Option<MacAddr> {
        self.clients.get(k)?.as_ref().map(|c| c.mac)
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
    /// The backend, mutably (e.g. a test programs its receive-address filter).
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
    /// The receive pool.
    pub fn pool(&self) -> &C {
        &self.pool
    }

    /// Ends every session and stops the device: resets it (re-running its bring-up, which
    /// leaves both rings empty, so it owns no client buffer and does no DMA any more), then
    /// unpins every buffer it owned. Returns the backend and the translation handle and the
    /// statistics. The clients own all their buffers again; their queues are not touched.
    pub fn shutdown(mut self) -> (B, T, Stats, Result<(), InitError>) {
        let reset = self.reset_rings();
        self.backend.irq_mask();
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

    /// A client signalled (it published work and had asked the driver to listen).
    pub fn on_client_notified(&mut self) -> Actions {
        self.stats.client_wakeups += 1;
        self.service()
    }

    /// Continues a backlog (after `more_work`), or performs the first posting after `open`.
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

    /// One bounded round of work, for every open session. With none open there is no client
    /// to serve (see the first branch).
    fn service(&mut self) -> Actions {
        if self.clients.iter().all(Option::is_none) {
            // Pooled: what arrives (broadcast; the filter holds no address) is for nobody and
            // the pool buffers go straight back, interrupts on. Direct: nothing is posted, so
            // the device receives nothing; interrupts off until a session opens.
            if self.pooled {
                let rx = self.deliver_pool_completions(u64::from(self.cfg.rx_slots));
                let posted = self.post_pool();
                self.kick_device(0, posted);
                self.set_irq_mask(rx.backlog, false);
                return Actions { more_work: rx.backlog, ..Actions::default() };
            }
            if !self.irq_masked {
                self.backend.irq_mask();
                self.irq_masked = true;
            }
            return Actions::default();
        }
        let budget = u64::from(self.cfg.budget);
        let mut news = notify::News {
            // 1. Transmit completions: cheap, and they free ring space and client buffers.
            tx: self.reap_tx_completions(),
            rx: SessionSet::EMPTY,
        };
        // 2. Receive completions, bounded by the budget; 3. refill the receive ring.
        let (rx, posted_rx) = if self.pooled {
            let rx = self.deliver_pool_completions(budget);
            (rx, self.post_pool())
        } else {
            let rx = self.deliver_rx_completions(budget);
            let refill = self.refill_rx();
            let mut rx = rx;
            if refill.returned {
                rx.delivered = rx.delivered.with(self.direct_session().unwrap_or(0));
            }
            (rx, refill.posted)
        };
        news.rx = rx.delivered;
        let mut work = rx.work;
        // 4. Transmit submissions, round-robin, bounded by what is left of the budget and by
        //    ring space.
        let tx = self.take_client_tx(budget.saturating_sub(work));
        work += tx.work;
        news.tx = SessionSet(news.tx.0 | tx.returned.0);
        self.kick_device(tx.posted, posted_rx);

        // 5. Publish to the clients: signal only those that asked (suppressed notification).
        let notify = self.publish(news);

        let rx_backlog = rx.backlog || self.rx_frame_waiting(work >= budget);
        let mut more = rx_backlog || tx.backlog;
        // 6. About to block: ask for signals only where one is needed, with the re-check.
        if !more {
            more = self.prepare_to_block();
        }
        self.set_irq_mask(more, work >= budget);
        self.stats.max_work_per_event = self.stats.max_work_per_event.max(work);
        Actions { notify, ack_irq: false, more_work: more }
    }

    /// Direct mode: the one open session.
    fn direct_session(&self) -> Option<usize> {
        self.clients.iter().position(Option::is_some)
    }
}
