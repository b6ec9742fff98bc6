//! `eval run --baseline REV`: the default system of an earlier revision measured beside this
//! one in the same run (issue 15: "against the current release ... the benchmark may build the
//! older commit side by side"). The revision's tree is exported with `git archive` into
//! `build/baseline/<commit>/` (cached: a second run reuses it, and its own `target/`), and built
//! there by its own Makefile and kernel script: `support/kernel/build.sh --bench --iommu` (or
//! `--bench` for a revision without IOMMU support) and `make image BENCH=1`.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// A built baseline.
#[derive(Clone, Debug)]
pub struct Baseline {
    /// What `--baseline` said.
    pub rev: String,
    /// The commit it names.
    pub commit: String,
    /// Its benchmark kernel.
    pub kernel: PathBuf,
    /// Its system.xml's benchmark image.
    pub image: PathBuf,
    /// Whether its kernel has IOMMU support (then it boots with QEMU's intel-iommu, as this
    /// revision's `sel4` does).
    pub iommu: bool,
    /// Its system.xml, for the hold-off.
    pub system_xml: String,
}

fn run(cmd: &mut Command, what: &str) -> Result<String, String> {
    let out = cmd.stdin(Stdio::null()).output().map_err(|e| format!("{what}: cannot start: {e}"))?;
    let mut text = String::from_utf8_lossy(&out.stdout).into_owned();
    text.push_str(&String::from_utf8_lossy(&out.stderr));
    if !out.status.success() {
        let tail: Vec<&str> = text.lines().rev().take(12).collect::<Vec<_>>().into_iter().rev().collect();
        return Err(format!("{what} failed ({}):\n{}", out.status, tail.join("\n")));
    }
    Ok(text)
}

/// The full commit id `rev` names in the repository at `root`.
pub fn resolve(root: &Path, rev: &str) -> Result<String, String> {
    if rev.is_empty() || rev.starts_with('-') {
        return Err(format!("--baseline {rev:?} is not a revision"));
    }
    let out = run(
        Command::new("git")
            .arg("-C")
            .arg(root)
            .args(["rev-parse", "--verify", "--quiet"])
            .arg(format!("{rev}^{{commit}}")),
        &format!("git rev-parse {rev}"),
    )
    .map_err(|_| format!("--baseline {rev:?}: no such commit in {}", root.display()))?;
    let commit = out.trim().to_string();
    if commit.len() != 40 || !commit.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(format!("--baseline {rev:?}: git answered {commit:?}, not a commit id"));
    }
    Ok(commit)
}

/// Exports and builds `rev` (see the module docs); progress on stderr.
pub fn prepare(root: &Path, rev: &str) -> Result<Baseline, String> {
    let commit = resolve(root, rev)?;
    let dir = root.join("build/baseline").join(&commit);
    if !dir.join("Makefile").is_file() {
        eprintln!("eval: exporting the baseline {rev} ({}) to {}", &commit[..12], dir.display());
        std::fs::create_dir_all(&dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
        let tar = dir.join(".export.tar");
        run(
            Command::new("git").arg("-C").arg(root).args(["archive", "--format=tar", "-o"]).arg(&tar).arg(&commit),
            "git archive",
        )?;
        run(Command::new("tar").arg("-xf").arg(&tar).arg("-C").arg(&dir), "tar -x")?;
        let _ = std::fs::remove_file(&tar);
    }
    eprintln!("eval: building the baseline's kernel and image (its own build; minutes the first time)");
    let script = dir.join("support/kernel/build.sh");
    let (kernel, iommu) = match run(
        Command::new(&script).args(["--bench", "--iommu"]).current_dir(&dir),
        "the baseline's kernel build",
    ) {
        Ok(_) if dir.join("build/kernel/bench-iommu/kernel32.elf").is_file() => {
            (dir.join("build/kernel/bench-iommu/kernel32.elf"), true)
        }
        _ => {
            run(Command::new(&script).arg("--bench").current_dir(&dir), "the baseline's kernel build (--bench)")?;
            (dir.join("build/kernel/bench/kernel32.elf"), false)
        }
    };
    run(
        Command::new("make").args(["--no-print-directory", "image", "BENCH=1"]).current_dir(&dir).env_remove("IOMMU"),
        "the baseline's `make image BENCH=1`",
    )?;
    let image = dir.join("build/system-bench/image.elf");
    for f in [&kernel, &image] {
        if !f.is_file() {
            return Err(format!("the baseline built, but {} is missing", f.display()));
        }
    }
    let system_xml = std::fs::read_to_string(dir.join("system.xml"))
        .map_err(|e| format!("cannot read the baseline's system.xml: {e}"))?;
    Ok(Baseline { rev: rev.to_string(), commit, kernel, image, iommu, system_xml })
}
