//! Test-only PD: writes to an address no system file maps. The monitor must report the fault
//! by this PD's name, with the fault kind, instruction pointer and address, while the other
//! PDs keep running (tests/systems/fault.xml).
#![no_std]
#![no_main]

use pd::{debug_println, NullHandler};

pd::setvar!(
    /// The address to write to (`<setvar symbol="target" ..>`), unmapped in every test system.
    target: u64 = 0x1000_0000
);

fn init() -> NullHandler {
    let addr = target.get();
    debug_println!("{}: writing to unmapped address {addr:#x}", pd::name());
    // SAFETY: none; this write is meant to fault. The address is unmapped in this PD's
    // address space, so the kernel stops the PD and reports the fault to the monitor.
    unsafe { core::ptr::write_volatile(addr as *mut u64, 0xdead) };
    debug_println!("{}: still running after the write: the fault was not delivered", pd::name());
    NullHandler
}

pd::protection_domain!(init);
