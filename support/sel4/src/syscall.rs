//! The seL4 5.0 system calls for x86_64 with `CONFIG_SYSCALL`: the only inline assembly that
//! enters the kernel.
//!
//! Registers: `rdx` = syscall number, `rdi` = capability (badge on return from a receive),
//! `rsi` = message info, `r10 r8 r9 r15` = message registers 0..3 (the rest live in the IPC
//! buffer). The kernel returns with `sysret`, which clobbers `rcx` and `r11`, and it does not
//! restore the user `rsp`, so every stub saves `rsp` in `r12` (LLVM reserves `rbx`, which
//! libsel4's C stubs use) and restores it after `syscall`.
//!
//! Non-MCS seL4 5.0 has no distinct notification syscalls: `signal` is `Send`, `wait` is
//! `Recv` and `poll` is `NBRecv` on a notification cap, as libsel4 defines them.

use crate::types::{Badge, CPtr, MessageInfo, Word};
use core::arch::asm;

/// System call numbers (`include/api/syscall.xml`, numbered -1, -2, ... in file order; the
/// debug ones follow the API ones and exist because our kernel is a debug build).
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
#[repr(i64)]
pub enum Syscall {
    Call = -1,
    ReplyRecv = -2,
    Send = -3,
    NBSend = -4,
    Recv = -5,
    Reply = -6,
    Yield = -7,
    NBRecv = -8,
    DebugPutChar = -9,
    DebugHalt = -10,
    DebugCapIdentify = -11,
    DebugSnapshot = -12,
    DebugNameThread = -13,
}

/// Every syscall with its XML name (checked against `syscall.xml` by the interface test).
pub const SYSCALLS: &[(&str, Syscall)] = &[
    ("Call", Syscall::Call),
    ("ReplyRecv", Syscall::ReplyRecv),
    ("Send", Syscall::Send),
    ("NBSend", Syscall::NBSend),
    ("Recv", Syscall::Recv),
    ("Reply", Syscall::Reply),
    ("Yield", Syscall::Yield),
    ("NBRecv", Syscall::NBRecv),
    ("DebugPutChar", Syscall::DebugPutChar),
    ("DebugHalt", Syscall::DebugHalt),
    ("DebugCapIdentify", Syscall::DebugCapIdentify),
    ("DebugSnapshot", Syscall::DebugSnapshot),
    ("DebugNameThread", Syscall::DebugNameThread),
];

/// What a receiving syscall returns: the message tag, the sender's badge and the four
/// message registers passed in registers (the rest are in the IPC buffer).
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq)]
pub struct Received {
    pub info: MessageInfo,
    pub badge: Badge,
    pub mrs: [Word; 4],
}

/// The full register convention: every input and output register.
#[inline(always)]
fn raw(sys: Syscall, cap: Word, info: Word, mrs: [Word; 4]) -> (Word, Word, [Word; 4]) {
    raw_number(sys as i64, cap, info, mrs)
}

/// [`raw`] by number, for the syscalls only some kernel variants have ([`bench`]).
#[inline(always)]
fn raw_number(sys: i64, cap: Word, info: Word, mrs: [Word; 4]) -> (Word, Word, [Word; 4]) {
    let (mut m0, mut m1, mut m2, mut m3) = (mrs[0], mrs[1], mrs[2], mrs[3]);
    let out_cap: Word;
    let out_info: Word;
    // SAFETY: the seL4 syscall instruction only transfers control to the kernel. Every
    // register the kernel may change is declared: rdi/rsi/r10/r8/r9/r15 as outputs, rdx and
    // rax as clobbered, rcx/r11 (sysret) as clobbered, and rsp is restored from r12 (declared
    // clobbered) because the kernel returns with rsp = 0. No memory of ours is touched except
    // the IPC buffer, which the kernel may write, so the asm is not marked nomem/readonly.
    unsafe {
        asm!(
            "mov r12, rsp",
            "syscall",
            "mov rsp, r12",
            inout("rdx") sys => _,
            inout("rdi") cap => out_cap,
            inout("rsi") info => out_info,
            inout("r10") m0,
            inout("r8") m1,
            inout("r9") m2,
            inout("r15") m3,
            out("rax") _,
            out("rcx") _,
            out("r11") _,
            out("r12") _,
        );
    }
    (out_cap, out_info, [m0, m1, m2, m3])
}

