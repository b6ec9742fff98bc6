//! summary.md from the fixture: ratios against Linux per level, peaks, the plain statement of
//! where seL4 loses (the fixture loses at 10 Mb/s), the profile's framework overhead, and what
//! the summary says when there is no profile or no loss, and the cost of DMA confinement (with
//! VT-d against without, level by level).

mod common;

use eval::results::{self, Row};
use eval::summary::{self, confinement_cost, framework_overhead, latency_losses, losses, peaks, vs_linux};

fn fixture_rows() -> Vec<Row> {
    results::read_dir(&common::fixture()).unwrap().results
}

#[test]
fn ratios_against_linux_per_level() {
    let v = vs_linux(&fixture_rows());
    assert_eq!(v.len(), 9, "three seL4 configurations at three levels");
    let at = |sys: &str, h: u32, l: f64| {
        v.iter().find(|x| x.config.system == sys && x.config.holdoff_us == Some(h) && x.offered_mbps == l).unwrap()
    };
    let a = at("sel4", 100, 200.0);
    assert_eq!(a.throughput_ratio, Some(2.5));
    assert!((a.cpu_ratio.unwrap() - 0.4).abs() < 1e-9);
    let b = at("sel4", 100, 10.0);
    assert!((b.throughput_ratio.unwrap() - 0.983).abs() < 1e-9);
    assert_eq!(at("sel4-colocated", 100, 50.0).cpu_ratio, None, "no CPU figure: no ratio");
}

#[test]
fn peaks_of_each_configuration() {
    let p = peaks(&fixture_rows());
    assert_eq!(p.len(), 4);
    assert_eq!(p[0].config.label(), "sel4 (hold-off 100 us)");
    assert_eq!((p[0].achieved_mbps, p[0].offered_mbps, p[0].lossless_up_to), (200.0, 200.0, Some(200.0)));
    assert_eq!((p[1].achieved_mbps, p[1].lossless_up_to), (160.0, Some(50.0)));
    assert_eq!(p[3].config.label(), "linux");
    assert_eq!(p[3].achieved_mbps, 80.0);
}

#[test]
fn the_summary_says_where_sel4_loses() {
    let l = losses(&fixture_rows());
    assert_eq!(l.len(), 1, "{l:#?}");
    assert!(l[0].contains("sel4 (hold-off 100 us) loses on throughput at 10 Mb/s"), "{}", l[0]);
    let md = summary::summary_md(&results::read_dir(&common::fixture()).unwrap(), "heading line");
    assert!(md.contains("heading line"));
    assert!(md.contains("## Where this system loses\n\n- sel4 (hold-off 100 us) loses on throughput at 10 Mb/s offered: 9.8 Mb/s against Linux's 10.0 Mb/s."), "{md}");
    assert!(md.contains("| sel4 (hold-off 100 us) | 200 | 200.0 | 80.0 | 2.50x | 40.0 | 100.0 | 0.40x |"), "{md}");
    assert!(md.contains("| linux | 80.0 | 200 | 100.0 | 50 |"), "{md}");
    assert!(
        md.contains("Framework overhead (Notification + IPC + Interrupt, share of non-idle cycles): 15.0%"),
        "{md}"
    );
    assert!(md.contains("cpu needs the benchmark kernel"), "notes are carried: {md}");
    assert!(
        md.contains("| sel4 | 100 | 500 | 0 | 310 |") || md.contains("| sel4 (hold-off 100 us) | 500 | 0 | 310 |"),
        "{md}"
    );
}

#[test]
fn more_cpu_and_lower_peak_are_losses_too() {
    let mut rows = fixture_rows();
    for r in rows.iter_mut().filter(|r| r.system == "sel4" && r.holdoff_us == Some(0)) {
        r.cpu_pct = Some(99.0);
    }
    for r in rows.iter_mut().filter(|r| r.system == "linux") {
        r.achieved_mbps = r.offered_mbps;
    }
    let l = losses(&rows);
    assert!(
        l.iter()
            .any(|s| s.contains("sel4 (hold-off 0 us) uses more CPU at 10 Mb/s offered: 99.0% against Linux's 10.0%")),
        "{l:#?}"
    );
    assert!(
        l.iter().any(|s| s.contains("sel4 (hold-off 0 us) peaks lower than Linux: 160.0 Mb/s against 200.0 Mb/s")),
        "{l:#?}"
    );
}

#[test]
fn no_loss_no_profile_and_no_linux() {
    let mut t = results::read_dir(&common::fixture()).unwrap();
    t.results.retain(|r| !(r.system == "sel4" && r.holdoff_us == Some(100) && r.offered_mbps == 10.0));
    t.profile = None;
    let md = summary::summary_md(&t, "");
    assert!(md.contains("Nowhere in this run"), "{md}");
    assert!(md.contains("Not measured: this directory has no profile.csv"), "{md}");
    t.results.retain(|r| r.system != "linux");
    let md = summary::summary_md(&t, "");
    assert!(md.contains("No comparison"), "{md}");
}

#[test]
fn framework_overhead_is_a_share_of_non_idle_time() {
    let p = results::read_dir(&common::fixture()).unwrap().profile.unwrap();
    assert!((framework_overhead(&p).unwrap() - 15.0).abs() < 1e-9);
    assert_eq!(framework_overhead(&[results::ProfileRow { category: "Idle".into(), share_pct: 100.0 }]), None);
}

