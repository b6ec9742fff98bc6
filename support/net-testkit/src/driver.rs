//! A fake NIC driver end for host tests of the driver's clients (the network stack): two
//! in-memory queue pairs (receive and transmit) and a packet-buffer region shared with the
//! client under test. It "receives" frames into the buffers the client posted and "sends" what
//! the client queues, checking each descriptor as a driver must, answers the peer's ARP, and
//! plays the driver's side of the suppressed-notification protocol.
#![allow(unsafe_code)] // two views of one leaked buffer, as a device doing DMA has

use crate::frames::{arp_reply, parse_arp, PEER_IP, PEER_MAC};
use ring::{CacheLine, Desc};
use smoltcp::wire::ArpOperation;
use socket_api::Region;

/// Packet-buffer region size (the system file's `net_buffers`).
pub const NET_BUFFERS: usize = 2 << 20;
/// Dataspace id of the packet buffers in tests.
pub const DS: u32 = 3;
/// Queue capacity of the driver pairs in tests (what `rx_queues`/`tx_queues` hold).
pub const QCAP: u32 = 256;
/// The shortest receive buffer the fake driver fills (a maximum frame, rounded up).
pub const RX_BUF_MIN: u32 = 1536;
/// One packet-buffer slot: the longest transmit descriptor the fake driver accepts.
pub const SLOT: u32 = 2048;

/// What the fake driver saw.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct WireStats {
    /// Frames delivered to the stack.
    pub delivered: u64,
    /// Frames dropped because the stack had posted no free buffer.
    pub dropped_no_buffer: u64,
    /// Frames the stack sent.
    pub sent: u64,
    /// Signals the driver sent to the stack.
    pub signals_to_stack: u64,
    /// Buffers the stack posted that failed the driver's checks.
    pub bad_buffers: u64,
}

/// The client's side of a [`Wire`]: what a stack under test is built from.
pub struct StackEnds {
    /// The stack's view of the packet buffers (`NET_BUFFERS` bytes, dataspace [`DS`]).
    pub buffers: Region<'static>,
    /// The receive pair: the stack posts free buffers and takes filled ones.
    pub rx: ring::Receiver<'static>,
    /// The transmit pair: the stack queues frames and takes back sent buffers.
    pub tx: ring::Sender<'static>,
}

/// The fake driver end.
pub struct Wire {
    rx: ring::Sender<'static>,
    tx: ring::Receiver<'static>,
    mem: Region<'static>,
    /// A second dataspace of the session the stack sends from by reference (a client's data
    /// region), with the fake driver's view of it.
    client: Option<(u32, Region<'static>)>,
    /// Frames the stack sent, oldest first.
    pub sent: Vec<Vec<u8>>,
    /// Counters.
    pub stats: WireStats,
    /// The peer (10.0.2.2) answers the stack's ARP requests for it (default true).
    pub peer_answers_arp: bool,
    delivered_since_kick: bool,
    returned_since_kick: bool,
}

fn leak_queue_pair() -> &'static mut [CacheLine] {
    vec![CacheLine::ZERO; CacheLine::lines_for(QCAP).expect("valid capacity")].leak()
}

impl Wire {
    /// A fake driver over fresh in-memory queues and buffers, and the ends a stack is built from.
    pub fn new() -> (Wire, StackEnds) {
        let mem: &'static mut [u8] = vec![0u8; NET_BUFFERS].leak();
        let (ptr, len) = (mem.as_mut_ptr(), mem.len());
        // SAFETY: the leaked allocation lives forever. Two views exist, the stack's and the fake
        // driver's, as with a real device doing DMA: the ring protocol gives every buffer one owner
        // at a time and each side only touches buffers it owns (the driver writes a receive buffer
        // only after taking it from the free ring, and reads a transmit buffer only between taking
        // it from the active ring and returning it).
        let (stack_view, wire_view) = unsafe { (Region::from_raw(ptr, len), Region::from_raw(ptr, len)) };
        let (drv_rx, stack_rx) = ring::split(leak_queue_pair(), QCAP).expect("ring layout");
        let (stack_tx, drv_tx) = ring::split(leak_queue_pair(), QCAP).expect("ring layout");
        let wire = Wire {
            rx: drv_rx,
            tx: drv_tx,
            mem: wire_view,
            client: None,
            sent: Vec::new(),
            stats: WireStats::default(),
            peer_answers_arp: true,
            delivered_since_kick: false,
            returned_since_kick: false,
        };
        (wire, StackEnds { buffers: stack_view, rx: stack_rx, tx: stack_tx })
    }

