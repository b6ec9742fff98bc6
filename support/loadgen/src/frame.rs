//! Raw Ethernet for the dgram transport: the generator plays the guest's gateway (10.0.2.2 by
//! default), so it builds Ethernet/IPv4/UDP frames, resolves the guest's MAC with ARP and
//! answers the guest's ARP requests for its own address. Built with smoltcp's wire types.

use smoltcp::phy::ChecksumCapabilities;
use smoltcp::wire::{
    ArpOperation, ArpPacket, ArpRepr, EthernetAddress, EthernetFrame, EthernetProtocol, EthernetRepr, IpAddress,
    IpProtocol, Ipv4Address, Ipv4Packet, Ipv4Repr, UdpPacket, UdpRepr,
};

/// Ethernet + IPv4 + UDP header bytes in front of a payload.
pub const UDP_HEADROOM: usize = 14 + 20 + 8;

/// One end of the raw link: MAC, IPv4 address and UDP port.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Station {
    /// Ethernet address.
    pub mac: [u8; 6],
    /// IPv4 address.
    pub ip: [u8; 4],
    /// UDP port.
    pub port: u16,
}

/// Writes an Ethernet/IPv4/UDP frame from `from` to `to` around the payload already at
/// `frame[UDP_HEADROOM..]` (checksums filled).
pub fn write_udp(frame: &mut [u8], from: Station, to: Station) {
    let payload_len = frame.len() - UDP_HEADROOM;
    let mut eth = EthernetFrame::new_unchecked(&mut *frame);
    EthernetRepr {
        src_addr: EthernetAddress(from.mac),
        dst_addr: EthernetAddress(to.mac),
        ethertype: EthernetProtocol::Ipv4,
    }
    .emit(&mut eth);
    let (src, dst) = (Ipv4Address::from(from.ip), Ipv4Address::from(to.ip));
    let caps = ChecksumCapabilities::default();
    Ipv4Repr {
        src_addr: src,
        dst_addr: dst,
        next_header: IpProtocol::Udp,
        payload_len: 8 + payload_len,
        hop_limit: 64,
    }
    .emit(&mut Ipv4Packet::new_unchecked(&mut frame[14..]), &caps);
    UdpRepr { src_port: from.port, dst_port: to.port }.emit(
        &mut UdpPacket::new_unchecked(&mut frame[34..]),
        &IpAddress::Ipv4(src),
        &IpAddress::Ipv4(dst),
        payload_len,
        |_| {},
        &caps,
    );
}

/// The UDP payload of `frame` if it is an IPv4/UDP frame to `to` (MAC, address and port)
/// with a valid IPv4 header checksum; the payload check covers the rest.
pub fn udp_payload(frame: &[u8], to: Station) -> Option<&[u8]> {
    let eth = EthernetFrame::new_checked(frame).ok()?;
    if eth.ethertype() != EthernetProtocol::Ipv4 || eth.dst_addr() != EthernetAddress(to.mac) {
        return None;
    }
    let ip = Ipv4Packet::new_checked(&frame[14..]).ok()?;
    if !ip.verify_checksum() || ip.next_header() != IpProtocol::Udp || ip.dst_addr() != Ipv4Address::from(to.ip) {
        return None;
    }
    let ip_len = usize::from(ip.total_len());
    let udp = UdpPacket::new_checked(&frame[34..14 + ip_len]).ok()?;
    if udp.dst_port() != to.port {
        return None;
    }
    let len = usize::from(udp.len()).checked_sub(8)?;
    frame.get(UDP_HEADROOM..UDP_HEADROOM + len)
}

/// An ARP frame: a request from `from` for `target_ip`, or a reply from `from` to `to`.
pub fn arp(from: Station, to: Option<Station>, target_ip: [u8; 4]) -> Vec<u8> {
    let (operation, dst, target_mac) = match to {
        Some(t) => (ArpOperation::Reply, t.mac, t.mac),
        None => (ArpOperation::Request, [0xff; 6], [0; 6]),
    };
    let repr = ArpRepr::EthernetIpv4 {
        operation,
        source_hardware_addr: EthernetAddress(from.mac),
        source_protocol_addr: Ipv4Address::from(from.ip),
        target_hardware_addr: EthernetAddress(target_mac),
        target_protocol_addr: Ipv4Address::from(target_ip),
    };
    let mut buf = vec![0u8; 42];
    let mut eth = EthernetFrame::new_unchecked(&mut buf[..]);
    EthernetRepr {
        src_addr: EthernetAddress(from.mac),
        dst_addr: EthernetAddress(dst),
        ethertype: EthernetProtocol::Arp,
    }
    .emit(&mut eth);
    repr.emit(&mut ArpPacket::new_unchecked(eth.payload_mut()));
    buf
}

/// An ARP packet's operation, sender MAC and IP, and target IP.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ArpSeen {
    /// Whether it is a request (else a reply).
    pub request: bool,
    /// Sender's MAC.
    pub sender_mac: [u8; 6],
    /// Sender's IPv4 address.
    pub sender_ip: [u8; 4],
    /// Target IPv4 address.
    pub target_ip: [u8; 4],
}

/// Parses `frame` as an Ethernet/IPv4 ARP packet.
pub fn parse_arp(frame: &[u8]) -> Option<ArpSeen> {
    let eth = EthernetFrame::new_checked(frame).ok()?;
    if eth.ethertype() != EthernetProtocol::Arp {
        return None;
    }
    match ArpRepr::parse(&ArpPacket::new_checked(eth.payload()).ok()?).ok()? {
        ArpRepr::EthernetIpv4 {
            operation, source_hardware_addr, source_protocol_addr, target_protocol_addr, ..
        } => Some(ArpSeen {
            request: operation == ArpOperation::Request,
            sender_mac: source_hardware_addr.0,
            sender_ip: source_protocol_addr.octets(),
            target_ip: target_protocol_addr.octets(),
        }),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: Station = Station { mac: [2, 0, 0, 0, 0, 1], ip: [10, 0, 2, 2], port: 40000 };
    const B: Station = Station { mac: [2, 0, 0, 0, 0, 2], ip: [10, 0, 2, 15], port: 7 };

    #[test]
    fn udp_frames_round_trip_and_foreign_ones_are_ignored() {
        let mut f = vec![0u8; UDP_HEADROOM + 5];
        f[UDP_HEADROOM..].copy_from_slice(b"hello");
        write_udp(&mut f, A, B);
        assert_eq!(udp_payload(&f, B), Some(&b"hello"[..]));
        assert_eq!(udp_payload(&f, A), None, "not addressed to A");
        let mut bad = f.clone();
        bad[14 + 8] ^= 1; // TTL: the IPv4 header checksum no longer holds
        assert_eq!(udp_payload(&bad, B), None);
        assert_eq!(udp_payload(&f[..20], B), None, "truncated");
    }

    #[test]
    fn arp_requests_and_replies_parse() {
        let req = arp(A, None, B.ip);
        let seen = parse_arp(&req).unwrap();
        assert!(seen.request);
        assert_eq!((seen.sender_mac, seen.sender_ip, seen.target_ip), (A.mac, A.ip, B.ip));
        let rep = parse_arp(&arp(B, Some(A), A.ip)).unwrap();
        assert!(!rep.request);
        assert_eq!(rep.sender_mac, B.mac);
        assert_eq!(parse_arp(&req[..20]), None);
    }
}