#[test]
fn a_longer_round_trip_than_linux_is_a_loss() {
    let mut t = results::read_dir(&common::fixture()).unwrap();
    assert!(latency_losses(&t.latency).is_empty(), "the fixture's seL4 round trips are shorter");
    t.latency[0].p50_us = 1000;
    let l = latency_losses(&t.latency);
    assert_eq!(
        l,
        vec!["sel4 (hold-off 100 us) has a longer median round trip than Linux: 1000 us against 900 us.".to_string()]
    );
    assert!(summary::summary_md(&t, "").contains("- sel4 (hold-off 100 us) has a longer median round trip"));
}

#[test]
fn confinement_cost_pairs_each_level_with_the_unconfined_run() {
    let mut t = results::read_dir(&common::fixture()).unwrap();
    let md = summary::summary_md(&t, "");
    assert!(md.contains("Not measured: this run has no level of both `sel4` and `sel4-noiommu`."), "{md}");
    // The unconfined run at the default hold-off: 10% faster at 200 Mb/s, CPU 32% against 40%;
    // at 10 Mb/s no CPU figure; at hold-off 0 nothing (no unconfined run there).
    let unconfined: Vec<Row> = t
        .results
        .iter()
        .filter(|r| r.system == "sel4" && r.holdoff_us == Some(100))
        .map(|r| {
            let mut u = r.clone();
            u.system = "sel4-noiommu".into();
            if r.offered_mbps == 200.0 {
                u.achieved_mbps = 250.0;
                u.cpu_pct = Some(32.0);
            }
            if r.offered_mbps == 10.0 {
                u.cpu_pct = None;
            }
            u
        })
        .collect();
    assert_eq!(unconfined.len(), 3);
    t.results.extend(unconfined);
    let c = confinement_cost(&t.results);
    assert_eq!(c.len(), 3, "three levels at hold-off 100, none at 0: {c:#?}");
    let at = |l: f64| c.iter().find(|x| x.offered_mbps == l).unwrap();
    assert_eq!((at(200.0).mbps, at(200.0).variant_mbps), (200.0, 250.0));
    assert_eq!(at(200.0).throughput_ratio, Some(0.8));
    assert!((at(200.0).cpu_ratio.unwrap() - 1.25).abs() < 1e-9);
    assert_eq!(at(10.0).cpu_ratio, None, "no unconfined CPU figure: no ratio");
    assert!(c.iter().all(|x| x.holdoff_us == Some(100)));
    let md = summary::summary_md(&t, "");
    assert!(md.contains("## Cost of DMA confinement (VT-d)"), "{md}");
    assert!(md.contains("| 100 | 200 | 200.0 | 250.0 | 0.80x | 40.0 | 32.0 | 1.25x |"), "{md}");
    // The unconfined run is a seL4 configuration like the others: compared with Linux too.
    assert!(vs_linux(&t.results).iter().any(|v| v.config.system == "sel4-noiommu"));
    assert!(md.contains("Not measured: this run has no level of both `sel4` and `sel4-lazyfpu`."), "{md}");
    // The same rows as the lazy-FPU variant fill the other table.
    for r in t.results.iter_mut().filter(|r| r.system == "sel4-noiommu") {
        r.system = "sel4-lazyfpu".into();
    }
    let md = summary::summary_md(&t, "");
    assert!(md.contains("## Eager FPU switching"), "{md}");
    assert!(md.contains("| 100 | 200 | 200.0 | 250.0 | 0.80x | 40.0 | 32.0 | 1.25x |"), "{md}");
    assert_eq!(summary::eager_fpu_gain(&t.results).len(), 3);
    // And its rows survive the CSV round trip.
    let dir = std::env::temp_dir().join(format!("eval-confinement-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    results::write_dir(&dir, &t).unwrap();
    let back = results::read_dir(&dir).unwrap();
    let _ = std::fs::remove_dir_all(&dir);
    assert_eq!(back.results.iter().filter(|r| r.system == "sel4-lazyfpu").count(), 3);
}

#[test]
fn interrupts_over_the_holdoff_bound_are_said_plainly() {
    use eval::results::CounterRow;
    let row = |holdoff: u32, offered: f64, irqs: u64| CounterRow {
        system: "sel4".into(),
        holdoff_us: Some(holdoff),
        offered_mbps: offered,
        seconds: 5.0,
        rx_packets: 100_000,
        irqs,
        notify_sent: irqs / 2,
        notify_suppressed: 0,
    };
    // Hold-off 100 us: at most 10000/s, 50000 in 5 s; 5% slack.
    let rows = vec![row(100, 100.0, 50_000), row(100, 300.0, 70_000), row(0, 300.0, 500_000)];
    assert_eq!(rows[1].holdoff_bound_per_s(), Some(10_000.0));
    assert_eq!(rows[2].holdoff_bound_per_s(), None, "hold-off 0: no bound");
    let over = summary::over_holdoff_bound(&rows);
    assert_eq!(
        over,
        vec!["sel4 (hold-off 100 us) takes more interrupts than its hold-off allows at 300 Mb/s offered: 14000/s against at most 10000/s.".to_string()]
    );
    let mut t = results::read_dir(&common::fixture()).unwrap();
    assert!(summary::summary_md(&t, "").contains("Not measured: this run has no counters.csv."));
    t.counters = rows;
    let md = summary::summary_md(&t, "");
    assert!(md.contains("| sel4 (hold-off 100 us) | 300 | 100000 | 14000 | 10000 | 0.700 | 0.350 | 0.500 |"), "{md}");
    assert!(md.contains("| sel4 (hold-off 0 us) | 300 | 100000 | 100000 | - | 5.000 | 2.500 | 0.500 |"), "{md}");
    assert!(md.contains("- sel4 (hold-off 100 us) takes more interrupts than its hold-off allows at 300 Mb/s"), "{md}");
}
