//! The client session as the stack sees it: its queue ends, its data region and which of
//! the stack's delivery slots in it the client holds; a datagram for the client is copied
//! once into a free slot and its record queued, and slots come back on the free ring.

use super::{Stats, MAX_CLIENT_SLOTS};
use socket_api::{free_desc, DataLayout, DataRegionTooSmall, Datagram, Endpoint, Region, ServerEnd, QUEUE_CAPACITY};

/// The attached client: its queue ends, data region and delivery slots.
pub(super) struct ClientSession<'a> {
    pub(super) end: ServerEnd<'a>,
    pub(super) data: Region<'a>,
    pub(super) layout: DataLayout,
    slots: usize,
    free: [u16; MAX_CLIENT_SLOTS],
    pub(super) nfree: usize,
    out: [bool; MAX_CLIENT_SLOTS],
    pub(super) delivered: bool,
    pub(super) returned: bool,
}

impl<'a> ClientSession<'a> {
    pub(super) fn new(end: ServerEnd<'a>, data: Region<'a>) -> Result<Self, DataRegionTooSmall> {
        let layout = DataLayout::new(data.len())?;
        let slots = (layout.half() as usize).min(MAX_CLIENT_SLOTS);
        let mut s = Self {
            end,
            data,
            layout,
            slots,
            free: [0; MAX_CLIENT_SLOTS],
            nfree: 0,
            out: [false; MAX_CLIENT_SLOTS],
            delivered: false,
            returned: false,
        };
        for i in (0..slots as u16).rev() {
            s.free[s.nfree] = i;
            s.nfree += 1;
        }
        Ok(s)
    }

    /// Delivery slots in all.
    pub(super) fn slots(&self) -> usize {
        self.slots
    }

    /// A new client instance: its new end, every delivery slot free again.
    pub(super) fn reset(&mut self, end: ServerEnd<'a>) {
        self.end = end;
        self.nfree = 0;
        for i in (0..self.slots as u16).rev() {
            self.free[self.nfree] = i;
            self.nfree += 1;
        }
        self.out = [false; MAX_CLIENT_SLOTS];
        self.delivered = false;
        self.returned = false;
    }

    /// Takes back delivery slots the client is done with.
    pub(super) fn reap(&mut self, stats: &mut Stats) {
        for _ in 0..=QUEUE_CAPACITY {
            let d = match self.end.to_client.free.dequeue() {
                Ok(Some(d)) => d,
                Ok(None) => return,
                Err(_) => {
                    stats.client_queue_corrupt += 1;
                    return;
                }
            };
            match self.layout.stack_index(d.offset) {
                Ok(i) if (i as usize) < self.slots && self.out[i as usize] => {
                    self.out[i as usize] = false;
                    self.free[self.nfree] = i as u16;
                    self.nfree += 1;
                }
                _ => stats.client_bad_records += 1,
            }
        }
    }

    /// Whether a delivery would find a slot and ring room now.
    pub(super) fn can_take(&mut self, stats: &mut Stats) -> bool {
        if self.nfree == 0 {
            self.reap(stats);
        }
        self.nfree > 0 && !matches!(self.end.to_client.active.free_slots(), Ok(0))
    }

    /// Copies a payload into a delivery slot and queues its record.
    pub(super) fn deliver(&mut self, payload: &[u8], from: Endpoint, port: u16, stats: &mut Stats) {
        if self.nfree == 0 {
            self.reap(stats);
        }
        if self.nfree == 0 {
            stats.drop_client_full += 1;
            return;
        }
        let i = self.free[self.nfree - 1];
        let offset = self.layout.stack_slot(u32::from(i));
        let Some(dst) = self.data.get_mut(offset as usize..offset as usize + payload.len()) else {
            stats.drop_client_full += 1;
            return;
        };
        dst.copy_from_slice(payload);
        stats.copies_to_client += 1;
        let rec = Datagram { offset, len: payload.len() as u32, remote: from, local_port: port };
        match self.end.to_client.active.enqueue(rec.to_desc()) {
            Ok(()) => {
                self.nfree -= 1;
                self.out[i as usize] = true;
                self.delivered = true;
            }
            Err(ring::EnqueueError::Full) => stats.drop_client_full += 1,
            Err(ring::EnqueueError::Peer(_)) => {
                stats.client_queue_corrupt += 1;
                stats.drop_client_full += 1;
            }
        }
    }

    /// Hands a client buffer back on the from-client free ring.
    pub(super) fn give_back(&mut self, offset: u32, stats: &mut Stats) {
        match self.end.from_client.free.enqueue(free_desc(offset)) {
            Ok(()) => self.returned = true,
            // Full means the client does not collect its buffers: its loss.
            Err(ring::EnqueueError::Full) => stats.client_bad_records += 1,
            Err(ring::EnqueueError::Peer(_)) => stats.client_queue_corrupt += 1,
        }
    }
}
