//! The one place the ring gets its atomics from: `core`'s on a PD or host, loom's model-checked
//! ones under the `loom` feature, so `tests/loom.rs` checks the very code the PDs run.

#[cfg(feature = "loom")]
pub(crate) use loom::sync::atomic::{fence, AtomicU32};

#[cfg(not(feature = "loom"))]
pub(crate) use core::sync::atomic::{fence, AtomicU32};

pub(crate) use core::sync::atomic::Ordering;
