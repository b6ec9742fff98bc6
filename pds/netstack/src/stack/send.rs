//! The client's datagrams out: each record is checked against the client's layout and bound
//! ports; the stack writes the headers into the slot's headroom and hands the slot itself to
//! the driver when the session names the client's data region (no copy; the slot goes back to
//! the client when the NIC has sent it), else copies the payload into a transmit frame behind
//! the headers and gives the slot back at once. An unknown next hop gets an ARP request (one
//! per hop per poll) and the datagram is dropped.

use super::ports::{owner, Owner};
use super::{next_hop, Netstack};
use crate::wire::{self, UDP_HEADROOM};
use socket_api::{Endpoint, QUEUE_CAPACITY};

impl Netstack<'_> {
    /// Drains the client's send queue; true if the batch limit stopped it.
    pub(super) fn client_sends(&mut self) -> bool {
        let Some(c) = self.client.as_mut() else { return false };
        for _ in 0..QUEUE_CAPACITY {
            let d = match c.end.from_client.active.dequeue() {
                Ok(Some(d)) => d,
                Ok(None) => return false,
                Err(_) => {
                    self.stats.client_queue_corrupt += 1;
                    return false;
                }
            };
            let ports = &self.ports;
            let (dg, _) = match c.layout.check_from_client(&d, |p| owner(ports, p) == Some(Owner::Client)) {
                Ok(v) => v,
                Err(_) => {
                    self.stats.client_bad_records += 1;
                    if c.layout.client_index(d.offset).is_ok() {
                        c.give_back(d.offset, &mut self.stats);
                    }
                    continue;
                }
            };
            let hop = next_hop(&self.cfg, dg.remote.addr);
            match self.neigh.lookup(dg.remote.addr).or_else(|| self.neigh.lookup(hop)) {
                None => {
                    self.stats.drop_no_neighbour += 1;
                    if self.last_arp != Some((hop, self.stats.polls)) {
                        self.last_arp = Some((hop, self.stats.polls));
                        if let Some(slot) = self.dev.tx.alloc() {
                            let n = wire::write_arp_request(self.dev.tx.buf(slot), self.cfg.mac, self.cfg.ip, hop);
                            self.dev.tx.send(slot, n);
                            self.stats.arp_requests += 1;
                        }
                    }
                }
                Some(dst_mac) if self.dev.tx.foreign_ds().is_some() => {
                    // By reference: headers into the slot's headroom, the slot to the driver
                    // as it is; it comes back to the client when the NIC has sent it.
                    let from = Endpoint { addr: self.cfg.ip, port: dg.local_port };
                    let end = dg.send_range().end;
                    match c.data.get_mut(dg.offset as usize..end) {
                        Some(frame) => {
                            let n =
                                wire::write_udp_headers(frame, self.cfg.mac, dst_mac, from, dg.remote, dg.len as usize);
                            if self.dev.tx.send_foreign(dg.offset, n) {
                                self.stats.udp_out += 1;
                                self.stats.sent_by_reference += 1;
                                continue;
                            }
                            self.stats.drop_no_tx_buffer += 1;
                        }
                        None => self.stats.client_bad_records += 1,
                    }
                }
                Some(dst_mac) => match self.dev.tx.alloc() {
                    None => self.stats.drop_no_tx_buffer += 1,
                    Some(slot) => {
                        let buf = self.dev.tx.buf(slot);
                        let len = dg.len as usize;
                        match c.data.get(dg.send_range()) {
                            Some(src) => {
                                buf[UDP_HEADROOM..UDP_HEADROOM + len].copy_from_slice(src);
                                self.stats.copies_from_client += 1;
                                let from = Endpoint { addr: self.cfg.ip, port: dg.local_port };
                                let n = wire::write_udp_headers(buf, self.cfg.mac, dst_mac, from, dg.remote, len);
                                if self.dev.tx.send(slot, n) {
                                    self.stats.udp_out += 1;
                                }
                            }
                            None => {
                                self.stats.client_bad_records += 1;
                                self.dev.tx.release(slot);
                            }
                        }
                    }
                },
            }
            c.give_back(dg.offset, &mut self.stats);
        }
        true
    }
}