    /// "Receives" a frame off the wire into the next posted buffer (`false`: none posted, the
    /// frame is dropped as a real NIC would).
    pub fn inject(&mut self, frame: &[u8]) -> bool {
        self.inject_desc_with(frame, |d| d)
    }

    /// As [`Wire::inject`], but lets a test corrupt the descriptor handed to the stack.
    pub fn inject_desc_with(&mut self, frame: &[u8], f: impl FnOnce(Desc) -> Desc) -> bool {
        let Ok(Some(buf)) = self.rx.free.dequeue() else {
            self.stats.dropped_no_buffer += 1;
            return false;
        };
        let start = buf.offset as usize;
        if buf.dataspace != DS || buf.len < RX_BUF_MIN || frame.len() > buf.len as usize {
            self.stats.bad_buffers += 1;
            return false;
        }
        let Some(dst) = self.mem.get_mut(start..start + frame.len()) else {
            self.stats.bad_buffers += 1;
            return false;
        };
        dst.copy_from_slice(frame);
        let d = f(Desc { len: frame.len() as u32, ..buf });
        self.rx.active.enqueue(d).expect("active ring has room for every posted buffer");
        self.stats.delivered += 1;
        self.delivered_since_kick = true;
        true
    }

    /// Enqueues a raw descriptor on the receive active ring (a hostile driver).
    pub fn inject_raw(&mut self, d: Desc) -> bool {
        let ok = self.rx.active.enqueue(d).is_ok();
        self.delivered_since_kick |= ok;
        ok
    }

    /// Takes a posted receive buffer without filling it (a driver hoarding buffers).
    pub fn take_rx_buffer(&mut self) -> Option<Desc> {
        self.rx.free.dequeue().ok().flatten()
    }

    /// The driver restarts: it forgets every buffer it held and serves a new session over fresh
    /// (zeroed) queues, the same buffers; returns the stack's new ends (recovery tests).
    pub fn restart(&mut self) -> (ring::Receiver<'static>, ring::Sender<'static>) {
        let (drv_rx, stack_rx) = ring::split(leak_queue_pair(), QCAP).expect("ring layout");
        let (stack_tx, drv_tx) = ring::split(leak_queue_pair(), QCAP).expect("ring layout");
        self.rx = drv_rx;
        self.tx = drv_tx;
        (stack_rx, stack_tx)
    }

    /// Lets the stack send from dataspace `ds` too (a client's data region, seen through `view`),
    /// as a driver session naming it would.
    pub fn accept_dataspace(&mut self, ds: u32, view: Region<'static>) {
        self.client = Some((ds, view));
    }

    /// "Transmits" everything the stack queued and hands the buffers back.
    pub fn collect(&mut self) -> usize {
        let mut n = 0;
        let mut arp_replies = Vec::new();
        while let Ok(Some(d)) = self.tx.active.dequeue() {
            let start = d.offset as usize;
            let mem = match &self.client {
                Some((ds, view)) if d.dataspace == *ds => view,
                _ => &self.mem,
            };
            let frame = mem.get(start..start + d.len as usize).map(<[u8]>::to_vec);
            let known = d.dataspace == DS || self.client.as_ref().is_some_and(|(ds, _)| *ds == d.dataspace);
            match frame {
                Some(f) if known && d.len <= SLOT => {
                    if self.peer_answers_arp {
                        if let Some((ArpOperation::Request, sha, spa, _, PEER_IP)) = parse_arp(&f) {
                            arp_replies.push(arp_reply(PEER_MAC, PEER_IP, sha, spa));
                        }
                    }
                    self.sent.push(f);
                    self.stats.sent += 1;
                }
                _ => self.stats.bad_buffers += 1,
            }
            self.tx.free.enqueue(d).expect("free ring has room for every taken buffer");
            self.returned_since_kick = true;
            n += 1;
        }
        for r in arp_replies {
            self.inject(&r);
        }
        n
    }

