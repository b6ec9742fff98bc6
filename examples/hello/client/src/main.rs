//! The hello example's client PD: puts text into the region it shares with the server, calls
//! the server (PPC) to have it upper-cased, checks the reply against its own checksum and
//! reads the result back; then plays `rounds` notification round trips with the ticker.
#![no_std]
#![no_main]

use hello_protocol::{checksum, SHOUT};
use pd::{debug_println, Channel, ChannelSet, Handler, Message, SharedRegion};

pd::setvar!(shared_vaddr: u64 = 0);
pd::setvar!(shared_size: u64 = 0);
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

fn report(what: &str, e: pd::Error) {
    debug_println!("{}: {what} failed: {e}", pd::name());
}

fn call_server() -> Result<(), pd::Error> {
    // SAFETY: hello.xml maps the `shared` region (rw) at `shared_vaddr`, `shared_size` bytes;
    // the image tool patched both setvars, and nothing else in this PD touches the region.
    let shared =
        unsafe { SharedRegion::new(shared_vaddr.get() as usize, shared_size.get() as usize) };
    shared.write(0, TEXT)?;
    debug_println!(
        "{}: wrote \"{}\" to the shared region; calling the server",
        pd::name(),
        core::str::from_utf8(TEXT).unwrap_or("")
    );
    let reply = SERVER.pp_call(&Message::new(SHOUT, &[TEXT.len() as u64])?)?;
    let (len, sum) = (reply.word(0).unwrap_or(0), reply.word(1).unwrap_or(0));
    let verdict = if len == TEXT.len() as u64 && sum == checksum(TEXT) {
        "matches"
    } else {
        "MISMATCH"
    };
    debug_println!(
        "{}: PPC reply: server read {len} bytes, checksum {sum:#06x} ({verdict})",
        pd::name()
    );
    let mut back = [0u8; TEXT.len()];
    shared.read(0, &mut back)?;
    debug_println!(
        "{}: shared region now reads \"{}\"",
        pd::name(),
        core::str::from_utf8(&back).unwrap_or("<not UTF-8>")
    );
    Ok(())
}

fn init() -> Client {
    debug_println!("{}: up", pd::name());
    if let Err(e) = call_server() {
        report("the PPC to the server", e);
    }
    let client = Client {
        round: 1,
        rounds: rounds.get(),
    };
    if client.rounds > 0 {
        debug_println!(
            "{}: round 1 of {}: notifying the ticker",
            pd::name(),
            client.rounds
        );
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
            debug_println!(
                "{}: round {} of {}: notifying the ticker",
                pd::name(),
                self.round,
                self.rounds
            );
            if let Err(e) = TICKER.notify() {
                report("notifying the ticker", e);
            }
        } else {
            debug_println!(
                "{}: all {} notification round trips done; idle",
                pd::name(),
                self.rounds
            );
        }
    }
}

pd::protection_domain!(init);
