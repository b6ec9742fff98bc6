//! The framework's own counters beside the profile: the network stack prints the driver's
//! counters (`netstack: driver stats irqs=N rx_packets=N tx_packets=N notify_sent=N
//! notify_suppressed=N ...`, nic-api's one form) at most once a second after activity; two
//! such lines around the profile window give interrupts and notifications per packet. Its own
//! `netstack: stats` line and the echo's `echo: stats` line, printed as often, give copies.

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
         client notifications sent {:.3}, suppressed {:.3} (the driver's counters; kernel calls and copies are \
         in their own notes)",
        per(after.irqs, before.irqs),
        per(after.notify_sent, before.notify_sent),
        per(after.notify_suppressed, before.notify_suppressed)
    ))
}

/// A stats line's `key=number` fields, in order.
pub type Fields = Vec<(String, u64)>;
/// Two samples of a stats line: before and after a window.
pub type Samples<'a> = (&'a [(String, u64)], &'a [(String, u64)]);

/// The last line in `text` holding `marker` (e.g. `"netstack: stats "`), as its `key=number`
/// fields; `None` if there is none.
pub fn last_fields(text: &str, marker: &str) -> Option<Fields> {
    text.lines().rev().find(|l| l.contains(marker)).and_then(|l| fields_of(l, marker))
}

/// As [`last_fields`], but the last such line that has `key`: PDs print character by
/// character, so another PD's or the monitor's output can cut a line in two, and the part
/// holding the later keys then lacks the marker.
pub fn last_fields_with(text: &str, marker: &str, key: &str) -> Option<Fields> {
    text.lines()
        .rev()
        .filter(|l| l.contains(marker))
        .filter_map(|l| fields_of(l, marker))
        .find(|f| get(f, key).is_some())
}

fn fields_of(line: &str, marker: &str) -> Option<Fields> {
    let rest = &line[line.find(marker)? + marker.len()..];
    Some(
        rest.split_whitespace()
            .filter_map(|f| f.split_once('=').and_then(|(k, v)| Some((k.to_string(), v.trim_end().parse().ok()?))))
            .collect(),
    )
}

fn get(fields: &[(String, u64)], key: &str) -> Option<u64> {
    fields.iter().find(|(k, _)| k == key).map(|(_, v)| *v)
}

/// Copies per UDP datagram between two samples of the network stack's stats line
/// (`copies_to_client`, `copies_from_client` per `udp_in`) and of the echo's (`bytes_copied`
/// per `received`, over `payload`-byte datagrams: its copies are counted in bytes), as one line
/// for the notes; `None` when no datagram arrived or a key is missing.
pub fn copies_per_datagram(netstack: Samples<'_>, echo: Option<Samples<'_>>, payload: usize) -> Option<String> {
    let delta = |(a, b): Samples<'_>, key: &str| Some(get(b, key)?.saturating_sub(get(a, key)?));
    let datagrams = delta(netstack, "udp_in").filter(|&n| n > 0)?;
    let per = |n: u64| n as f64 / datagrams as f64;
    let (to, from) = (delta(netstack, "copies_to_client")?, delta(netstack, "copies_from_client")?);
    let echo = match echo {
        // Per datagram the echo itself received: its lines and the stack's are printed on their
        // own schedules, so each side is divided by its own count over its own samples.
        Some(e) if payload > 0 => {
            let received = delta(e, "received").filter(|&n| n > 0)?;
            Some(delta(e, "bytes_copied")? as f64 / (payload as f64 * received as f64))
        }
        _ => None,
    };
    let stack = per(to) + per(from);
    Some(match echo {
        Some(e) => format!(
            "copies per UDP datagram over the profile window ({datagrams} datagrams): network stack {stack:.3} \
             (to the echo {:.3}, from the echo {:.3}), echo {e:.3} (its bytes copied / {payload}); {:.3} in all",
            per(to),
            per(from),
            stack + e
        ),
        None => format!(
            "copies per UDP datagram over the profile window ({datagrams} datagrams): network stack {stack:.3} \
             (to the echo {:.3}, from the echo {:.3}); the echo's own not counted (no echo stats lines)",
            per(to),
            per(from)
        ),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn copies_come_from_the_stack_and_echo_stats_lines() {
        let text = "netstack: stats udp_in=100 copies_to_client=100 copies_from_client=99 x=1\r\n\
                    echo: stats received=100 bytes_copied=102400\n";
        let (ns0, e0) = (last_fields(text, "netstack: stats ").unwrap(), last_fields(text, "echo: stats ").unwrap());
        let text2 = "netstack: stats udp_in=1100 copies_to_client=1100 copies_from_client=1099\n\
                     echo: stats received=600 bytes_copied=614400\n";
        let (ns1, e1) = (last_fields(text2, "netstack: stats ").unwrap(), last_fields(text2, "echo: stats ").unwrap());
        let line = copies_per_datagram((&ns0, &ns1), Some((&e0, &e1)), 1024).unwrap();
        assert!(
            line.contains("(1000 datagrams): network stack 2.000 (to the echo 1.000, from the echo 1.000), echo 1.000 (its bytes copied / 1024); 3.000 in all"),
            "{line}"
        );
        let no_echo = copies_per_datagram((&ns0, &ns1), None, 1024).unwrap();
        assert!(no_echo.contains("the echo's own not counted"), "{no_echo}");
        assert_eq!(copies_per_datagram((&ns0, &ns0), None, 1024), None, "no datagram, no ratio");
        assert_eq!(last_fields("nothing", "echo: stats "), None);
        // A line cut by another PD's output: the complete one before it is used.
        let cut = "echo: stats received=100 bytes_copied=102400\n\
                   echo: stats received=200 drop_no_buffer=0monitor: cpu started\n bytes_copied=204800\n";
        assert_eq!(last_fields_with(cut, "echo: stats ", "bytes_copied").unwrap(), e0);
    }

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
