//! The initialiser binary (seL4 root task): wires the freestanding runtime (`rt`) to the
//! host-testable logic in the library. Everything interesting lives in `lib.rs`.
#![no_std]
#![no_main]

mod rt;

use core::fmt::Write;
use sel4::{BootInfo, DebugWriter};

/// Called by `_start` on our own stack with the kernel's bootinfo pointer.
fn start(bootinfo: *const u8) -> ! {
    let mut out = DebugWriter;
    // SAFETY: the kernel passes the address of the bootinfo frame it mapped for us, followed by
    // the extra bootinfo pages when there are any.
    match unsafe { BootInfo::from_ptr(bootinfo) } {
        Ok(bi) => {
            if let Err(e) = initialiser::run(&bi, &mut out, &sel4::init::IO_PORT) {
                let _ = writeln!(out, "initialiser: error: {e}");
                rt::stop()
            }
            match initialiser::abi_check::run(&bi, &mut out) {
                Ok(n) => {
                    let _ = writeln!(out, "initialiser: ABI self-check passed ({n} invocations)");
                }
                Err(e) => {
                    let _ = writeln!(out, "initialiser: error: ABI self-check: {e}");
                    rt::stop()
                }
            }
            let _ = writeln!(out, "initialiser: done, suspending");
        }
        Err(e) => {
            let _ = writeln!(out, "initialiser: error: cannot read bootinfo at {bootinfo:p}: {e}");
        }
    }
    rt::stop()
}
