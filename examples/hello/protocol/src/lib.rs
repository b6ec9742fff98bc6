//! The hello example's PPC between client and server: the client puts text at offset 0 of the
//! shared region and calls with [`SHOUT`] and the text's length; the server upper-cases the
//! text in place and replies with the length and a checksum of what it read, which the client
//! checks against its own. Both messages are the PD runtime's one message type,
//! [`message::Message`]: [`request`] / [`Request::decode`] and [`Reply`].
#![no_std]
#![forbid(unsafe_code)]

pub use message::{Message, Refusal};

/// Label of the call: word 0 = number of bytes at the start of the shared region.
pub const SHOUT: u64 = 1;

/// Refusal code: the length does not fit the shared region.
pub const TOO_LONG: u64 = 1;

/// Most bytes one call carries.
pub const MAX_LEN: usize = 256;

/// The SHOUT request for the first `len` bytes of the shared region.
pub fn request(len: usize) -> Message {
    Message::new(SHOUT, &[len as u64]).unwrap_or_else(|_| unreachable!("SHOUT is a small label"))
}

/// A decoded SHOUT request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Request {
    /// Bytes at the start of the shared region.
    pub len: usize,
}

impl Request {
    /// The request in `m`: not a SHOUT is [`Refusal::UNSUPPORTED`], no length word is
    /// [`Refusal::BAD_MESSAGE`], a length over [`MAX_LEN`] is [`TOO_LONG`].
    pub fn decode(m: &Message) -> Result<Request, Refusal> {
        if m.label() != SHOUT {
            return Err(Refusal::UNSUPPORTED);
        }
        let len = m.word(0).ok_or(Refusal::BAD_MESSAGE)?;
        match usize::try_from(len) {
            Ok(len) if len <= MAX_LEN => Ok(Request { len }),
            _ => Err(Refusal(TOO_LONG)),
        }
    }
}

/// The server's reply: what it read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Reply {
    /// Bytes read.
    pub len: u64,
    /// Their [`checksum`].
    pub sum: u64,
}

impl Reply {
    /// The reply message (label 0, words `len`, `sum`).
    pub fn encode(&self) -> Message {
        Message::new(0, &[self.len, self.sum]).unwrap_or_else(|_| unreachable!("two words fit"))
    }

    /// The reply in `m` (missing words read as 0, which never matches a real text).
    pub fn decode(m: &Message) -> Reply {
        Reply { len: m.word(0).unwrap_or(0), sum: m.word(1).unwrap_or(0) }
    }
}

/// The checksum both sides compute (Fletcher-16, enough to show the data arrived intact).
pub fn checksum(bytes: &[u8]) -> u64 {
    let (mut a, mut b) = (0u64, 0u64);
    for &x in bytes {
        a = (a + x as u64) % 255;
        b = (b + a) % 255;
    }
    (b << 8) | a
}

/// What the server does to the text.
pub fn shout(bytes: &mut [u8]) {
    bytes.make_ascii_uppercase();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checksum_sees_order_and_content() {
        assert_eq!(checksum(b""), 0);
        assert_ne!(checksum(b"ab"), checksum(b"ba"));
        assert_eq!(checksum(b"abcde"), 0xc8f0);
    }

    #[test]
    fn messages_round_trip_and_garbage_is_refused() {
        assert_eq!(Request::decode(&request(21)), Ok(Request { len: 21 }));
        assert_eq!(Request::decode(&request(MAX_LEN + 1)), Err(Refusal(TOO_LONG)));
        assert_eq!(Request::decode(&Message::new(SHOUT, &[]).unwrap()), Err(Refusal::BAD_MESSAGE));
        assert_eq!(Request::decode(&Message::new(9, &[1]).unwrap()), Err(Refusal::UNSUPPORTED));
        let r = Reply { len: 21, sum: 0xc8f0 };
        assert_eq!(Reply::decode(&r.encode()), r);
    }

    #[test]
    fn shout_upper_cases_ascii_only() {
        let mut t = *b"hello, server! 123";
        shout(&mut t);
        assert_eq!(&t, b"HELLO, SERVER! 123");
    }
}
