//! Ring bookkeeping for the device's descriptor rings: which client buffer (and which pinned
//! pages) sits in which slot, so a completion can be handed back and unpinned.

use super::MAX_SLOTS;
use ring::Desc;

/// A client buffer the device owns, with the page range pinned for it.
#[derive(Clone, Copy)]
pub(super) struct Posted {
    pub(super) desc: Desc,
    pub(super) first_page: u64,
    pub(super) pages: u64,
}

/// Ring bookkeeping for one direction: which client buffer sits in which slot.
pub(super) struct SlotRing {
    slots: [Option<Posted>; MAX_SLOTS],
    n: u16,
    pub(super) head: u16,
    pub(super) tail: u16,
    pub(super) count: u16,
}

impl SlotRing {
    pub(super) fn new(n: u16) -> Self {
        Self { slots: [None; MAX_SLOTS], n, head: 0, tail: 0, count: 0 }
    }
    /// One slot stays empty so that head == tail always means "empty" for e1000's RDH/RDT.
    pub(super) fn space(&self) -> u16 {
        self.n - 1 - self.count
    }
    pub(super) fn push(&mut self, p: Posted) -> u16 {
        let slot = self.tail;
        self.slots[slot as usize] = Some(p);
        self.tail = (self.tail + 1) % self.n;
        self.count += 1;
        slot
    }
    pub(super) fn pop(&mut self) -> Option<Posted> {
        let p = self.slots[self.head as usize].take();
        self.head = (self.head + 1) % self.n;
        self.count -= 1;
        p
    }
}
