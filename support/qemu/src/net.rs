//! Host side of the guest NIC without root: QEMU's `dgram` netdev carries one raw Ethernet
//! frame (no FCS, no length prefix) per UDP datagram between 127.0.0.1 ports, so a test can
//! speak Ethernet to the guest's e1000 directly.

use std::io;
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4, UdpSocket};
use std::time::{Duration, Instant};

use crate::config::{Netdev, Nic};
use crate::error::{Error, Result};

/// Largest datagram accepted from QEMU (a jumbo frame fits; e1000 frames are <= 1518 bytes).
pub const MAX_FRAME: usize = 16 * 1024;

/// A free UDP port on 127.0.0.1, as the kernel hands it out for port 0. Another process could
/// take it before QEMU binds it, but ephemeral ports are handed out in rotation, so that is
/// rare; a QEMU that cannot bind exits at once with "Address already in use" in its log.
pub fn free_udp_port() -> Result<u16> {
    let sock = UdpSocket::bind((Ipv4Addr::LOCALHOST, 0)).map_err(|source| Error::Net {
        context: "could not bind a UDP socket on 127.0.0.1 to find a free port".into(),
        source,
    })?;
    let port = sock
        .local_addr()
        .map_err(|source| Error::Net { context: "could not read the port of a UDP socket".into(), source })?;
    Ok(port.port())
}

/// The test's end of a `dgram` link to the guest NIC: a UDP socket on 127.0.0.1 that QEMU
/// sends the guest's frames to, and the port QEMU listens on for frames to the guest.
#[derive(Debug)]
pub struct DgramLink {
    socket: UdpSocket,
    host: SocketAddrV4,
    qemu: SocketAddrV4,
}

impl DgramLink {
    /// Binds the host socket on a free port and picks a different free port for QEMU.
    pub fn new() -> Result<DgramLink> {
        let socket = UdpSocket::bind((Ipv4Addr::LOCALHOST, 0)).map_err(|source| Error::Net {
            context: "could not bind the host end of the dgram link on 127.0.0.1".into(),
            source,
        })?;
        let host = match socket.local_addr() {
            Ok(SocketAddr::V4(a)) => a,
            Ok(other) => {
                return Err(Error::Net {
                    context: format!("host socket bound to unexpected address {other}"),
                    source: io::Error::from(io::ErrorKind::AddrNotAvailable),
                })
            }
            Err(source) => return Err(Error::Net { context: "could not read the host socket's port".into(), source }),
        };
        let mut qemu_port = free_udp_port()?;
        // Vanishingly unlikely, but two sockets must never share a port.
        while qemu_port == host.port() {
            qemu_port = free_udp_port()?;
        }
        Ok(DgramLink { socket, host, qemu: SocketAddrV4::new(Ipv4Addr::LOCALHOST, qemu_port) })
    }

    /// Where the test receives the guest's frames.
    pub fn host_addr(&self) -> SocketAddrV4 {
        self.host
    }

    /// Where QEMU receives frames for the guest.
    pub fn qemu_addr(&self) -> SocketAddrV4 {
        self.qemu
    }

    /// The netdev QEMU needs for this link.
    pub fn netdev(&self) -> Netdev {
        Netdev::Dgram { local: self.qemu, remote: self.host }
    }

    /// An e1000 NIC on this link.
    pub fn e1000(&self) -> Nic {
        Nic::e1000(self.netdev())
    }

    /// An e1000e (82574L) NIC on this link.
    pub fn e1000e(&self) -> Nic {
        Nic::e1000e(self.netdev())
    }

    /// Sends one Ethernet frame to the guest (lost, like on a wire, if QEMU is not up yet).
    pub fn send_frame(&self, frame: &[u8]) -> Result<()> {
        if frame.len() < 14 || frame.len() > MAX_FRAME {
            return Err(Error::Net {
                context: format!(
                    "refusing to send a {}-byte frame: an Ethernet frame is 14..={MAX_FRAME} bytes",
                    frame.len()
                ),
                source: io::Error::from(io::ErrorKind::InvalidInput),
            });
        }
        let sent = self
            .socket
            .send_to(frame, self.qemu)
            .map_err(|source| Error::Net { context: format!("sending a frame to QEMU at {}", self.qemu), source })?;
        if sent != frame.len() {
            return Err(Error::Net {
                context: format!("only {sent} of {} bytes of a frame were sent", frame.len()),
                source: io::Error::from(io::ErrorKind::WriteZero),
            });
        }
        Ok(())
    }

    /// Receives the next frame from the guest, waiting at most `timeout`.
    pub fn recv_frame(&self, timeout: Duration) -> Result<Vec<u8>> {
        self.recv_frame_matching(timeout, |_| true)
    }