/// `seL4_Call`: send to `dest` and wait for the reply. Returns the reply's tag and MR0..3.
#[inline]
pub fn call(dest: CPtr, info: MessageInfo, mrs: [Word; 4]) -> (MessageInfo, [Word; 4]) {
    let (_, info, mrs) = raw(Syscall::Call, dest.0, info.0, mrs);
    (MessageInfo(info), mrs)
}

/// `seL4_ReplyRecv`: reply to the last caller, then wait on `src`.
#[inline]
pub fn reply_recv(src: CPtr, info: MessageInfo, mrs: [Word; 4]) -> Received {
    let (badge, info, mrs) = raw(Syscall::ReplyRecv, src.0, info.0, mrs);
    Received { info: MessageInfo(info), badge: Badge(badge), mrs }
}

/// `seL4_Send`: blocking send.
#[inline]
pub fn send(dest: CPtr, info: MessageInfo, mrs: [Word; 4]) {
    raw(Syscall::Send, dest.0, info.0, mrs);
}

/// `seL4_NBSend`: send only if a receiver is waiting; otherwise the message is dropped.
#[inline]
pub fn nb_send(dest: CPtr, info: MessageInfo, mrs: [Word; 4]) {
    raw(Syscall::NBSend, dest.0, info.0, mrs);
}

/// `seL4_Recv`: blocking receive on an endpoint or notification.
#[inline]
pub fn recv(src: CPtr) -> Received {
    let (badge, info, mrs) = raw(Syscall::Recv, src.0, 0, [0; 4]);
    Received { info: MessageInfo(info), badge: Badge(badge), mrs }
}

/// `seL4_NBRecv`: receive if a message or signal is pending, else return at once.
#[inline]
pub fn nb_recv(src: CPtr) -> Received {
    let (badge, info, mrs) = raw(Syscall::NBRecv, src.0, 0, [0; 4]);
    Received { info: MessageInfo(info), badge: Badge(badge), mrs }
}

/// `seL4_Reply`: reply to the last caller (non-MCS reply cap in the TCB).
#[inline]
pub fn reply(info: MessageInfo, mrs: [Word; 4]) {
    raw(Syscall::Reply, 0, info.0, mrs);
}

/// `seL4_Yield`: give up the rest of the time slice.
#[inline]
pub fn yield_now() {
    raw(Syscall::Yield, 0, 0, [0; 4]);
}

/// `seL4_Signal`: a `Send` on a notification cap (libsel4 sends a tag of length 1).
#[inline]
pub fn signal(dest: CPtr) {
    raw(Syscall::Send, dest.0, MessageInfo::new(0, 0, 0, 1).0, [0; 4]);
}

/// `seL4_Wait`: a `Recv` on a notification cap; returns the accumulated badge bits.
#[inline]
pub fn wait(src: CPtr) -> Badge {
    recv(src).badge
}

/// `seL4_Poll`: an `NBRecv` on a notification cap; badge 0 means nothing was pending.
#[inline]
pub fn poll(src: CPtr) -> Badge {
    nb_recv(src).badge
}

/// `seL4_DebugPutChar` (debug kernels only): one byte to the kernel's serial console.
#[inline]
pub fn debug_put_char(c: u8) {
    raw(Syscall::DebugPutChar, c as Word, 0, [0; 4]);
}

/// Writes a string with [`debug_put_char`].
pub fn debug_puts(s: &str) {
    for b in s.bytes() {
        debug_put_char(b);
    }
}

/// `seL4_DebugHalt` (debug kernels only): stops the whole machine.
#[inline]
pub fn debug_halt() {
    raw(Syscall::DebugHalt, 0, 0, [0; 4]);
}

/// A `core::fmt::Write` sink over [`debug_put_char`], for `write!` without allocation.
#[derive(Copy, Clone, Debug, Default)]
pub struct DebugWriter;

