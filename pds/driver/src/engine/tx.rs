//! The transmit direction: reap the device's transmit completions (unpin, count, return each
//! buffer on its session's free ring), and take the clients' queued frames onto the device's
//! transmit ring round-robin: every session with work gets an equal share of what is left of
//! the budget, the first served rotating each round, so a client that floods cannot starve
//! another; bounded by ring space.

use super::client::Client;
use super::slots::Posted;
use super::{Driver, RxPool, SessionSet, MAX_SESSIONS, MAX_SLOTS};
use crate::backend::NicBackend;
use crate::hw::Translate;
use ring::Desc;

/// What one pass over the clients' transmit queues did.
pub(super) struct TxRound {
    /// Frames dequeued from clients (counted against the budget).
    pub(super) work: u64,
    /// Frames handed to the device; the caller kicks it.
    pub(super) posted: u16,
    /// Sessions a refused buffer was published back to.
    pub(super) returned: SessionSet,
    /// Client work was left for the next round: stopped by the budget, not by ring space.
    pub(super) backlog: bool,
}

impl<B: NicBackend, T: Translate, C: RxPool> Driver<'_, B, T, C> {
    /// Takes every transmission the device has finished off its ring and gives the buffers
    /// back to their sessions. Not bounded by the budget: it is cheap and frees ring space.
    /// Returns the sessions a buffer was published to. A buffer of a session that has closed
    /// since is only unpinned (an orphan).
    pub(super) fn reap_tx_completions(&mut self) -> SessionSet {
        let mut returned = SessionSet::EMPTY;
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
            let k = usize::from(p.session);
            match self.clients.get_mut(k).and_then(Option::as_mut).filter(|c| c.generation == p.generation) {
                Some(c) => {
                    if done.ok {
                        c.stats.tx_packets += 1;
                        c.stats.tx_bytes += u64::from(p.desc.len);
                    }
                    if return_tx(c, p.desc) {
                        returned = returned.with(k);
                    }
                }
                None => self.stats.tx_orphans += 1,
            }
        }
        returned
    }

    /// Moves the clients' queued frames onto the device's transmit ring, at most `left` in all
    /// and no more than the ring has room for, shared out round-robin. A refused frame goes
    /// straight back to its client with `len = 0`. Only the last descriptor of the batch asks
    /// for a completion interrupt.
    pub(super) fn take_client_tx(&mut self, mut left: u64) -> TxRound {
        let mut round = TxRound { work: 0, posted: 0, returned: SessionSet::EMPTY, backlog: false };
        let mut avail = [0u64; MAX_SESSIONS];
        for (k, c) in self.clients.iter_mut().enumerate() {
            let Some(c) = c else { continue };
            match c.tx.active.available() {
                Ok(n) => avail[k] = u64::from(n),
                Err(_) => c.session.errors.queue_corrupt += 1,
            }
        }
        let busy = avail.iter().filter(|&&n| n > 0).count() as u64;
        if busy == 0 || left == 0 {
            round.backlog = busy > 0;
            return round;
        }
        let quota = (left / busy).max(1);
        let mut room = u64::from(self.txr.space());
        let mut pending = [(0u16, 0u64, 0u32); MAX_SLOTS];
        let mut npending = 0;
        let first = self.tx_cursor;
        self.tx_cursor = (self.tx_cursor + 1) % MAX_SESSIONS;
        for i in 0..MAX_SESSIONS {
            let k = (first + i) % MAX_SESSIONS;
            if avail[k] == 0 {
                continue;
            }
            let take = avail[k].min(quota).min(room).min(left);
            if avail[k] > take && take < room {
                round.backlog = true; // stopped by its share of the budget, not by ring space
            }
            for _ in 0..take {
                let Some(c) = self.clients[k].as_mut() else { break };
                let generation = c.generation;
                let d = match c.tx.active.dequeue() {
                    Ok(Some(d)) => d,
                    Ok(None) => break,
                    Err(_) => {
                        c.session.errors.queue_corrupt += 1;
                        break;
                    }
                };
                round.work += 1;
                left -= 1;
                let checked = c.session.check_tx(&d);
                match checked.and_then(|len| self.map(&d, len)) {
                    Ok((phys, first_page, pages)) => {
                        let slot = self.txr.push(Posted { desc: d, first_page, pages, session: k as u8, generation });
                        pending[npending] = (slot, phys, d.len);
                        npending += 1;
                        room -= 1;
                    }
                    Err(e) => {
                        let Some(c) = self.clients[k].as_mut() else { break };
                        c.session.errors.count(&e);
                        if return_tx(c, Desc { len: 0, ..d }) {
                            round.returned = round.returned.with(k);
                        }
                    }
                }
            }
        }
        // Interrupt on the last descriptor of the batch only: one completion interrupt per
        // batch, further coalesced by the hold-off timer.
        for (i, &(slot, phys, len)) in pending[..npending].iter().enumerate() {
            self.backend.tx_post(slot, phys, len, i + 1 == npending);
        }
        round.posted = npending as u16;
        round
    }
}

/// Gives a transmit buffer back to its client; true if it was published.
fn return_tx(c: &mut Client<'_>, d: Desc) -> bool {
    match c.tx.free.enqueue(d) {
        Ok(()) => true,
        Err(ring::EnqueueError::Full) => {
            c.session.errors.returns_dropped += 1;
            false
        }
        Err(ring::EnqueueError::Peer(_)) => {
            c.session.errors.queue_corrupt += 1;
            false
        }
    }
}
