//! The session state machine: Idle (device reset, no client buffer) -> OPEN -> Open (engine
//! running) -> CLOSE -> Idle, or Broken when start-up or a transition lost the device.
//!
//! * OPEN asks the manager to ATTACH each named dataspace for the client (the manager checks
//!   the client shares it); if any attach, the session check, the queue regions or the device
//!   fail, everything attached so far is detached again and the driver stays Idle. Then it
//!   brings the device up and replies with the session id and the MAC.
//! * CLOSE resets the device, prints the statistics, unpins and detaches.
//! * DRIVER_STATS prints and returns the counters.
//!
//! Recovery (DESIGN.md section 4): the driver serves one client, so an OPEN while its session
//! is open means the client was restarted (its old instance never closed): the old session is
//! dropped as CLOSE would (device reset, unpinned, detached) and the new OPEN served. The
//! monitor's notice that the client faulted ([`DriverPd::client_faulted`]) drops it too. Either
//! may come first: a re-OPEN leaves one notice owed, which the late notice then pays instead of
//! dropping the new instance's session. OPEN zeroes both queue regions before the driver lays
//! its ends over them, so the client (which lays its own after OPEN returns) and the driver
//! start from the same clean state however the old session ended. If the manager is stopped
//! (its calls are refused with `Refusal::STOPPED`), the driver says once that networking
//! stopped, resets its device and refuses every session from then on.
//!
//! Notifications run the engine while a session is open; its `Actions` say whether to signal
//! the client and ack the IRQ, and `more_work` keeps it polling (device interrupts stay masked)
//! until the backlog is gone.

use dataspace_api::DsId;
use message::{Message, Refusal};
use nic_api::{SessionError, SessionReply, SessionRequest, MAX_SESSION_DATASPACES, QUEUE_CAPACITY};

use super::start::{quiesce, Parts, Settings};
use super::stats::{driver_stats, StatsLine, Witnesses};
use super::{say, Nic, Platform, Xlate, NO_CLIENT, SESSION_ID};
use crate::engine::{Actions, Config, Driver};
use crate::session::Session;

/// The engine the PD runs for an open session.
pub type Engine<B, P> = Driver<'static, B, Xlate<P>>;

/// Where the driver is in its session's life. Large (the engine's tables): it lives in a
/// static the PD binary provides, and transitions move it on the stack.
#[allow(clippy::large_enum_variant)]
pub enum State<B: Nic, P: Platform> {
    /// No session: the device is untouched (or reset) and holds no client buffer.
    Idle(B, Xlate<P>),
    /// A session is open.
    Open(Engine<B, P>),
    /// Start-up failed or a transition lost the device (the reason was printed).
    Broken,
}

/// The driver PD: its state, its queues and its platform.
pub struct DriverPd<B: Nic + 'static, P: Platform + 'static> {
    state: &'static mut State<B, P>,
    queues: Option<(region::MappedRegion, region::MappedRegion)>,
    client: dataspace_api::PdId,
    cfg: Config,
    platform: P,
    witnesses: Witnesses,
    every: u64,
    next_stats_irq: u64,
    /// Fault notices owed by clients whose new instance re-OPENed before the notice came.
    owed_notices: u32,
    /// Networking stopped because the manager did (said once).
    manager_stopped: bool,
}

impl<B: Nic + 'static, P: Platform + 'static> DriverPd<B, P> {
    /// The driver over `parts` (`None`: start-up failed, every session is refused), after the
    /// start-up quiesce; `place` puts the state where it lives (a static in the PD).
    pub fn new(
        parts: Option<Parts<B, P>>,
        settings: &Settings,
        mut platform: P,
        place: impl FnOnce(State<B, P>) -> &'static mut State<B, P>,
    ) -> Self {
        let (state, queues, client, cfg) = match parts {
            Some(p) => {
                let state = quiesce(p.nic, p.xlate, p.cfg, settings, &mut platform);
                (state, Some((p.rx_queues, p.tx_queues)), p.client, p.cfg)
            }
            None => (State::Broken, None, NO_CLIENT, Config::default()),
        };
        Self {
            state: place(state),
            queues,
            client,
            cfg,
            platform,
            witnesses: Witnesses::default(),
            every: settings.stats_every_irqs,
            next_stats_irq: settings.stats_every_irqs,
            owed_notices: 0,
            manager_stopped: false,
        }
    }

