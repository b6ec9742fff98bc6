//! Received frames in: each is classified, then a datagram for a bound port takes the fast
//! path (a hosted app's reply written straight into a transmit frame, or one copy into the
//! client's data region, held while the client is full), ARP and the rest go to smoltcp, and
//! bad frames are dropped and counted. A frame is only ever indexed through checked ranges.

use super::ports::{owner, Owner};
use super::{next_hop, Netstack};
use crate::device::Frame;
use crate::wire::{self, Class, DropReason, UdpIn, UDP_HEADROOM};
use smoltcp::time::Instant;
use socket_api::{Endpoint, MAX_PAYLOAD};

/// Most frames one poll takes from the driver (the driver's budget per event is 64 too).
const RX_BATCH: u32 = 64;

impl Netstack<'_> {
    /// Processes received frames; true if the batch limit stopped it.
    pub(super) fn receive(&mut self, now: Instant) -> bool {
        if let Some((f, u)) = self.held.take() {
            if !self.client_ready(u) {
                self.held = Some((f, u));
                return false; // waiting for the client: asked for its signal before blocking
            }
            self.fast_path(f, u);
            self.dev.rx.give_back(f.slot);
        }
        // Bounded per poll: a batch, after which the PD loop yields to other PDs of its
        // priority (another stack on the same NIC) while a backlog remains.
        let budget = self.dev.rx.ring().active.capacity().min(RX_BATCH);
        for _ in 0..budget {
            let Some(f) = self.dev.rx.next_frame() else { return false };
            let ports = &self.ports;
            let class = wire::classify(self.dev.rx.frame(f), self.cfg.mac, self.cfg.ip, |p| owner(ports, p).is_some());
            match class {
                Class::Udp(u) => {
                    self.stats.udp_in += 1;
                    // Only a unicast source MAC names a station (group bit clear); a multicast
                    // or broadcast source is bogus and must not replace what ARP taught.
                    if wire::is_unicast_mac(u.src_mac) {
                        self.neigh.learn(u.from.addr, u.src_mac);
                    }
                    if !self.client_ready(u) {
                        self.held = Some((f, u));
                        self.stats.client_backpressure += 1;
                        return false;
                    }
                    self.fast_path(f, u);
                    self.dev.rx.give_back(f.slot);
                }
                Class::Arp { learn } => {
                    if let Some((ip, mac)) = learn.filter(|(ip, _)| self.cfg.on_link(*ip)) {
                        self.neigh.learn(ip, mac);
                    }
                    self.pass_to_smoltcp(now, f);
                }
                Class::Stack => self.pass_to_smoltcp(now, f),
                Class::Drop(why) => {
                    *match why {
                        DropReason::Malformed => &mut self.stats.drop_malformed,
                        DropReason::BadChecksum => &mut self.stats.drop_bad_checksum,
                        DropReason::OtherMac => &mut self.stats.drop_other_mac,
                    } += 1;
                    self.dev.rx.give_back(f.slot);
                }
            }
        }
        !matches!(self.dev.rx.ring().active.available(), Ok(0))
    }

    /// False only for a datagram to the client while the client has no room.
    fn client_ready(&mut self, u: UdpIn) -> bool {
        if owner(&self.ports, u.port) != Some(Owner::Client) {
            return true;
        }
        match self.client.as_mut() {
            Some(c) => c.can_take(&mut self.stats),
            None => true,
        }
    }

    fn pass_to_smoltcp(&mut self, now: Instant, f: Frame) {
        self.stats.to_smoltcp += 1;
        self.dev.pending = Some(f);
        let _ = self.iface.poll_ingress_single(now, &mut self.dev, &mut self.sockets);
        if let Some(f) = self.dev.pending.take() {
            self.dev.rx.give_back(f.slot);
        }
    }

    /// A valid datagram for a bound port: to the hosted app (reply written straight into a
    /// transmit frame) or copied once into the client's data region.
    ///
    /// The payload range comes from headers in memory the device can DMA into, so it is only
    /// used through a checked `get`: a range that does not fit the frame the driver handed back
    /// (a buggy driver re-posted a buffer the stack holds) drops the frame, counted in
    /// `drop_bad_range`, before anything is taken for it.
    fn fast_path(&mut self, f: Frame, u: UdpIn) {
        let range = u.payload_offset.checked_add(u.payload_len).map(|end| u.payload_offset..end);
        let Some(payload_range) = range.filter(|r| self.dev.rx.frame(f).get(r.clone()).is_some()) else {
            self.stats.drop_bad_range += 1;
            return;
        };
        match owner(&self.ports, u.port) {
            Some(Owner::App) => {
                let Some(app) = self.app.as_mut() else {
                    self.stats.drop_app += 1;
                    return;
                };
                let Some(slot) = self.dev.tx.alloc() else {
                    self.stats.drop_no_tx_buffer += 1;
                    return;
                };
                let payload = self.dev.rx.frame(f).get(payload_range).unwrap_or(&[]);
                let buf = self.dev.tx.buf(slot);
                let reply =
                    app.on_datagram(payload, u.from, &mut buf[UDP_HEADROOM..UDP_HEADROOM + MAX_PAYLOAD as usize]);
                let dst_mac = match reply {
                    Some((n, to)) if n <= MAX_PAYLOAD as usize => {
                        if to.addr == u.from.addr && wire::is_unicast_mac(u.src_mac) {
                            Some((n, to, u.src_mac))
                        } else {
                            let hop = next_hop(&self.cfg, to.addr);
                            self.neigh.lookup(to.addr).or_else(|| self.neigh.lookup(hop)).map(|m| (n, to, m))
                        }
                    }
                    Some(_) => None,
                    None => {
                        self.dev.tx.release(slot);
                        return;
                    }
                };
                match dst_mac {
                    Some((n, to, mac)) => {
                        let from = Endpoint { addr: self.cfg.ip, port: u.port };
                        let len = wire::write_udp_headers(self.dev.tx.buf(slot), self.cfg.mac, mac, from, to, n);
                        if self.dev.tx.send(slot, len) {
                            self.stats.udp_out += 1;
                        }
                    }
                    None => {
                        self.stats.drop_app += 1;
                        self.dev.tx.release(slot);
                    }
                }
            }
            Some(Owner::Client) => match self.client.as_mut() {
                Some(c) => {
                    c.deliver(self.dev.rx.frame(f).get(payload_range).unwrap_or(&[]), u.from, u.port, &mut self.stats)
                }
                None => self.stats.drop_app += 1,
            },
            None => self.stats.drop_app += 1,
        }
    }
}

