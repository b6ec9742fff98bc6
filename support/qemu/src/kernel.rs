//! Where the seL4 kernel image lives and how to (re)build it from a test: the build script in
//! support/kernel caches, so calling [`build_kernel`] from every test costs well under a second.

use std::path::PathBuf;
use std::process::Command;

use crate::error::{Error, Result};

/// Which kernel configuration (support/kernel/config/...).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KernelVariant {
    /// Debug + printing, no IOMMU.
    Default,
    /// As `Default`, plus CONFIG_IOMMU (Intel VT-d).
    Iommu,
    /// As `Default`, plus the kernel's per-thread utilisation accounting (the evaluation's
    /// CPU figures; boot it with an image from [`crate::build_bench_image`]).
    Bench,
    /// `Bench` with CONFIG_IOMMU: the evaluation's CPU figures under DMA confinement.
    BenchIommu,
}

impl KernelVariant {
    fn dir(self) -> &'static str {
        match self {
            KernelVariant::Default => "default",
            KernelVariant::Iommu => "iommu",
            KernelVariant::Bench => "bench",
            KernelVariant::BenchIommu => "bench-iommu",
        }
    }
}

/// The repository root (this crate lives in `<root>/support/qemu`).
pub fn repo_root() -> PathBuf {
    let here = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    here.parent().and_then(|p| p.parent()).map(PathBuf::from).unwrap_or(here)
}

/// `build/kernel/<variant>/kernel32.elf` (whether or not it has been built).
pub fn kernel_image(variant: KernelVariant) -> PathBuf {
    repo_root().join("build/kernel").join(variant.dir()).join("kernel32.elf")
}

/// Builds the kernel if its inputs changed (a no-op otherwise) and returns the image path.
pub fn build_kernel(variant: KernelVariant) -> Result<PathBuf> {
    let script = repo_root().join("support/kernel/build.sh");
    let mut cmd = Command::new(&script);
    let flags: &[&str] = match variant {
        KernelVariant::Default => &[],
        KernelVariant::Iommu => &["--iommu"],
        KernelVariant::Bench => &["--bench"],
        KernelVariant::BenchIommu => &["--bench", "--iommu"],
    };
    cmd.args(flags);
    cmd.current_dir(repo_root());
    let shown = format!("{} {}", script.display(), flags.join(" "));
    let out = cmd.output().map_err(|source| Error::Io {
        context: format!("could not run the kernel build script {}", script.display()),
        source,
    })?;
    if !out.status.success() {
        let mut output = String::from_utf8_lossy(&out.stdout).into_owned();
        output.push_str(&String::from_utf8_lossy(&out.stderr));
        return Err(Error::KernelBuild { command: shown, status: out.status.to_string(), output });
    }
    let image = kernel_image(variant);
    if !image.is_file() {
        return Err(Error::MissingFile { what: "kernel image", path: image });
    }
    Ok(image)
}
