//! What a PD's runtime is told: the PD info block the image tool patches into each PD's ELF
//! (its name and grants) and, in `rdi` at `_start`, how the initialiser started it.

use zerocopy::little_endian::{U16, U32, U64};
use zerocopy::{FromBytes, Immutable, IntoBytes, KnownLayout};

use crate::MAX_IDS;

/// How a PD's entry is started, in `rdi` at `_start` (the initialiser sets it; a fresh thread
/// has every register zero): the first start after boot.
pub const START_FIRST: u64 = 0;
/// Restarted by the monitor from a clean image after a fault: the runtime first answers any
/// protected call the old instance was serving with a refusal, so that caller never hangs.
pub const START_RESTARTED: u64 = 1;
/// Stopped by the monitor after a fault (a server): the runtime refuses every protected call
/// from then on and runs none of the PD's code, so no caller of a dead server hangs.
pub const START_STOPPED: u64 = 2;

/// Symbol in every PD ELF that the image tool fills with a [`PdInfo`].
pub const PD_INFO_SYMBOL: &str = "__pd_info";
/// First bytes of a filled [`PdInfo`] (an unfilled one is all zero).
pub const PD_INFO_MAGIC: [u8; 8] = *b"ULDFPDIN";
/// Longest PD name kept in [`PdInfo`] (longer names are truncated there only).
pub const PD_NAME_MAX: usize = 48;

/// What the runtime of one PD knows about its grants, patched into its ELF.
#[derive(Clone, Copy, Debug, FromBytes, IntoBytes, KnownLayout, Immutable)]
#[repr(C)]
pub struct PdInfo {
    pub magic: [u8; 8],
    /// NUL-padded PD name.
    pub name: [u8; PD_NAME_MAX],
    /// Bit `id` set: channel `id` may be notified.
    pub notify: U64,
    /// Bit `id` set: channel `id` may be PPC-called.
    pub pp: U64,
    /// Bit `id` set: IRQ `id` is granted (and may be acked).
    pub irqs: U64,
    /// Bit `id` set: I/O port range `id` is granted.
    pub ioport_mask: U64,
    /// Vaddr of the IPC buffer.
    pub ipc_buffer: U64,
    /// The PD receives on an endpoint (it serves PPCs) rather than on its notification.
    pub has_endpoint: U64,
    /// I/O port range `id`: first port and size.
    pub ioport_addr: [U16; MAX_IDS],
    pub _pad: U16,
    pub ioport_size: [U32; MAX_IDS],
    pub _pad2: U32,
    /// TSC ticks per second, written by the initialiser at boot (a [`PATCH_TSC_HZ`](crate::PATCH_TSC_HZ) patch):
    /// what a PD needs to turn `rdtsc` into time. 0 if the block was never patched.
    pub tsc_hz: U64,
}

impl PdInfo {
    /// The PD's name, or `"?"` when the info block was never filled.
    pub fn name(&self) -> &str {
        let len = self.name.iter().position(|&b| b == 0).unwrap_or(PD_NAME_MAX);
        core::str::from_utf8(&self.name[..len]).unwrap_or("?")
    }

    /// Whether the image tool filled this block.
    pub fn is_filled(&self) -> bool {
        self.magic == PD_INFO_MAGIC
    }
}
