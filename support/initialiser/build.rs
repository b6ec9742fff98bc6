//! Link the `initialiser` binary as a freestanding static ELF for seL4 (our linker script, no C
//! start files or libraries, not position-independent). `-bins` keeps the library's host test
//! binaries untouched.
fn main() {
    let dir = std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR");
    let script = format!("{dir}/link.ld");
    println!("cargo:rerun-if-changed={script}");
    println!("cargo:rerun-if-changed=build.rs");
    for arg in [&format!("-T{script}"), "-nostartfiles", "-nostdlib", "-static", "-no-pie", "-Wl,--build-id=none"] {
        println!("cargo:rustc-link-arg-bins={arg}");
    }
}
