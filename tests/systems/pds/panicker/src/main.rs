//! Test-only PD: panics on purpose. The runtime's panic handler must print
//! `panicker: panicked at <file>:<line>: <message>` and then fault, so the monitor reports the
//! PD like any other fault (tests/systems/fault.xml).
#![no_std]
#![no_main]

use pd::{debug_println, NullHandler};

fn init() -> NullHandler {
    debug_println!("{}: about to panic", pd::name());
    let answer = core::hint::black_box(42);
    panic!("deliberate panic, answer {answer}");
}

pd::protection_domain!(init);