    /// The driver's end of a batch: signal the stack if it asked (once per batch per ring),
    /// then, idle, ask to hear of new buffers and frames. Returns the signals sent.
    pub fn kick(&mut self) -> u64 {
        let mut n = 0;
        if std::mem::take(&mut self.delivered_since_kick) && self.rx.active.signal_needed() {
            n += 1;
        }
        if std::mem::take(&mut self.returned_since_kick) && self.tx.free.signal_needed() {
            n += 1;
        }
        // Only one channel: two signals in one batch are one notification.
        let n = n.min(1);
        self.stats.signals_to_stack += n;
        let _ = self.rx.free.prepare_to_block();
        let _ = self.tx.active.prepare_to_block();
        n
    }

    /// Takes the frames sent so far.
    pub fn take_sent(&mut self) -> Vec<Vec<u8>> {
        std::mem::take(&mut self.sent)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::frames::{arp_request, peer_udp, IP, MAC};

    fn slot(i: u32) -> Desc {
        Desc { dataspace: DS, offset: i * SLOT, len: SLOT, cookie: i }
    }

    #[test]
    fn frames_land_in_posted_buffers_and_nothing_is_received_without_one() {
        let (mut wire, mut stack) = Wire::new();
        let frame = peer_udp(40000, 7, b"hello");
        assert!(!wire.inject(&frame), "no buffer posted yet");
        assert_eq!(wire.stats.dropped_no_buffer, 1);
        stack.rx.free.enqueue(slot(1)).unwrap();
        assert!(wire.inject(&frame));
        let d = stack.rx.active.dequeue().unwrap().expect("a filled buffer");
        assert_eq!((d.offset, d.len, d.cookie), (SLOT, frame.len() as u32, 1));
        assert_eq!(stack.buffers.get(SLOT as usize..(SLOT + d.len) as usize), Some(&frame[..]));
        // A buffer from another dataspace or too short for a frame is refused.
        stack.rx.free.enqueue(Desc { dataspace: DS + 1, ..slot(2) }).unwrap();
        stack.rx.free.enqueue(Desc { len: RX_BUF_MIN - 1, ..slot(3) }).unwrap();
        assert!(!wire.inject(&frame) && !wire.inject(&frame));
        assert_eq!(
            wire.stats,
            WireStats { delivered: 1, dropped_no_buffer: 1, bad_buffers: 2, ..WireStats::default() }
        );
    }

    #[test]
    fn sent_frames_are_collected_returned_and_the_peer_answers_arp() {
        let (mut wire, mut stack) = Wire::new();
        let request = arp_request(MAC, IP, PEER_IP);
        stack.buffers.get_mut(0..request.len()).unwrap().copy_from_slice(&request);
        stack.tx.active.enqueue(Desc { len: request.len() as u32, ..slot(0) }).unwrap();
        stack.tx.active.enqueue(Desc { len: SLOT + 1, ..slot(1) }).unwrap();
        stack.rx.free.enqueue(slot(2)).unwrap();
        assert_eq!(wire.collect(), 2);
        assert_eq!(wire.take_sent(), vec![request]);
        assert_eq!(wire.stats.bad_buffers, 1, "a descriptor longer than a slot");
        assert_eq!(stack.tx.free.dequeue().unwrap().map(|d| d.cookie), Some(0));
        assert_eq!(stack.tx.free.dequeue().unwrap().map(|d| d.cookie), Some(1));
        let reply = stack.rx.active.dequeue().unwrap().expect("the peer's ARP reply");
        let bytes = stack.buffers.get(reply.offset as usize..(reply.offset + reply.len) as usize).unwrap();
        assert_eq!(parse_arp(bytes), Some((ArpOperation::Reply, PEER_MAC, PEER_IP, MAC, IP)));
    }

    #[test]
    fn kick_signals_only_when_the_stack_asked() {
        let (mut wire, mut stack) = Wire::new();
        stack.rx.free.enqueue(slot(0)).unwrap();
        stack.rx.free.enqueue(slot(1)).unwrap();
        assert!(wire.inject(b"not asked"));
        stack.rx.active.cancel_signal();
        assert_eq!(wire.kick(), 0, "the stack is polling: no signal");
        stack.rx.active.request_signal();
        assert!(wire.inject(b"asked"));
        assert_eq!(wire.kick(), 1);
        assert_eq!(wire.stats.signals_to_stack, 1);
    }
}
