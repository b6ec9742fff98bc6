//! Test-only PD: a server that reports every notification and every PPC it gets (replying
//! with the words it received, doubled), so a test can see the system still works after
//! another PD failed or misbehaved.
#![no_std]
#![no_main]

use pd::{debug_println, Channel, ChannelSet, Handler, Message, Refusal};

struct Witness;

fn init() -> Witness {
    // A pool report for the monitor's `status` (tests/systems/tests/console.rs reads it).
    pd::Pool::register("demo").report(8, 5, 3);
    debug_println!("{}: up", pd::name());
    Witness
}

impl Handler for Witness {
    fn notified(&mut self, channels: ChannelSet) {
        debug_println!("{}: notified on {channels:?}", pd::name());
    }

    fn protected(&mut self, channel: Channel, msg: Message) -> Result<Message, Refusal> {
        debug_println!("{}: PPC on {channel}: label {} words {:?}", pd::name(), msg.label(), msg.words());
        let mut reply = Message::empty(0).map_err(|_| Refusal::BAD_MESSAGE)?;
        for w in msg.words() {
            reply.push(w.wrapping_mul(2)).map_err(|_| Refusal::BAD_MESSAGE)?;
        }
        Ok(reply)
    }
}

pd::protection_domain!(init);
