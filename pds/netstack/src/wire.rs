//! The UDP fast path's frame handling, with smoltcp's checked wire types: classify a received
//! frame (a valid datagram for a bound port, something for smoltcp, or junk to drop), write
//! Ethernet/IPv4/UDP headers in front of a payload already in a transmit buffer, build an ARP
//! request, and the small reply-path neighbour table learned from received frames.
//!
//! Why a fast path: smoltcp's UDP sockets copy each payload into and out of their own rings.
//! Datagrams for bound ports skip them: the payload goes from the receive buffer straight to
//! the client (or a hosted app reads it in place), and a reply is written into its transmit
//! frame once. Everything else (ARP, ICMP echo, UDP to unbound ports -> port unreachable)
//! is smoltcp's, through the zero-copy device.

use smoltcp::phy::ChecksumCapabilities;
use smoltcp::wire::{
    ArpOperation, ArpPacket, ArpRepr, EthernetAddress, EthernetFrame, EthernetProtocol, EthernetRepr, IpAddress,
    IpProtocol, Ipv4Address, Ipv4Packet, Ipv4Repr, UdpPacket, UdpRepr,
};
use socket_api::Endpoint;

/// Ethernet + IPv4 (no options) + UDP header bytes in front of a payload we send.
pub const UDP_HEADROOM: usize = 14 + 20 + 8;

/// Why a frame was dropped before reaching anything.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DropReason {
    /// Shorter than its headers claim, or header fields that contradict each other
    /// (includes UDP length fields that lie).
    Malformed,
    /// IPv4 header or UDP checksum wrong.
    BadChecksum,
    /// Unicast to another station's MAC.
    OtherMac,
}

/// A valid datagram for a bound port.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct UdpIn {
    /// Sender's MAC (the reply goes back there).
    pub src_mac: [u8; 6],
    /// Sender.
    pub from: Endpoint,
    /// Our port it arrived on.
    pub port: u16,
    /// Payload position in the frame.
    pub payload_offset: usize,
    /// Payload length.
    pub payload_len: usize,
}

/// What to do with a received frame.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Class {
    /// A datagram for a bound port: the fast path.
    Udp(UdpIn),
    /// ARP: smoltcp answers; `learn` is the sender to remember (if on our subnet).
    Arp {
        /// Sender IP and MAC.
        learn: Option<([u8; 4], [u8; 6])>,
    },
    /// Anything else smoltcp should see.
    Stack,
    /// Junk.
    Drop(DropReason),
}

fn ip(a: Ipv4Address) -> [u8; 4] {
    a.octets()
}

/// Classifies a received frame. `bound(port)` says whether the fast path owns a UDP port.
pub fn classify(frame: &[u8], mac: [u8; 6], our_ip: [u8; 4], bound: impl Fn(u16) -> bool) -> Class {
    if frame.len() > crate::config::MAX_FRAME {
        return Class::Drop(DropReason::Malformed); // oversized: no jumbo frames, no VLAN tags
    }
    let Ok(eth) = EthernetFrame::new_checked(frame) else {
        return Class::Drop(DropReason::Malformed);
    };
    let dst = eth.dst_addr();
    if dst.is_unicast() && dst != EthernetAddress(mac) {
        return Class::Drop(DropReason::OtherMac);
    }
    match eth.ethertype() {
        EthernetProtocol::Arp => {
            let learn = ArpPacket::new_checked(eth.payload()).ok().and_then(|p| ArpRepr::parse(&p).ok()).and_then(
                |r| match r {
                    ArpRepr::EthernetIpv4 { source_hardware_addr, source_protocol_addr, .. }
                        if source_hardware_addr.is_unicast() =>
                    {
                        Some((ip(source_protocol_addr), source_hardware_addr.0))
                    }
                    _ => None,
                },
            );
            Class::Arp { learn }
        }
        EthernetProtocol::Ipv4 => {
            let Ok(pkt) = Ipv4Packet::new_checked(eth.payload()) else {
                return Class::Drop(DropReason::Malformed);
            };
            if pkt.version() != 4 {
                return Class::Drop(DropReason::Malformed);
            }
            if pkt.next_header() != IpProtocol::Udp || ip(pkt.dst_addr()) != our_ip {
                return Class::Stack;
            }
            if pkt.more_frags() || pkt.frag_offset() != 0 {
                return Class::Stack; // no reassembly: smoltcp drops fragments
            }
            if !pkt.verify_checksum() {
                return Class::Drop(DropReason::BadChecksum);
            }
            let Ok(udp) = UdpPacket::new_checked(pkt.payload()) else {
                return Class::Drop(DropReason::Malformed);
            };
            if !bound(udp.dst_port()) {
                return Class::Stack; // smoltcp answers port unreachable
            }
            let (src, dst_ip) = (pkt.src_addr(), pkt.dst_addr());
            if udp.src_port() == 0 || !src.x_is_unicast_compat() {
                return Class::Drop(DropReason::Malformed);
            }
            if !udp.verify_checksum(&IpAddress::Ipv4(src), &IpAddress::Ipv4(dst_ip)) {
                return Class::Drop(DropReason::BadChecksum);
            }
            let payload_offset = 14 + usize::from(pkt.header_len()) + 8;
            let payload_len = usize::from(udp.len()).saturating_sub(8);
            // The fields were re-read from memory the device can DMA into: the range must
            // still lie inside the frame, or the frame is junk.
            if payload_offset.checked_add(payload_len).is_none_or(|end| end > frame.len()) {
                return Class::Drop(DropReason::Malformed);
            }
            Class::Udp(UdpIn {
                src_mac: eth.src_addr().0,
                from: Endpoint { addr: ip(src), port: udp.src_port() },
                port: udp.dst_port(),
                payload_offset,
                payload_len,
            })
        }
        _ => Class::Stack,
    }
}

