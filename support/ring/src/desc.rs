//! The descriptor that travels through the rings, and the bounds check a server applies to it
//! against a client's session before touching the buffer it names.

use core::fmt;
use core::ops::Range;

/// Names a buffer by (dataspace, offset, len), never by pointer; `cookie` is the producer's own
/// tag, handed back unchanged (e.g. a buffer index). Plain value: copied out of shared memory
/// before anyone looks at it, so a peer cannot change it after it has been validated.
#[repr(C)]
#[derive(
    Clone,
    Copy,
    Debug,
    Default,
    PartialEq,
    Eq,
    Hash,
    zerocopy::FromBytes,
    zerocopy::IntoBytes,
    zerocopy::Immutable,
    zerocopy::KnownLayout,
)]
pub struct Desc {
    /// Dataspace id, as agreed when the session was opened.
    pub dataspace: u32,
    /// Byte offset of the buffer inside the dataspace.
    pub offset: u32,
    /// Byte length of the buffer (or of the valid data in it).
    pub len: u32,
    /// Opaque to the receiver; returned as is on the free ring.
    pub cookie: u32,
}

/// What a server knows about a client's session: the size of each dataspace it named.
pub trait Dataspaces {
    /// Size in bytes of `dataspace` if it belongs to the session, `None` if it does not.
    fn size_of(&self, dataspace: u32) -> Option<u64>;
}

/// A closure `|dataspace| -> Option<size>` is a session description.
impl<F: Fn(u32) -> Option<u64>> Dataspaces for F {
    fn size_of(&self, dataspace: u32) -> Option<u64> {
        self(dataspace)
    }
}

/// A slice of sizes is a session whose dataspace ids are `0..len`.
impl Dataspaces for [u64] {
    fn size_of(&self, dataspace: u32) -> Option<u64> {
        self.get(usize::try_from(dataspace).ok()?).copied()
    }
}

/// Why a descriptor from a peer was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[allow(missing_docs)] // the fields are the values named in the variant's doc
pub enum DescError {
    /// The dataspace is not part of the session.
    UnknownDataspace { dataspace: u32 },
    /// `offset + len` runs past the end of the dataspace.
    OutOfBounds { dataspace: u32, offset: u32, len: u32, size: u64 },
}

impl fmt::Display for DescError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Self::UnknownDataspace { dataspace } => write!(
                f,
                "descriptor names dataspace {dataspace}, which is not part of this session: \
                 the client must name it when opening the session"
            ),
            Self::OutOfBounds { dataspace, offset, len, size } => write!(
                f,
                "descriptor buffer [{offset:#x}, +{len:#x}) runs past the end of dataspace \
                 {dataspace} ({size:#x} bytes)"
            ),
        }
    }
}

impl core::error::Error for DescError {}

impl Desc {
    /// Checks this descriptor against a session and returns the byte range it names inside its
    /// dataspace. The end is computed in u64, so `offset + len` cannot wrap around (a u32 sum
    /// could, and would let `0xffff_f000 + 0x2000` pass as `0x1000`).
    pub fn validate<D: Dataspaces + ?Sized>(&self, session: &D) -> Result<Range<u64>, DescError> {
        let size = session.size_of(self.dataspace).ok_or(DescError::UnknownDataspace { dataspace: self.dataspace })?;
        let start = u64::from(self.offset);
        let end = start + u64::from(self.len);
        if end > size {
            return Err(DescError::OutOfBounds { dataspace: self.dataspace, offset: self.offset, len: self.len, size });
        }
        Ok(start..end)
    }
}
