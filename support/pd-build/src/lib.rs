//! Build-script helper for protection-domain binaries. A PD crate's `build.rs` is one line,
//! `fn main() { pd_build::link(); }`: it writes the runtime's linker script into `OUT_DIR` and
//! tells cargo to link the crate's **bins** (only: host test builds of the same package stay
//! ordinary) as freestanding static ELFs with page-aligned segments at 4 MiB.

use std::path::PathBuf;

/// The linker script every PD is linked with.
pub const LINKER_SCRIPT: &str = include_str!("../pd.ld");

/// Where PD images are linked (far below 0x2000_0000, where system files map regions).
pub const IMAGE_BASE: u64 = 0x40_0000;

/// Symbols the runtime defines that nothing in the PD's own code references, so the linker
/// must be told to pull them out of the `pd` rlib (the entry point and the memory functions
/// that libcore calls).
pub const FORCED_SYMBOLS: &[&str] = &["_start", "memcpy", "memmove", "memset", "memcmp", "bcmp"];

/// The linker arguments for a PD binary, given the path of its linker script.
pub fn link_args(script: &str) -> Vec<String> {
    let mut args = vec![
        format!("-T{script}"),
        "-nostartfiles".into(),
        "-nostdlib".into(),
        "-static".into(),
        "-no-pie".into(),
        "-Wl,--build-id=none".into(),
    ];
    for sym in FORCED_SYMBOLS {
        args.push(format!("-Wl,--undefined={sym}"));
    }
    args
}

/// Call from a PD crate's `build.rs`: links its bins as PDs. Panics (failing the build with
/// the message) only when cargo's own environment is missing, which cargo always sets.
pub fn link() {
    let out = std::env::var_os("OUT_DIR")
        .map(PathBuf::from)
        .expect("pd_build::link() must run from a build script (OUT_DIR unset)");
    let script = out.join("pd.ld");
    if let Err(e) = std::fs::write(&script, LINKER_SCRIPT) {
        panic!("pd-build: cannot write the linker script {}: {e}", script.display());
    }
    let script = script.to_str().unwrap_or_else(|| panic!("pd-build: OUT_DIR {} is not UTF-8", out.display()));
    println!("cargo:rerun-if-changed=build.rs");
    for arg in link_args(script) {
        println!("cargo:rustc-link-arg-bins={arg}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn script_places_image_below_the_region_window_with_page_aligned_segments() {
        assert!(LINKER_SCRIPT.contains(&format!(". = {IMAGE_BASE:#x};")));
        const { assert!(IMAGE_BASE < 0x2000_0000) };
        // Each later output section starts on a fresh page.
        assert_eq!(LINKER_SCRIPT.matches(". = ALIGN(4096);").count(), 3);
        assert!(LINKER_SCRIPT.contains("ENTRY(_start)"));
    }

    #[test]
    fn link_args_are_freestanding_and_force_the_runtime_symbols() {
        let args = link_args("/x/pd.ld");
        assert_eq!(args[0], "-T/x/pd.ld");
        for want in ["-nostdlib", "-static", "-no-pie", "-nostartfiles"] {
            assert!(args.iter().any(|a| a == want), "{want} missing from {args:?}");
        }
        assert!(args.iter().any(|a| a == "-Wl,--undefined=_start"));
        assert!(args.iter().any(|a| a == "-Wl,--undefined=memcpy"));
    }
}
