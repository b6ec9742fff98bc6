//! The hello example's client PD: puts text into the region it shares with the server, calls
//! the server (PPC) to have it upper-cased, checks the reply against its own checksum and
//! reads the result back; then plays `rounds` notification round trips with the ticker.
#![no_std]
#![no_main]

use hello_protocol::{checksum, request, Reply};
use pd::{debug_println, Channel, ChannelSet, Handler};

pd::setvar!(
    /// Number of notification round trips with the ticker (`<setvar symbol="rounds">`).
    rounds: u64 = 3
);

const SERVER: Channel = Channel::new(1);
const TICKER: Channel = Channel::new(2);

const TEXT: &[u8] = b"hello from the client";

struct Client {
    round: u64,
    rounds: u64,
}

fn report(what: &str, e: impl core::fmt::Display) {
    debug_println!("{}: {what} failed: {e}", pd::name());
}

fn call_server() {
    let shared = match pd::region!(shared) {
        Ok(r) => r,
        Err(e) => return report("finding the shared region", e),
    };
    if let Err(e) = shared.write(0, TEXT) {
        return report("writing the shared region", e);
    }
    debug_println!(
        "{}: wrote \"{}\" to the shared region; calling the server",
        pd::name(),
        core::str::from_utf8(TEXT).unwrap_or("")
    );
    let reply = match SERVER.pp_call(&request(TEXT.len())) {
        Ok(r) => Reply::decode(&r),
        Err(e) => return report("the PPC to the server", e),
    };
    let (len, sum) = (reply.len, reply.sum);
    let verdict = if len == TEXT.len() as u64 && sum == checksum(TEXT) { "matches" } else { "MISMATCH" };
    debug_println!("{}: PPC reply: server read {len} bytes, checksum {sum:#06x} ({verdict})", pd::name());
    let mut back = [0u8; TEXT.len()];
    if let Err(e) = shared.read(0, &mut back) {
        return report("reading the shared region", e);
    }
    debug_println!(
        "{}: shared region now reads \"{}\"",
        pd::name(),
        core::str::from_utf8(&back).unwrap_or("<not UTF-8>")
    );
}

fn init() -> Client {
    debug_println!("{}: up", pd::name());
    call_server();
    let client = Client { round: 1, rounds: rounds.get() };
    if client.rounds > 0 {
        debug_println!("{}: round 1 of {}: notifying the ticker", pd::name(), client.rounds);
        if let Err(e) = TICKER.notify() {
            report("notifying the ticker", e);
        }
    }
    client
}

impl Handler for Client {
    fn notified(&mut self, channels: ChannelSet) {
        if !channels.contains(TICKER) {
            debug_println!("{}: unexpected notification on {channels:?}", pd::name());
            return;
        }
        debug_println!("{}: the ticker answered round {}", pd::name(), self.round);
        if self.round < self.rounds {
            self.round += 1;
            debug_println!("{}: round {} of {}: notifying the ticker", pd::name(), self.round, self.rounds);
            if let Err(e) = TICKER.notify() {
                report("notifying the ticker", e);
            }
        } else {
            debug_println!("{}: all {} notification round trips done; idle", pd::name(), self.rounds);
        }
    }
}

pd::protection_domain!(init);
