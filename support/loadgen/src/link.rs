//! How probes reach the system under test: plain UDP to an address (a real machine, or QEMU's
//! user networking), or raw Ethernet over QEMU's `dgram` netdev, where the generator is the
//! guest's gateway on a private link (it resolves the guest's MAC with ARP and answers the
//! guest's ARP requests). Both are a UDP socket, so the sender and the receiver thread share
//! one `Link`.

use std::io;
use std::net::{SocketAddr, UdpSocket};
use std::time::{Duration, Instant};

use crate::frame::{self, Station, UDP_HEADROOM};

/// A link to the echo service.
#[derive(Debug)]
pub enum Link {
    /// Datagrams to `peer` (the socket is connected to it).
    Udp {
        /// The socket.
        sock: UdpSocket,
    },
    /// Ethernet frames, one per datagram, to QEMU's dgram netdev at `qemu`.
    Dgram {
        /// Our end (QEMU's `remote`).
        sock: UdpSocket,
        /// QEMU's end (its `local`).
        qemu: SocketAddr,
        /// Who we are on the link.
        me: Station,
        /// The guest (MAC resolved by ARP).
        guest: Station,
    },
}

impl Link {
    /// Plain UDP from an ephemeral port to `peer`.
    pub fn udp(peer: SocketAddr) -> io::Result<Link> {
        let bind: SocketAddr = if peer.is_ipv4() { "0.0.0.0:0" } else { "[::]:0" }.parse().expect("literal address");
        let sock = UdpSocket::bind(bind)?;
        sock.connect(peer)?;
        tune(&sock)?;
        Ok(Link::Udp { sock })
    }

    /// Raw Ethernet: listens on `listen` (QEMU's `remote`), sends to `qemu` (QEMU's
    /// `local`), and resolves `guest_ip`'s MAC by ARP within `timeout`.
    pub fn dgram(
        listen: SocketAddr,
        qemu: SocketAddr,
        me: Station,
        guest_ip: [u8; 4],
        guest_port: u16,
        timeout: Duration,
    ) -> io::Result<Link> {
        let sock = UdpSocket::bind(listen)?;
        tune(&sock)?;
        sock.set_read_timeout(Some(Duration::from_millis(200)))?;
        let deadline = Instant::now() + timeout;
        let mut buf = vec![0u8; 2048];
        while Instant::now() < deadline {
            sock.send_to(&frame::arp(me, None, guest_ip), qemu)?;
            let until = Instant::now() + Duration::from_millis(500);
            while Instant::now() < until {
                let n = match sock.recv_from(&mut buf) {
                    Ok((n, _)) => n,
                    Err(e) if matches!(e.kind(), io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut) => continue,
                    Err(e) => return Err(e),
                };
                if let Some(a) = frame::parse_arp(&buf[..n]) {
                    if !a.request && a.sender_ip == guest_ip {
                        let guest = Station { mac: a.sender_mac, ip: guest_ip, port: guest_port };
                        return Ok(Link::Dgram { sock, qemu, me, guest });
                    }
                }
            }
        }
        Err(io::Error::new(
            io::ErrorKind::TimedOut,
            format!("no ARP reply from {} within {timeout:?} (is the guest up, and QEMU's dgram netdev pointed at {listen}?)", dotted(guest_ip)),
        ))
    }

    /// Bytes in front of the payload in a datagram buffer.
    pub fn headroom(&self) -> usize {
        match self {
            Link::Udp { .. } => 0,
            Link::Dgram { .. } => UDP_HEADROOM,
        }
    }

    /// Sends `datagram` (headroom, then the payload), filling the headers on a raw link.
    pub fn send(&self, datagram: &mut [u8]) -> io::Result<()> {
        match self {
            Link::Udp { sock } => sock.send(datagram).map(drop),
            Link::Dgram { sock, qemu, me, guest } => {
                frame::write_udp(datagram, *me, *guest);
                sock.send_to(datagram, qemu).map(drop)
            }
        }
    }

    /// Receives one datagram into `buf` (waiting at most the socket's read timeout) and returns
    /// the payload it carries for us, if any; on a raw link it answers ARP requests for our
    /// address on the way. `Ok(None)`: nothing of ours (or a timeout).
    pub fn recv<'b>(&self, buf: &'b mut [u8]) -> io::Result<Option<&'b [u8]>> {
        let n = match self {
            Link::Udp { sock } => sock.recv(buf),
            Link::Dgram { sock, .. } => sock.recv_from(buf).map(|(n, _)| n),
        };
        let n = match n {
            Ok(n) => n,
            Err(e) if matches!(e.kind(), io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut) => return Ok(None),
            Err(e) => return Err(e),
        };
        match self {
            Link::Udp { .. } => Ok(Some(&buf[..n])),
            Link::Dgram { sock, qemu, me, .. } => {
                if let Some(a) = frame::parse_arp(&buf[..n]) {
                    if a.request && a.target_ip == me.ip {
                        let asker = Station { mac: a.sender_mac, ip: a.sender_ip, port: 0 };
                        sock.send_to(&frame::arp(*me, Some(asker), a.sender_ip), qemu)?;
                    }
                    return Ok(None);
                }
                Ok(frame::udp_payload(&buf[..n], *me))
            }
        }
    }

    /// Sets how long [`Link::recv`] waits.
    pub fn set_read_timeout(&self, t: Duration) -> io::Result<()> {
        match self {
            Link::Udp { sock } | Link::Dgram { sock, .. } => sock.set_read_timeout(Some(t)),
        }
    }
}

/// Large socket buffers: a burst of echoes must not be lost in our own receive queue.
fn tune(sock: &UdpSocket) -> io::Result<()> {
    let s = socket2::SockRef::from(sock);
    // Capped by the kernel's rmem_max/wmem_max; the larger the better, never an error.
    let _ = s.set_recv_buffer_size(8 << 20);
    let _ = s.set_send_buffer_size(4 << 20);
    sock.set_read_timeout(Some(Duration::from_millis(50)))?;
    Ok(())
}

/// `a.b.c.d`.
pub fn dotted(ip: [u8; 4]) -> String {
    format!("{}.{}.{}.{}", ip[0], ip[1], ip[2], ip[3])
}
