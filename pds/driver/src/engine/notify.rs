//! The end of a round: tell the device about new descriptors, publish to each client with a
//! signal only where it asked for one (suppressed notification), and, before blocking, ask
//! for signals only where one is needed and decide whether device interrupts stay masked.

use super::{Driver, RxPool, SessionSet};
use crate::backend::NicBackend;
use crate::hw::Translate;

/// What a round published, per session.
#[derive(Clone, Copy, Default)]
pub(super) struct News {
    /// Sessions given frames (or empty receive buffers back).
    pub(super) rx: SessionSet,
    /// Sessions given transmit buffers back.
    pub(super) tx: SessionSet,
}

impl<B: NicBackend, T: Translate, C: RxPool> Driver<'_, B, T, C> {
    /// Moves the device's ring tails past what this round posted (transmit first).
    pub(super) fn kick_device(&mut self, posted_tx: u16, posted_rx: u16) {
        if posted_tx > 0 {
            self.backend.tx_kick(self.txr.tail);
        }
        if posted_rx > 0 {
            self.backend.rx_kick(self.rxr.tail);
        }
    }

    /// Publishes delivered frames and returned transmit buffers; the sessions that must be
    /// signalled.
    pub(super) fn publish(&mut self, news: News) -> SessionSet {
        let mut notify = SessionSet::EMPTY;
        for (k, c) in self.clients.iter_mut().enumerate() {
            let Some(c) = c else { continue };
            let mut wanted = false;
            let mut published = false;
            if news.rx.contains(k) {
                wanted |= c.rx.active.signal_needed();
                published = true;
            }
            if news.tx.contains(k) {
                wanted |= c.tx.free.signal_needed();
                published = true;
            }
            if !published {
                continue;
            }
            if wanted {
                c.stats.notify_sent += 1;
                self.stats.notify_sent += 1;
                notify = notify.with(k);
            } else {
                c.stats.notify_suppressed += 1;
                self.stats.notify_suppressed += 1;
            }
        }
        notify
    }

    /// About to block: asks the clients for a signal on their free receive rings and active
    /// transmit rings only where nothing else will wake the driver, with the re-check. Returns
    /// true if work arrived meanwhile (do not block).
    pub(super) fn prepare_to_block(&mut self) -> bool {
        let mut more = false;
        // Direct mode needs a signal when free buffers arrive while its ring has room (and the
        // last refill was not deferred); pooled mode never does: client buffers are taken
        // when a frame arrives, and the pool buffers never leave the ring.
        let want_rx_free = !self.pooled && self.rxr.space() > 0 && !self.rx_refill_deferred;
        let tx_idle = self.txr.count == 0;
        for c in self.clients.iter_mut().flatten() {
            if want_rx_free {
                match c.rx.free.prepare_to_block() {
                    Ok(true) => {}
                    Ok(false) => more = true, // buffers arrived meanwhile
                    Err(_) => c.session.errors.queue_corrupt += 1,
                }
            } else {
                // Ring full of buffers: interrupts will wake us; the client need not signal. Or
                // the last buffer could not be pinned: retry at the next interrupt or transmit,
                // not at the client's immediate repost of the buffer we just returned.
                c.rx.free.cancel_signal();
            }
            if tx_idle {
                match c.tx.active.prepare_to_block() {
                    Ok(true) => {}
                    Ok(false) => more = true,
                    Err(_) => c.session.errors.queue_corrupt += 1,
                }
            } else {
                // Notification avoidance: the tx-complete interrupt will wake us, so a busy
                // client can enqueue without any kernel call.
                c.tx.active.cancel_signal();
            }
        }
        if !tx_idle {
            self.stats.tx_signal_avoided += 1;
        }
        more
    }

    /// Keeps device interrupts masked while a backlog remains (the PD polls), unmasks them
    /// when the driver is about to block.
    pub(super) fn set_irq_mask(&mut self, more: bool, budget_spent: bool) {
        if more {
            self.stats.budget_exhausted += u64::from(budget_spent);
            if !self.irq_masked {
                self.backend.irq_mask();
                self.irq_masked = true;
            }
        } else if self.irq_masked {
            self.backend.irq_unmask();
            self.irq_masked = false;
        }
    }
}
