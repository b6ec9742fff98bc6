//! The sessions' state machine. The device comes up at start with no session open; each
//! configured session `k` (channel [`client_channel`](super::client_channel)`(k)`, id `k + 1`)
//! then goes Closed -> OPEN -> Open -> CLOSE -> Closed on its own, or the whole driver is
//! Broken when start-up lost the device or the manager stopped.
//!
//! * OPEN asks the manager to ATTACH each named dataspace for the session's client (the
//!   manager checks the client shares it); if any attach, the session check, the queue regions
//!   or the engine refuse, everything attached for it is detached again. Then the engine opens
//!   the session with its MAC (the device's filter passes exactly the open sessions'
//!   addresses) and the driver replies with the session id and the MAC.
//! * CLOSE prints the statistics, gives the client's buffers back (a single-session driver
//!   resets its device to do so; a multi-session one never holds a client's receive buffer,
//!   and a transmission still in flight stays pinned until it completes), and detaches.
//! * DRIVER_STATS prints the counters and returns the calling session's.
//!
//! Recovery (DESIGN.md section 4), per session: an OPEN while the session is open means its
//! client was restarted (the old instance never closed): the old session is dropped as CLOSE
//! would and the new OPEN served. The monitor's notice that the client faulted
//! ([`DriverPd::client_faulted`]) drops it too. Either may come first: a re-OPEN leaves one
//! notice owed, which the late notice then pays instead of dropping the new instance's
//! session. The other sessions see none of this. OPEN zeroes both queue regions before the
//! driver lays its ends over them, so the client (which lays its own after OPEN returns) and
//! the driver start from the same clean state however the old session ended. If the manager is
//! stopped (its calls are refused with `Refusal::STOPPED`), the driver says once that
//! networking stopped, resets its device and refuses every session from then on.
//!
//! Notifications run the engine (one round serves every session); its `Actions` say which
//! clients to signal and whether to ack the IRQ, and `more_work` keeps it polling (device
//! interrupts stay masked) until the backlog is gone.

use dataspace_api::{DsId, PdId};
use message::{Message, Refusal};
use nic_api::{SessionError, SessionReply, SessionRequest, MAX_SESSION_DATASPACES, QUEUE_CAPACITY};

use super::start::{quiesce, Parts, SessionCfg, Settings};
use super::stats::{driver_stats, StatsLine, Witnesses};
use super::{say, session_id, Nic, PdPool, Platform, Xlate, MAX_SESSIONS};
use crate::engine::{Actions, Config, Driver, RxPool, SessionSet};
use crate::session::Session;

/// The engine the PD runs.
pub type Engine<B, P, C = PdPool> = Driver<'static, B, Xlate<P>, C>;

/// The driver's state. Large (the engine's tables): it lives in a static the PD binary
/// provides and is never moved while the driver runs.
#[allow(clippy::large_enum_variant)]
pub enum State<B: Nic, P: Platform, C: RxPool = PdPool> {
    /// The device is up; sessions open and close in the engine.
    Running(Engine<B, P, C>),
    /// Start-up failed, or networking stopped (the reason was printed).
    Broken,
}

/// One configured session as the PD tracks it.
struct Slot {
    cfg: SessionCfg,
    /// Fault notices owed by this session's client whose new instance re-OPENed first.
    owed_notices: u32,
}

/// The driver PD: its state, its sessions and its platform.
pub struct DriverPd<B: Nic + 'static, P: Platform + 'static, C: RxPool + 'static = PdPool> {
    state: &'static mut State<B, P, C>,
    slots: [Option<Slot>; MAX_SESSIONS],
    cfg: Config,
    platform: P,
    witnesses: Witnesses,
    every: u64,
    next_stats_irq: u64,
    /// Networking stopped because the manager did (said once).
    manager_stopped: bool,
}

