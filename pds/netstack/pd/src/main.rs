//! The network stack PD (`netstack.elf` in `system.xml`), serving UDP to a client PD (the echo)
//! over a session; everything is in this package's library ([`netstack_pd::init`]).
#![no_std]
#![no_main]

fn init() -> netstack_pd::NetstackPd {
    netstack_pd::init(netstack_pd::Mode::Client)
}

pd::protection_domain!(init);
