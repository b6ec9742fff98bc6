//! The root task's boot information (`seL4_BootInfo`, seL4 5.0.0 x86_64), parsed from bytes.
//!
//! The C struct is `SEL4_PACKED`, so fields sit at unaligned offsets; we read them with
//! `from_le_bytes` from a byte slice instead of casting. Layout (bytes, 8-byte words):
//!
//! ```text
//!   0 extraLen         8 nodeID          16 numNodes        24 numIOPTLevels
//!  32 ipcBuffer       40 empty{start,end}                   56 sharedFrames
//!  72 userImageFrames 88 userImagePaging 104 ioSpaceCaps   120 extraBIPages
//! 136 initThreadCNodeSizeBits (u8)       137 initThreadDomain
//! 145 archInfo (TSC MHz on x86)          153 untyped{start,end}
//! 169 untypedList[CONFIG_MAX_NUM_BOOTINFO_UNTYPED_CAPS] of {paddr u64, pad u8, pad u8,
//!     sizeBits u8, isDevice u8} (12 bytes each)
//! ```
//!
//! If `extraLen` > 0, extra chunks (`seL4_BootInfoHeader {id, len}` + body) start 4 KiB after
//! the bootinfo. The interface test checks these offsets against the kernel's header with a C
//! compiler.

use crate::label::config::MAX_NUM_BOOTINFO_UNTYPED_CAPS;
use crate::types::{CPtr, Word};
use core::fmt;

/// Byte offsets of the fields (see the module documentation).
pub mod offset {
    pub const EXTRA_LEN: usize = 0;
    pub const NODE_ID: usize = 8;
    pub const NUM_NODES: usize = 16;
    pub const NUM_IOPT_LEVELS: usize = 24;
    pub const IPC_BUFFER: usize = 32;
    pub const EMPTY: usize = 40;
    pub const SHARED_FRAMES: usize = 56;
    pub const USER_IMAGE_FRAMES: usize = 72;
    pub const USER_IMAGE_PAGING: usize = 88;
    pub const IO_SPACE_CAPS: usize = 104;
    pub const EXTRA_BI_PAGES: usize = 120;
    pub const INIT_THREAD_CNODE_SIZE_BITS: usize = 136;
    pub const INIT_THREAD_DOMAIN: usize = 137;
    pub const ARCH_INFO: usize = 145;
    pub const UNTYPED: usize = 153;
    pub const UNTYPED_LIST: usize = 169;
    /// Size of one `seL4_UntypedDesc`.
    pub const UNTYPED_DESC_SIZE: usize = 12;
    /// `sizeof(seL4_BootInfo)` with our CONFIG_MAX_NUM_BOOTINFO_UNTYPED_CAPS.
    pub const SIZE: usize = UNTYPED_LIST + super::MAX_NUM_BOOTINFO_UNTYPED_CAPS * UNTYPED_DESC_SIZE;
}

/// Offset of the extra bootinfo chunks from the start of the bootinfo.
pub const EXTRA_OFFSET: usize = 4096;

/// Extra-chunk identifiers of seL4 5.0 (`SEL4_BOOTINFO_HEADER_*`).
pub const EXTRA_PADDING: Word = 0;
pub const EXTRA_X86_VBE: Word = 1;

/// Why a bootinfo could not be parsed.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum BootInfoError {
    /// Fewer bytes than the structure needs.
    TooShort { len: usize, need: usize },
    /// A slot region with end before start.
    BadRegion { field: &'static str, start: Word, end: Word },
    /// More untyped caps than the list can hold.
    TooManyUntypeds { count: Word, max: usize },
    /// An extra chunk whose header is truncated or whose length is impossible.
    BadExtraChunk { offset: usize, len: Word },
}

impl fmt::Display for BootInfoError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            BootInfoError::TooShort { len, need } => {
                write!(f, "bootinfo is {len} bytes, the seL4 5.0 layout needs at least {need}")
            }
            BootInfoError::BadRegion { field, start, end } => {
                write!(f, "bootinfo field {field} is an impossible slot region {start}..{end}")
            }
            BootInfoError::TooManyUntypeds { count, max } => write!(
                f,
                "bootinfo lists {count} untyped caps but holds at most {max}: the kernel's \
                 CONFIG_MAX_NUM_BOOTINFO_UNTYPED_CAPS does not match this crate's"
            ),
            BootInfoError::BadExtraChunk { offset, len } => {
                write!(f, "extra bootinfo chunk at byte {offset} has an impossible length {len}")
            }
        }
    }
}