#[cfg(all(test, feature = "testkit"))]
mod tests {
    //! A frame in memory the device can DMA into: the header-derived payload range can disagree
    //! with the descriptor the driver handed back (a buggy driver re-posted a buffer the stack
    //! holds and the device rewrote it while the headers were read). The fast path must drop
    //! and count such a frame, never slice past it.
    extern crate std;
    use super::*;
    use crate::testkit;
    use socket_api::UdpApp;

    struct Sink;
    impl UdpApp for Sink {
        fn port(&self) -> u16 {
            7
        }
        fn on_datagram(&mut self, p: &[u8], from: Endpoint, reply: &mut [u8]) -> Option<(usize, Endpoint)> {
            let n = p.len().min(reply.len());
            reply[..n].copy_from_slice(&p[..n]);
            Some((n, from))
        }
    }

    #[test]
    fn a_header_range_past_the_descriptor_drops_the_frame() {
        let (mut wire, mut ns) = testkit::setup(testkit::config());
        let app: &'static mut Sink = std::boxed::Box::leak(std::boxed::Box::new(Sink));
        ns.host_app(app).unwrap();
        let _ = ns.poll(1);
        // The headers as read while the device was writing a 1514-byte frame...
        let long = net_testkit::peer_udp(40000, 7, &[0x5a; 1472]);
        let Class::Udp(u) = wire::classify(&long, ns.cfg.mac, ns.cfg.ip, |_| true) else { panic!("a valid datagram") };
        // ...and the descriptor the driver handed back for that buffer: 60 bytes.
        assert!(wire.inject_desc_with(&long, |d| ring::Desc { len: 60, ..d }));
        let f = ns.dev.rx.next_frame().expect("a descriptor for a slot the driver held");
        assert_eq!(f.len, 60);
        for (f, u) in [
            (f, u),
            (f, UdpIn { payload_offset: usize::MAX - 3, payload_len: 8, ..u }),
            (f, UdpIn { payload_offset: 42, payload_len: usize::MAX, ..u }),
        ] {
            ns.fast_path(f, u);
        }
        ns.held = Some((f, u));
        let _ = ns.poll(2);
        assert_eq!(ns.stats.drop_bad_range, 4, "every bad range dropped and counted");
        assert_eq!(ns.stats.udp_out, 0, "nothing sent from a bad frame");
        assert_eq!(ns.dev.tx.free_slots(), 256, "no transmit slot leaked");
        wire.collect();
        assert!(wire.take_sent().is_empty());
    }
}
