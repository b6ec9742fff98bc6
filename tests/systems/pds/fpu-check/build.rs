//! Links this crate's binary as a protection domain (static ELF, the runtime's linker script).
fn main() {
    pd_build::link();
}
