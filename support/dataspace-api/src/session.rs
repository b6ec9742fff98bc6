//! The driver's view of a client session: which dataspaces the client attached (each with its
//! place in the translation cache), and the bounds check every buffer descriptor
//! `(dataspace, offset, len)` from that client must pass before the driver touches it.
//!
//! Rejections are counted per session, and a rejected descriptor never changes the session.
use core::fmt;

use crate::msg::SessionError;
use crate::{DsId, PdId, MIN_PAGE_SIZE};

/// Most dataspaces one session may attach (also the most one OPEN message may name).
pub const MAX_SESSION_DATASPACES: usize = 6;

/// A dataspace attached to a driver's translation cache: what the manager's ATTACH reply says.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Attachment {
    ds: DsId,
    base: u32,
    pages: u32,
    page_size: u64,
}

impl Attachment {
    /// An attachment of `pages` pages of `page_size` bytes whose cache entries start at
    /// `base`; `None` if `page_size` is not a power of two of at least [`MIN_PAGE_SIZE`],
    /// `pages` is zero, the size overflows, or `base + pages` does not fit the index space.
    pub fn new(ds: DsId, base: u32, pages: u32, page_size: u64) -> Option<Self> {
        let ok = page_size >= MIN_PAGE_SIZE
            && page_size.is_power_of_two()
            && pages > 0
            && base.checked_add(pages).is_some()
            && page_size.checked_mul(u64::from(pages)).is_some();
        ok.then_some(Self {
            ds,
            base,
            pages,
            page_size,
        })
    }

    /// The dataspace.
    pub fn ds(&self) -> DsId {
        self.ds
    }

    /// Index of page 0's entry in the translation cache.
    pub fn base(&self) -> u32 {
        self.base
    }

    /// Pages in the dataspace.
    pub fn pages(&self) -> u32 {
        self.pages
    }

    /// Bytes per page (a power of two).
    pub fn page_size(&self) -> u64 {
        self.page_size
    }

    /// Bytes in the dataspace.
    pub fn size(&self) -> u64 {
        self.page_size * u64::from(self.pages)
    }

    /// The cache entry of page `page`, or `None` past the dataspace.
    pub fn index(&self, page: u32) -> Option<usize> {
        (page < self.pages).then(|| self.base as usize + page as usize)
    }
}

/// A buffer descriptor that passed the bounds check: `len` (> 0) bytes at `offset` in the
/// attached dataspace, wholly inside it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Buffer {
    /// The dataspace it lies in.
    pub attachment: Attachment,
    /// Byte offset in the dataspace.
    pub offset: u64,
    /// Length in bytes.
    pub len: u64,
}

impl Buffer {
    /// The buffer split at page boundaries: one [`Chunk`] per page it touches, in order.
    pub fn chunks(&self) -> Chunks {
        Chunks {
            attachment: self.attachment,
            offset: self.offset,
            end: self.offset + self.len,
        }
    }

    /// The first and last page the buffer touches.
    pub fn page_range(&self) -> (u32, u32) {
        let shift = self.attachment.page_size.trailing_zeros();
        (
            (self.offset >> shift) as u32,
            ((self.offset + self.len - 1) >> shift) as u32,
        )
    }
}

/// The part of a buffer that lies in one page.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Chunk {
    /// The page.
    pub page: u32,
    /// The page's translation-cache entry.
    pub index: usize,
    /// Offset of the chunk within the page.
    pub offset_in_page: u64,
    /// Bytes in the chunk.
    pub len: u64,
}

/// Iterator over a buffer's [`Chunk`]s.
#[derive(Clone, Debug)]
pub struct Chunks {
    attachment: Attachment,
    offset: u64,
    end: u64,
}

impl Iterator for Chunks {
    type Item = Chunk;

    fn next(&mut self) -> Option<Chunk> {
        if self.offset >= self.end {
            return None;
        }
        let size = self.attachment.page_size;
        let page = (self.offset / size) as u32;
        let offset_in_page = self.offset % size;
        let len = (size - offset_in_page).min(self.end - self.offset);
        self.offset += len;
        Some(Chunk {
            page,
            index: self.attachment.base as usize + page as usize,
            offset_in_page,
            len,
        })
    }
}

