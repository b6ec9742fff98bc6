//! The hello example's server PD: serves one PPC. On SHOUT it reads the client's text from
//! the region both map, upper-cases it in place and replies with the length and a checksum of
//! what it read, so the client can see the data crossed the shared region intact.
#![no_std]
#![no_main]

use hello_protocol::{checksum, shout, Reply, Request, MAX_LEN, TOO_LONG};
use pd::{debug_println, Channel, ChannelSet, Handler, MappedRegion, Message, NullHandler, Refusal};

const CLIENT: Channel = Channel::new(1);

struct Server {
    shared: MappedRegion,
}

/// Serving, or idle if the shared region is missing (the reason was printed).
enum ServerPd {
    Up(Server),
    Down(NullHandler),
}

fn init() -> ServerPd {
    match pd::region!(shared) {
        Ok(shared) => {
            debug_println!(
                "{}: up; serving PPCs on {CLIENT}; shared region of {:#x} bytes at {:#x}",
                pd::name(),
                shared.size(),
                shared.vaddr()
            );
            ServerPd::Up(Server { shared })
        }
        Err(e) => {
            debug_println!("{}: cannot start: {e}", pd::name());
            ServerPd::Down(NullHandler)
        }
    }
}

impl Handler for ServerPd {
    fn protected(&mut self, channel: Channel, msg: Message) -> Result<Message, Refusal> {
        let ServerPd::Up(s) = self else { return Err(Refusal::UNSUPPORTED) };
        if channel != CLIENT {
            return Err(Refusal::UNSUPPORTED);
        }
        let Request { len } = Request::decode(&msg)?;
        let mut buf = [0u8; MAX_LEN];
        let text = &mut buf[..len];
        s.shared.read(0, text).map_err(|_| Refusal(TOO_LONG))?;
        let sum = checksum(text);
        debug_println!(
            "{}: PPC on {channel}: read {len} bytes from the shared region: \"{}\"",
            pd::name(),
            core::str::from_utf8(text).unwrap_or("<not UTF-8>")
        );
        shout(text);
        s.shared.write(0, text).map_err(|_| Refusal(TOO_LONG))?;
        Ok(Reply { len: len as u64, sum }.encode())
    }

    fn notified(&mut self, channels: ChannelSet) {
        debug_println!("{}: notified on {channels:?}", pd::name());
    }
}

pd::protection_domain!(init);