    /// The receive ring as a buffer pool (for the monitor's `status`): usable slots, slots
    /// without a buffer, buffers the device holds.
    pub fn rx_pool(&self) -> (u32, u32, u32) {
        let size = u32::from(self.cfg.rx_slots.saturating_sub(1));
        let posted = match &*self.state {
            State::Open(engine) => u32::from(engine.rx_posted()),
            _ => 0,
        };
        (size, size.saturating_sub(posted), posted)
    }

    /// The monitor's notice that the client faulted: drop its session (unless a re-OPEN of its
    /// new instance already did, see the module docs).
    pub fn client_faulted(&mut self) {
        if self.owed_notices > 0 {
            self.owed_notices -= 1;
            say!(self.platform, "the client's fault notice: its session was already replaced by its new instance");
            return;
        }
        if matches!(self.state, State::Open(_)) {
            say!(self.platform, "the client faulted (monitor's notice); dropping its session");
            let _ = self.end_session(SESSION_ID);
        }
    }

    /// After every event: if the manager turned out to be stopped, stop networking once.
    #[inline(never)]
    fn check_manager(&mut self) {
        let stopped = match &mut *self.state {
            State::Open(engine) => engine.xlate_mut().link_mut().stopped(),
            State::Idle(_, xlate) => xlate.link_mut().stopped(),
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
        match core::mem::replace(self.state, State::Broken) {
            State::Open(engine) => {
                let _ = engine.shutdown();
            }
            State::Idle(mut nic, _) => nic.irq_mask(),
            State::Broken => {}
        }
    }

    /// The client queue regions (`rx_queues`, `tx_queues`), for host tests that play the client.
    #[cfg(test)]
    pub(crate) fn queue_regions(&self) -> Option<&(region::MappedRegion, region::MappedRegion)> {
        self.queues.as_ref()
    }

    /// The state (for tests and diagnostics).
    pub fn state(&self) -> &State<B, P> {
        self.state
    }

    /// The IRQ (`irq`) and/or the client (`client`) signalled.
    pub fn notified(&mut self, irq: bool, client: bool) {
        match &mut *self.state {
            State::Open(engine) => {
                if irq {
                    let a = engine.on_irq();
                    perform(engine, a, &mut self.platform);
                }
                if client {
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
            // No session: the device has interrupts masked; ack anything on the line.
            _ if irq => self.platform.irq_ack(),
            _ => {}
        }
        self.check_manager();
        self.show_witnesses();
    }

    /// A PPC from the client.
    pub fn protected(&mut self, msg: &Message) -> Result<Message, Refusal> {
        let request = SessionRequest::decode(msg).map_err(|e| {
            say!(self.platform, "bad session request: {e}");
            Refusal::BAD_MESSAGE
        })?;
        let reply = match request {
            SessionRequest::Open(list) => {
                if matches!(self.state, State::Open(_)) {
                    self.replace_session();
                }
                self.open(list.ids())
            }
            SessionRequest::Close { session } => self.close(session),
            SessionRequest::Stats => match &*self.state {
                State::Open(engine) => {
                    say!(self.platform, "{}", StatsLine(engine));
                    Ok(SessionReply::Stats(driver_stats(engine)))
                }
                _ => Err(SessionError::UnknownSession),
            },
        };
        self.check_manager();
        self.show_witnesses();
        Ok(SessionReply::encode(&reply))
    }

    fn show_witnesses(&mut self) {
        if let State::Open(engine) = &*self.state {
            self.witnesses.show(engine.xlate(), &self.platform);
        }
    }

    /// An OPEN while the session is open: the client was restarted (see the module docs).
    // Never inlined, like every transition that moves the (large) state: their frames then
    // follow one another on the stack instead of adding up in the caller's.
    #[inline(never)]
    fn replace_session(&mut self) {
        say!(
            self.platform,
            "OPEN while session {SESSION_ID} is open: the client was restarted; dropping its old session"
        );
        self.owed_notices = self.owed_notices.saturating_add(1);
        let _ = self.end_session(SESSION_ID);
    }

    #[inline(never)]
    fn open(&mut self, ids: &[DsId]) -> Result<SessionReply, SessionError> {
        let (nic, xlate) = match core::mem::replace(self.state, State::Broken) {
            State::Idle(nic, xlate) => (nic, xlate),
            other => {
                let err = match other {
                    State::Open(_) => SessionError::NoFreeSession,
                    _ => SessionError::DeviceFailed,
                };
                *self.state = other;
                return Err(err);
            }
        };
        match self.bring_up(nic, xlate, ids) {
            Ok(engine) => {
                *self.state = State::Open(engine);
                Ok(SessionReply::Opened { session: SESSION_ID, mac: self.mac() })
            }
            Err((e, nic, mut xlate)) => {
                // Roll back: nothing stays attached for a session that did not open.
                let _ = xlate.detach_all(self.client);
                *self.state = State::Idle(nic, xlate);
                Err(e)
            }
        }
    }

    fn mac(&self) -> nic_api::MacAddr {
        match &*self.state {
            State::Open(engine) => engine.mac(),
            _ => nic_api::MacAddr::default(),
        }
    }

    /// Attaches the dataspaces, builds the session and the queue ends and starts the engine;
    /// on failure hands the backend and the adapter back (with what was attached).
    // The error hands the backend and the adapter back by value, as `Driver::try_new` does:
    // there is no allocator to box them, and this runs once per OPEN.
    #[allow(clippy::type_complexity, clippy::result_large_err)]
    fn bring_up(
        &mut self,
        nic: B,
        mut xlate: Xlate<P>,
        ids: &[DsId],
    ) -> Result<Engine<B, P>, (SessionError, B, Xlate<P>)> {
        let mut spaces = [(0u32, 0u64); MAX_SESSION_DATASPACES];
        for (i, &ds) in ids.iter().enumerate() {
            match xlate.attach(self.client, ds) {
                Ok(at) => spaces[i] = (ds.0, at.size()),
                Err(e) => {
                    say!(self.platform, "OPEN refused: {ds}: {e}");
                    return Err((e, nic, xlate));
                }
            }
        }
        let session = Session::new(&spaces[..ids.len()]).map_err(|e| say!(self.platform, "OPEN refused: {e}"));
        let queues = self.queues.as_ref().map(|(rx, tx)| {
            // A clean state both sides agree on (see the module docs).
            zero(rx);
            zero(tx);
            (ring::Sender::from_region(rx, QUEUE_CAPACITY), ring::Receiver::from_region(tx, QUEUE_CAPACITY))
        });
        let (session, rx, tx) = match (session, queues) {
            (Ok(s), Some((Ok(rx), Ok(tx)))) => (s, rx, tx),
            (_, queues) => {
                if let Some((rx, tx)) = queues {
                    for e in [rx.err(), tx.err()].into_iter().flatten() {
                        say!(self.platform, "client queues (rx_queues/tx_queues): {e}");
                    }
                }
                return Err((SessionError::DeviceFailed, nic, xlate));
            }
        };
        match Driver::try_new(nic, xlate, rx, tx, session, self.cfg) {
            Ok(mut engine) => {
                let (reg, value) = engine.backend().holdoff_register();
                say!(
                    self.platform,
                    "session {SESSION_ID} open for {}: {} dataspace(s), MAC {}, hold-off {} us ({reg} {value})",
                    self.client,
                    ids.len(),
                    engine.mac(),
                    self.cfg.holdoff_us
                );
                let a = engine.poll();
                perform(&mut engine, a, &mut self.platform);
                Ok(engine)
            }
            Err((e, nic, x)) => {
                say!(self.platform, "cannot bring the device up: {e}");
                Err((SessionError::DeviceFailed, nic, x))
            }
        }
    }

    #[inline(never)]
    fn close(&mut self, session: u32) -> Result<SessionReply, SessionError> {
        if session != SESSION_ID || !matches!(self.state, State::Open(_)) {
            return Err(SessionError::UnknownSession);
        }
        self.end_session(session)
    }

    /// Ends the open session: device reset, statistics printed, unpinned, detached.
    #[inline(never)]
    fn end_session(&mut self, session: u32) -> Result<SessionReply, SessionError> {
        let State::Open(engine) = core::mem::replace(self.state, State::Broken) else {
            return Err(SessionError::UnknownSession);
        };
        let p = &self.platform;
        say!(p, "{}", StatsLine(&engine));
        let (nic, mut xlate, _, reset) = engine.shutdown();
        if let Err(e) = reset {
            say!(p, "device reset at close failed ({e}); its pages stay pinned");
        }
        let detached = xlate.detach_all(self.client);
        say!(
            p,
            "session {session} closed: device reset, {} pin calls / {} unpin calls in all, dataspaces {}",
            xlate.stats().pin_calls,
            xlate.stats().unpin_calls,
            if detached.is_ok() { "detached" } else { "NOT detached (pages still pinned)" }
        );
        *self.state = State::Idle(nic, xlate);
        detached.map(|()| SessionReply::Closed)
    }
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
fn perform<B: Nic, P: Platform>(engine: &mut Engine<B, P>, mut a: Actions, p: &mut P) {
    loop {
        if a.notify_client {
            p.notify_client();
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
