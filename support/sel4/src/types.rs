//! The small value types of the seL4 5.0 ABI: capability pointers, badges, rights, cap data,
//! message info, priorities, VM attributes, object types and the register context.
//!
//! Bit layouts follow the kernel's bitfield specifications (`shared_types_64.bf`,
//! `types_64.bf`: fields are listed most-significant first) and are tested below.

use core::fmt;

/// A machine word of the x86_64 kernel ABI.
pub type Word = u64;

/// A capability pointer: an address in a CSpace, resolved by the kernel.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[repr(transparent)]
pub struct CPtr(pub Word);

impl CPtr {
    /// The null capability pointer (slot 0 always holds the null cap).
    pub const NULL: CPtr = CPtr(0);
}

impl fmt::Display for CPtr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "cptr {:#x}", self.0)
    }
}

/// A badge delivered with an IPC or a notification (28 bits in seL4 5.0).
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[repr(transparent)]
pub struct Badge(pub Word);

/// Number of usable badge bits (`seL4_BadgeBits`).
pub const BADGE_BITS: u32 = 28;

/// Access rights of a capability (`seL4_CapRights_t`): write is bit 0, read bit 1, grant bit 2.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq, Hash)]
#[repr(transparent)]
pub struct CapRights(pub Word);

impl CapRights {
    pub const NONE: CapRights = CapRights(0);
    pub const WRITE: CapRights = CapRights(1);
    pub const READ: CapRights = CapRights(2);
    pub const GRANT: CapRights = CapRights(4);
    pub const READ_WRITE: CapRights = CapRights(3);
    pub const ALL: CapRights = CapRights(7);

    /// Rights from the three flags.
    pub const fn new(grant: bool, read: bool, write: bool) -> CapRights {
        CapRights(((grant as Word) << 2) | ((read as Word) << 1) | (write as Word))
    }
    pub const fn can_grant(self) -> bool {
        self.0 & 4 != 0
    }
    pub const fn can_read(self) -> bool {
        self.0 & 2 != 0
    }
    pub const fn can_write(self) -> bool {
        self.0 & 1 != 0
    }
}

/// Why a [`CapData`] value could not be built.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum CapDataError {
    /// The badge does not fit in [`BADGE_BITS`] bits.
    BadgeTooLarge(Word),
    /// A guard value wider than its size, or a guard size above 63 bits.
    BadGuard { guard: Word, size: u32 },
    /// An I/O port range whose first port is above its last port.
    BadPortRange { first: u16, last: u16 },
}

impl fmt::Display for CapDataError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            CapDataError::BadgeTooLarge(b) => {
                write!(f, "badge {b:#x} does not fit in the {BADGE_BITS} badge bits of seL4 5.0")
            }
            CapDataError::BadGuard { guard, size } => write!(
                f,
                "guard {guard:#x} of size {size} bits is invalid (size must be < 64 and the guard must fit in 18 bits and in its size)"
            ),
            CapDataError::BadPortRange { first, last } => {
                write!(f, "I/O port range {first:#x}..={last:#x} is empty (first > last)")
            }
        }
    }
}

/// The data word of `CNode_Mint` / `CNode_Mutate` and of the `*_root_data` TCB arguments.
///
/// seL4 5.0 still uses the tagged `seL4_CapData_t`: a badge (tag bit 31 clear, badge in bits
/// 0..28) for endpoints and notifications, a guard (tag bit 31 set, guard bits 8..26, guard
/// size bits 2..8) for CNodes, and raw `(first << 16) | last` for I/O port ranges.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq, Hash)]
#[repr(transparent)]
pub struct CapData(pub Word);

impl CapData {
    /// No change (`seL4_NilData`, a zero badge).
    pub const NONE: CapData = CapData(0);

    /// A badge for an endpoint or notification cap.
    pub const fn badge(badge: Word) -> Result<CapData, CapDataError> {
        if badge >> BADGE_BITS != 0 {
            return Err(CapDataError::BadgeTooLarge(badge));
        }
        Ok(CapData(badge))
    }

