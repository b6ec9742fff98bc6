//! The freestanding runtime of the initialiser binary: the `_start` entry (the kernel enters
//! with `rdi` = bootinfo and `rsp` = 0, so we install our own stack), the memory functions
//! the compiler calls (`memcpy`, `memset`, `memmove`, `memcmp`, `bcmp`), the panic handler and
//! the `rust_eh_personality` symbol the host target's libcore references.

use core::arch::{asm, global_asm};
use core::fmt::Write;
use sel4::DebugWriter;

/// Size of the initial thread's stack (in .bss, zeroed by the kernel's ELF loader).
const STACK_SIZE: usize = 256 * 1024;

#[repr(C, align(16))]
struct Stack([u8; STACK_SIZE]);

/// Only ever addressed by `_start` (as a symbol), never through a Rust reference.
static mut STACK: Stack = Stack([0; STACK_SIZE]);

// `_start`: point rsp at the top of STACK (16-byte aligned, so after `call` the callee sees
// the ABI's rsp % 16 == 8), clear rbp for clean backtraces, keep rdi (the bootinfo pointer)
// as the first argument of `rust_start`.
global_asm!(
    ".section .text._start, \"ax\"",
    ".globl _start",
    ".type _start, @function",
    "_start:",
    "    lea rsp, [rip + {stack} + {size}]",
    "    xor ebp, ebp",
    "    call {entry}",
    "    ud2",
    ".size _start, . - _start",
    stack = sym STACK,
    size = const STACK_SIZE,
    entry = sym rust_start,
);

extern "C" fn rust_start(bootinfo: *const u8) -> ! {
    crate::start(bootinfo)
}

/// Stops the initial thread for good: suspends it (the kernel then idles), or if that fails,
/// blocks forever yielding.
pub fn stop() -> ! {
    let _ = sel4::init::TCB.suspend();
    loop {
        sel4::syscall::yield_now();
    }
}

#[panic_handler]
fn panic(info: &core::panic::PanicInfo<'_>) -> ! {
    let mut out = DebugWriter;
    let _ = match info.location() {
        Some(l) => writeln!(out, "initialiser: PANIC at {}:{}: {}", l.file(), l.line(), info.message()),
        None => writeln!(out, "initialiser: PANIC: {}", info.message()),
    };
    stop()
}

/// Referenced by the host target's precompiled libcore; never called with `panic = "abort"`.
#[no_mangle]
pub extern "C" fn rust_eh_personality() {}

/// # Safety
/// The C contract: `n` bytes valid at both pointers, regions not overlapping.
#[no_mangle]
pub unsafe extern "C" fn memcpy(dst: *mut u8, src: *const u8, n: usize) -> *mut u8 {
    // SAFETY: `rep movsb` copies rcx bytes from rsi to rdi forwards (DF is clear per the ABI);
    // the caller guarantees both ranges are valid.
    unsafe {
        asm!("rep movsb", inout("rcx") n => _, inout("rdi") dst => _, inout("rsi") src => _,
             options(nostack, preserves_flags));
    }
    dst
}

/// # Safety
/// The C contract: `n` bytes valid at `dst`.
#[no_mangle]
pub unsafe extern "C" fn memset(dst: *mut u8, c: i32, n: usize) -> *mut u8 {
    // SAFETY: `rep stosb` stores al rcx times at rdi forwards; the caller guarantees the range.
    unsafe {
        asm!("rep stosb", inout("rcx") n => _, inout("rdi") dst => _, in("al") c as u8,
             options(nostack, preserves_flags));
    }
    dst
}

/// # Safety
/// The C contract: `n` bytes valid at both pointers; the regions may overlap.
#[no_mangle]
pub unsafe extern "C" fn memmove(dst: *mut u8, src: *const u8, n: usize) -> *mut u8 {
    if (dst as usize).wrapping_sub(src as usize) >= n {
        // dst is below src or past its end: a forward copy never overwrites unread bytes.
        // SAFETY: as for memcpy; forward order is safe for this overlap.
        unsafe { memcpy(dst, src, n) };
    } else if n > 0 {
        // SAFETY: copy backwards from the last byte (DF set for the copy, cleared after, as
        // the ABI requires); the caller guarantees both ranges.
        unsafe {
            asm!("std", "rep movsb", "cld",
                 inout("rcx") n => _, inout("rdi") dst.add(n - 1) => _, inout("rsi") src.add(n - 1) => _,
                 options(nostack));
        }
    }
    dst
}

/// # Safety
/// The C contract: `n` bytes readable at both pointers.
#[no_mangle]
pub unsafe extern "C" fn memcmp(a: *const u8, b: *const u8, n: usize) -> i32 {
    let mut i = 0;
    while i < n {
        // SAFETY: i < n and the caller guarantees n readable bytes at both pointers.
        let (x, y) = unsafe { (a.add(i).read_volatile(), b.add(i).read_volatile()) };
        if x != y {
            return x as i32 - y as i32;
        }
        i += 1;
    }
    0
}

/// # Safety
/// As `memcmp`.
#[no_mangle]
pub unsafe extern "C" fn bcmp(a: *const u8, b: *const u8, n: usize) -> i32 {
    // SAFETY: same contract as memcmp.
    unsafe { memcmp(a, b, n) }
}
