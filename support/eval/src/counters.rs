//! The framework's own counters beside the profile: the network stack prints the driver's
//! counters (`netstack: driver stats irqs=N rx_packets=N tx_packets=N notify_sent=N
//! notify_suppressed=N ...`, nic-api's one form) at most once a second after activity; two
//! such lines around the profile window give interrupts and notifications per packet.

pub use nic_api::DriverStats as DriverCounters;

/// Parses one `driver stats` line (nic-api's reader of its own printed form); `None` if it is
/// not one or a key is missing.
pub fn parse(line: &str) -> Option<DriverCounters> {
    line.contains("driver stats ").then(|| DriverCounters::parse(line)).flatten()
}

/// The last `driver stats` line in `text` that parses.
pub fn last(text: &str) -> Option<DriverCounters> {
    text.lines().rev().find_map(parse)
}

/// Interrupts, notifications sent and notifications suppressed per received packet between two
/// samples, as one line for the summary's notes; `None` when no packet arrived in between.
pub fn per_packet(before: DriverCounters, after: DriverCounters) -> Option<String> {
    let packets = after.rx_packets.checked_sub(before.rx_packets).filter(|&p| p > 0)?;
    let per = |a: u64, b: u64| a.saturating_sub(b) as f64 / packets as f64;
    Some(format!(
        "counters per received packet over the profile window ({packets} packets): interrupts {:.3}, \
         client notifications sent {:.3}, suppressed {:.3} (the driver's counters; kernel calls are in the \
         kernel-entries note, copies are not counted here)",
        per(after.irqs, before.irqs),
        per(after.notify_sent, before.notify_sent),
        per(after.notify_suppressed, before.notify_suppressed)
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    const LINE: &str = "netstack: driver stats irqs=100 rx_packets=1000 tx_packets=999 notify_sent=10 notify_suppressed=90 xlate_hits=5 xlate_misses=1 errors=0";

    #[test]
    fn lines_parse_and_deltas_are_per_packet() {
        let a = parse(LINE).unwrap();
        assert_eq!(
            a,
            DriverCounters {
                irqs: 100,
                rx_packets: 1000,
                tx_packets: 999,
                notify_sent: 10,
                notify_suppressed: 90,
                xlate_hits: 5,
                xlate_misses: 1,
                errors: 0
            }
        );
        let text = format!("{LINE}\nnoise\nnetstack: driver stats irqs=150 rx_packets=2000 tx_packets=1999 notify_sent=20 notify_suppressed=190 xlate_hits=9 xlate_misses=1 errors=0\n");
        let b = last(&text).unwrap();
        let line = per_packet(a, b).unwrap();
        assert!(
            line.contains("(1000 packets): interrupts 0.050, client notifications sent 0.010, suppressed 0.100"),
            "{line}"
        );
        assert_eq!(per_packet(b, b), None, "no packet, no ratio");
        assert_eq!(parse("netstack: driver stats irqs=1"), None, "keys missing");
        assert_eq!(last("nothing here"), None);
    }
}