    /// A CNode guard of `size` bits with value `guard` (`seL4_CapData_Guard_new`).
    pub const fn guard(guard: Word, size: u32) -> Result<CapData, CapDataError> {
        if size >= 64 || guard >> 18 != 0 || (size < 18 && guard >> size != 0) {
            return Err(CapDataError::BadGuard { guard, size });
        }
        Ok(CapData((1 << 31) | (guard << 8) | ((size as Word) << 2)))
    }

    /// An I/O port sub-range `first..=last` (for minting from the I/O port cap).
    pub const fn io_ports(first: u16, last: u16) -> Result<CapData, CapDataError> {
        if first > last {
            return Err(CapDataError::BadPortRange { first, last });
        }
        Ok(CapData(((first as Word) << 16) | last as Word))
    }
}

/// The message tag of every IPC (`seL4_MessageInfo_t`).
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq, Hash)]
#[repr(transparent)]
pub struct MessageInfo(pub Word);

impl MessageInfo {
    /// Largest message length in words (`seL4_MsgMaxLength`).
    pub const MAX_LENGTH: usize = 120;
    /// Largest number of extra caps (`seL4_MsgMaxExtraCaps`).
    pub const MAX_EXTRA_CAPS: usize = 3;

    /// Builds a tag; out-of-range fields are truncated to their widths, as the kernel does.
    pub const fn new(label: Word, caps_unwrapped: Word, extra_caps: Word, length: Word) -> Self {
        MessageInfo(
            ((label & 0xf_ffff) << 12) | ((caps_unwrapped & 0x7) << 9) | ((extra_caps & 0x3) << 7) | (length & 0x7f),
        )
    }
    pub const fn label(self) -> Word {
        (self.0 >> 12) & 0xf_ffff
    }
    pub const fn caps_unwrapped(self) -> Word {
        (self.0 >> 9) & 0x7
    }
    pub const fn extra_caps(self) -> Word {
        (self.0 >> 7) & 0x3
    }
    pub const fn length(self) -> Word {
        self.0 & 0x7f
    }
}

/// Priority and maximum controlled priority, as `TCB_Configure` takes them (`seL4_PrioProps_t`).
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq, Hash)]
#[repr(transparent)]
pub struct PrioProps(pub Word);

impl PrioProps {
    pub const fn new(mcp: u8, prio: u8) -> Self {
        PrioProps(((mcp as Word) << 8) | prio as Word)
    }
    pub const fn mcp(self) -> u8 {
        (self.0 >> 8) as u8
    }
    pub const fn prio(self) -> u8 {
        self.0 as u8
    }
}

/// Highest priority (`seL4_MaxPrio`, CONFIG_NUM_PRIORITIES = 256).
pub const MAX_PRIO: u8 = 255;

/// Caching attributes of a mapping (`seL4_X86_VMAttributes`).
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq, Hash)]
#[repr(u64)]
pub enum VmAttributes {
    #[default]
    WriteBack = 0,
    WriteThrough = 1,
    CacheDisabled = 2,
    Uncacheable = 3,
    WriteCombining = 4,
}

/// Kernel object types for `Untyped_Retype`, numbered as seL4 5.0 x86_64 numbers them with
/// our configuration (`CONFIG_HUGE_PAGE` off, so there is no huge-page object and the
/// arch types follow the PML4 directly; `IoPageTable` exists only with `CONFIG_IOMMU`).
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
#[repr(u64)]
pub enum ObjectType {
    Untyped = 0,
    Tcb = 1,
    Endpoint = 2,
    Notification = 3,
    CapTable = 4,
    Pdpt = 5,
    Pml4 = 6,
    Page4K = 7,
    LargePage = 8,
    PageTable = 9,
    PageDirectory = 10,
    /// Only with a kernel built with `CONFIG_IOMMU`; other kernels reject the number.
    IoPageTable = 11,
}

