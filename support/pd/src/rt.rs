//! The freestanding part of the runtime, linked into every PD binary (left out of this
//! crate's own host test build): the `_start` entry, the panic handler, the memory functions
//! the compiler calls (`memcpy`, `memmove`, `memset`, `memcmp`, `bcmp`) and the
//! `rust_eh_personality` symbol that the host target's precompiled libcore references.
//!
//! The initialiser has its own copy of the memory functions (it is a separate binary and its
//! files are its own); these are written for PDs and behave the same.

use core::arch::{asm, global_asm};

// `_start`: the initialiser starts the PD here with rsp = top of its stack (16-byte
// aligned) and every other register zero. `call` leaves rsp % 16 == 8 at `pd_start`'s entry,
// as the SysV ABI expects; rbp stays 0 so backtraces end here.
global_asm!(
    ".section .text._start, \"ax\"",
    ".globl _start",
    ".type _start, @function",
    "_start:",
    "    xor ebp, ebp",
    "    call {start}",
    "    ud2",
    ".size _start, . - _start",
    start = sym pd_start,
);

extern "Rust" {
    /// Defined by `pd::protection_domain!` in the PD's binary: runs its `init` and then the
    /// event loop.
    fn __pd_entry() -> !;
}

extern "C" fn pd_start() -> ! {
    crate::state::init();
    // SAFETY: `protection_domain!` defines `__pd_entry` with exactly this signature; a PD
    // without the macro fails to link (undefined `__pd_entry`), so the call cannot go astray.
    unsafe { __pd_entry() }
}

/// Faults the PD on purpose so the monitor reports it (an invalid-opcode user exception).
pub fn fault() -> ! {
    loop {
        // SAFETY: `ud2` raises #UD, which the kernel turns into a user-exception fault message
        // to the PD's fault endpoint (the monitor); it touches no memory. Should the monitor
        // ever resume the PD, the loop faults again.
        unsafe { asm!("ud2", options(nomem, nostack)) };
    }
}

#[panic_handler]
fn panic(info: &core::panic::PanicInfo<'_>) -> ! {
    let name = crate::name();
    match info.location() {
        Some(l) => crate::debug_println!(
            "{name}: panicked at {}:{}: {}",
            l.file(),
            l.line(),
            info.message()
        ),
        None => crate::debug_println!("{name}: panicked: {}", info.message()),
    }
    fault()
}

/// Referenced by the host target's precompiled libcore; never called with `panic = "abort"`.
#[no_mangle]
pub extern "C" fn rust_eh_personality() {}

/// # Safety
/// C `memcpy`: `n` bytes valid at both pointers, the ranges do not overlap.
#[no_mangle]
pub unsafe extern "C" fn memcpy(dst: *mut u8, src: *const u8, n: usize) -> *mut u8 {
    // SAFETY: `rep movsb` copies rcx bytes from [rsi] to [rdi], upwards (the ABI keeps DF
    // clear); the caller guarantees both ranges.
    unsafe {
        asm!("rep movsb", inout("rcx") n => _, inout("rdi") dst => _, inout("rsi") src => _,
             options(nostack, preserves_flags));
    }
    dst
}

/// # Safety
/// C `memmove`: `n` bytes valid at both pointers; the ranges may overlap.
#[no_mangle]
pub unsafe extern "C" fn memmove(dst: *mut u8, src: *const u8, n: usize) -> *mut u8 {
    if n == 0 || dst as usize <= src as usize || dst as usize >= src as usize + n {
        // An upward copy never reads a byte it already overwrote in these cases.
        // SAFETY: same contract as memcpy for the upward direction.
        return unsafe { memcpy(dst, src, n) };
    }
    // dst lies inside (src, src + n): copy downwards from the last byte.
    // SAFETY: with DF set `rep movsb` walks down from the given last bytes; DF is cleared
    // again before returning, as the ABI requires. The caller guarantees both ranges.
    unsafe {
        asm!("std", "rep movsb", "cld",
             inout("rcx") n => _, inout("rdi") dst.add(n - 1) => _, inout("rsi") src.add(n - 1) => _,
             options(nostack));
    }
    dst
}

/// # Safety
/// C `memset`: `n` bytes valid at `dst`.
#[no_mangle]
pub unsafe extern "C" fn memset(dst: *mut u8, c: i32, n: usize) -> *mut u8 {
    // SAFETY: `rep stosb` stores al into rcx bytes from [rdi] upwards; the caller guarantees
    // the range.
    unsafe {
        asm!("rep stosb", inout("rcx") n => _, inout("rdi") dst => _, in("al") c as u8,
             options(nostack, preserves_flags));
    }
    dst
}

/// # Safety
/// C `memcmp`: `n` bytes readable at both pointers.
#[no_mangle]
pub unsafe extern "C" fn memcmp(a: *const u8, b: *const u8, n: usize) -> i32 {
    for i in 0..n {
        // SAFETY: i < n, and the caller guarantees n readable bytes at both. Volatile reads
        // keep the compiler from turning this loop back into a call to memcmp.
        let (x, y) = unsafe { (a.add(i).read_volatile(), b.add(i).read_volatile()) };
        if x != y {
            return x as i32 - y as i32;
        }
    }
    0
}

/// # Safety
/// As `memcmp` (only zero / non-zero matters).
#[no_mangle]
pub unsafe extern "C" fn bcmp(a: *const u8, b: *const u8, n: usize) -> i32 {
    // SAFETY: same contract.
    unsafe { memcmp(a, b, n) }
}
