//! The IPC buffer: its layout (`seL4_IPCBuffer`) and access to the current thread's buffer.
//!
//! On x86_64 seL4 5.0 loads the GS base with the thread's IPC buffer address on every return
//! to user mode, so the current thread's buffer is reached with `gs:`-relative moves, exactly
//! as libsel4 does: no global pointer and no set-up call are needed, and every thread sees its
//! own buffer. The index-checked functions here never fault on bad input; they return `None`
//! or [`OutOfRange`] instead.

use crate::types::{CPtr, MessageInfo, Word};
use core::arch::asm;
use core::fmt;
use core::mem::offset_of;

/// The IPC buffer layout (1024 bytes, aligned to its size).
#[derive(Clone, Debug)]
#[repr(C, align(1024))]
pub struct IpcBuffer {
    pub tag: MessageInfo,
    pub msg: [Word; MessageInfo::MAX_LENGTH],
    pub user_data: Word,
    /// Caps to send (cptrs) or, on receive, the badges of unwrapped caps.
    pub caps_or_badges: [Word; MessageInfo::MAX_EXTRA_CAPS],
    /// Where a received cap goes: CNode cptr, index and depth.
    pub receive_cnode: CPtr,
    pub receive_index: CPtr,
    pub receive_depth: Word,
}

const _: () = assert!(core::mem::size_of::<IpcBuffer>() == 1024);
const MSG: usize = offset_of!(IpcBuffer, msg);
const CAPS: usize = offset_of!(IpcBuffer, caps_or_badges);
const USER_DATA: usize = offset_of!(IpcBuffer, user_data);
const RECV_CNODE: usize = offset_of!(IpcBuffer, receive_cnode);
const RECV_INDEX: usize = offset_of!(IpcBuffer, receive_index);
const RECV_DEPTH: usize = offset_of!(IpcBuffer, receive_depth);
const _: () = assert!(MSG == 8 && USER_DATA == 968 && CAPS == 976);
const _: () = assert!(RECV_CNODE == 1000 && RECV_INDEX == 1008 && RECV_DEPTH == 1016);

/// An index past the end of a message-register or cap array.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct OutOfRange {
    pub what: &'static str,
    pub index: usize,
    pub len: usize,
}

impl fmt::Display for OutOfRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} index {} is out of range (the IPC buffer has {})", self.what, self.index, self.len)
    }
}

/// Reads the word at byte `offset` of the current thread's IPC buffer.
///
/// # Safety
/// `offset` must be below 1024 and a multiple of 8.
#[inline(always)]
unsafe fn gs_read(offset: usize) -> Word {
    let v: Word;
    // SAFETY: the GS base is the current thread's IPC buffer (kernel invariant on x86_64
    // seL4 5.0) and the caller keeps `offset` inside its 1024 bytes.
    unsafe {
        asm!("mov {v}, qword ptr gs:[{o}]", o = in(reg) offset, v = out(reg) v,
             options(nostack, preserves_flags, readonly));
    }
    v
}

/// Writes the word at byte `offset` of the current thread's IPC buffer.
///
/// # Safety
/// `offset` must be below 1024 and a multiple of 8.
#[inline(always)]
unsafe fn gs_write(offset: usize, v: Word) {
    // SAFETY: as for `gs_read`; the IPC buffer is ours to write.
    unsafe {
        asm!("mov qword ptr gs:[{o}], {v}", o = in(reg) offset, v = in(reg) v,
             options(nostack, preserves_flags));
    }
}

/// Message register `i` of the current thread's IPC buffer (`seL4_GetMR`).
///
/// MR0..3 travel in registers: after a syscall they are in its return value, not here.
#[inline]
pub fn get_mr(i: usize) -> Option<Word> {
    if i < MessageInfo::MAX_LENGTH {
        // SAFETY: the index is checked, so the offset is inside the buffer and aligned.
        Some(unsafe { gs_read(MSG + 8 * i) })
    } else {
        None
    }
}

/// Sets message register `i` of the current thread's IPC buffer (`seL4_SetMR`).
#[inline]
pub fn set_mr(i: usize, v: Word) -> Result<(), OutOfRange> {
    if i < MessageInfo::MAX_LENGTH {
        // SAFETY: the index is checked, so the offset is inside the buffer and aligned.
        unsafe { gs_write(MSG + 8 * i, v) };
        Ok(())
    } else {
        Err(OutOfRange { what: "message register", index: i, len: MessageInfo::MAX_LENGTH })
    }
}

/// Sets extra cap `i` to send with the next message (`seL4_SetCap`).
#[inline]
pub fn set_cap(i: usize, cap: CPtr) -> Result<(), OutOfRange> {
    if i < MessageInfo::MAX_EXTRA_CAPS {
        // SAFETY: the index is checked.
        unsafe { gs_write(CAPS + 8 * i, cap.0) };
        Ok(())
    } else {
        Err(OutOfRange { what: "extra cap", index: i, len: MessageInfo::MAX_EXTRA_CAPS })
    }
}

/// The badge of unwrapped cap `i` of the last received message (`seL4_GetBadge`).
#[inline]
pub fn get_badge(i: usize) -> Option<Word> {
    if i < MessageInfo::MAX_EXTRA_CAPS {
        // SAFETY: the index is checked.
        Some(unsafe { gs_read(CAPS + 8 * i) })
    } else {
        None
    }
}

/// The user-data word of the IPC buffer (free for the thread's own use).
#[inline]
pub fn user_data() -> Word {
    // SAFETY: constant in-range offset.
    unsafe { gs_read(USER_DATA) }
}

/// Sets the user-data word.
#[inline]
pub fn set_user_data(v: Word) {
    // SAFETY: constant in-range offset.
    unsafe { gs_write(USER_DATA, v) }
}

/// Where the next received capability is stored (`seL4_SetCapReceivePath`).
#[inline]
pub fn set_cap_receive_path(cnode: CPtr, index: CPtr, depth: Word) {
    // SAFETY: constant in-range offsets.
    unsafe {
        gs_write(RECV_CNODE, cnode.0);
        gs_write(RECV_INDEX, index.0);
        gs_write(RECV_DEPTH, depth);
    }
}

/// The current cap receive path: (CNode, index, depth).
#[inline]
pub fn cap_receive_path() -> (CPtr, CPtr, Word) {
    // SAFETY: constant in-range offsets.
    unsafe { (CPtr(gs_read(RECV_CNODE)), CPtr(gs_read(RECV_INDEX)), gs_read(RECV_DEPTH)) }
}

/// Copies words into MR `first..` (used for messages longer than four words).
pub(crate) fn write_mrs(first: usize, words: &[Word]) -> Result<(), OutOfRange> {
    for (k, w) in words.iter().enumerate() {
        set_mr(first + k, *w)?;
    }
    Ok(())
}
