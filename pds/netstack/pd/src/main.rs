//! The network stack PD (`netstack.elf` in `system.xml`), serving UDP to a client PD (the echo)
//! over a session; the wiring is in this package's library ([`netstack_pd::init`]), the logic
//! in the `netstack` library.
#![no_std]
#![no_main]

fn init() -> netstack_pd::NetstackHandler {
    netstack_pd::init(netstack_pd::Mode::Client)
}

pd::protection_domain!(init);
