//! Test-only PD: recurses with a large frame until its stack runs into the unmapped guard
//! page below it. The monitor must report a stack overflow by this PD's name
//! (tests/systems/overflow.xml).
#![no_std]
#![no_main]

use core::hint::black_box;
use pd::{debug_println, NullHandler};

/// Each level keeps 1 KiB live on the stack, so a 16 KiB stack is gone in ~16 levels.
#[inline(never)]
fn recurse(depth: u64) -> u64 {
    let mut frame = [0u8; 1024];
    frame[(depth % 1024) as usize] = depth as u8;
    black_box(&mut frame);
    if depth == u64::MAX {
        return 0;
    }
    recurse(depth + 1).wrapping_add(frame[0] as u64)
}

fn init() -> NullHandler {
    debug_println!("{}: recursing until the stack runs out", pd::name());
    let r = recurse(black_box(0));
    debug_println!("{}: recursion returned {r}: the stack guard did not fire", pd::name());
    NullHandler
}

pd::protection_domain!(init);
