//! Prints interrupts per packet and notifications per packet for a receive burst at interrupt
//! hold-off 0 and 100 us, against the e1000 and DP83820 behavioural models. These are
//! host-model figures (virtual time, modelled CPU costs), not hardware measurements.
//!
//! `cargo run -p driver --example holdoff --features model -- [frames] [bytes] [gap_ns]`

use driver::model::rig::{burst_figures, Dp32Fx, E1000Fx, Fixture};

fn arg(i: usize, default: u64) -> Result<u64, String> {
    match std::env::args().nth(i) {
        None => Ok(default),
        Some(s) => s.parse().map_err(|_| format!("argument {i} ({s:?}) must be a number")),
    }
}

fn row<F: Fixture>(n: u64, len: usize, gap: u64) {
    for h in [0, 100] {
        let f = burst_figures::<F>(h, n, len, gap);
        println!(
            "{:<30} {:>6} us {:>9} {:>10.3} {:>12.3} {:>14.3}",
            F::NAME,
            h,
            f.received,
            f.irqs_per_pkt,
            f.notify_per_pkt,
            f.client_signals_per_pkt
        );
    }
}

fn main() {
    let parsed = (|| Ok::<_, String>((arg(1, 1000)?, arg(2, 1024)?, arg(3, 8_500)?)))();
    let (n, len, gap) = match parsed {
        Ok(v) => v,
        Err(e) => {
            eprintln!("holdoff: {e}");
            std::process::exit(2);
        }
    };
    if !(60..=1514).contains(&len) {
        eprintln!("holdoff: frame size must be 60..=1514 bytes, not {len}");
        std::process::exit(2);
    }
    println!("HOST-MODEL figures (not hardware): burst of {n} x {len}-byte frames, {gap} ns apart");
    println!(
        "{:<30} {:>9} {:>9} {:>10} {:>12} {:>14}",
        "model", "hold-off", "received", "irq/pkt", "notify/pkt", "client-sig/pkt"
    );
    row::<E1000Fx>(n, len as usize, gap);
    row::<Dp32Fx>(n, len as usize, gap);
}