/// Why a buffer descriptor was rejected.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BufferError {
    /// The dataspace is not attached to this session (unknown id, or one the client never
    /// opened the session with).
    NotInSession(u32),
    /// A zero-length buffer.
    ZeroLength,
    /// `offset + len` overflows.
    Overflow {
        /// The descriptor's offset.
        offset: u64,
        /// The descriptor's length.
        len: u64,
    },
    /// The buffer runs past the end of the dataspace.
    OutOfBounds {
        /// The dataspace.
        ds: u32,
        /// The descriptor's offset.
        offset: u64,
        /// The descriptor's length.
        len: u64,
        /// The dataspace's size.
        size: u64,
    },
}

impl fmt::Display for BufferError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Self::NotInSession(ds) => write!(
                f,
                "dataspace {ds} is not part of this session; open the session naming it"
            ),
            Self::ZeroLength => f.write_str("buffer of length 0; a descriptor must name at least one byte"),
            Self::Overflow { offset, len } => {
                write!(f, "buffer offset {offset:#x} + length {len:#x} overflows")
            }
            Self::OutOfBounds {
                ds,
                offset,
                len,
                size,
            } => write!(
                f,
                "buffer {offset:#x}+{len:#x} runs past the end of dataspace {ds} ({size:#x} bytes)"
            ),
        }
    }
}

/// One client's session with the driver.
#[derive(Clone, Debug)]
pub struct Session {
    client: PdId,
    attachments: [Option<Attachment>; MAX_SESSION_DATASPACES],
    accepted: u64,
    rejected: u64,
}

impl Session {
    /// An empty session of `client`.
    pub fn new(client: PdId) -> Self {
        Self {
            client,
            attachments: [None; MAX_SESSION_DATASPACES],
            accepted: 0,
            rejected: 0,
        }
    }

    /// The client.
    pub fn client(&self) -> PdId {
        self.client
    }

    /// Adds an attachment (from the manager's ATTACH reply).
    pub fn add(&mut self, attachment: Attachment) -> Result<(), SessionError> {
        if self.find(attachment.ds.0).is_some() {
            return Err(SessionError::DuplicateDataspace);
        }
        let slot = self
            .attachments
            .iter_mut()
            .find(|slot| slot.is_none())
            .ok_or(SessionError::TooManyDataspaces)?;
        *slot = Some(attachment);
        Ok(())
    }

    /// The session's attachments.
    pub fn attachments(&self) -> impl Iterator<Item = &Attachment> {
        self.attachments.iter().flatten()
    }

    fn find(&self, ds: u32) -> Option<&Attachment> {
        self.attachments().find(|a| a.ds.0 == ds)
    }

    /// Bounds-checks a descriptor from the client. The dataspace id is taken raw, as it came
    /// from shared memory; every failure is counted in [`Session::rejected`].
    pub fn validate(&mut self, ds: u32, offset: u64, len: u64) -> Result<Buffer, BufferError> {
        let result = self.check(ds, offset, len);
        match result {
            Ok(_) => self.accepted += 1,
            Err(_) => self.rejected += 1,
        }
        result
    }

    fn check(&self, ds: u32, offset: u64, len: u64) -> Result<Buffer, BufferError> {
        let attachment = *self.find(ds).ok_or(BufferError::NotInSession(ds))?;
        if len == 0 {
            return Err(BufferError::ZeroLength);
        }
        let end = offset
            .checked_add(len)
            .ok_or(BufferError::Overflow { offset, len })?;
        if end > attachment.size() {
            return Err(BufferError::OutOfBounds {
                ds,
                offset,
                len,
                size: attachment.size(),
            });
        }
        Ok(Buffer {
            attachment,
            offset,
            len,
        })
    }

    /// Descriptors accepted so far.
    pub fn accepted(&self) -> u64 {
        self.accepted
    }

    /// Descriptors rejected so far.
    pub fn rejected(&self) -> u64 {
        self.rejected
    }
}
