//! The freestanding part of the runtime, linked into every PD binary (left out of this
//! crate's own host test build): the `_start` entry and the panic handler. The memory
//! functions and `rust_eh_personality` come from `support/freestanding`, shared with the
//! initialiser.

use core::arch::{asm, global_asm};

use freestanding as _;

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

/// `mode` is `rdi` at `_start` (`spec::START_*`) and `generation` is `rsi` (the PD's faults
/// before this instance started), both set by the initialiser.
extern "C" fn pd_start(mode: u64, generation: u64) -> ! {
    if mode == spec::START_STOPPED {
        // The PD faulted and is stopped: its data may be anything, so touch none of it.
        crate::event::refuse_forever()
    }
    crate::state::init();
    crate::state::set_restarted(mode == spec::START_RESTARTED, generation);
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
        Some(l) => crate::debug_println!("{name}: panicked at {}:{}: {}", l.file(), l.line(), info.message()),
        None => crate::debug_println!("{name}: panicked: {}", info.message()),
    }
    fault()
}
