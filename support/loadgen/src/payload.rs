//! The datagram every probe carries: a small header (magic, run tag, level, sequence number,
//! send time) and a fill derived from the sequence number, so an echo is checked byte for
//! byte without keeping a copy of what was sent.

/// Marks our datagrams ("LGEN").
pub const MAGIC: [u8; 4] = *b"LGEN";
/// Bytes of header at the start of every payload.
pub const HEADER: usize = 24;
/// Smallest payload that holds the header.
pub const MIN_PAYLOAD: usize = HEADER;

/// What a payload says about itself.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Probe {
    /// Tag of the run that sent it (echoes of an earlier run are ignored).
    pub run: u16,
    /// Load level (index) it was sent in.
    pub level: u16,
    /// Sequence number within the run.
    pub seq: u64,
    /// Send time, nanoseconds since the run started.
    pub sent_ns: u64,
}

/// The fill's per-probe key: the fill is `i + key` (mod 256) at payload byte `HEADER + i`,
/// cheap enough to write and check at a gigabit (it vectorises).
fn key(seq: u64) -> u8 {
    (seq as u8).wrapping_mul(31).wrapping_add((seq >> 8) as u8).wrapping_add(0x5a)
}

/// Writes the probe into `buf` (its whole length is the payload).
pub fn write(buf: &mut [u8], p: Probe) {
    assert!(buf.len() >= HEADER, "payload shorter than the probe header");
    buf[0..4].copy_from_slice(&MAGIC);
    buf[4..6].copy_from_slice(&p.run.to_le_bytes());
    buf[6..8].copy_from_slice(&p.level.to_le_bytes());
    buf[8..16].copy_from_slice(&p.seq.to_le_bytes());
    buf[16..24].copy_from_slice(&p.sent_ns.to_le_bytes());
    let k = key(p.seq);
    for (i, b) in buf[HEADER..].iter_mut().enumerate() {
        *b = (i as u8).wrapping_add(k);
    }
}

/// How a received payload compares with what was sent.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Check {
    /// Ours and intact.
    Intact(Probe),
    /// Ours (header readable) but the length or some byte differs.
    Corrupt(Probe),
    /// Not one of ours (another run, or foreign traffic).
    Foreign,
}

/// Checks a received payload: ours (run tag `run`), of length `len`, every byte as sent.
pub fn check(buf: &[u8], run: u16, len: usize) -> Check {
    if buf.len() < HEADER || buf[0..4] != MAGIC {
        return Check::Foreign;
    }
    let word = |r: core::ops::Range<usize>| {
        let mut b = [0u8; 8];
        b[..r.len()].copy_from_slice(&buf[r]);
        u64::from_le_bytes(b)
    };
    let p = Probe { run: word(4..6) as u16, level: word(6..8) as u16, seq: word(8..16), sent_ns: word(16..24) };
    if p.run != run {
        return Check::Foreign;
    }
    let k = key(p.seq);
    let intact = buf.len() == len
        && buf[HEADER..].iter().enumerate().fold(true, |ok, (i, &b)| ok & (b == (i as u8).wrapping_add(k)));
    if intact {
        Check::Intact(p)
    } else {
        Check::Corrupt(p)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_every_flipped_byte_is_caught() {
        let p = Probe { run: 7, level: 3, seq: 0x1234_5678_9abc, sent_ns: 42 };
        let mut buf = vec![0u8; 1024];
        write(&mut buf, p);
        assert_eq!(check(&buf, 7, 1024), Check::Intact(p));
        assert_eq!(check(&buf, 8, 1024), Check::Foreign, "another run's echo");
        assert_eq!(check(&buf[..1000], 7, 1024), Check::Corrupt(p), "truncated");
        for i in [HEADER, 500, 1023] {
            let mut bad = buf.clone();
            bad[i] ^= 0x40;
            assert_eq!(check(&bad, 7, 1024), Check::Corrupt(p), "byte {i}");
        }
        assert_eq!(check(b"short", 7, 5), Check::Foreign);
    }

    #[test]
    fn fills_differ_between_sequence_numbers() {
        let mut a = vec![0u8; 64];
        let mut b = vec![0u8; 64];
        write(&mut a, Probe { run: 1, level: 0, seq: 1, sent_ns: 0 });
        write(&mut b, Probe { run: 1, level: 0, seq: 2, sent_ns: 0 });
        assert_ne!(a[HEADER..], b[HEADER..]);
    }
}
