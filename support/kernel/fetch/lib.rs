//! Empty: this crate exists only so cargo fetches sel4-sys (see Cargo.toml).