/// Every object type with the name libsel4 gives it (checked against the kernel headers).
pub const OBJECT_TYPES: &[(&str, ObjectType)] = &[
    ("seL4_UntypedObject", ObjectType::Untyped),
    ("seL4_TCBObject", ObjectType::Tcb),
    ("seL4_EndpointObject", ObjectType::Endpoint),
    ("seL4_NotificationObject", ObjectType::Notification),
    ("seL4_CapTableObject", ObjectType::CapTable),
    ("seL4_X86_PDPTObject", ObjectType::Pdpt),
    ("seL4_X64_PML4Object", ObjectType::Pml4),
    ("seL4_X86_4K", ObjectType::Page4K),
    ("seL4_X86_LargePageObject", ObjectType::LargePage),
    ("seL4_X86_PageTableObject", ObjectType::PageTable),
    ("seL4_X86_PageDirectoryObject", ObjectType::PageDirectory),
    ("seL4_X86_IOPageTableObject", ObjectType::IoPageTable),
];

/// log2 of a CNode slot's size (`seL4_SlotBits`).
pub const SLOT_BITS: u32 = 5;
/// log2 of the 4 KiB page size (`seL4_PageBits`).
pub const PAGE_BITS: u32 = 12;
/// log2 of the 2 MiB large page size (`seL4_LargePageBits`).
pub const LARGE_PAGE_BITS: u32 = 21;
/// Smallest untyped (`seL4_MinUntypedBits`).
pub const MIN_UNTYPED_BITS: u32 = 4;
/// Largest untyped (`seL4_MaxUntypedBits`).
pub const MAX_UNTYPED_BITS: u32 = 47;
/// Most objects one `Untyped_Retype` may create (`CONFIG_RETYPE_FAN_OUT_LIMIT`).
pub const RETYPE_FAN_OUT_LIMIT: u64 = 256;

impl ObjectType {
    /// log2 of the object's size in bytes. `size_bits` is the `Untyped_Retype` argument: the
    /// size of an untyped, or log2 of the number of slots of a CapTable; it is ignored by
    /// fixed-size objects. `None` for an impossible size.
    pub const fn size_bits(self, size_bits: u32) -> Option<u32> {
        match self {
            ObjectType::Untyped => {
                if size_bits >= MIN_UNTYPED_BITS && size_bits <= MAX_UNTYPED_BITS {
                    Some(size_bits)
                } else {
                    None
                }
            }
            ObjectType::CapTable => {
                if size_bits >= 1 && size_bits + SLOT_BITS <= MAX_UNTYPED_BITS {
                    Some(size_bits + SLOT_BITS)
                } else {
                    None
                }
            }
            ObjectType::Tcb => Some(11),
            ObjectType::Endpoint => Some(4),
            ObjectType::Notification => Some(5),
            ObjectType::Pdpt
            | ObjectType::Pml4
            | ObjectType::Page4K
            | ObjectType::PageTable
            | ObjectType::PageDirectory
            | ObjectType::IoPageTable => Some(12),
            ObjectType::LargePage => Some(LARGE_PAGE_BITS),
        }
    }
}

/// The register file of a thread as `TCB_ReadRegisters` / `TCB_WriteRegisters` transfer it
/// (`seL4_UserContext`, 19 words in this order).
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq)]
#[repr(C)]
pub struct UserContext {
    pub rip: Word,
    pub rsp: Word,
    pub rflags: Word,
    pub rax: Word,
    pub rbx: Word,
    pub rcx: Word,
    pub rdx: Word,
    pub rsi: Word,
    pub rdi: Word,
    pub rbp: Word,
    pub r8: Word,
    pub r9: Word,
    pub r10: Word,
    pub r11: Word,
    pub r12: Word,
    pub r13: Word,
    pub r14: Word,
    pub r15: Word,
    pub tls_base: Word,
}

impl UserContext {
    /// Number of words (`sizeof(seL4_UserContext) / 8`).
    pub const WORDS: usize = 19;

