//! The test addresses and Ethernet/ARP/IPv4/UDP/ICMP frames built and parsed with smoltcp's
//! wire types. The builders use smoltcp's `Repr`s directly, not the code under test, so a
//! frame a test sends is an independent reference; the parsers verify checksums and lengths.

use smoltcp::phy::ChecksumCapabilities;
use smoltcp::wire::{
    ArpOperation, ArpPacket, ArpRepr, EthernetAddress, EthernetFrame, EthernetProtocol, EthernetRepr, Icmpv4Packet,
    Icmpv4Repr, IpAddress, IpProtocol, Ipv4Address, Ipv4Packet, Ipv4Repr, UdpPacket, UdpRepr,
};
use socket_api::Endpoint;

/// The guest's (the stack's) MAC in tests: QEMU's default NIC address.
pub const MAC: [u8; 6] = [0x52, 0x54, 0x00, 0x12, 0x34, 0x56];
/// The guest's address in tests (QEMU user-networking defaults).
pub const IP: [u8; 4] = [10, 0, 2, 15];
/// The peer on the wire.
pub const PEER_MAC: [u8; 6] = [0x52, 0x55, 0x0a, 0x00, 0x02, 0x02];
/// The peer's address (the gateway).
pub const PEER_IP: [u8; 4] = [10, 0, 2, 2];

/// Ethernet (14) + IPv4 (20) + UDP (8) header bytes.
const UDP_HEADERS: usize = 42;

/// An Ethernet/IPv4/UDP frame from `from` to `to` carrying `payload`, checksums filled.
pub fn udp_frame(src_mac: [u8; 6], dst_mac: [u8; 6], from: Endpoint, to: Endpoint, payload: &[u8]) -> Vec<u8> {
    let mut buf = vec![0u8; UDP_HEADERS + payload.len()];
    let mut eth = EthernetFrame::new_unchecked(&mut buf[..]);
    EthernetRepr {
        src_addr: EthernetAddress(src_mac),
        dst_addr: EthernetAddress(dst_mac),
        ethertype: EthernetProtocol::Ipv4,
    }
    .emit(&mut eth);
    let (src, dst) = (Ipv4Address::from(from.addr), Ipv4Address::from(to.addr));
    let caps = ChecksumCapabilities::default();
    let mut ipp = Ipv4Packet::new_unchecked(eth.payload_mut());
    Ipv4Repr {
        src_addr: src,
        dst_addr: dst,
        next_header: IpProtocol::Udp,
        payload_len: 8 + payload.len(),
        hop_limit: 64,
    }
    .emit(&mut ipp, &caps);
    UdpRepr { src_port: from.port, dst_port: to.port }.emit(
        &mut UdpPacket::new_unchecked(ipp.payload_mut()),
        &IpAddress::Ipv4(src),
        &IpAddress::Ipv4(dst),
        payload.len(),
        |p| p.copy_from_slice(payload),
        &caps,
    );
    buf
}

/// A datagram from the peer (10.0.2.2:`sport`) to the guest's `dport`.
pub fn peer_udp(sport: u16, dport: u16, payload: &[u8]) -> Vec<u8> {
    udp_frame(PEER_MAC, MAC, Endpoint { addr: PEER_IP, port: sport }, Endpoint { addr: IP, port: dport }, payload)
}

/// An ARP request from `sender` asking for `target`'s MAC, broadcast.
pub fn arp_request(sender_mac: [u8; 6], sender_ip: [u8; 4], target_ip: [u8; 4]) -> Vec<u8> {
    arp(ArpOperation::Request, sender_mac, sender_ip, [0; 6], target_ip, EthernetAddress::BROADCAST.0)
}

/// An ARP reply from `sender` to `target`.
pub fn arp_reply(sender_mac: [u8; 6], sender_ip: [u8; 4], target_mac: [u8; 6], target_ip: [u8; 4]) -> Vec<u8> {
    arp(ArpOperation::Reply, sender_mac, sender_ip, target_mac, target_ip, target_mac)
}

