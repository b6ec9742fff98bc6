//! The driver's counters as DRIVER_STATS returns them, and their one printed form: the driver's
//! `stats` line and a client's `driver stats` line both print them through this `Display`, so
//! each counter has one key name everywhere (tests parse the `key=value` pairs).

use core::fmt;

/// The driver's counters (the DRIVER_STATS reply: 8 words in field order).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DriverStats {
    /// Interrupt events handled.
    pub irqs: u64,
    /// Frames delivered to the client.
    pub rx_packets: u64,
    /// Frames the device sent for the client.
    pub tx_packets: u64,
    /// Signals sent to the client.
    pub notify_sent: u64,
    /// Publications to the client that needed no signal.
    pub notify_suppressed: u64,
    /// Translation-cache lookups answered without the manager.
    pub xlate_hits: u64,
    /// Translation-cache misses (each a REFILL call to the manager).
    pub xlate_misses: u64,
    /// Descriptors of the client refused, plus frames the device or the driver dropped.
    pub errors: u64,
}

impl DriverStats {
    /// Words in the reply.
    pub const WORDS: usize = 8;

    /// The reply's words, in field order.
    pub fn words(&self) -> [u64; Self::WORDS] {
        [
            self.irqs,
            self.rx_packets,
            self.tx_packets,
            self.notify_sent,
            self.notify_suppressed,
            self.xlate_hits,
            self.xlate_misses,
            self.errors,
        ]
    }

    /// Reads the counters back from their printed form (the `key=value` pairs [`Display`]
    /// writes, anywhere in `text`, e.g. after a `driver stats` prefix); `None` if a key is
    /// missing or not a number. The one reader of the one printed form.
    ///
    /// [`Display`]: fmt::Display
    pub fn parse(text: &str) -> Option<Self> {
        let get = |key: &str| -> Option<u64> {
            text.split_whitespace().find_map(|w| w.strip_prefix(key)?.strip_prefix('=')?.parse().ok())
        };
        Some(Self {
            irqs: get("irqs")?,
            rx_packets: get("rx_packets")?,
            tx_packets: get("tx_packets")?,
            notify_sent: get("notify_sent")?,
            notify_suppressed: get("notify_suppressed")?,
            xlate_hits: get("xlate_hits")?,
            xlate_misses: get("xlate_misses")?,
            errors: get("errors")?,
        })
    }

    /// The counters in words made by [`DriverStats::words`].
    pub fn from_words(w: [u64; Self::WORDS]) -> Self {
        let [irqs, rx_packets, tx_packets, notify_sent, notify_suppressed, xlate_hits, xlate_misses, errors] = w;
        Self { irqs, rx_packets, tx_packets, notify_sent, notify_suppressed, xlate_hits, xlate_misses, errors }
    }
}

impl fmt::Display for DriverStats {
    /// `irqs=.. rx_packets=.. tx_packets=.. notify_sent=.. notify_suppressed=.. xlate_hits=..
    /// xlate_misses=.. errors=..` (no prefix: the printer names whose counters they are).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "irqs={} rx_packets={} tx_packets={} notify_sent={} notify_suppressed={} xlate_hits={} xlate_misses={} errors={}",
            self.irqs,
            self.rx_packets,
            self.tx_packets,
            self.notify_sent,
            self.notify_suppressed,
            self.xlate_hits,
            self.xlate_misses,
            self.errors
        )
    }
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::*;
    use std::format;

    #[test]
    fn the_printed_form_reads_back() {
        let s = DriverStats::from_words([1, 2, 3, 4, 5, 6, 7, 8]);
        assert_eq!(DriverStats::parse(&format!("netstack: driver stats {s}")), Some(s));
        assert_eq!(DriverStats::parse("irqs=1 rx_packets=2"), None, "keys missing");
        assert_eq!(DriverStats::parse(&format!("{s}").replace("errors=8", "errors=x")), None);
    }
}