/// Whether an Ethernet address names one station: the group (I/G) bit, bit 0 of the first
/// octet, is clear. Multicast and broadcast addresses have it set.
pub fn is_unicast_mac(mac: [u8; 6]) -> bool {
    mac[0] & 1 == 0
}

/// A sender address a reply can go back to.
trait UnicastCompat {
    fn x_is_unicast_compat(&self) -> bool;
}

impl UnicastCompat for Ipv4Address {
    fn x_is_unicast_compat(&self) -> bool {
        !(self.is_broadcast() || self.is_multicast() || self.is_unspecified())
    }
}

/// Writes Ethernet/IPv4/UDP headers in front of the `payload_len` bytes already at
/// `buf[UDP_HEADROOM..]`; returns the frame length.
pub fn write_udp_headers(
    buf: &mut [u8],
    src_mac: [u8; 6],
    dst_mac: [u8; 6],
    from: Endpoint,
    to: Endpoint,
    payload_len: usize,
) -> usize {
    let len = UDP_HEADROOM + payload_len;
    let buf = &mut buf[..len];
    let mut eth = EthernetFrame::new_unchecked(&mut *buf);
    EthernetRepr {
        src_addr: EthernetAddress(src_mac),
        dst_addr: EthernetAddress(dst_mac),
        ethertype: EthernetProtocol::Ipv4,
    }
    .emit(&mut eth);
    let (src, dst) = (Ipv4Address::from(from.addr), Ipv4Address::from(to.addr));
    let caps = ChecksumCapabilities::default();
    let mut ipp = Ipv4Packet::new_unchecked(&mut buf[14..]);
    Ipv4Repr {
        src_addr: src,
        dst_addr: dst,
        next_header: IpProtocol::Udp,
        payload_len: 8 + payload_len,
        hop_limit: 64,
    }
    .emit(&mut ipp, &caps);
    let mut udp = UdpPacket::new_unchecked(&mut buf[34..]);
    UdpRepr { src_port: from.port, dst_port: to.port }.emit(
        &mut udp,
        &IpAddress::Ipv4(src),
        &IpAddress::Ipv4(dst),
        payload_len,
        |_| {}, // the payload is already in place
        &caps,
    );
    len
}

/// Writes an ARP request for `target` into `buf`; returns the frame length.
pub fn write_arp_request(buf: &mut [u8], mac: [u8; 6], our_ip: [u8; 4], target: [u8; 4]) -> usize {
    let repr = ArpRepr::EthernetIpv4 {
        operation: ArpOperation::Request,
        source_hardware_addr: EthernetAddress(mac),
        source_protocol_addr: Ipv4Address::from(our_ip),
        target_hardware_addr: EthernetAddress([0; 6]),
        target_protocol_addr: Ipv4Address::from(target),
    };
    let len = 14 + repr.buffer_len();
    let mut eth = EthernetFrame::new_unchecked(&mut buf[..len]);
    EthernetRepr {
        src_addr: EthernetAddress(mac),
        dst_addr: EthernetAddress::BROADCAST,
        ethertype: EthernetProtocol::Arp,
    }
    .emit(&mut eth);
    repr.emit(&mut ArpPacket::new_unchecked(eth.payload_mut()));
    len
}

/// Entries in the reply-path neighbour table.
pub const NEIGHBOURS: usize = 16;

/// One entry: IPv4 address, MAC, last use.
type Neighbour = ([u8; 4], [u8; 6], u64);

/// IPv4 -> MAC for peers we heard from (fast-path senders and ARP), oldest replaced first.
/// smoltcp keeps its own cache for its traffic; it has no public lookup, hence this one.
#[derive(Clone, Debug, Default)]
pub struct Neighbours {
    entries: [Option<Neighbour>; NEIGHBOURS],
    clock: u64,
}

impl Neighbours {
    /// Remembers (or refreshes) `ip -> mac`.
    pub fn learn(&mut self, ip: [u8; 4], mac: [u8; 6]) {
        self.clock += 1;
        let now = self.clock;
        if let Some(e) = self.entries.iter_mut().flatten().find(|e| e.0 == ip) {
            *e = (ip, mac, now);
            return;
        }
        let slot = self.entries.iter_mut().min_by_key(|e| e.map_or(0, |(_, _, t)| t)).expect("NEIGHBOURS > 0");
        *slot = Some((ip, mac, now));
    }

    /// The MAC for `ip`, if known.
    pub fn lookup(&self, ip: [u8; 4]) -> Option<[u8; 6]> {
        self.entries.iter().flatten().find(|e| e.0 == ip).map(|e| e.1)
    }
}
