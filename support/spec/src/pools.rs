//! Buffer-pool reports: each PD describes its buffer pools (size, free, posted) in the unused
//! upper part of its own IPC buffer page (the kernel uses only the first 1024 bytes), and the
//! monitor reads them for the console's `status` (and to check after a load that every pool is
//! back to its size). One layout for the writer (the PD runtime) and the reader (the monitor).
//!
//! At byte [`OFFSET`] of the page: `magic: u32`, then [`MAX_POOLS`] records of [`RECORD`]
//! bytes: `seq: u32` (odd while the PD rewrites the record, 0 = unused), `size`, `free`,
//! `posted` (`u32` each), `name_len: u32`, `name: [u8; NAME_LEN]`, padding. All little-endian.

/// Where the reports start in the IPC buffer page.
pub const OFFSET: usize = 2048;
/// Marks a page whose reports were written by our runtime.
pub const MAGIC: u32 = 0x4c4f_4f50; // "POOL"
/// Most pools one PD reports.
pub const MAX_POOLS: usize = 8;
/// Longest pool name kept.
pub const NAME_LEN: usize = 12;
/// Bytes per record.
pub const RECORD: usize = 32;
/// Bytes of the whole area.
pub const AREA: usize = 4 + MAX_POOLS * RECORD;

const _: () = assert!(OFFSET >= 1024 && OFFSET + AREA <= 4096);
const _: () = assert!(20 + NAME_LEN <= RECORD);

/// One pool as its PD reports it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Pool<'a> {
    /// The pool's name (e.g. `rx`).
    pub name: &'a str,
    /// Buffers it owns in all.
    pub size: u32,
    /// Buffers free in the PD.
    pub free: u32,
    /// Buffers lent to a peer (posted to a device or a client).
    pub posted: u32,
}

/// Byte offset (within the area) of record `i`.
pub const fn record_offset(i: usize) -> usize {
    4 + i * RECORD
}

/// The record bytes for `pool` with sequence number `seq` (the writer stores `seq | 1` first,
/// then these fields, then the even `seq`).
pub fn encode(pool: &Pool<'_>, seq: u32) -> [u8; RECORD] {
    let mut r = [0u8; RECORD];
    let name = &pool.name.as_bytes()[..pool.name.len().min(NAME_LEN)];
    r[0..4].copy_from_slice(&seq.to_le_bytes());
    r[4..8].copy_from_slice(&pool.size.to_le_bytes());
    r[8..12].copy_from_slice(&pool.free.to_le_bytes());
    r[12..16].copy_from_slice(&pool.posted.to_le_bytes());
    r[16..20].copy_from_slice(&(name.len() as u32).to_le_bytes());
    r[20..20 + name.len()].copy_from_slice(name);
    r
}

/// What a reader makes of one record.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Read<'a> {
    /// No pool in this slot.
    Unused,
    /// The PD was rewriting it (odd sequence number): read again later.
    Busy,
    /// A consistent report.
    Pool(Pool<'a>),
    /// Not a well-formed record (a PD wrote garbage): shown as such, never trusted.
    Bad,
}

fn word(b: &[u8], at: usize) -> u32 {
    let mut w = [0u8; 4];
    w.copy_from_slice(&b[at..at + 4]);
    u32::from_le_bytes(w)
}

/// Decodes record `i` of `area` (the [`AREA`] bytes at [`OFFSET`]); every value is checked.
pub fn decode(area: &[u8], i: usize) -> Read<'_> {
    if area.len() < AREA || word(area, 0) != MAGIC || i >= MAX_POOLS {
        return Read::Unused;
    }
    let r = &area[record_offset(i)..record_offset(i) + RECORD];
    let seq = word(r, 0);
    if seq == 0 {
        return Read::Unused;
    }
    if seq & 1 == 1 {
        return Read::Busy;
    }
    let len = word(r, 16) as usize;
    let Some(name) = r.get(20..20 + len.min(NAME_LEN + 1)).filter(|_| len <= NAME_LEN) else { return Read::Bad };
    match core::str::from_utf8(name) {
        Ok(name) if !name.is_empty() && name.bytes().all(|c| c.is_ascii_graphic()) => {
            Read::Pool(Pool { name, size: word(r, 4), free: word(r, 8), posted: word(r, 12) })
        }
        _ => Read::Bad,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn area_with(records: &[[u8; RECORD]]) -> [u8; AREA] {
        let mut a = [0u8; AREA];
        a[0..4].copy_from_slice(&MAGIC.to_le_bytes());
        for (i, r) in records.iter().enumerate() {
            a[record_offset(i)..record_offset(i) + RECORD].copy_from_slice(r);
        }
        a
    }

    #[test]
    fn records_round_trip_and_garbage_is_never_trusted() {
        let rx = Pool { name: "rx", size: 256, free: 0, posted: 256 };
        let a = area_with(&[encode(&rx, 2), encode(&Pool { name: "tx", size: 8, free: 8, posted: 0 }, 5)]);
        assert_eq!(decode(&a, 0), Read::Pool(rx));
        assert_eq!(decode(&a, 1), Read::Busy, "odd sequence: mid-update");
        assert_eq!(decode(&a, 2), Read::Unused);
        assert_eq!(decode(&a, MAX_POOLS), Read::Unused);
        let mut bad = encode(&rx, 2);
        bad[16] = 200; // name length out of range
        assert_eq!(decode(&area_with(&[bad]), 0), Read::Bad);
        let mut ctl = encode(&rx, 2);
        ctl[20] = b'\n'; // a name that would break the status line
        assert_eq!(decode(&area_with(&[ctl]), 0), Read::Bad);
        assert_eq!(decode(&[0u8; AREA], 0), Read::Unused, "no magic: the PD reports nothing");
        assert_eq!(decode(&a[..10], 0), Read::Unused);
    }

    #[test]
    fn long_names_are_cut() {
        let p = Pool { name: "a-very-long-pool-name", size: 1, free: 1, posted: 0 };
        match decode(&area_with(&[encode(&p, 2)]), 0) {
            Read::Pool(got) => assert_eq!(got.name, &p.name[..NAME_LEN]),
            other => panic!("{other:?}"),
        }
    }
}
