//! The hello example's PPC between client and server: the client puts text at offset 0 of the
//! shared region and calls with [`SHOUT`] and the text's length; the server upper-cases the
//! text in place and replies with the length and a checksum of what it read, which the client
//! checks against its own.
#![no_std]
#![forbid(unsafe_code)]

/// Label of the call: word 0 = number of bytes at the start of the shared region.
pub const SHOUT: u64 = 1;

/// Refusal code: the length does not fit the shared region.
pub const TOO_LONG: u64 = 1;

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
    fn shout_upper_cases_ascii_only() {
        let mut t = *b"hello, server! 123";
        shout(&mut t);
        assert_eq!(&t, b"HELLO, SERVER! 123");
    }
}
