//! The end of a round: tell the device about new descriptors, publish to the client with a
//! signal only where it asked for one (suppressed notification), and, before blocking, ask
//! for signals only where one is needed and decide whether device interrupts stay masked.

use super::Driver;
use crate::backend::NicBackend;
use crate::hw::Translate;

impl<B: NicBackend, T: Translate> Driver<'_, B, T> {
    /// Moves the device's ring tails past what this round posted (transmit first).
    pub(super) fn kick_device(&mut self, posted_tx: u16, posted_rx: u16) {
        if posted_tx > 0 {
            self.backend.tx_kick(self.txr.tail);
        }
        if posted_rx > 0 {
            self.backend.rx_kick(self.rxr.tail);
        }
    }

    /// Publishes delivered frames and returned transmit buffers; true if the client must be
    /// signalled.
    pub(super) fn publish(&mut self, delivered: bool, returned: bool) -> bool {
        let mut notify = false;
        if delivered {
            notify |= self.producer_signal(true);
        }
        if returned {
            notify |= self.producer_signal(false);
        }
        notify
    }

    fn producer_signal(&mut self, rx: bool) -> bool {
        let wanted = if rx { self.rx.active.signal_needed() } else { self.tx.free.signal_needed() };
        if wanted {
            self.stats.notify_sent += 1;
        } else {
            self.stats.notify_suppressed += 1;
        }
        wanted
    }

    /// About to block: asks the client for a signal on the free receive ring and the active
    /// transmit ring only where nothing else will wake the driver, with the re-check. Returns
    /// true if work arrived meanwhile (do not block).
    pub(super) fn prepare_to_block(&mut self) -> bool {
        let mut more = false;
        if self.rxr.space() > 0 && !self.rx_refill_deferred {
            match self.rx.free.prepare_to_block() {
                Ok(true) => {}
                Ok(false) => more = true, // buffers arrived meanwhile
                Err(_) => self.session.errors.queue_corrupt += 1,
            }
        } else {
            // Ring full of buffers: interrupts will wake us; the client need not signal. Or
            // the last buffer could not be pinned: retry at the next interrupt or transmit,
            // not at the client's immediate repost of the buffer we just returned.
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
