//! Test-only PD: calls the fragile server on channel 1: first with the label that makes it
//! fault inside `protected()`, then twice with an ordinary request, printing each result
//! (`caller: call N: ...`), so a test sees that no call hangs and what the caller got.
#![no_std]
#![no_main]

use pd::{debug_println, Channel, Handler, Message};

const SERVER: Channel = Channel::new(1);

struct Caller;

fn call(n: u32, label: u64) {
    let Ok(msg) = Message::new(label, &[n as u64 * 10]) else { return };
    match SERVER.pp_call(&msg) {
        Ok(reply) => debug_println!("{}: call {n}: ok {:?}", pd::name(), reply.words()),
        Err(e) => debug_println!("{}: call {n}: error: {e}", pd::name()),
    }
}

fn init() -> Caller {
    call(1, 13);
    call(2, 1);
    call(3, 1);
    debug_println!("{}: done", pd::name());
    Caller
}

impl Handler for Caller {}

pd::protection_domain!(init);
