//! The one place the translation cache gets its atomics from: `core`'s on a PD or host, loom's
//! model-checked ones under the `loom` feature, so `tests/loom.rs` checks the code PDs run.

#[cfg(feature = "loom")]
pub(crate) use loom::sync::atomic::{fence, AtomicU64};

#[cfg(not(feature = "loom"))]
pub(crate) use core::sync::atomic::{fence, AtomicU64};

pub(crate) use core::sync::atomic::Ordering;

/// Tell the CPU (or loom's scheduler) that we are waiting for another thread.
#[inline]
pub(crate) fn spin_hint() {
    #[cfg(feature = "loom")]
    loom::thread::yield_now();
    #[cfg(not(feature = "loom"))]
    core::hint::spin_loop();
}
