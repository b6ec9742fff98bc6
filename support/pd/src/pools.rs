//! Buffer-pool reports for the monitor's `status` (layout in `spec::pools`): a PD registers
//! each pool once and reports its counts whenever they change; the record lives in the unused
//! upper part of the PD's own IPC buffer page, where the monitor reads it. A report is a few
//! stores, no kernel call.
//!
//! ```ignore
//! let rx = pd::Pool::register("rx");     // once, at start
//! rx.report(256, free, posted);          // after each batch
//! ```

use core::sync::atomic::{AtomicUsize, Ordering};

use spec::pools::{self, Pool as Record};

/// Pools registered so far (slots are handed out in order and never reused).
static NEXT: AtomicUsize = AtomicUsize::new(0);

/// A registered pool; `None`-like (reports nothing) when the table was full or the PD was not
/// booted by the initialiser (host tests).
#[derive(Clone, Copy, Debug)]
pub struct Pool {
    slot: Option<usize>,
    name: &'static str,
}

fn area_base() -> Option<usize> {
    let ipc = crate::state::ipc_buffer();
    (ipc != 0).then(|| ipc as usize + pools::OFFSET)
}

fn store(at: usize, bytes: &[u8]) {
    for (k, b) in bytes.iter().enumerate() {
        // SAFETY: `at` lies in this PD's IPC buffer page at `spec::pools::OFFSET` or above
        // (`area_base` plus offsets inside `AREA`, checked at compile time to end within the
        // page). The page is mapped read-write for the PD's life; the kernel uses only its
        // first 1024 bytes, and nothing in this PD holds a reference into this part of it.
        unsafe { ((at + k) as *mut u8).write_volatile(*b) };
    }
}

impl Pool {
    /// Registers a pool called `name` (at most `spec::pools::NAME_LEN` bytes are shown).
    pub fn register(name: &'static str) -> Pool {
        let slot = NEXT.fetch_add(1, Ordering::Relaxed);
        let slot = (slot < pools::MAX_POOLS).then_some(slot);
        if let (Some(_), Some(base)) = (slot, area_base()) {
            store(base, &pools::MAGIC.to_le_bytes());
        }
        Pool { slot, name }
    }

    /// Reports the pool's counts: buffers in all, free in this PD, lent to a peer.
    pub fn report(&self, size: u32, free: u32, posted: u32) {
        let (Some(slot), Some(base)) = (self.slot, area_base()) else { return };
        let at = base + pools::record_offset(slot);
        // SAFETY: reading our own record's sequence word, inside the area (see `store`).
        let seq = unsafe { (at as *const u32).read_volatile() };
        let next = (seq | 1).wrapping_add(1).max(2);
        store(at, &(next | 1).to_le_bytes());
        let rec = pools::encode(&Record { name: self.name, size, free, posted }, next);
        store(at + 4, &rec[4..]);
        store(at, &next.to_le_bytes());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn without_a_boot_reports_are_silent_no_ops() {
        let p = Pool::register("rx");
        p.report(256, 0, 256); // no IPC buffer on the host: must not touch memory
        assert_eq!(p.name, "rx");
    }
}