impl core::fmt::Write for DebugWriter {
    fn write_str(&mut self, s: &str) -> core::fmt::Result {
        debug_puts(s);
        Ok(())
    }
}

/// The utilisation syscalls of the benchmark kernel variant (`support/kernel/build.sh --bench`,
/// `CONFIG_BENCHMARK_TRACK_UTILISATION`), numbered as that build's generated
/// `arch/api/syscall.h` numbers them. On any other kernel these numbers are unknown syscalls,
/// which fault the caller: call them only when the system was built for the bench kernel.
pub mod bench {
    use super::raw_number;
    use crate::types::CPtr;

    /// `seL4_BenchmarkResetLog`: starts a measurement window (idle time and the window's start).
    pub const RESET_LOG: i64 = -16;
    /// `seL4_BenchmarkFinalizeLog`: ends the window (charges the running thread up to now).
    pub const FINALIZE_LOG: i64 = -17;
    /// `seL4_BenchmarkGetThreadUtilisation`: a thread's, the idle thread's and the window's
    /// cycles, in message registers 0, 1 and 2 of the IPC buffer.
    pub const GET_THREAD_UTILISATION: i64 = -20;
    /// `seL4_BenchmarkResetThreadUtilisation`: zeroes a thread's count.
    pub const RESET_THREAD_UTILISATION: i64 = -21;

    /// Cycles over the last window, as the kernel counted them (TSC ticks).
    #[derive(Copy, Clone, Debug, Default, PartialEq, Eq)]
    pub struct Utilisation {
        /// The thread asked about.
        pub thread: u64,
        /// The idle thread.
        pub idle: u64,
        /// The whole window.
        pub total: u64,
    }

    /// Starts a window.
    pub fn reset_log() {
        raw_number(RESET_LOG, 0, 0, [0; 4]);
    }

    /// Ends the window.
    pub fn finalize_log() {
        raw_number(FINALIZE_LOG, 0, 0, [0; 4]);
    }

    /// Zeroes `tcb`'s count (call at the start of a window).
    pub fn reset_thread(tcb: CPtr) {
        raw_number(RESET_THREAD_UTILISATION, tcb.0, 0, [0; 4]);
    }

    /// `tcb`'s, the idle thread's and the window's cycles (after [`finalize_log`]), and the
    /// kernel-time report our patched bench kernel adds (see [`KernelTime`]).
    pub fn thread(tcb: CPtr) -> (Utilisation, Option<KernelTime>) {
        raw_number(GET_THREAD_UTILISATION, tcb.0, 0, [0; 4]);
        let mr = |i| crate::ipc::get_mr(i).unwrap_or(0);
        let util = Utilisation { thread: mr(0), idle: mr(1), total: mr(2) };
        let kernel = (mr(3) == KERNEL_TIME_MAGIC).then(|| KernelTime {
            thread: mr(4),
            idle: mr(5),
            classes: core::array::from_fn(|k| (mr(6 + 2 * k), mr(7 + 2 * k))),
        });
        (util, kernel)
    }

    /// Message register 3's value when the kernel appended its kernel-time report ("KENT").
    pub const KERNEL_TIME_MAGIC: u64 = 0x4b45_4e54;
    /// How many kernel-entry classes the kernel reports (their names: `spec::bench`).
    pub const ENTRY_CLASS_COUNT: usize = 8;

    /// Kernel time over the window, as support/kernel/patch-source.py's bench-kernel accounting
    /// counts it: each kernel entry's cycles (entry stamp to exit), charged to the thread the
    /// entry returned to (as seL4's utilisation accounting charges it) and to its entry class.
    #[derive(Copy, Clone, Debug, Default, PartialEq, Eq)]
    pub struct KernelTime {
        /// Kernel cycles charged to the thread asked about.
        pub thread: u64,
        /// Kernel cycles charged to the idle thread.
        pub idle: u64,
        /// (cycles, entries) per kernel-entry class, in the kernel's order, over all threads.
        pub classes: [(u64, u64); ENTRY_CLASS_COUNT],
    }
}