    /// Receives the next frame for which `wanted` is true, skipping others (e.g. the guest's
    /// ARP or IPv6 chatter), waiting at most `timeout` in total. Datagrams that do not come
    /// from QEMU's port are ignored.
    pub fn recv_frame_matching(&self, timeout: Duration, mut wanted: impl FnMut(&[u8]) -> bool) -> Result<Vec<u8>> {
        let deadline = Instant::now() + timeout;
        let mut buf = vec![0u8; MAX_FRAME];
        let mut skipped = 0usize;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(Error::NoFrame { waited: timeout, seen: skipped });
            }
            self.socket.set_read_timeout(Some(left)).map_err(|source| Error::Net {
                context: "setting the receive timeout of the dgram link".into(),
                source,
            })?;
            match self.socket.recv_from(&mut buf) {
                Ok((n, from)) => {
                    if from != SocketAddr::V4(self.qemu) {
                        continue;
                    }
                    if wanted(&buf[..n]) {
                        return Ok(buf[..n].to_vec());
                    }
                    skipped += 1;
                }
                Err(e)
                    if e.kind() == io::ErrorKind::WouldBlock
                        || e.kind() == io::ErrorKind::TimedOut
                        || e.kind() == io::ErrorKind::Interrupted =>
                {
                    continue
                }
                // An ICMP "port unreachable" from an earlier send before QEMU was up.
                Err(e) if e.kind() == io::ErrorKind::ConnectionRefused => continue,
                Err(source) => return Err(Error::Net { context: "receiving a frame from QEMU".into(), source }),
            }
        }
    }

    /// Drops every frame already queued from the guest; returns how many.
    pub fn drain(&self) -> Result<usize> {
        let mut n = 0;
        while self.recv_frame(Duration::from_millis(1)).is_ok() {
            n += 1;
        }
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Plays QEMU's side of the link with a plain socket on the chosen QEMU port.
    fn fake_qemu(link: &DgramLink) -> UdpSocket {
        UdpSocket::bind(link.qemu_addr()).expect("QEMU's port should be free")
    }

    fn frame(tag: u8, len: usize) -> Vec<u8> {
        let mut f = vec![0u8; len];
        f[..6].copy_from_slice(&[0xff; 6]);
        f[6..12].copy_from_slice(&[0x52, 0x54, 0, 0x12, 0x34, 0x56]);
        f[12] = 0x08;
        f[13] = tag;
        f
    }

    #[test]
    fn free_ports_are_distinct_and_bindable() {
        let link = DgramLink::new().unwrap();
        assert_ne!(link.host_addr().port(), link.qemu_addr().port());
        assert_eq!(link.host_addr().ip(), &Ipv4Addr::LOCALHOST);
        let p = free_udp_port().unwrap();
        assert_ne!(p, 0);
        UdpSocket::bind((Ipv4Addr::LOCALHOST, p)).expect("the port handed out is free");
    }

    #[test]
    fn netdev_points_qemu_at_the_host_socket() {
        let link = DgramLink::new().unwrap();
        match link.netdev() {
            Netdev::Dgram { local, remote } => {
                assert_eq!(local, link.qemu_addr());
                assert_eq!(remote, link.host_addr());
            }
            other => panic!("expected a dgram netdev, got {other:?}"),
        }
        assert_eq!(link.e1000().model, "e1000");
    }

    #[test]
    fn frames_cross_in_both_directions_unchanged() {
        let link = DgramLink::new().unwrap();
        let qemu = fake_qemu(&link);
        let f = frame(1, 60);
        link.send_frame(&f).unwrap();
        let mut buf = [0u8; 2048];
        qemu.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
        let (n, from) = qemu.recv_from(&mut buf).unwrap();
        assert_eq!(&buf[..n], &f[..]);
        assert_eq!(from, SocketAddr::V4(link.host_addr()));

        let g = frame(2, 1514);
        qemu.send_to(&g, link.host_addr()).unwrap();
        assert_eq!(link.recv_frame(Duration::from_secs(2)).unwrap(), g);
    }

    #[test]
    fn recv_skips_unwanted_frames_and_strangers() {
        let link = DgramLink::new().unwrap();
        let qemu = fake_qemu(&link);
        let stranger = UdpSocket::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
        stranger.send_to(&frame(9, 60), link.host_addr()).unwrap();
        qemu.send_to(&frame(1, 60), link.host_addr()).unwrap();
        qemu.send_to(&frame(2, 60), link.host_addr()).unwrap();
        let got = link.recv_frame_matching(Duration::from_secs(2), |f| f[13] == 2).unwrap();
        assert_eq!(got[13], 2);
    }

    #[test]
    fn recv_times_out_with_a_count_of_skipped_frames() {
        let link = DgramLink::new().unwrap();
        let qemu = fake_qemu(&link);
        qemu.send_to(&frame(1, 60), link.host_addr()).unwrap();
        let start = Instant::now();
        let err = link.recv_frame_matching(Duration::from_millis(300), |_| false).unwrap_err();
        assert!(start.elapsed() >= Duration::from_millis(300));
        assert!(start.elapsed() < Duration::from_secs(3));
        match err {
            Error::NoFrame { seen, .. } => assert_eq!(seen, 1),
            other => panic!("expected NoFrame, got {other}"),
        }
    }

    #[test]
    fn sending_before_qemu_is_up_is_not_an_error_and_recv_survives_it() {
        let link = DgramLink::new().unwrap();
        // Nobody listens on QEMU's port yet: the frame is lost, as on a wire.
        link.send_frame(&frame(1, 60)).unwrap();
        assert!(matches!(link.recv_frame(Duration::from_millis(100)), Err(Error::NoFrame { .. })));
    }

    #[test]
    fn runt_and_oversized_frames_are_refused() {
        let link = DgramLink::new().unwrap();
        assert!(link.send_frame(&[0u8; 13]).is_err());
        assert!(link.send_frame(&vec![0u8; MAX_FRAME + 1]).is_err());
    }

    #[test]
    fn drain_empties_the_queue() {
        let link = DgramLink::new().unwrap();
        let qemu = fake_qemu(&link);
        for i in 0..3 {
            qemu.send_to(&frame(i, 60), link.host_addr()).unwrap();
        }
        std::thread::sleep(Duration::from_millis(50));
        assert_eq!(link.drain().unwrap(), 3);
        assert!(link.recv_frame(Duration::from_millis(50)).is_err());
    }
}