fn arp(
    operation: ArpOperation,
    sender_mac: [u8; 6],
    sender_ip: [u8; 4],
    target_mac: [u8; 6],
    target_ip: [u8; 4],
    eth_dst: [u8; 6],
) -> Vec<u8> {
    let repr = ArpRepr::EthernetIpv4 {
        operation,
        source_hardware_addr: EthernetAddress(sender_mac),
        source_protocol_addr: Ipv4Address::from(sender_ip),
        target_hardware_addr: EthernetAddress(target_mac),
        target_protocol_addr: Ipv4Address::from(target_ip),
    };
    let mut buf = vec![0u8; 14 + repr.buffer_len()];
    let mut eth = EthernetFrame::new_unchecked(&mut buf[..]);
    EthernetRepr {
        src_addr: EthernetAddress(sender_mac),
        dst_addr: EthernetAddress(eth_dst),
        ethertype: EthernetProtocol::Arp,
    }
    .emit(&mut eth);
    repr.emit(&mut ArpPacket::new_unchecked(eth.payload_mut()));
    buf
}

/// An ICMP echo request from the peer to the guest.
pub fn icmp_echo_request(ident: u16, seq_no: u16, data: &[u8]) -> Vec<u8> {
    icmp_echo_request_to(MAC, IP, ident, seq_no, data)
}

/// An ICMP echo request from the peer to the station `dst_mac` at `dst_ip` (e.g. the second
/// stack of a two-stack system).
pub fn icmp_echo_request_to(dst_mac: [u8; 6], dst_ip: [u8; 4], ident: u16, seq_no: u16, data: &[u8]) -> Vec<u8> {
    let icmp = Icmpv4Repr::EchoRequest { ident, seq_no, data };
    let ip = Ipv4Repr {
        src_addr: Ipv4Address::from(PEER_IP),
        dst_addr: Ipv4Address::from(dst_ip),
        next_header: IpProtocol::Icmp,
        payload_len: icmp.buffer_len(),
        hop_limit: 64,
    };
    let mut buf = vec![0u8; 14 + 20 + icmp.buffer_len()];
    let mut eth = EthernetFrame::new_unchecked(&mut buf[..]);
    EthernetRepr {
        src_addr: EthernetAddress(PEER_MAC),
        dst_addr: EthernetAddress(dst_mac),
        ethertype: EthernetProtocol::Ipv4,
    }
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

/// A parsed ARP frame: (operation, sender MAC, sender IP, target MAC, target IP).
pub type ArpOut = (ArpOperation, [u8; 6], [u8; 4], [u8; 6], [u8; 4]);

/// Parses an ARP frame.
pub fn parse_arp(frame: &[u8]) -> Option<ArpOut> {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn udp_frames_parse_back_and_any_bit_flip_in_ip_or_udp_is_refused() {
        let p = payload(300, 7);
        let f = peer_udp(40000, 7, &p);
        assert_eq!(f.len(), UDP_HEADERS + 300);
        let u = parse_udp(&f).expect("valid");
        assert_eq!((u.src_mac, u.dst_mac), (PEER_MAC, MAC));
        assert_eq!(u.from, Endpoint { addr: PEER_IP, port: 40000 });
        assert_eq!(u.to, Endpoint { addr: IP, port: 7 });
        assert_eq!(u.payload, p);
        for byte in 14..f.len() {
            for bit in 0..8 {
                let mut bad = f.clone();
                bad[byte] ^= 1 << bit;
                assert!(parse_udp(&bad).is_none(), "bit {bit} of byte {byte} flipped");
            }
        }
        assert!(parse_udp(&f[..f.len() - 1]).is_none(), "a truncated datagram");
    }

    #[test]
    fn arp_requests_are_broadcast_and_replies_addressed() {
        let q = arp_request(PEER_MAC, PEER_IP, IP);
        assert_eq!(&q[..6], &[0xff; 6]);
        assert_eq!(parse_arp(&q), Some((ArpOperation::Request, PEER_MAC, PEER_IP, [0; 6], IP)));
        let r = arp_reply(MAC, IP, PEER_MAC, PEER_IP);
        assert_eq!(&r[..6], &PEER_MAC);
        assert_eq!(parse_arp(&r), Some((ArpOperation::Reply, MAC, IP, PEER_MAC, PEER_IP)));
        assert!(parse_udp(&q).is_none() && parse_arp(&peer_udp(1, 2, b"x")).is_none());
    }

    #[test]
    fn echo_requests_are_not_replies() {
        let f = icmp_echo_request(0x1234, 9, b"ping");
        assert!(parse_echo_reply(&f).is_none(), "a request is not a reply");
        // The same frame with the ICMP type turned into a reply (type 0) and its checksum fixed.
        let mut r = f.clone();
        r[34] = 0;
        Icmpv4Packet::new_unchecked(&mut r[34..]).fill_checksum();
        assert_eq!(parse_echo_reply(&r), Some((0x1234, 9, b"ping".to_vec(), MAC)));
    }
}
