//! Building a bootable system image for a test: `make image SYSTEM=<file>`, the same path a
//! user takes, serialised within the test process so parallel tests never race on one image.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Mutex, MutexGuard};

use crate::{repo_root, Error, Result};

static BUILD: Mutex<()> = Mutex::new(());

/// Holds off every other build of this test process (for a test that runs another `make`
/// target, e.g. `make run`, which rebuilds the image too).
pub fn build_lock() -> MutexGuard<'static, ()> {
    BUILD.lock().unwrap_or_else(|p| p.into_inner())
}

/// Runs `make image SYSTEM=<system>` at the repository root (a path relative to it) and
/// returns `build/<system file stem>/image.elf`.
pub fn build_image(system: &str) -> Result<PathBuf> {
    image_for(system, false)
}

/// As [`build_image`], for the benchmark kernel (`KernelVariant::Bench`): `make image BENCH=1`
/// -> `build/<stem>-bench/image.elf`, whose monitor serves the console's `cpu` command.
pub fn build_bench_image(system: &str) -> Result<PathBuf> {
    image_for(system, true)
}

fn image_for(system: &str, bench: bool) -> Result<PathBuf> {
    let _guard = build_lock();
    let bench_arg = if bench { " BENCH=1" } else { "" };
    let command = format!("make image SYSTEM={system}{bench_arg}");
    let out = Command::new("make")
        .args(["--no-print-directory", "image", &format!("SYSTEM={system}")])
        .args(bench.then_some("BENCH=1"))
        .current_dir(repo_root())
        .stdin(Stdio::null())
        .output()
        .map_err(|source| Error::Io { context: format!("could not run `{command}` (is make installed?)"), source })?;
    let mut output = String::from_utf8_lossy(&out.stdout).into_owned();
    output.push_str(&String::from_utf8_lossy(&out.stderr));
    if !out.status.success() {
        return Err(Error::ImageBuild { command, status: out.status.to_string(), output });
    }
    let stem = Path::new(system).file_stem().and_then(|s| s.to_str()).unwrap_or("system");
    let dir = if bench { format!("{stem}-bench") } else { stem.to_string() };
    let image = repo_root().join("build").join(dir).join("image.elf");
    if !image.is_file() {
        return Err(Error::MissingFile { what: "system image", path: image });
    }
    Ok(image)
}
