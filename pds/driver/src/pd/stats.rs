//! What the driver reports: the DRIVER_STATS record ([`driver_stats`]), the `stats` line
//! ([`StatsLine`]: nic-api's one printed form of that record, then the driver's own detail
//! counters), and the first translation miss and hit ([`Witnesses`], printed once each, so a
//! boot log shows the cache at work).

use core::fmt;

use nic_api::DriverStats;

use super::session_fsm::Engine;
use super::{say, Manager, Nic, Platform};
use crate::engine::RxPool;
use crate::xlate::CacheXlate;

/// The counters DRIVER_STATS returns to session `k`: its own frames, signals and errors, and
/// the device's interrupts, translations and drops (shared by every session).
pub fn driver_stats<B: Nic, P: Platform, C: RxPool>(engine: &Engine<B, P, C>, k: usize) -> DriverStats {
    let s = engine.stats();
    let x = engine.xlate().stats();
    let e = engine.session_at(k).map(|s| s.errors).unwrap_or_default();
    let c = engine.session_stats(k).unwrap_or_default();
    DriverStats {
        irqs: s.irqs,
        rx_packets: c.rx_packets,
        tx_packets: c.tx_packets,
        notify_sent: c.notify_sent,
        notify_suppressed: c.notify_suppressed,
        xlate_hits: x.reader.hits,
        xlate_misses: x.reader.misses,
        errors: e.rejected()
            + e.queue_corrupt
            + e.returns_dropped
            + s.rx_frame_errors
            + s.tx_errors
            + s.rx_dropped_no_buffer
            + c.rx_dropped_client_full,
    }
}

/// Every open session's counters together, as one DRIVER_STATS record (the `stats` line): the
/// sessions' frames, signals and errors summed, the device's counted once.
fn all_stats<B: Nic, P: Platform, C: RxPool>(engine: &Engine<B, P, C>) -> DriverStats {
    let s = engine.stats();
    let x = engine.xlate().stats();
    let mut all = DriverStats {
        irqs: s.irqs,
        xlate_hits: x.reader.hits,
        xlate_misses: x.reader.misses,
        errors: s.rx_frame_errors + s.tx_errors + s.rx_dropped_no_buffer,
        ..DriverStats::default()
    };
    for k in engine.open_sessions().iter() {
        let (e, c) =
            (engine.session_at(k).map(|s| s.errors).unwrap_or_default(), engine.session_stats(k).unwrap_or_default());
        all.rx_packets += c.rx_packets;
        all.tx_packets += c.tx_packets;
        all.notify_sent += c.notify_sent;
        all.notify_suppressed += c.notify_suppressed;
        all.errors += e.rejected() + e.queue_corrupt + e.returns_dropped + c.rx_dropped_client_full;
    }
    all
}

/// The driver's statistics line: `stats `, the [`DriverStats`] form over the open sessions,
/// then the engine's and the translation adapter's detail counters (tests parse the
/// `key=value` pairs), then ` session<id>: rx=.. tx=.. dropped=..` for each open session of a
/// multi-session driver.
pub struct StatsLine<'a, B: Nic + 'static, P: Platform + 'static, C: RxPool + 'static>(pub &'a Engine<B, P, C>);

impl<B: Nic, P: Platform, C: RxPool> fmt::Display for StatsLine<'_, B, P, C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = self.0.stats();
        let x = self.0.xlate().stats();
        write!(
            f,
            "stats {} client_wakeups={} tx_signal_avoided={} polls={} budget_exhausted={} max_work={} \
             refills={} pin_calls={} unpin_calls={} pinned_pages={} rx_dropped_no_buffer={} \
             rx_dropped_client_full={} rx_returned={} rx_copies={} rx_bytes_copied={} rx_no_session={} \
             tx_orphans={}",
            all_stats(self.0),
            s.client_wakeups,
            s.tx_signal_avoided,
            s.polls,
            s.budget_exhausted,
            s.max_work_per_event,
            x.refill_calls,
            x.pin_calls,
            x.unpin_calls,
            x.pinned_pages,
            s.rx_dropped_no_buffer,
            s.rx_dropped_client_full,
            self.0
                .open_sessions()
                .iter()
                .filter_map(|k| self.0.session_at(k))
                .map(|s| s.errors.rx_returned)
                .sum::<u64>(),
            s.rx_copies,
            s.rx_bytes_copied,
            s.rx_no_session,
            s.tx_orphans
        )?;
        if self.0.pooled() {
            for k in self.0.open_sessions().iter() {
                let c = self.0.session_stats(k).unwrap_or_default();
                write!(
                    f,
                    " session{}: rx={} tx={} dropped={}",
                    super::session_id(k),
                    c.rx_packets,
                    c.tx_packets,
                    c.rx_dropped_client_full
                )?;
            }
        }
        Ok(())
    }
}

/// Which translation witnesses were printed already (each once per driver instance).
#[derive(Clone, Copy, Debug, Default)]
pub struct Witnesses {
    miss: bool,
    hit: bool,
}

impl Witnesses {
    /// Prints the first miss and the first hit, if they happened and were not printed yet.
    pub fn show<P: Platform>(&mut self, x: &CacheXlate<'static, Manager<P>>, p: &P) {
        if !self.miss {
            if let Some(w) = x.first_miss {
                self.miss = true;
                say!(
                    p,
                    "translation miss: dataspace {} page {} not cached; REFILL from the manager gave frame {:#x}",
                    w.ds,
                    w.page,
                    w.frame
                );
            }
        }
        if !self.hit {
            if let Some(w) = x.first_hit.get() {
                self.hit = true;
                say!(
                    p,
                    "translation hit: dataspace {} page {} -> frame {:#x} from the shared cache (no kernel call)",
                    w.ds,
                    w.page,
                    w.frame
                );
            }
        }
    }
}
