//! Test-only PD: checks that the kernel keeps this PD's FPU/SSE registers across preemption.
//! Two instances run at the same priority (tests/systems/fpu.xml), so the timer switches
//! between them every time slice, in the middle of their loops; each repeats one long
//! floating-point computation, with constants of its own, whose accumulators live in SSE
//! registers, and every repetition must give the bit-identical result. A kernel that lost or
//! mixed FPU state across a switch (lazy or eager) changes some repetition's result.
#![no_std]
#![no_main]

use pd::{debug_println, ChannelSet, Handler};

/// Repetitions of the computation.
const RUNS: u32 = 12;
/// Iterations per repetition: long against a 10 ms time slice under QEMU TCG.
const STEPS: u32 = 3_000_000;

struct Done;

/// A recurrence over four independent f64 accumulators (kept in registers by the compiler),
/// seeded by `seed`; `black_box` keeps the loop from being folded.
fn compute(seed: f64) -> u64 {
    let (mut a, mut b, mut c, mut d) = (seed, seed * 0.5, seed * 0.25, seed * 0.125);
    for i in 0..STEPS {
        let x = core::hint::black_box(f64::from(i & 1023) * 1.0e-3);
        a = a * 0.999_999_9 + x;
        b = b * 0.999_999_7 + a * 1.0e-7;
        c = c * 0.999_999_5 - b * 1.0e-7;
        d = d * 0.999_999_3 + c * 1.0e-7;
    }
    (a + b + c + d).to_bits()
}

fn init() -> Done {
    // Each instance has its own constants (from its name), so a state mixed up with the other
    // instance's would give a different result.
    let seed = 1.0 + f64::from(pd::name().bytes().map(u32::from).sum::<u32>());
    debug_println!("{}: fpu-check: started", pd::name());
    let first = compute(seed);
    let mut differ = 0;
    for _ in 1..RUNS {
        if compute(seed) != first {
            differ += 1;
        }
    }
    if differ == 0 {
        debug_println!("{}: fpu-check: {RUNS} runs of {STEPS} steps, all equal ({first:#018x})", pd::name());
    } else {
        debug_println!("{}: fpu-check: FPU STATE LOST: {differ} of {RUNS} runs differ from the first", pd::name());
    }
    Done
}

impl Handler for Done {
    fn notified(&mut self, _channels: ChannelSet) {}
}

pd::protection_domain!(init);
