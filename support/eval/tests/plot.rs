//! The figures from fixture data: `eval::report` on a copy of the fixture writes fig1b.svg
//! (and fig1a.svg from profile.csv) as SVG naming every series, and summary.md; without a
//! profile there is no fig1a.svg.

mod common;

use std::fs;

fn looks_like_svg(text: &str) {
    assert!(
        text.trim_start().starts_with("<svg") || text.trim_start().starts_with("<?xml"),
        "not SVG: {}",
        &text[..text.len().min(200)]
    );
    assert!(text.trim_end().ends_with("</svg>"), "SVG not closed");
    assert_eq!(text.matches("<svg").count(), text.matches("</svg>").count());
    assert!(text.matches('<').count() == text.matches('>').count(), "unbalanced angle brackets");
}

#[test]
fn report_draws_fig1b_fig1a_and_the_summary() {
    let d = common::fixture_copy("plot-all", true);
    eval::report(&d).unwrap();
    let svg = fs::read_to_string(d.join("fig1b.svg")).unwrap();
    looks_like_svg(&svg);
    for series in [
        "sel4 (hold-off 100 us)",
        "sel4 (hold-off 0 us)",
        "sel4-colocated (hold-off 100 us)",
        "linux",
        "throughput = load",
        "linux CPU",
        "CPU not measured: sel4-colocated (hold-off 100 us)",
    ] {
        assert!(svg.contains(series), "fig1b.svg lacks {series:?}");
    }
    let a = fs::read_to_string(d.join("fig1a.svg")).unwrap();
    looks_like_svg(&a);
    for c in ["Kernel", "Notification", "Idle", "60.0%"] {
        assert!(a.contains(c), "fig1a.svg lacks {c:?}");
    }
    let md = fs::read_to_string(d.join("summary.md")).unwrap();
    assert!(md.contains("Fixture run (hand-made figures, not measured)."), "run.txt is the heading");
}

#[test]
fn without_a_profile_there_is_no_fig1a() {
    let d = common::fixture_copy("plot-noprofile", false);
    eval::report(&d).unwrap();
    assert!(d.join("fig1b.svg").is_file());
    assert!(!d.join("fig1a.svg").exists());
    assert!(
        fs::read_to_string(d.join("summary.md")).unwrap().contains("profile was not measured")
            || fs::read_to_string(d.join("summary.md"))
                .unwrap()
                .contains("Not measured: this directory has no profile.csv")
    );
}

#[test]
fn an_empty_results_file_is_an_error_not_a_blank_figure() {
    let d = common::scratch("plot-empty");
    fs::write(d.join("results.csv"), eval::results::results_csv(&[])).unwrap();
    let e = eval::report(&d).unwrap_err();
    assert!(e.contains("no rows"), "{e}");
}
