//! The symbols a freestanding static ELF for the host target (`x86_64-unknown-linux-gnu`,
//! linked with `-nostdlib`) needs besides its entry code: the memory functions the compiler
//! emits calls to (`memcpy`, `memmove`, `memset`, `memcmp`, `bcmp`) and the
//! `rust_eh_personality` that the target's precompiled libcore references.
//!
//! Only the runtimes' freestanding modules name this crate (`use freestanding as _;` in the
//! initialiser's and the PD runtime's `rt`), so host test binaries never link it and keep
//! libc's functions. DESIGN.md names the runtime and initialiser entry code as the places for
//! inline assembly; this is that code, kept once.
#![no_std]

use core::arch::asm;

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