    pub const fn to_words(&self) -> [Word; Self::WORDS] {
        [
            self.rip,
            self.rsp,
            self.rflags,
            self.rax,
            self.rbx,
            self.rcx,
            self.rdx,
            self.rsi,
            self.rdi,
            self.rbp,
            self.r8,
            self.r9,
            self.r10,
            self.r11,
            self.r12,
            self.r13,
            self.r14,
            self.r15,
            self.tls_base,
        ]
    }

    pub const fn from_words(w: &[Word; Self::WORDS]) -> Self {
        UserContext {
            rip: w[0],
            rsp: w[1],
            rflags: w[2],
            rax: w[3],
            rbx: w[4],
            rcx: w[5],
            rdx: w[6],
            rsi: w[7],
            rdi: w[8],
            rbp: w[9],
            r8: w[10],
            r9: w[11],
            r10: w[12],
            r11: w[13],
            r12: w[14],
            r13: w[15],
            r14: w[16],
            r15: w[17],
            tls_base: w[18],
        }
    }
}

const _: () = assert!(core::mem::size_of::<UserContext>() == UserContext::WORDS * 8);

#[cfg(test)]
mod tests {
    extern crate std;
    use super::*;
    use std::format;

    #[test]
    fn message_info_layout() {
        // label << 12 | capsUnwrapped << 9 | extraCaps << 7 | length
        let m = MessageInfo::new(0x12345, 5, 2, 100);
        assert_eq!(m.0, (0x12345 << 12) | (5 << 9) | (2 << 7) | 100);
        assert_eq!((m.label(), m.caps_unwrapped(), m.extra_caps(), m.length()), (0x12345, 5, 2, 100));
        // Truncation, not spill-over into the neighbouring field.
        assert_eq!(MessageInfo::new(0, 0, 4, 128).0, 0);
    }

    #[test]
    fn cap_data_encodings() {
        assert_eq!(CapData::badge(0xfff_ffff).unwrap().0, 0xfff_ffff);
        assert_eq!(CapData::badge(1 << 28), Err(CapDataError::BadgeTooLarge(1 << 28)));
        // Guard: tag bit 31, guard bits at 8, size at 2.
        assert_eq!(CapData::guard(0, 52).unwrap().0, (1 << 31) | (52 << 2));
        assert_eq!(CapData::guard(3, 4).unwrap().0, (1 << 31) | (3 << 8) | (4 << 2));
        assert!(CapData::guard(0, 64).is_err());
        assert!(CapData::guard(4, 2).is_err());
        assert_eq!(CapData::io_ports(0xcf8, 0xcff).unwrap().0, 0x0cf8_0cff);
        assert!(CapData::io_ports(2, 1).is_err());
        let msg = format!("{}", CapData::badge(1 << 40).unwrap_err());
        assert!(msg.contains("28 badge bits"), "{msg}");
    }

    #[test]
    fn rights_and_prio() {
        assert_eq!(CapRights::new(true, true, true), CapRights::ALL);
        assert_eq!(CapRights::new(false, true, false), CapRights::READ);
        assert!(CapRights::READ_WRITE.can_write() && !CapRights::READ_WRITE.can_grant());
        let p = PrioProps::new(200, 100);
        assert_eq!(p.0, (200 << 8) | 100);
        assert_eq!((p.mcp(), p.prio()), (200, 100));
    }

    #[test]
    fn object_sizes() {
        assert_eq!(ObjectType::CapTable.size_bits(12), Some(17));
        assert_eq!(ObjectType::Untyped.size_bits(3), None);
        assert_eq!(ObjectType::Tcb.size_bits(0), Some(11));
        assert_eq!(ObjectType::LargePage.size_bits(0), Some(21));
    }

    #[test]
    fn user_context_round_trip() {
        let mut w = [0u64; UserContext::WORDS];
        for (i, x) in w.iter_mut().enumerate() {
            *x = i as u64 * 3 + 1;
        }
        let c = UserContext::from_words(&w);
        assert_eq!(c.rip, 1);
        assert_eq!(c.tls_base, 55);
        assert_eq!(c.to_words(), w);
    }
}
