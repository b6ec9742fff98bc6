//! Shared by the eval crate's host tests: a scratch copy of the fixture output directory.

use std::fs;
use std::path::{Path, PathBuf};

/// The hand-made `eval run` output directory (see fixtures/run/README.md).
pub fn fixture() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/run")
}

/// A fresh, empty scratch directory named `name` under cargo's per-test tmp dir.
pub fn scratch(name: &str) -> PathBuf {
    let d = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("eval-{name}-{}", std::process::id()));
    let _ = fs::remove_dir_all(&d);
    fs::create_dir_all(&d).expect("scratch directory");
    d
}

/// A scratch copy of the fixture's CSV files (and notes, run.txt); with `profile` false, without profile.csv.
#[allow(dead_code)]
pub fn fixture_copy(name: &str, profile: bool) -> PathBuf {
    let d = scratch(name);
    for f in ["results.csv", "latency.csv", "notes.txt", "run.txt", "profile.csv"] {
        if f == "profile.csv" && !profile {
            continue;
        }
        fs::copy(fixture().join(f), d.join(f)).expect("copy a fixture file");
    }
    d
}
