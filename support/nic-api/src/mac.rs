//! The NIC's station address: what OPEN's reply carries, what a client's frames use as their
//! source, printed as `aa:bb:cc:dd:ee:ff` in every boot line that names it.

use core::fmt;

/// An Ethernet station address.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct MacAddr(pub [u8; 6]);

impl MacAddr {
    /// A usable unicast station address: not multicast/broadcast and not all zeros.
    pub fn is_valid_station(&self) -> bool {
        self.0[0] & 1 == 0 && self.0 != [0; 6]
    }

    /// The address as one message word: byte `i` in bits `8 * i .. 8 * i + 8`, bits 48..64 zero.
    pub fn to_word(self) -> u64 {
        let mut b = [0u8; 8];
        b[..6].copy_from_slice(&self.0);
        u64::from_le_bytes(b)
    }

    /// The address in a word made by [`MacAddr::to_word`]; `None` if bits 48..64 are not zero.
    pub fn from_word(word: u64) -> Option<Self> {
        if word >> 48 != 0 {
            return None;
        }
        let b = word.to_le_bytes();
        Some(Self([b[0], b[1], b[2], b[3], b[4], b[5]]))
    }
}

impl fmt::Display for MacAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let m = self.0;
        write!(f, "{:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}", m[0], m[1], m[2], m[3], m[4], m[5])
    }
}
