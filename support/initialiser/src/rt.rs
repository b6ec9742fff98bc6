//! The freestanding runtime of the initialiser binary: the `_start` entry (the kernel enters
//! with `rdi` = bootinfo and `rsp` = 0, so we install our own stack) and the panic handler.
//! The memory functions and `rust_eh_personality` come from `support/freestanding`, shared
//! with the PD runtime.

use core::arch::global_asm;
use core::fmt::Write;
use sel4::DebugWriter;

use freestanding as _;

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
