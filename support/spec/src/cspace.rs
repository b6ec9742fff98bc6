//! Where each kind of capability sits in a PD's CSpace: the initialiser places caps by it
//! and the runtime invokes by it. The PD's CNode has `2^CNODE_BITS` slots and a guard that
//! makes it resolve a whole 64-bit cptr.

use crate::MAX_IDS;

/// Size of every PD's CNode, in bits.
pub const CNODE_BITS: u8 = 9;
/// The PD's own notification (bound to its TCB): what a non-server PD waits on.
pub const NOTIFICATION: u64 = 1;
/// The PD's own endpoint, present only when some channel lets a peer `pp` into it.
pub const ENDPOINT: u64 = 2;
/// The monitor's fault endpoint, badged with the PD's index (used by the kernel only).
pub const FAULT_EP: u64 = 3;
/// `NOTIFY_BASE + id`: the peer's notification, badged with `1 << peer_id`.
pub const NOTIFY_BASE: u64 = 10;
/// `PP_BASE + id`: the peer's endpoint, badged with `PP_BADGE | peer_id`.
pub const PP_BASE: u64 = 74;
/// `IRQ_BASE + id`: the IRQ handler cap of the PD's IRQ `id`.
pub const IRQ_BASE: u64 = 138;
/// `IOPORT_BASE + id`: an I/O port cap restricted to the PD's range `id`.
pub const IOPORT_BASE: u64 = 202;
/// Badge bit that marks a message on a server's endpoint as a PPC (not a notification).
///
/// seL4 5.0 badges are only [`BADGE_BITS`] wide (`seL4_BadgeBits`; `CNode_Mint` rejects
/// wider ones and a debug kernel asserts), so this is the top badge bit, and notification
/// and IRQ badges (`1 << id`) use only ids below [`NOTIFY_ID_LIMIT`]: on a server, whose
/// bound notification's word arrives as the badge of a `Recv` on its endpoint, the two
/// kinds can then never be confused.
pub const PP_BADGE: u64 = 1 << (BADGE_BITS - 1);
/// Width of a badge in seL4 5.0 (`seL4_BadgeBits`).
pub const BADGE_BITS: u32 = 28;
/// Channel ids that notify, and IRQ ids, must be below this (their badge bit must fit
/// below [`PP_BADGE`]).
pub const NOTIFY_ID_LIMIT: u8 = (BADGE_BITS - 1) as u8;

// Every badge the initialiser mints must fit seL4 5.0's 28 badge bits, and a PPC badge
// (PP_BADGE | id) must never look like a set of notification bits: checked at compile time.
const _: () = {
    assert!(PP_BADGE >> BADGE_BITS == 0);
    assert!((PP_BADGE | (MAX_IDS as u64 - 1)) >> BADGE_BITS == 0);
    assert!(1u64 << (NOTIFY_ID_LIMIT - 1) < PP_BADGE);
    assert!(((1u64 << NOTIFY_ID_LIMIT) - 1) & PP_BADGE == 0);
};