/// A range of root-CNode slots `start..end`.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq)]
pub struct SlotRegion {
    pub start: Word,
    pub end: Word,
}

impl SlotRegion {
    pub const fn len(&self) -> Word {
        self.end - self.start
    }
    pub const fn is_empty(&self) -> bool {
        self.end == self.start
    }
    /// The slots as cptrs.
    pub fn iter(&self) -> impl Iterator<Item = CPtr> {
        (self.start..self.end).map(CPtr)
    }
}

/// One untyped capability's description.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct UntypedDesc {
    /// The slot of its cap in the root CNode.
    pub cap: CPtr,
    pub paddr: Word,
    pub size_bits: u8,
    /// Device memory (MMIO), not RAM: may only be retyped into frames.
    pub is_device: bool,
}

impl UntypedDesc {
    /// Size in bytes (saturating for impossible sizes).
    pub const fn size(&self) -> Word {
        if self.size_bits < 64 {
            1 << self.size_bits
        } else {
            Word::MAX
        }
    }
}

/// A parsed view of the bootinfo page (and the extra pages after it, if given).
#[derive(Copy, Clone, Debug)]
pub struct BootInfo<'a> {
    bytes: &'a [u8],
}

fn word(b: &[u8], at: usize) -> Word {
    let mut w = [0u8; 8];
    w.copy_from_slice(&b[at..at + 8]);
    Word::from_le_bytes(w)
}

impl<'a> BootInfo<'a> {
    /// Parses and validates a bootinfo. `bytes` starts at the bootinfo; it may extend over the
    /// extra chunks (4 KiB + `extraLen` bytes) for [`BootInfo::extra_chunks`].
    pub fn parse(bytes: &'a [u8]) -> Result<Self, BootInfoError> {
        if bytes.len() < offset::UNTYPED_LIST {
            return Err(BootInfoError::TooShort { len: bytes.len(), need: offset::UNTYPED_LIST });
        }
        let bi = BootInfo { bytes };
        for (field, r) in [
            ("empty", bi.empty()),
            ("sharedFrames", bi.shared_frames()),
            ("userImageFrames", bi.user_image_frames()),
            ("userImagePaging", bi.user_image_paging()),
            ("ioSpaceCaps", bi.io_space_caps()),
            ("extraBIPages", bi.extra_bi_pages()),
            ("untyped", bi.untyped()),
        ] {
            if r.end < r.start {
                return Err(BootInfoError::BadRegion { field, start: r.start, end: r.end });
            }
        }
        let n = bi.untyped().len();
        if n > MAX_NUM_BOOTINFO_UNTYPED_CAPS as Word {
            return Err(BootInfoError::TooManyUntypeds { count: n, max: MAX_NUM_BOOTINFO_UNTYPED_CAPS });
        }
        let need = offset::UNTYPED_LIST + n as usize * offset::UNTYPED_DESC_SIZE;
        if bytes.len() < need {
            return Err(BootInfoError::TooShort { len: bytes.len(), need });
        }
        Ok(bi)
    }

