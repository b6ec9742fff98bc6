//! Ring bookkeeping for the device's descriptor rings: which client buffer (and which pinned
//! pages, of which session) sits in which slot, so a completion can be handed back and unpinned.

use super::MAX_SLOTS;
use ring::Desc;

/// A buffer the device owns, with the page range pinned for it and the session it belongs to
/// (pooled receive slots belong to no session and pin nothing).
#[derive(Clone, Copy)]
pub(super) struct Posted {
    pub(super) desc: Desc,
    pub(super) first_page: u64,
    pub(super) pages: u64,
    /// The session (index) the buffer came from.
    pub(super) session: u8,
    /// That session's generation when the buffer was posted.
    pub(super) generation: u32,
}

impl Posted {
    /// A pool buffer: nobody's, nothing pinned.
    pub(super) const POOL: Self = Self {
        desc: Desc { dataspace: 0, offset: 0, len: 0, cookie: 0 },
        first_page: 0,
        pages: 0,
        session: 0,
        generation: 0,
    };
}

/// Ring bookkeeping for one direction: which buffer sits in which slot.
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
    /// How many occupied slots satisfy `f`.
    pub(super) fn count_where(&self, f: impl Fn(&Posted) -> bool) -> u16 {
        let mut n = 0;
        for i in 0..self.count {
            let slot = (self.head + i) % self.n;
            if self.slots[slot as usize].as_ref().is_some_and(&f) {
                n += 1;
            }
        }
        n
    }
}
