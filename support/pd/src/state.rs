//! The PD's view of itself: the `__pd_info` block the image tool fills (name and grants) and
//! the copy the runtime reads from, made once at start-up.
//!
//! The block is a `#[no_mangle]` static in its own section (`.data.__pd_info`, kept by the
//! linker script): the image tool finds it by symbol and checks its size against
//! `spec::PdInfo`. The compiler only ever sees zeros there, so it is read once with a volatile
//! copy and never through a plain load.

use core::cell::UnsafeCell;

use crate::grants::Grants;
use spec::{PdInfo, MAX_IDS, PD_NAME_MAX};
use zerocopy::little_endian::{U16, U32, U64};

/// The info block's storage.
#[repr(transparent)]
pub struct InfoBlock(UnsafeCell<PdInfo>);

// SAFETY: written only by the image tool before the PD exists; read once at start-up.
unsafe impl Sync for InfoBlock {}

/// Filled by the image tool (`spec::PD_INFO_SYMBOL`).
#[no_mangle]
#[used]
#[link_section = ".data.__pd_info"]
pub static __pd_info: InfoBlock = InfoBlock(UnsafeCell::new(PdInfo {
    magic: [0; 8],
    name: [0; PD_NAME_MAX],
    notify: U64::ZERO,
    pp: U64::ZERO,
    irqs: U64::ZERO,
    ioport_mask: U64::ZERO,
    ipc_buffer: U64::ZERO,
    has_endpoint: U64::ZERO,
    ioport_addr: [U16::ZERO; MAX_IDS],
    _pad: U16::ZERO,
    ioport_size: [U32::ZERO; MAX_IDS],
    _pad2: U32::ZERO,
    tsc_hz: U64::ZERO,
}));

const _: () = assert!(core::mem::size_of::<InfoBlock>() == core::mem::size_of::<PdInfo>());

/// Name shown when the info block was never filled (a PD booted without the image tool).
const UNNAMED: &str = "unnamed-pd";

struct State {
    grants: Grants,
    tsc_hz: u64,
    ipc_buffer: u64,
    name: [u8; PD_NAME_MAX],
    name_len: usize,
}

struct StateCell(UnsafeCell<State>);

// SAFETY: a PD has one thread; the state is written once by `init` before the handler
// runs and only read afterwards.
unsafe impl Sync for StateCell {}

static STATE: StateCell = StateCell(UnsafeCell::new(State {
    grants: Grants::NONE,
    tsc_hz: 0,
    ipc_buffer: 0,
    name: [0; PD_NAME_MAX],
    name_len: 0,
}));

/// Reads the info block into the runtime's state. Called once by the entry code, before
/// anything else runs.
#[cfg_attr(test, allow(dead_code))]
pub(crate) fn init() {
    // SAFETY: `__pd_info` is a valid, aligned static; volatile because only the image tool
    // (outside the compiler's view) gives it its contents.
    let info: PdInfo = unsafe { core::ptr::read_volatile(__pd_info.0.get()) };
    // SAFETY: single-threaded, and no reference into STATE exists yet (init runs first).
    let state = unsafe { &mut *STATE.0.get() };
    state.grants = Grants::from_info(&info);
    state.tsc_hz = info.tsc_hz.get();
    state.ipc_buffer = if info.is_filled() { info.ipc_buffer.get() } else { 0 };
    if info.is_filled() {
        let name = info.name();
        state.name[..name.len()].copy_from_slice(name.as_bytes());
        state.name_len = name.len();
    }
}

/// Whether this instance was restarted by the monitor, and its generation (set once by the
/// entry code).
static RESTARTED: core::sync::atomic::AtomicBool = core::sync::atomic::AtomicBool::new(false);
static GENERATION: core::sync::atomic::AtomicU32 = core::sync::atomic::AtomicU32::new(0);

#[cfg_attr(test, allow(dead_code))]
pub(crate) fn set_restarted(restarted: bool, generation: u64) {
    RESTARTED.store(restarted, core::sync::atomic::Ordering::Relaxed);
    GENERATION.store(if restarted { generation as u32 } else { 0 }, core::sync::atomic::Ordering::Relaxed);
}

/// This instance's generation: how many times the PD had faulted before it started (0 on the
/// first start). Peers compare it with the count in a fault notice ([`fault_count`]).
pub fn generation() -> u32 {
    GENERATION.load(core::sync::atomic::Ordering::Relaxed)
}

/// How many faults of PD `pd` (its index) the monitor had counted when it last sent this PD a
/// fault notice about it (0 if never). No kernel call: the monitor writes the count into this
/// PD's IPC buffer page (layout `spec::notices`) before it signals.
pub fn fault_count(pd: u8) -> u32 {
    let (ipc, Some(at)) = (ipc_buffer(), spec::notices::count_offset(usize::from(pd))) else { return 0 };
    if ipc == 0 {
        return 0;
    }
    // SAFETY: `ipc + at` lies in this PD's IPC buffer page (`count_offset` is inside the page,
    // 4-byte aligned, checked at compile time in spec); the page is mapped for the PD's life,
    // and the kernel uses only its first 1024 bytes. A volatile load: the monitor writes it.
    unsafe { ((ipc as usize + at) as *const u32).read_volatile() }
}

/// Whether this PD instance was restarted by the monitor after a fault (false on the first
/// start after boot). A restarted PD rebuilds what its peers share with it.
pub fn restarted() -> bool {
    RESTARTED.load(core::sync::atomic::Ordering::Relaxed)
}

fn state() -> &'static State {
    // SAFETY: after `init` nothing writes STATE; before it, it holds its (valid) initial value.
    unsafe { &*STATE.0.get() }
}

/// This PD's grants.
pub fn grants() -> &'static Grants {
    &state().grants
}

/// TSC ticks per second (the initialiser writes bootinfo's TSC frequency into every PD's
/// info block at boot); 0 if the PD was not booted by the initialiser.
pub fn tsc_hz() -> u64 {
    state().tsc_hz
}

/// Reads the time-stamp counter (seL4 lets user mode execute `rdtsc`). Divide differences by
/// [`tsc_hz`] for seconds.
pub fn tsc() -> u64 {
    // SAFETY: `rdtsc` only reads the counter (no memory effects); the kernel leaves CR4.TSD
    // clear, so it is allowed in user mode.
    #[allow(unused_unsafe)]
    unsafe {
        core::arch::x86_64::_rdtsc()
    }
}

/// Vaddr of this PD's IPC buffer page (0 when not booted by the initialiser).
pub(crate) fn ipc_buffer() -> u64 {
    state().ipc_buffer
}

/// This PD's name as the system file gives it.
pub fn name() -> &'static str {
    let s = state();
    match core::str::from_utf8(&s.name[..s.name_len]) {
        Ok(n) if !n.is_empty() => n,
        _ => UNNAMED,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn without_an_info_block_the_pd_has_no_grants_and_a_placeholder_name() {
        assert_eq!(*grants(), Grants::NONE);
        assert_eq!(name(), UNNAMED);
        assert_eq!(tsc_hz(), 0, "no boot, no frequency");
        let (a, b) = (tsc(), tsc());
        assert!(b >= a, "the TSC does not run backwards");
        assert_eq!(core::mem::size_of_val(&__pd_info), core::mem::size_of::<PdInfo>());
    }
}