    /// Parses the bootinfo at `ptr`, including its extra chunks.
    ///
    /// # Safety
    /// `ptr` must point to the kernel-provided bootinfo frame, followed by its extra bootinfo
    /// pages when `extraLen` > 0 (the kernel maps them so), readable for `'static`.
    pub unsafe fn from_ptr(ptr: *const u8) -> Result<BootInfo<'static>, BootInfoError> {
        // SAFETY: the caller guarantees a readable 4 KiB bootinfo frame at `ptr`.
        let page: &'static [u8] = unsafe { core::slice::from_raw_parts(ptr, EXTRA_OFFSET) };
        let extra_len = word(page, offset::EXTRA_LEN) as usize;
        let total = if extra_len > 0 { EXTRA_OFFSET.saturating_add(extra_len) } else { EXTRA_OFFSET };
        // SAFETY: the caller guarantees the extra pages follow when extraLen > 0.
        let all: &'static [u8] = unsafe { core::slice::from_raw_parts(ptr, total) };
        BootInfo::parse(all)
    }

    fn w(&self, at: usize) -> Word {
        word(self.bytes, at)
    }
    fn region(&self, at: usize) -> SlotRegion {
        SlotRegion { start: self.w(at), end: self.w(at + 8) }
    }

    pub fn extra_len(&self) -> Word {
        self.w(offset::EXTRA_LEN)
    }
    pub fn node_id(&self) -> Word {
        self.w(offset::NODE_ID)
    }
    pub fn num_nodes(&self) -> Word {
        self.w(offset::NUM_NODES)
    }
    /// The raw `numIOPTLevels`: the kernel writes -1 (all ones) when built without
    /// CONFIG_IOMMU; see [`BootInfo::iommu_levels`].
    pub fn num_iopt_levels(&self) -> Word {
        self.w(offset::NUM_IOPT_LEVELS)
    }
    /// IOMMU (VT-d) page-table levels, `None` when the kernel has no IOMMU support.
    pub fn iommu_levels(&self) -> Option<Word> {
        match self.num_iopt_levels() {
            0 | Word::MAX => None,
            n => Some(n),
        }
    }
    /// The root task's IPC buffer address (the page after its image).
    pub fn ipc_buffer(&self) -> Word {
        self.w(offset::IPC_BUFFER)
    }
    /// Free slots of the root CNode.
    pub fn empty(&self) -> SlotRegion {
        self.region(offset::EMPTY)
    }
    pub fn shared_frames(&self) -> SlotRegion {
        self.region(offset::SHARED_FRAMES)
    }
    /// Frame caps of the root task's own image.
    pub fn user_image_frames(&self) -> SlotRegion {
        self.region(offset::USER_IMAGE_FRAMES)
    }
    pub fn user_image_paging(&self) -> SlotRegion {
        self.region(offset::USER_IMAGE_PAGING)
    }
    pub fn io_space_caps(&self) -> SlotRegion {
        self.region(offset::IO_SPACE_CAPS)
    }
    pub fn extra_bi_pages(&self) -> SlotRegion {
        self.region(offset::EXTRA_BI_PAGES)
    }
    pub fn init_thread_cnode_size_bits(&self) -> u8 {
        self.bytes[offset::INIT_THREAD_CNODE_SIZE_BITS]
    }
    pub fn init_thread_domain(&self) -> Word {
        self.w(offset::INIT_THREAD_DOMAIN)
    }
    /// `archInfo`: on x86 the TSC frequency in MHz.
    pub fn tsc_mhz(&self) -> Word {
        self.w(offset::ARCH_INFO)
    }
    /// Slots of the untyped caps.
    pub fn untyped(&self) -> SlotRegion {
        self.region(offset::UNTYPED)
    }

    /// The untyped caps with their descriptions, in slot order.
    pub fn untypeds(&self) -> impl Iterator<Item = UntypedDesc> + '_ {
        let r = self.untyped();
        (0..r.len() as usize).map(move |i| {
            let at = offset::UNTYPED_LIST + i * offset::UNTYPED_DESC_SIZE;
            UntypedDesc {
                cap: CPtr(r.start + i as Word),
                paddr: self.w(at),
                size_bits: self.bytes[at + 10],
                is_device: self.bytes[at + 11] != 0,
            }
        })
    }

    /// Extra bootinfo chunks `(id, body)`, if the slice given to [`BootInfo::parse`] covers
    /// them. A malformed header ends the iteration with an error item.
    pub fn extra_chunks(&self) -> ExtraChunks<'a> {
        let len = self.extra_len() as usize;
        let start = EXTRA_OFFSET.min(self.bytes.len());
        let end = EXTRA_OFFSET.saturating_add(len).min(self.bytes.len());
        ExtraChunks { bytes: &self.bytes[start..end], pos: 0, failed: false }
    }
}

/// Iterator over extra bootinfo chunks.
#[derive(Clone, Debug)]
pub struct ExtraChunks<'a> {
    bytes: &'a [u8],
    pos: usize,
    failed: bool,
}

