//! Host test harness (feature `testkit`, uses std): a fake driver end over in-memory rings and
//! packet buffers (it "receives" frames into the buffers the stack posted and "sends" what the
//! stack queues, with the driver's side of the suppressed-notification protocol), plus frame
//! builders and parsers made with smoltcp's wire types. Used by this crate's tests and by the
//! echo crate's pipeline tests.
#![allow(unsafe_code)]

extern crate std;

use crate::config::{Config, PoolConfig, SLOT};
use crate::stack::Netstack;
use ring::{CacheLine, Desc};
use smoltcp::phy::ChecksumCapabilities;
use smoltcp::wire::{
    ArpOperation, ArpPacket, ArpRepr, EthernetAddress, EthernetFrame, EthernetProtocol,
    EthernetRepr, Icmpv4Packet, Icmpv4Repr, IpAddress, IpProtocol, Ipv4Address, Ipv4Packet,
    Ipv4Repr, UdpPacket, UdpRepr,
};
use socket_api::{Endpoint, Region};
use std::vec;
use std::vec::Vec;

/// The stack's MAC in tests.
pub const MAC: [u8; 6] = [0x52, 0x54, 0x00, 0x12, 0x34, 0x56];
/// The stack's address in tests (QEMU user-networking defaults).
pub const IP: [u8; 4] = [10, 0, 2, 15];
/// The peer on the wire.
pub const PEER_MAC: [u8; 6] = [0x52, 0x55, 0x0a, 0x00, 0x02, 0x02];
/// The peer's address (the gateway).
pub const PEER_IP: [u8; 4] = [10, 0, 2, 2];
/// TSC ticks per second in tests (1 GHz).
pub const TSC_HZ: u64 = 1_000_000_000;
/// Packet-buffer region size (the system file's `net_buffers`).
pub const NET_BUFFERS: usize = 2 << 20;
/// Dataspace id of the packet buffers in tests.
pub const DS: u32 = 3;
/// Queue capacity of the driver pairs in tests (what `rx_queues`/`tx_queues` hold).
pub const QCAP: u32 = 256;

/// The configuration the system file gives (10.0.2.15/24 via 10.0.2.2).
pub fn config() -> Config {
    let mut c = Config::from_setvars(MAC, 0x0a00_020f, 24, 0x0a00_0202, TSC_HZ).expect("valid test config");
    c.pool = PoolConfig { dataspace: DS, rx_slots: 256, tx_slots: 256 };
    c
}

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

