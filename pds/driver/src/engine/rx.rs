//! The receive direction: hand the device's receive completions to the client on its active
//! ring (bounded by the budget), and keep the device's receive ring full, from buffers taken
//! back without a frame first and then from the client's free ring.

use super::slots::Posted;
use super::{Driver, MAX_SLOTS};
use crate::backend::NicBackend;
use crate::hw::Translate;
use ring::Desc;

/// What one pass over the receive completions did.
pub(super) struct RxRound {
    /// Packets handled (counted against the budget).
    pub(super) work: u64,
    /// At least one frame was published to the client.
    pub(super) delivered: bool,
    /// A completed frame was left for the next round: the budget ran out.
    pub(super) backlog: bool,
}

impl<B: NicBackend, T: Translate> Driver<'_, B, T> {
    /// Moves completed frames to the client's receive queue, at most `budget` of them. A bad
    /// frame, or one the full client queue cannot take, leaves its buffer as a spare.
    pub(super) fn deliver_rx_completions(&mut self, budget: u64) -> RxRound {
        let mut round = RxRound { work: 0, delivered: false, backlog: false };
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
            match self.rx.active.enqueue(out) {
                Ok(()) => {
                    self.stats.rx_packets += 1;
                    self.stats.rx_bytes += u64::from(done.len);
                    round.delivered = true;
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
    /// buffers (validated, translated and pinned). Returns how many were posted; the caller
    /// kicks the device.
    pub(super) fn refill_rx(&mut self) -> u16 {
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
            match self.session.check_rx(&d).and_then(|len| self.map(&d, len).map(|m| (m, len))) {
                Ok(((phys, first_page, pages), len)) => {
                    let slot = self.rxr.push(Posted { desc: d, first_page, pages });
                    self.backend.rx_post(slot, phys, len);
                    posted += 1;
                }
                Err(e) => self.session.errors.count(&e),
            }
        }
        posted
    }

    /// After a round that used up its budget: does a completed frame already wait in the
    /// next slot (more receive work than the budget allowed)?
    pub(super) fn rx_frame_waiting(&mut self, budget_spent: bool) -> bool {
        self.rxr.count > 0 && budget_spent && self.backend.rx_poll(self.rxr.head).is_some()
    }
}
