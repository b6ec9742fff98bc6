//! The contract between two template PDs, in one place: their shared region holds a `ring`
//! queue pair at [`QUEUE_AT`] (the greeting side is its `Sender`, the greeted side its
//! `Receiver`) and [`BUFFERS`] text buffers of [`BUFFER_LEN`] bytes from [`BUFFERS_AT`]. A
//! descriptor names a buffer by its offset and the text's length; [`buffer`] checks one read
//! from the peer before it is used, so a peer's bad descriptor is an error, never an access
//! outside the buffers.
#![no_std]
#![forbid(unsafe_code)]

use ring::Desc;

/// Entries per ring (a power of two, as `ring` requires; never read from the region).
pub const QUEUE_CAPACITY: u32 = 4;
/// Where the queue pair starts in the shared region.
pub const QUEUE_AT: usize = 0;
/// Bytes of the queue pair.
pub const QUEUE_BYTES: usize = match ring::queue_pair_size(QUEUE_CAPACITY) {
    Ok(n) => n,
    Err(_) => panic!("the queue capacity is a power of two"),
};
/// Where the text buffers start.
pub const BUFFERS_AT: usize = QUEUE_AT + QUEUE_BYTES;
/// Bytes per buffer.
pub const BUFFER_LEN: usize = 64;
/// Buffers (one per queue entry).
pub const BUFFERS: usize = QUEUE_CAPACITY as usize;
/// The smallest shared region that holds it all.
pub const MIN_REGION: usize = BUFFERS_AT + BUFFERS * BUFFER_LEN;

/// The descriptor for buffer `i` holding `len` bytes (`None` if either is out of range).
pub fn desc(i: usize, len: usize) -> Option<Desc> {
    (i < BUFFERS && len <= BUFFER_LEN).then(|| Desc {
        dataspace: 0,
        offset: (BUFFERS_AT + i * BUFFER_LEN) as u32,
        len: len as u32,
        cookie: i as u32,
    })
}

/// A peer's descriptor that does not name one of the buffers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BadDesc(pub Desc);

/// The (offset, length) in the shared region of the buffer a peer's descriptor names.
pub fn buffer(d: Desc) -> Result<(usize, usize), BadDesc> {
    let i = (d.offset as usize).checked_sub(BUFFERS_AT).map(|o| (o / BUFFER_LEN, o % BUFFER_LEN));
    match i {
        Some((i, 0)) if i < BUFFERS && d.len as usize <= BUFFER_LEN && d.dataspace == 0 => {
            Ok((d.offset as usize, d.len as usize))
        }
        _ => Err(BadDesc(d)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn descriptors_round_trip_and_bad_ones_are_refused() {
        let d = desc(2, 10).unwrap();
        assert_eq!(buffer(d), Ok((BUFFERS_AT + 2 * BUFFER_LEN, 10)));
        assert_eq!(desc(BUFFERS, 1), None);
        assert_eq!(desc(0, BUFFER_LEN + 1), None);
        for bad in [
            Desc { offset: 0, ..d },
            Desc { offset: d.offset + 1, ..d },
            Desc { offset: (BUFFERS_AT + BUFFERS * BUFFER_LEN) as u32, ..d },
            Desc { len: BUFFER_LEN as u32 + 1, ..d },
            Desc { dataspace: 1, ..d },
        ] {
            assert_eq!(buffer(bad), Err(BadDesc(bad)), "{bad:?}");
        }
        const { assert!(MIN_REGION <= 4096, "the shared region is one page") };
    }
}
