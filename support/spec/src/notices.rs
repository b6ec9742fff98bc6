//! Fault counts for fault notices: before the monitor signals a `<fault_notify>` target, it
//! writes the faulting PD's fault count into the target's IPC buffer page (above the pool
//! reports), so the notice says *which* fault it is about. With the generation a restarted PD
//! is started with (its faults before it started, in `rsi`), a peer can tell a stale notice
//! from a fresh one whatever order the notice and the new instance's first call arrive in.
//!
//! At byte [`OFFSET`] of the page: one little-endian `u32` per PD index (`MAX_PDS` of them).

use crate::MAX_PDS;

/// Where the counts start in the IPC buffer page (above `pools::OFFSET + pools::AREA`).
pub const OFFSET: usize = 3072;
/// Bytes of the whole table.
pub const AREA: usize = MAX_PDS * 4;

const _: () = assert!(OFFSET >= crate::pools::OFFSET + crate::pools::AREA && OFFSET + AREA <= 4096);

/// Byte offset (within the page) of PD `pd`'s count, or `None` past the table.
pub const fn count_offset(pd: usize) -> Option<usize> {
    if pd < MAX_PDS {
        Some(OFFSET + 4 * pd)
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_are_inside_the_page_and_apart() {
        assert_eq!(count_offset(0), Some(3072));
        assert_eq!(count_offset(MAX_PDS - 1), Some(3072 + 4 * (MAX_PDS - 1)));
        assert_eq!(count_offset(MAX_PDS), None);
    }
}