impl<'a> Iterator for ExtraChunks<'a> {
    type Item = Result<(Word, &'a [u8]), BootInfoError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.failed || self.pos >= self.bytes.len() {
            return None;
        }
        let rest = &self.bytes[self.pos..];
        let bad = BootInfoError::BadExtraChunk { offset: EXTRA_OFFSET + self.pos, len: 0 };
        if rest.len() < 16 {
            self.failed = true;
            return Some(Err(bad));
        }
        let (id, len) = (word(rest, 0), word(rest, 8));
        if len < 16 || len > rest.len() as Word {
            self.failed = true;
            return Some(Err(BootInfoError::BadExtraChunk { offset: EXTRA_OFFSET + self.pos, len }));
        }
        self.pos += len as usize;
        Some(Ok((id, &rest[16..len as usize])))
    }
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::*;
    use std::vec;
    use std::vec::Vec;

    fn put(b: &mut [u8], at: usize, v: Word) {
        b[at..at + 8].copy_from_slice(&v.to_le_bytes());
    }

    fn sample() -> Vec<u8> {
        let mut b = vec![0u8; EXTRA_OFFSET + 48];
        put(&mut b, offset::EXTRA_LEN, 48);
        put(&mut b, offset::NUM_NODES, 1);
        put(&mut b, offset::IPC_BUFFER, 0x40_3000);
        put(&mut b, offset::EMPTY, 300);
        put(&mut b, offset::EMPTY + 8, 65536);
        put(&mut b, offset::USER_IMAGE_FRAMES, 12);
        put(&mut b, offset::USER_IMAGE_FRAMES + 8, 20);
        b[offset::INIT_THREAD_CNODE_SIZE_BITS] = 16;
        put(&mut b, offset::ARCH_INFO, 2993);
        put(&mut b, offset::UNTYPED, 25);
        put(&mut b, offset::UNTYPED + 8, 28);
        for (i, (paddr, bits, dev)) in
            [(0x10_0000u64, 20u8, 0u8), (0x800_0000, 27, 0), (0xfebc_0000, 17, 1)].into_iter().enumerate()
        {
            let at = offset::UNTYPED_LIST + i * 12;
            put(&mut b, at, paddr);
            b[at + 10] = bits;
            b[at + 11] = dev;
        }
        // Two extra chunks: padding (16 bytes header + 8 body), VBE (16 + 8).
        put(&mut b, EXTRA_OFFSET, EXTRA_PADDING);
        put(&mut b, EXTRA_OFFSET + 8, 24);
        put(&mut b, EXTRA_OFFSET + 24, EXTRA_X86_VBE);
        put(&mut b, EXTRA_OFFSET + 32, 24);
        put(&mut b, EXTRA_OFFSET + 40, 0xabcd);
        b
    }

    #[test]
    fn parses_fields_and_untypeds() {
        let b = sample();
        let bi = BootInfo::parse(&b).unwrap();
        assert_eq!(bi.num_nodes(), 1);
        assert_eq!(bi.ipc_buffer(), 0x40_3000);
        assert_eq!(bi.empty(), SlotRegion { start: 300, end: 65536 });
        assert_eq!(bi.user_image_frames().len(), 8);
        assert_eq!(bi.init_thread_cnode_size_bits(), 16);
        assert_eq!(bi.tsc_mhz(), 2993);
        assert_eq!(bi.iommu_levels(), None);
        let u: Vec<_> = bi.untypeds().collect();
        assert_eq!(u.len(), 3);
        assert_eq!(u[0], UntypedDesc { cap: CPtr(25), paddr: 0x10_0000, size_bits: 20, is_device: false });
        assert_eq!(u[2].cap, CPtr(27));
        assert!(u[2].is_device);
        assert_eq!(u[1].size(), 128 << 20);
    }

    #[test]
    fn extra_chunks_are_walked() {
        let b = sample();
        let bi = BootInfo::parse(&b).unwrap();
        let c: Vec<_> = bi.extra_chunks().collect::<Result<_, _>>().unwrap();
        assert_eq!(c.len(), 2);
        assert_eq!(c[0].0, EXTRA_PADDING);
        assert_eq!(c[1].0, EXTRA_X86_VBE);
        assert_eq!(c[1].1, &0xabcdu64.to_le_bytes());
    }

    #[test]
    fn rejects_bad_input_without_panicking() {
        assert_eq!(
            BootInfo::parse(&[0u8; 100]).unwrap_err(),
            BootInfoError::TooShort { len: 100, need: offset::UNTYPED_LIST }
        );
        let mut b = sample();
        put(&mut b, offset::UNTYPED + 8, 24); // end < start
        assert!(matches!(BootInfo::parse(&b), Err(BootInfoError::BadRegion { field: "untyped", .. })));
        let mut b = sample();
        put(&mut b, offset::UNTYPED + 8, 25 + 500);
        let e = BootInfo::parse(&b).unwrap_err();
        assert!(std::format!("{e}").contains("CONFIG_MAX_NUM_BOOTINFO_UNTYPED_CAPS"));
        // A chunk claiming more than is there.
        let mut b = sample();
        put(&mut b, EXTRA_OFFSET + 32, 4000);
        let bi = BootInfo::parse(&b).unwrap();
        let items: Vec<_> = bi.extra_chunks().collect();
        assert_eq!(items.len(), 2);
        assert!(items[1].is_err());
        // Untyped list running past a short slice.
        let b = sample();
        assert!(matches!(BootInfo::parse(&b[..offset::UNTYPED_LIST + 20]), Err(BootInfoError::TooShort { .. })));
    }
}
