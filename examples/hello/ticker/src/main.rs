//! The hello example's ticker PD: the lowest priority; answers every notification from the
//! client with one back, counting them.
#![no_std]
#![no_main]

use pd::{debug_println, Channel, ChannelSet, Handler};

const CLIENT: Channel = Channel::new(1);

struct Ticker {
    count: u64,
}

fn init() -> Ticker {
    debug_println!("{}: up; waiting for the client on {CLIENT}", pd::name());
    Ticker { count: 0 }
}

impl Handler for Ticker {
    fn notified(&mut self, channels: ChannelSet) {
        if !channels.contains(CLIENT) {
            debug_println!("{}: unexpected notification on {channels:?}", pd::name());
            return;
        }
        self.count += 1;
        debug_println!("{}: notified by the client ({}); notifying back", pd::name(), self.count);
        if let Err(e) = CLIENT.notify() {
            debug_println!("{}: notifying the client failed: {e}", pd::name());
        }
    }
}

pd::protection_domain!(init);
