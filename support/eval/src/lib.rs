//! The evaluation of issue 11 (DESIGN.md §8): the paper's Figure 1 rebuilt against a Linux guest
//! in the same QEMU machine. [`run`] drives the systems (QEMU, loadgen, console CPU figures);
//! [`results`] holds the tables and their CSV files, [`summary`] the ratios and summary.md,
//! [`plot`] the SVG figures, [`cpu`] the console parsers, [`counters`] the driver's counters; [`report`] turns a directory of CSVs
//! into the summary and figures (what `eval run` does at its end and `eval report` on demand);
//! [`baseline`] builds an earlier revision to measure beside this one (`--baseline`).

#![forbid(unsafe_code)]

pub mod baseline;
pub mod counters;
pub mod cpu;
pub mod plot;
pub mod results;
pub mod run;
pub mod summary;

use std::fs;
use std::path::Path;

/// (Re)writes summary.md, fig1b.svg and, if profile.csv exists, fig1a.svg in `dir` from its CSVs
/// (and run.txt, the line `eval run` leaves there saying how the run was made, if any).
pub fn report(dir: &Path) -> Result<(), String> {
    let t = results::read_dir(dir)?;
    let heading = fs::read_to_string(dir.join("run.txt")).unwrap_or_default();
    let heading = heading.trim();
    if t.results.is_empty() {
        return Err(format!("{}/results.csv has no rows: nothing to report", dir.display()));
    }
    plot::fig1b(&t.results, &dir.join("fig1b.svg"))?;
    if let Some(p) = &t.profile {
        plot::fig1a(p, &dir.join("fig1a.svg"))?;
    }
    let md = dir.join("summary.md");
    fs::write(&md, summary::summary_md(&t, heading)).map_err(|e| format!("cannot write {}: {e}", md.display()))
}
