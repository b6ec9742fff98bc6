//! Direct receive (one session, zero copies): hand the device's receive completions to the
//! client on its active ring (bounded by the budget), and keep the device's receive ring full
//! of the client's own buffers, from buffers taken back without a frame first and then from
//! the client's free ring, at most one ring's worth per event; a buffer that cannot be pinned
//! through no fault of the client goes back to it.

use super::slots::Posted;
use super::{Driver, RxPool, SessionSet, MAX_SLOTS};
use crate::backend::NicBackend;
use crate::hw::Translate;
use crate::session::BufError;
use ring::Desc;

/// What one refill of the receive ring did.
pub(super) struct RxRefill {
    /// Buffers posted to the device; the caller kicks it.
    pub(super) posted: u16,
    /// At least one buffer went back to the client (`len = 0`) on the receive queue.
    pub(super) returned: bool,
}

/// What one pass over the receive completions did.
pub(super) struct RxRound {
    /// Packets handled (counted against the budget).
    pub(super) work: u64,
    /// The sessions a frame was published to.
    pub(super) delivered: SessionSet,
    /// A completed frame was left for the next round: the budget ran out.
    pub(super) backlog: bool,
}

impl<B: NicBackend, T: Translate, C: RxPool> Driver<'_, B, T, C> {
    /// Moves completed frames to the client's receive queue, at most `budget` of them. A bad
    /// frame, or one the full client queue cannot take, leaves its buffer as a spare.
    pub(super) fn deliver_rx_completions(&mut self, budget: u64) -> RxRound {
        let mut round = RxRound { work: 0, delivered: SessionSet::EMPTY, backlog: false };
        let Some(k) = self.direct_session() else { return round };
        while self.rxr.count > 0 {
            let Some(done) = self.backend.rx_poll(self.rxr.head) else {
                break;
            };
            if round.work >= budget {
                round.backlog = true;
                break;
            }
            round.work += 1;
            self.backend.rx_clear(self.rxr.head);
            let Some(p) = self.rxr.pop() else { continue };
            self.unpin(&p);
            if !done.ok || done.len == 0 || done.len > p.desc.len {
                self.stats.rx_frame_errors += 1;
                self.keep_spare(p.desc);
                continue;
            }
            let out = Desc { len: done.len, ..p.desc };
            let Some(c) = self.clients[k].as_mut() else { break };
            match c.rx.active.enqueue(out) {
                Ok(()) => {
                    c.stats.rx_packets += 1;
                    c.stats.rx_bytes += u64::from(done.len);
                    self.stats.rx_packets += 1;
                    self.stats.rx_bytes += u64::from(done.len);
                    round.delivered = round.delivered.with(k);
                }
                Err(ring::EnqueueError::Full) => {
                    c.stats.rx_dropped_client_full += 1;
                    self.stats.rx_dropped_client_full += 1;
                    self.keep_spare(p.desc);
                }
                Err(ring::EnqueueError::Peer(_)) => {
                    c.session.errors.queue_corrupt += 1;
                    self.keep_spare(p.desc);
                }
            }
        }
        round
    }

    /// Keeps a receive buffer taken back without a frame for the client, to post it again.
    fn keep_spare(&mut self, d: Desc) {
        // At most one spare per ring slot, so this never overflows; guard anyway.
        if self.nspare < MAX_SLOTS {
            self.spare[self.nspare] = d;
            self.nspare += 1;
        }
    }

    /// Posts receive buffers while the ring has room: spares first, then the client's free
    /// buffers (validated, translated and pinned). The caller kicks the device if any were
    /// posted and publishes to the client if any were returned.
    ///
    /// Bounded per event: at most one ring's worth (`rx_slots`) of buffers is examined, however
    /// many refused ones the client keeps queueing. A buffer refused for a reason that is not
    /// the client's fault (pin quota, a refusal of the manager's own, the manager unreachable)
    /// goes back to the client with `len = 0` (counted in `rx_returned`), like a refused
    /// transmit buffer, and ends the refill for this event: the reason will not have passed
    /// for the next buffer, and the driver does not ask for a signal on the free ring (see
    /// `prepare_to_block`), so a client that reposts at once causes no signal ping-pong; the
    /// next interrupt or client transmit retries.
    pub(super) fn refill_rx(&mut self) -> RxRefill {
        let mut out = RxRefill { posted: 0, returned: false };
        self.rx_refill_deferred = false;
        let Some(k) = self.direct_session() else { return out };
        let generation = self.clients[k].as_ref().map_or(0, |c| c.generation);
        for _ in 0..self.cfg.rx_slots {
            if self.rxr.space() == 0 {
                break;
            }
            let d = if self.nspare > 0 {
                self.nspare -= 1;
                self.spare[self.nspare]
            } else {
                let Some(c) = self.clients[k].as_mut() else { break };
                match c.rx.free.dequeue() {
                    Ok(Some(d)) => d,
                    Ok(None) => break,
                    Err(_) => {
                        c.session.errors.queue_corrupt += 1;
                        break;
                    }
                }
            };
            let checked = match self.clients[k].as_ref() {
                Some(c) => c.session.check_rx(&d),
                None => break,
            };
            match checked.and_then(|len| self.map(&d, len).map(|m| (m, len))) {
                Ok(((phys, first_page, pages), len)) => {
                    let slot = self.rxr.push(Posted { desc: d, first_page, pages, session: k as u8, generation });
                    self.backend.rx_post(slot, phys, len);
                    out.posted += 1;
                }
                Err(BufError::Xlate(e)) if !e.is_client_fault() => {
                    out.returned |= self.return_rx(k, d);
                    self.rx_refill_deferred = true;
                    break;
                }
                Err(e) => {
                    if let Some(c) = self.clients[k].as_mut() {
                        c.session.errors.count(&e);
                    }
                }
            }
        }
        out
    }

    /// Hands a receive buffer the driver could not post back to the client, empty; true if it
    /// was published. A full receive queue keeps it as a spare for the next event.
    fn return_rx(&mut self, k: usize, d: Desc) -> bool {
        let Some(c) = self.clients[k].as_mut() else { return false };
        match c.rx.active.enqueue(Desc { len: 0, ..d }) {
            Ok(()) => {
                c.session.errors.rx_returned += 1;
                true
            }
            Err(ring::EnqueueError::Full) => {
                self.keep_spare(d);
                false
            }
            Err(ring::EnqueueError::Peer(_)) => {
                c.session.errors.queue_corrupt += 1;
                false
            }
        }
    }

    /// After a round that used up its budget: does a completed frame already wait in the
    /// next slot (more receive work than the budget allowed)?
    pub(super) fn rx_frame_waiting(&mut self, budget_spent: bool) -> bool {
        self.rxr.count > 0 && budget_spent && self.backend.rx_poll(self.rxr.head).is_some()
    }
}
