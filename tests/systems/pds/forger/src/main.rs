//! Test-only PD: forges a VM-fault report (label 5, four words: ip, address, instruction
//! fault, FSR) on its own fault endpoint capability, with `seL4_Send` when its setvar `call`
//! is 0 and with `seL4_Call` otherwise. The monitor must see through both: no restart, no
//! fault notice (tests/systems/tests/callers.rs).
#![no_std]
#![no_main]

use pd::{debug_println, Handler};
use sel4::{CPtr, MessageInfo};

pd::setvar!(call: u64 = 0);

struct Forger;

fn init() -> Forger {
    let info = MessageInfo::new(5, 0, 0, 4);
    let words = [0x40_1000, 0x10, 0, 6];
    let ep = CPtr(spec::cspace::FAULT_EP);
    if call.get() == 0 {
        debug_println!("{}: sending a forged fault report", pd::name());
        sel4::syscall::send(ep, info, words);
        debug_println!("{}: the forged report was sent; still running", pd::name());
    } else {
        debug_println!("{}: calling with a forged fault report", pd::name());
        let _ = sel4::syscall::call(ep, info, words);
        debug_println!("{}: the forged call came back (it must not)", pd::name());
    }
    Forger
}

impl Handler for Forger {}

pd::protection_domain!(init);
