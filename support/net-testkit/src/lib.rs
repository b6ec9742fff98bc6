//! Frames and fake peers for host tests of network PDs (the network stack, its clients, and
//! the QEMU tests that talk to a booted system's NIC). Host-only, uses std.
//!
//! * [`frames`]: the test addresses (the guest's and the peer's MAC and IPv4 address, QEMU's
//!   user-networking defaults) and Ethernet/ARP/IPv4/UDP/ICMP frames built and parsed with
//!   smoltcp's wire types, independently of the code under test.
//! * [`driver`]: [`Wire`], a fake NIC driver end over in-memory queue pairs and packet
//!   buffers: it "receives" frames into the buffers its client posted, "sends" what the client
//!   queues, answers the peer's ARP, and plays the driver's side of the suppressed-notification
//!   protocol.
//!
//! ```
//! use net_testkit::{parse_udp, payload, peer_udp};
//! let frame = peer_udp(40000, 7, &payload(100, 1));
//! let u = parse_udp(&frame).expect("a valid UDP frame");
//! assert_eq!((u.from.port, u.to.port, u.payload.len()), (40000, 7, 100));
//! ```
#![deny(unsafe_op_in_unsafe_fn, missing_docs)]

pub mod driver;
pub mod frames;

pub use driver::{StackEnds, Wire, WireStats, DS, NET_BUFFERS, QCAP, RX_BUF_MIN, SLOT};
pub use frames::{
    arp_reply, arp_request, icmp_echo_request, icmp_echo_request_to, parse_arp, parse_echo_reply, parse_udp, payload,
    peer_udp, udp_frame, ArpOut, UdpOut, IP, MAC, PEER_IP, PEER_MAC,
};
