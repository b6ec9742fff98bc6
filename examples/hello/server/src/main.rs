//! The hello example's server PD: serves one PPC. On [`SHOUT`] it reads the client's text from
//! the region both map, upper-cases it in place and replies with the length and a checksum of
//! what it read, so the client can see the data crossed the shared region intact.
#![no_std]
#![no_main]

use hello_protocol::{checksum, shout, SHOUT, TOO_LONG};
use pd::{debug_println, Channel, ChannelSet, Handler, Message, Refusal, SharedRegion};

pd::setvar!(shared_vaddr: u64 = 0);
pd::setvar!(shared_size: u64 = 0);

const CLIENT: Channel = Channel::new(1);

struct Server {
    shared: SharedRegion,
}

fn init() -> Server {
    // SAFETY: hello.xml maps the `shared` region (rw) at `shared_vaddr`, `shared_size` bytes;
    // the image tool patched both setvars, and nothing else in this PD touches the region.
    let shared =
        unsafe { SharedRegion::new(shared_vaddr.get() as usize, shared_size.get() as usize) };
    debug_println!(
        "{}: up; serving PPCs on {CLIENT}; shared region of {:#x} bytes at {:#x}",
        pd::name(),
        shared.size(),
        shared.vaddr()
    );
    Server { shared }
}

impl Handler for Server {
    fn protected(&mut self, channel: Channel, msg: Message) -> Result<Message, Refusal> {
        if channel != CLIENT || msg.label() != SHOUT {
            return Err(Refusal::UNSUPPORTED);
        }
        let len = msg.word(0).ok_or(Refusal::BAD_MESSAGE)? as usize;
        let mut buf = [0u8; 256];
        let text = buf.get_mut(..len).ok_or(Refusal(TOO_LONG))?;
        self.shared.read(0, text).map_err(|_| Refusal(TOO_LONG))?;
        let sum = checksum(text);
        debug_println!(
            "{}: PPC on {channel}: read {len} bytes from the shared region: \"{}\"",
            pd::name(),
            core::str::from_utf8(text).unwrap_or("<not UTF-8>")
        );
        shout(text);
        self.shared.write(0, text).map_err(|_| Refusal(TOO_LONG))?;
        Message::new(0, &[len as u64, sum]).map_err(|_| Refusal::BAD_MESSAGE)
    }

    fn notified(&mut self, channels: ChannelSet) {
        debug_println!("{}: notified on {channels:?}", pd::name());
    }
}

pd::protection_domain!(init);
