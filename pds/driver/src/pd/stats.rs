//! What the driver reports: the DRIVER_STATS record ([`driver_stats`]), the `stats` line
//! ([`StatsLine`]: nic-api's one printed form of that record, then the driver's own detail
//! counters), and the first translation miss and hit ([`Witnesses`], printed once each, so a
//! boot log shows the cache at work).

use core::fmt;

use nic_api::DriverStats;

use super::session_fsm::Engine;
use super::{say, Manager, Nic, Platform};
use crate::xlate::CacheXlate;

/// The counters DRIVER_STATS returns.
pub fn driver_stats<B: Nic, P: Platform>(engine: &Engine<B, P>) -> DriverStats {
    let s = engine.stats();
    let x = engine.xlate().stats();
    let e = engine.session().errors;
    DriverStats {
        irqs: s.irqs,
        rx_packets: s.rx_packets,
        tx_packets: s.tx_packets,
        notify_sent: s.notify_sent,
        notify_suppressed: s.notify_suppressed,
        xlate_hits: x.reader.hits,
        xlate_misses: x.reader.misses,
        errors: e.rejected()
            + e.queue_corrupt
            + e.returns_dropped
            + s.rx_frame_errors
            + s.tx_errors
            + s.rx_dropped_no_buffer
            + s.rx_dropped_client_full,
    }
}

/// The driver's statistics line: `stats `, the [`DriverStats`] form, then the engine's and the
/// translation adapter's detail counters (tests parse the `key=value` pairs).
pub struct StatsLine<'a, B: Nic + 'static, P: Platform + 'static>(pub &'a Engine<B, P>);

impl<B: Nic, P: Platform> fmt::Display for StatsLine<'_, B, P> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = self.0.stats();
        let x = self.0.xlate().stats();
        write!(
            f,
            "stats {} client_wakeups={} tx_signal_avoided={} polls={} budget_exhausted={} max_work={} \
             refills={} pin_calls={} unpin_calls={} pinned_pages={} rx_dropped_no_buffer={} \
             rx_dropped_client_full={} rx_returned={}",
            driver_stats(self.0),
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
            self.0.session().errors.rx_returned
        )
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