impl<B: Nic + 'static, P: Platform + 'static, C: RxPool + 'static> DriverPd<B, P, C> {
    /// The driver over `parts` (`None`: start-up failed, every session is refused), after the
    /// start-up quiesce; `place` puts the state where it lives (a static in the PD).
    pub fn new(
        parts: Option<Parts<B, P, C>>,
        settings: &Settings,
        mut platform: P,
        place: impl FnOnce(State<B, P, C>) -> &'static mut State<B, P, C>,
    ) -> Self {
        let mut slots: [Option<Slot>; MAX_SESSIONS] = [const { None }; MAX_SESSIONS];
        let (state, cfg) = match parts {
            Some(Parts { mut nic, xlate, pool, sessions, cfg }) => {
                for (slot, s) in slots.iter_mut().zip(sessions) {
                    *slot = s.map(|cfg| Slot { cfg, owed_notices: 0 });
                }
                let state = if quiesce(&mut nic, cfg, settings, &mut platform) {
                    match Driver::start(nic, xlate, pool, cfg) {
                        Ok(engine) => State::Running(engine),
                        Err((e, ..)) => {
                            say!(platform, "cannot bring the device up: {e}; refusing every session");
                            State::Broken
                        }
                    }
                } else {
                    State::Broken
                };
                (state, cfg)
            }
            None => (State::Broken, Config::default()),
        };
        Self {
            state: place(state),
            slots,
            cfg,
            platform,
            witnesses: Witnesses::default(),
            every: settings.stats_every_irqs,
            next_stats_irq: settings.stats_every_irqs,
            manager_stopped: false,
        }
    }

    /// The receive ring as a buffer pool (for the monitor's `status`): usable slots, slots
    /// without a buffer, buffers the device holds.
    pub fn rx_pool(&self) -> (u32, u32, u32) {
        let size = u32::from(self.cfg.rx_slots.saturating_sub(1));
        let posted = match &*self.state {
            State::Running(engine) => u32::from(engine.rx_posted()),
            State::Broken => 0,
        };
        (size, size.saturating_sub(posted), posted)
    }

    /// The sessions the system file configures.
    pub fn configured(&self) -> SessionSet {
        (0..MAX_SESSIONS).filter(|&k| self.slots[k].is_some()).fold(SessionSet::EMPTY, SessionSet::with)
    }

    /// The sessions open now.
    pub fn open_sessions(&self) -> SessionSet {
        match &*self.state {
            State::Running(e) => e.open_sessions(),
            State::Broken => SessionSet::EMPTY,
        }
    }

    fn is_open(&self, k: usize) -> bool {
        matches!(&*self.state, State::Running(e) if e.session_at(k).is_some())
    }

    /// The monitor's notice that session `k`'s client faulted: drop its session (unless a
    /// re-OPEN of its new instance already did, see the module docs).
    pub fn client_faulted(&mut self, k: usize) {
        let Some(slot) = self.slots.get_mut(k).and_then(Option::as_mut) else { return };
        if slot.owed_notices > 0 {
            slot.owed_notices -= 1;
            say!(
                self.platform,
                "session {}'s client's fault notice: its session was already replaced by its new instance",
                session_id(k)
            );
            return;
        }
        if self.is_open(k) {
            say!(self.platform, "session {}'s client faulted (monitor's notice); dropping its session", session_id(k));
            let _ = self.end_session(k);
        }
    }

    /// After every event: if the manager turned out to be stopped, stop networking once.
    #[inline(never)]
    fn check_manager(&mut self) {
        let stopped = match &mut *self.state {
            State::Running(engine) => engine.xlate_mut().link_mut().stopped(),
            State::Broken => false,
        };
        if !stopped || self.manager_stopped {
            return;
        }
        self.manager_stopped = true;
        say!(
            self.platform,
            "networking stopped: the dataspace manager stopped (it owns the pins and translations); device reset, every session refused"
        );
        if let State::Running(engine) = core::mem::replace(self.state, State::Broken) {
            let _ = engine.shutdown();
        }
    }

    /// Session `k`'s queue regions, for host tests that play the client.
    #[cfg(test)]
    pub(crate) fn queue_regions(&self, k: usize) -> Option<(&region::MappedRegion, &region::MappedRegion)> {
        self.slots.get(k)?.as_ref().map(|s| (&s.cfg.rx_queues, &s.cfg.tx_queues))
    }

    /// The state (for tests and diagnostics).
    pub fn state(&self) -> &State<B, P, C> {
        self.state
    }

    /// The IRQ (`irq`) and/or the clients in `clients` signalled.
    pub fn notified(&mut self, irq: bool, clients: SessionSet) {
        match &mut *self.state {
            State::Running(engine) => {
                if irq {
                    let a = engine.on_irq();
                    perform(engine, a, &mut self.platform);
                }
                if !clients.is_empty() {
                    let a = engine.on_client_notified();
                    perform(engine, a, &mut self.platform);
                }
                engine.xlate_mut().sweep();
                let irqs = engine.stats().irqs;
                if self.every != 0 && irqs >= self.next_stats_irq {
                    self.next_stats_irq = irqs + self.every;
                    say!(self.platform, "{}", StatsLine(engine));
                }
            }
            // No device: ack anything on the line.
            State::Broken if irq => self.platform.irq_ack(),
            State::Broken => {}
        }
        self.check_manager();
        self.show_witnesses();
    }

    /// A PPC from session `k`'s client (it came in on that session's channel).
    pub fn protected(&mut self, k: usize, msg: &Message) -> Result<Message, Refusal> {
        let request = SessionRequest::decode(msg).map_err(|e| {
            say!(self.platform, "bad session request: {e}");
            Refusal::BAD_MESSAGE
        })?;
        let reply = match request {
            SessionRequest::Open(list) => self.open(k, list.ids()),
            SessionRequest::Close { session } => self.close(k, session),
            SessionRequest::Stats => match &*self.state {
                State::Running(engine) if engine.session_at(k).is_some() => {
                    say!(self.platform, "{}", StatsLine(engine));
                    Ok(SessionReply::Stats(driver_stats(engine, k)))
                }
                _ => Err(SessionError::UnknownSession),
            },
        };
        self.check_manager();
        self.show_witnesses();
        Ok(SessionReply::encode(&reply))
    }

    fn show_witnesses(&mut self) {
        if let State::Running(engine) = &*self.state {
            self.witnesses.show(engine.xlate(), &self.platform);
        }
    }

    #[inline(never)]
    fn open(&mut self, k: usize, ids: &[DsId]) -> Result<SessionReply, SessionError> {
        if !matches!(&*self.state, State::Running(_)) {
            return Err(SessionError::DeviceFailed);
        }
        if self.slots.get(k).is_none_or(Option::is_none) {
            say!(
                self.platform,
                "OPEN for session {}, which the system file does not give this driver (it serves {} session(s))",
                session_id(k),
                self.slots.iter().flatten().count()
            );
            return Err(SessionError::NoFreeSession);
        }
        if self.is_open(k) {
            // The client was restarted (see the module docs).
            say!(
                self.platform,
                "OPEN while session {} is open: the client was restarted; dropping its old session",
                session_id(k)
            );
            if let Some(slot) = self.slots[k].as_mut() {
                slot.owed_notices = slot.owed_notices.saturating_add(1);
            }
            let _ = self.end_session(k);
        }
        let (State::Running(engine), Some(slot)) = (&mut *self.state, self.slots[k].as_ref()) else {
            return Err(SessionError::DeviceFailed);
        };
        let client = slot.cfg.client;
        match bring_up(engine, k, &slot.cfg, ids, self.cfg, &mut self.platform) {
            Ok(mac) => Ok(SessionReply::Opened { session: session_id(k), mac }),
            Err(e) => {
                // Roll back: nothing stays attached for a session that did not open.
                let _ = engine.xlate_mut().detach_all(client);
                Err(e)
            }
        }
    }

    #[inline(never)]
    fn close(&mut self, k: usize, session: u32) -> Result<SessionReply, SessionError> {
        if session != session_id(k) || !self.is_open(k) {
            return Err(SessionError::UnknownSession);
        }
        self.end_session(k)
    }

    /// Ends open session `k`: statistics printed, its buffers given back and unpinned,
    /// detached.
    #[inline(never)]
    fn end_session(&mut self, k: usize) -> Result<SessionReply, SessionError> {
        let (State::Running(engine), Some(slot)) = (&mut *self.state, self.slots[k].as_ref()) else {
            return Err(SessionError::UnknownSession);
        };
        say!(self.platform, "{}", StatsLine(engine));
        let Some(closed) = engine.close(k) else {
            return Err(SessionError::UnknownSession);
        };
        for other in closed.notify.iter() {
            self.platform.notify_client(other);
        }
        let p = &self.platform;
        if let Err(e) = closed.reset {
            say!(p, "device reset at close failed ({e}); its pages stay pinned");
        }
        let detached = engine.xlate_mut().detach_all(slot.cfg.client);
        let x = engine.xlate().stats();
        let how = if engine.pooled() { "buffers returned" } else { "device reset" };
        say!(
            p,
            "session {} closed: {how}, {} transmission(s) still with the device, {} pin calls / {} unpin calls in all, dataspaces {}",
            session_id(k),
            closed.tx_in_flight,
            x.pin_calls,
            x.unpin_calls,
            if detached.is_ok() { "detached" } else { "NOT detached (pages still pinned)" }
        );
        detached.map(|()| SessionReply::Closed)
    }
}