/// The fake driver end.
pub struct Wire {
    rx: ring::Sender<'static>,
    tx: ring::Receiver<'static>,
    mem: Region<'static>,
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

/// A stack over fresh in-memory queues and buffers, and the fake driver on the other side.
/// The stack has posted its receive buffers; call `poll` once to publish them.
pub fn setup(cfg: Config) -> (Wire, Netstack<'static>) {
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
    let ns = Netstack::new(cfg, stack_view, stack_rx, stack_tx, 0).expect("stack starts");
    let wire = Wire {
        rx: drv_rx,
        tx: drv_tx,
        mem: wire_view,
        sent: Vec::new(),
        stats: WireStats::default(),
        peer_answers_arp: true,
        delivered_since_kick: false,
        returned_since_kick: false,
    };
    (wire, ns)
}

impl Wire {
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
        if buf.dataspace != DS || buf.len < 1536 || frame.len() > buf.len as usize {
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

    /// "Transmits" everything the stack queued and hands the buffers back.
    pub fn collect(&mut self) -> usize {
        let mut n = 0;
        let mut arp_replies = Vec::new();
        while let Ok(Some(d)) = self.tx.active.dequeue() {
            let start = d.offset as usize;
            let frame = self.mem.get(start..start + d.len as usize).map(<[u8]>::to_vec);
            match frame {
                Some(f) if d.dataspace == DS && d.len as usize <= SLOT as usize => {
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

/// An Ethernet/IPv4/UDP frame from `from` to `to` carrying `payload`, checksums filled.
pub fn udp_frame(src_mac: [u8; 6], dst_mac: [u8; 6], from: Endpoint, to: Endpoint, payload: &[u8]) -> Vec<u8> {
    let mut buf = vec![0u8; 42 + payload.len()];
    buf[42..].copy_from_slice(payload);
    crate::wire::write_udp_headers(&mut buf, src_mac, dst_mac, from, to, payload.len());
    buf
}

/// A datagram from the peer (10.0.2.2:`sport`) to the stack's `dport`.
pub fn peer_udp(sport: u16, dport: u16, payload: &[u8]) -> Vec<u8> {
    udp_frame(PEER_MAC, MAC, Endpoint { addr: PEER_IP, port: sport }, Endpoint { addr: IP, port: dport }, payload)
}

/// An ARP request from `sender` asking for `target`'s MAC, broadcast.
pub fn arp_request(sender_mac: [u8; 6], sender_ip: [u8; 4], target_ip: [u8; 4]) -> Vec<u8> {
    let mut buf = vec![0u8; 42];
    crate::wire::write_arp_request(&mut buf, sender_mac, sender_ip, target_ip);
    buf
}

/// An ARP reply from `sender` to `target`.
pub fn arp_reply(sender_mac: [u8; 6], sender_ip: [u8; 4], target_mac: [u8; 6], target_ip: [u8; 4]) -> Vec<u8> {
    let repr = ArpRepr::EthernetIpv4 {
        operation: ArpOperation::Reply,
        source_hardware_addr: EthernetAddress(sender_mac),
        source_protocol_addr: Ipv4Address::from(sender_ip),
        target_hardware_addr: EthernetAddress(target_mac),
        target_protocol_addr: Ipv4Address::from(target_ip),
    };
    let mut buf = vec![0u8; 42];
    let mut eth = EthernetFrame::new_unchecked(&mut buf[..]);
    EthernetRepr { src_addr: EthernetAddress(sender_mac), dst_addr: EthernetAddress(target_mac), ethertype: EthernetProtocol::Arp }
        .emit(&mut eth);
    repr.emit(&mut ArpPacket::new_unchecked(eth.payload_mut()));
    buf
}

/// An ICMP echo request from the peer to the stack.
pub fn icmp_echo_request(ident: u16, seq_no: u16, data: &[u8]) -> Vec<u8> {
    let icmp = Icmpv4Repr::EchoRequest { ident, seq_no, data };
    let ip = Ipv4Repr {
        src_addr: Ipv4Address::from(PEER_IP),
        dst_addr: Ipv4Address::from(IP),
        next_header: IpProtocol::Icmp,
        payload_len: icmp.buffer_len(),
        hop_limit: 64,
    };
    let mut buf = vec![0u8; 14 + 20 + icmp.buffer_len()];
    let mut eth = EthernetFrame::new_unchecked(&mut buf[..]);
    EthernetRepr { src_addr: EthernetAddress(PEER_MAC), dst_addr: EthernetAddress(MAC), ethertype: EthernetProtocol::Ipv4 }
        .emit(&mut eth);
    let caps = ChecksumCapabilities::default();
    let mut ipp = Ipv4Packet::new_unchecked(eth.payload_mut());
    ip.emit(&mut ipp, &caps);
    icmp.emit(&mut Icmpv4Packet::new_unchecked(ipp.payload_mut()), &caps);
    buf
}

/// A parsed, checksum-verified UDP frame.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UdpOut {
    /// Ethernet source.
    pub src_mac: [u8; 6],
    /// Ethernet destination.
    pub dst_mac: [u8; 6],
    /// IPv4/UDP source.
    pub from: Endpoint,
    /// IPv4/UDP destination.
    pub to: Endpoint,
    /// Payload.
    pub payload: Vec<u8>,
}

/// Parses a frame as Ethernet/IPv4/UDP with valid checksums and consistent lengths.
pub fn parse_udp(frame: &[u8]) -> Option<UdpOut> {
    let eth = EthernetFrame::new_checked(frame).ok()?;
    if eth.ethertype() != EthernetProtocol::Ipv4 {
        return None;
    }
    let ip = Ipv4Packet::new_checked(eth.payload()).ok()?;
    if !ip.verify_checksum() || ip.next_header() != IpProtocol::Udp {
        return None;
    }
    let udp = UdpPacket::new_checked(ip.payload()).ok()?;
    let (s, d) = (IpAddress::Ipv4(ip.src_addr()), IpAddress::Ipv4(ip.dst_addr()));
    if udp.checksum() == 0 || !udp.verify_checksum(&s, &d) {
        return None;
    }
    let _ = UdpRepr::parse(&udp, &s, &d, &ChecksumCapabilities::default()).ok()?;
    Some(UdpOut {
        src_mac: eth.src_addr().0,
        dst_mac: eth.dst_addr().0,
        from: Endpoint { addr: ip.src_addr().octets(), port: udp.src_port() },
        to: Endpoint { addr: ip.dst_addr().octets(), port: udp.dst_port() },
        payload: udp.payload().to_vec(),
    })
}

/// Parses an ICMP echo reply: (ident, seq, data, destination MAC).
pub fn parse_echo_reply(frame: &[u8]) -> Option<(u16, u16, Vec<u8>, [u8; 6])> {
    let eth = EthernetFrame::new_checked(frame).ok()?;
    let ip = Ipv4Packet::new_checked(eth.payload()).ok()?;
    if !ip.verify_checksum() || ip.next_header() != IpProtocol::Icmp {
        return None;
    }
    let icmp = Icmpv4Packet::new_checked(ip.payload()).ok()?;
    match Icmpv4Repr::parse(&icmp, &ChecksumCapabilities::default()).ok()? {
        Icmpv4Repr::EchoReply { ident, seq_no, data } => Some((ident, seq_no, data.to_vec(), eth.dst_addr().0)),
        _ => None,
    }
}

/// Parses an ARP frame.
pub fn parse_arp(frame: &[u8]) -> Option<(ArpOperation, [u8; 6], [u8; 4], [u8; 6], [u8; 4])> {
    let eth = EthernetFrame::new_checked(frame).ok()?;
    if eth.ethertype() != EthernetProtocol::Arp {
        return None;
    }
    match ArpRepr::parse(&ArpPacket::new_checked(eth.payload()).ok()?).ok()? {
        ArpRepr::EthernetIpv4 {
            operation,
            source_hardware_addr,
            source_protocol_addr,
            target_hardware_addr,
            target_protocol_addr,
        } => Some((
            operation,
            source_hardware_addr.0,
            source_protocol_addr.octets(),
            target_hardware_addr.0,
            target_protocol_addr.octets(),
        )),
        _ => None,
    }
}

/// A deterministic payload of `len` bytes (distinct per `seed`).
pub fn payload(len: usize, seed: u8) -> Vec<u8> {
    (0..len).map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed)).collect()
}
