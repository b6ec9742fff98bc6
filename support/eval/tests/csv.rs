//! results.csv, latency.csv and profile.csv: exact header, round trip through write and read,
//! empty cpu_pct for a missing figure, and errors that name the file, line and field.

mod common;

use eval::results::{self, CounterRow, LatencyRow, ProfileRow, Row, Tables};

fn row(system: &str, holdoff: Option<u32>, offered: f64, cpu: Option<f64>) -> Row {
    Row {
        system: system.into(),
        holdoff_us: holdoff,
        offered_mbps: offered,
        sent: 1000,
        echoed: 990,
        achieved_mbps: offered * 0.99,
        loss_pct: 1.0,
        cpu_pct: cpu,
    }
}

#[test]
fn results_header_is_exactly_the_issues_columns() {
    let text = results::results_csv(&[]);
    assert_eq!(text, "system,holdoff_us,offered_mbps,sent,echoed,achieved_mbps,loss_pct,cpu_pct\n");
}

#[test]
fn results_round_trip_with_empty_cpu_and_holdoff() {
    let rows = vec![
        row("sel4", Some(100), 200.0, Some(41.25)),
        row("sel4-colocated", Some(0), 10.0, None),
        row("linux", None, 50.0, Some(100.0)),
    ];
    let text = results::results_csv(&rows);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines[1], "sel4,100,200,1000,990,198.000,1.000,41.2");
    assert_eq!(lines[2], "sel4-colocated,0,10,1000,990,9.900,1.000,");
    assert_eq!(lines[3], "linux,,50,1000,990,49.500,1.000,100.0");
    let back = results::parse_results(&text).unwrap();
    assert_eq!(back.len(), 3);
    assert_eq!(back[0].cpu_pct, Some(41.2));
    assert_eq!(back[1].cpu_pct, None);
    assert_eq!(back[2].holdoff_us, None);
    assert_eq!(back[0].achieved_mbps, 198.0);
}

#[test]
fn the_fixture_reads_back_whole() {
    let t = results::read_dir(&common::fixture()).unwrap();
    assert_eq!(t.results.len(), 12);
    assert_eq!(t.latency.len(), 2);
    assert_eq!(t.profile.as_ref().map(Vec::len), Some(10));
    assert_eq!(t.notes.len(), 1);
    assert!(t.results.iter().filter(|r| r.system == "sel4-colocated").all(|r| r.cpu_pct.is_none()));
}

#[test]
fn write_then_read_a_directory() {
    let d = common::scratch("csv-dir");
    let t = Tables {
        results: vec![row("sel4", Some(100), 10.0, Some(5.0))],
        latency: vec![LatencyRow {
            system: "linux".into(),
            holdoff_us: None,
            samples: 10,
            lost: 1,
            p50_us: 1,
            p90_us: 2,
            p99_us: 3,
            p999_us: 4,
            max_us: 5,
        }],
        profile: Some(vec![ProfileRow { category: "Idle".into(), share_pct: 50.0 }]),
        counters: vec![CounterRow {
            system: "sel4-noiommu".into(),
            holdoff_us: Some(100),
            offered_mbps: 300.0,
            seconds: 5.5,
            rx_packets: 61000,
            irqs: 5500,
            notify_sent: 40,
            notify_suppressed: 5000,
        }],
        notes: vec!["a note".into()],
    };
    results::write_dir(&d, &t).unwrap();
    assert_eq!(
        std::fs::read_to_string(d.join("latency.csv")).unwrap(),
        "system,holdoff_us,samples,lost,p50_us,p90_us,p99_us,p999_us,max_us\nlinux,,10,1,1,2,3,4,5\n"
    );
    assert_eq!(results::read_dir(&d).unwrap(), t);
}

#[test]
fn malformed_files_are_errors_naming_the_place() {
    let cases = [
        ("system,offered\n", "header"),
        ("", "empty"),
        (
            "system,holdoff_us,offered_mbps,sent,echoed,achieved_mbps,loss_pct,cpu_pct\nsel4,100,10,1,1,1\n",
            "results.csv:2: 6 fields",
        ),
        (
            "system,holdoff_us,offered_mbps,sent,echoed,achieved_mbps,loss_pct,cpu_pct\nsel4,100,ten,1,1,1,0,\n",
            "offered_mbps=\"ten\"",
        ),
        (
            "system,holdoff_us,offered_mbps,sent,echoed,achieved_mbps,loss_pct,cpu_pct\nminix,100,10,1,1,1,0,\n",
            "system=\"minix\"",
        ),
    ];
    for (text, want) in cases {
        let e = results::parse_results(text).unwrap_err();
        assert!(e.contains(want), "{want:?} not in {e:?}");
    }
    assert!(results::parse_profile("category,share_pct\n,3\n").unwrap_err().contains("empty category"));
    assert!(results::parse_latency(
        "system,holdoff_us,samples,lost,p50_us,p90_us,p99_us,p999_us,max_us\nsel4,100,1,0,1,2,3,4,-5\n"
    )
    .unwrap_err()
    .contains("max_us"));
    let missing = results::read_dir(&common::scratch("csv-missing")).unwrap_err();
    assert!(missing.contains("no results.csv"), "{missing}");
}