/// Attaches the dataspaces, builds the session and the queue ends and opens session `k` in the
/// engine, then posts its first buffers; its MAC, or why it did not open (what was attached
/// stays for the caller to detach).
fn bring_up<B: Nic, P: Platform, C: RxPool>(
    engine: &mut Engine<B, P, C>,
    k: usize,
    cfg: &SessionCfg,
    ids: &[DsId],
    dcfg: Config,
    platform: &mut P,
) -> Result<nic_api::MacAddr, SessionError> {
    let client: PdId = cfg.client;
    let mut spaces = [(0u32, 0u64); MAX_SESSION_DATASPACES];
    for (i, &ds) in ids.iter().enumerate() {
        match engine.xlate_mut().attach(client, ds) {
            Ok(at) => spaces[i] = (ds.0, at.size()),
            Err(e) => {
                say!(platform, "OPEN of session {} refused: {ds}: {e}", session_id(k));
                return Err(e);
            }
        }
    }
    let session = Session::new(&spaces[..ids.len()]).map_err(|e| {
        say!(platform, "OPEN of session {} refused: {e}", session_id(k));
        SessionError::DeviceFailed
    })?;
    // A clean state both sides agree on (see the module docs).
    zero(&cfg.rx_queues);
    zero(&cfg.tx_queues);
    let rx = ring::Sender::from_region(&cfg.rx_queues, QUEUE_CAPACITY);
    let tx = ring::Receiver::from_region(&cfg.tx_queues, QUEUE_CAPACITY);
    let (rx, tx) = match (rx, tx) {
        (Ok(rx), Ok(tx)) => (rx, tx),
        (rx, tx) => {
            for e in [rx.err(), tx.err()].into_iter().flatten() {
                say!(
                    platform,
                    "client queues of session {} ({} / {}): {e}",
                    session_id(k),
                    cfg.rx_queues.name(),
                    cfg.tx_queues.name()
                );
            }
            return Err(SessionError::DeviceFailed);
        }
    };
    let mac = cfg.mac.unwrap_or(engine.mac());
    if let Err(e) = engine.open(k, rx, tx, session, mac) {
        say!(platform, "OPEN of session {} refused: {e}", session_id(k));
        return Err(SessionError::DeviceFailed);
    }
    let (reg, value) = engine.backend().holdoff_register();
    say!(
        platform,
        "session {} open for {client}: {} dataspace(s), MAC {mac}, hold-off {} us ({reg} {value})",
        session_id(k),
        ids.len(),
        dcfg.holdoff_us
    );
    let a = engine.poll();
    perform(engine, a, platform);
    Ok(mac)
}

/// Zeroes a queue region (64 bytes at a time; the region's size is a multiple of that).
fn zero(r: &region::MappedRegion) {
    let zeros = [0u8; 64];
    for off in (0..r.size()).step_by(64) {
        let _ = r.write(off, &zeros[..64.min(r.size() - off)]);
    }
}

/// Carries out the engine's actions; while it reports a backlog, keeps polling (device
/// interrupts stay masked meanwhile).
fn perform<B: Nic, P: Platform, C: RxPool>(engine: &mut Engine<B, P, C>, mut a: Actions, p: &mut P) {
    loop {
        for k in a.notify.iter() {
            p.notify_client(k);
        }
        if a.ack_irq {
            p.irq_ack();
        }
        if !a.more_work {
            return;
        }
        a = engine.poll();
    }
}
