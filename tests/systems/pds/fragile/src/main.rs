//! Test-only PD: a server whose `protected()` faults (a panic) on label [`CRASH`] and otherwise
//! answers with its words plus one. It says when it starts and whether it was restarted.
#![no_std]
#![no_main]

use pd::{debug_println, Channel, Handler, Message, Refusal};

/// The label that makes the server fault in the middle of the call.
const CRASH: u64 = 13;

struct Fragile;

fn init() -> Fragile {
    debug_println!("{}: up (restarted: {})", pd::name(), pd::restarted());
    Fragile
}

impl Handler for Fragile {
    fn protected(&mut self, _channel: Channel, msg: Message) -> Result<Message, Refusal> {
        if msg.label() == CRASH {
            panic!("asked to fault inside protected()");
        }
        let mut reply = Message::empty(0).map_err(|_| Refusal::BAD_MESSAGE)?;
        for w in msg.words() {
            reply.push(w + 1).map_err(|_| Refusal::BAD_MESSAGE)?;
        }
        Ok(reply)
    }
}

pd::protection_domain!(init);
