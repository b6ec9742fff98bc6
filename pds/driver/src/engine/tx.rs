//! The transmit direction: reap the device's transmit completions (unpin, count, return the
//! buffer on the client's free ring), and take the client's queued frames onto the device's
//! transmit ring, bounded by what is left of the budget and by ring space.

use super::slots::Posted;
use super::Driver;
use crate::backend::NicBackend;
use crate::hw::Translate;
use ring::Desc;

/// What one pass over the client's transmit queue did.
pub(super) struct TxRound {
    /// Frames dequeued from the client (counted against the budget).
    pub(super) work: u64,
    /// Frames handed to the device; the caller kicks it.
    pub(super) posted: u16,
    /// At least one refused buffer was published back to the client.
    pub(super) returned: bool,
    /// Client work was left for the next round: stopped by the budget, not by ring space.
    pub(super) backlog: bool,
}

impl<B: NicBackend, T: Translate> Driver<'_, B, T> {
    /// Takes every transmission the device has finished off its ring and gives the buffers
    /// back to the client. Not bounded by the budget: it is cheap and frees ring space.
    /// Returns true if a buffer was published.
    pub(super) fn reap_tx_completions(&mut self) -> bool {
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
        returned
    }

    /// Moves the client's queued frames onto the device's transmit ring, at most `left` of
    /// them and no more than the ring has room for. A refused frame goes straight back to
    /// the client with `len = 0`.
    pub(super) fn take_client_tx(&mut self, left: u64) -> TxRound {
        let mut round = TxRound { work: 0, posted: 0, returned: false, backlog: false };
        let avail = match self.tx.active.available() {
            Ok(n) => u64::from(n),
            Err(_) => {
                self.session.errors.queue_corrupt += 1;
                0
            }
        };
        let room = u64::from(self.txr.space());
        let take = avail.min(room).min(left);
        if avail > take && take < room {
            round.backlog = true; // stopped by the budget, not by ring space
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
            round.work += 1;
            match self.session.check_tx(&d).and_then(|len| self.map(&d, len)) {
                Ok((phys, first_page, pages)) => {
                    let slot = self.txr.push(Posted { desc: d, first_page, pages });
                    // Interrupt on the last descriptor of the batch only: one completion
                    // interrupt per batch, further coalesced by the hold-off timer.
                    self.backend.tx_post(slot, phys, d.len, i + 1 == take);
                    round.posted += 1;
                }
                Err(e) => {
                    self.session.errors.count(&e);
                    round.returned |= self.return_tx(Desc { len: 0, ..d });
                }
            }
        }
        round
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
}
