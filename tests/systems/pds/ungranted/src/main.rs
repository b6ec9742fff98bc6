//! Test-only PD: tries everything the system file did not grant it — a notify on an unknown
//! channel, a PPC on a notify-only channel, an IRQ ack, an I/O port range it lacks and a port
//! outside the range it has — and prints each error the runtime returns instead of faulting.
//! Then it shows the granted paths still work: it notifies the witness and calls it (PPC).
//!
//! Channels (tests/systems/*.xml): 1 = witness (notify only), 2 = witness (pp).
//! I/O ports: range 0 = 0x80 (one port, the POST diagnostic port).
#![no_std]
#![no_main]

use pd::{debug_println, Channel, IoPort, Message, NullHandler};

const WITNESS_NOTIFY: Channel = Channel::new(1);
const WITNESS_PP: Channel = Channel::new(2);

fn show<T: core::fmt::Debug>(what: &str, r: Result<T, pd::Error>) {
    match r {
        Ok(v) => debug_println!("{}: {what}: ok {v:?}", pd::name()),
        Err(e) => debug_println!("{}: {what}: error: {e}", pd::name()),
    }
}

fn init() -> NullHandler {
    debug_println!("{}: up; trying what the system file does not grant", pd::name());
    show("notify channel 5", Channel::new(5).notify());
    show(
        "pp_call channel 1",
        WITNESS_NOTIFY.pp_call(&Message::new(1, &[]).unwrap_or(Message::refusal(pd::Refusal(0)))),
    );
    show("irq_ack 3", Channel::new(3).irq_ack());
    show("ioport range 1", IoPort::new(1).map(|_| ()));
    match IoPort::new(0) {
        Ok(io) => {
            show("in8 port 0x81 (outside range 0)", io.in8(0x81));
            show("out8 port 0x80 (granted)", io.out8(0x80, 0x42));
        }
        Err(e) => debug_println!("{}: ioport range 0 should be granted: {e}", pd::name()),
    }
    debug_println!("{}: now the granted channels", pd::name());
    show("notify witness", WITNESS_NOTIFY.notify());
    match Message::new(7, &[1, 2, 3, 4, 5, 6]) {
        Ok(m) => show("pp_call witness", WITNESS_PP.pp_call(&m).map(|r| r.words().iter().sum::<u64>())),
        Err(e) => debug_println!("{}: {e}", pd::name()),
    }
    debug_println!("{}: done; idle", pd::name());
    NullHandler
}

pd::protection_domain!(init);
