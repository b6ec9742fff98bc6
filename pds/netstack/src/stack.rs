//! The stack core: smoltcp's `Interface` (ARP, IPv4, ICMP echo, UDP port unreachable) over the
//! zero-copy device, the UDP fast path to a client session or a hosted application, the bind
//! protocol, and one `poll` that does all available work and says which signals to send.

use crate::config::{Clock, Config, ConfigError};
use crate::device::{DeviceStats, Frame, NetDevice};
use crate::wire::{self, Class, DropReason, Neighbours, UdpIn, UDP_HEADROOM};
use smoltcp::iface::{Config as IfaceConfig, Interface, SocketSet, SocketStorage};
use smoltcp::time::Instant;
use smoltcp::wire::{EthernetAddress, HardwareAddress, IpAddress, IpCidr, Ipv4Address};
use socket_api::msg::{self, BindError, Request};
use socket_api::{
    free_desc, Datagram, DataLayout, DataRegionTooSmall, Endpoint, Region, ServerEnd, UdpApp,
    MAX_PAYLOAD, QUEUE_CAPACITY,
};

/// Most bound ports (client's and hosted apps' together).
pub const MAX_PORTS: usize = 16;
/// Most delivery slots of a client session the stack uses.
pub const MAX_CLIENT_SLOTS: usize = 512;

/// What the PD main must do after [`Netstack::poll`]. The stack makes no kernel calls.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[must_use]
pub struct Actions {
    /// Signal the driver: receive buffers were posted and it asked to hear of them.
    pub notify_driver_rx: bool,
    /// Signal the driver: frames were queued for transmission and it asked to hear of them.
    pub notify_driver_tx: bool,
    /// Signal the client: datagrams delivered or its buffers returned, and it asked.
    pub notify_client: bool,
    /// Work remains (a batch limit was hit or work arrived during the re-check): poll again
    /// instead of blocking.
    pub more_work: bool,
    /// smoltcp wants to be polled at this TSC value even without a signal (ARP retries).
    pub next_wakeup_tsc: Option<u64>,
}

impl Actions {
    /// One signal on the driver channel covers both directions.
    pub fn notify_driver(&self) -> bool {
        self.notify_driver_rx || self.notify_driver_tx
    }
}

/// Counters of the stack (the device layer's are in [`DeviceStats`]).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Stats {
    /// `poll` calls.
    pub polls: u64,
    /// Datagrams taken by the fast path (bound ports).
    pub udp_in: u64,
    /// Datagrams sent by the fast path (client records and app replies).
    pub udp_out: u64,
    /// Frames handed to smoltcp (ARP, ICMP, other UDP, ...).
    pub to_smoltcp: u64,
    /// Frames dropped: truncated or self-contradictory headers (incl. lying UDP lengths).
    pub drop_malformed: u64,
    /// Frames dropped: bad IPv4 header or UDP checksum.
    pub drop_bad_checksum: u64,
    /// Frames dropped: unicast to another MAC.
    pub drop_other_mac: u64,
    /// Datagrams dropped: no transmit buffer for the reply / the client's send.
    pub drop_no_tx_buffer: u64,
    /// Datagrams dropped: the client had no free delivery slot or its queue was full.
    pub drop_client_full: u64,
    /// Client sends dropped: next hop's MAC unknown (an ARP request was sent).
    pub drop_no_neighbour: u64,
    /// Datagrams for a bound port whose owner is gone, or replies an app got wrong.
    pub drop_app: u64,
    /// ARP requests the fast path sent.
    pub arp_requests: u64,
    /// Records from the client that failed validation.
    pub client_bad_records: u64,
    /// The client moved a ring index impossibly.
    pub client_queue_corrupt: u64,
    /// The driver moved a ring index impossibly (seen while preparing to block).
    pub driver_queue_corrupt: u64,
    /// Payload copies the stack made into the client's data region.
    pub copies_to_client: u64,
    /// Payload copies the stack made from the client's data region into frames.
    pub copies_from_client: u64,
    /// Driver-channel signals the stack asked for.
    pub notify_driver: u64,
    /// Client-channel signals the stack asked for.
    pub notify_client: u64,
    /// Times a datagram for the client was held because the client was full (the driver's
    /// queue backs up meanwhile; the NIC drops and counts if it overflows).
    pub client_backpressure: u64,
    /// Polls that stopped at a batch limit.
    pub batch_limited: u64,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Owner {
    Client,
    App,
}

struct ClientSession<'a> {
    end: ServerEnd<'a>,
    data: Region<'a>,
    layout: DataLayout,
    slots: usize,
    free: [u16; MAX_CLIENT_SLOTS],
    nfree: usize,
    out: [bool; MAX_CLIENT_SLOTS],
    delivered: bool,
    returned: bool,
}

impl<'a> ClientSession<'a> {
    fn new(end: ServerEnd<'a>, data: Region<'a>) -> Result<Self, DataRegionTooSmall> {
        let layout = DataLayout::new(data.len())?;
        let slots = (layout.half() as usize).min(MAX_CLIENT_SLOTS);
        let mut s = Self {
            end,
            data,
            layout,
            slots,
            free: [0; MAX_CLIENT_SLOTS],
            nfree: 0,
            out: [false; MAX_CLIENT_SLOTS],
            delivered: false,
            returned: false,
        };
        for i in (0..slots as u16).rev() {
            s.free[s.nfree] = i;
            s.nfree += 1;
        }
        Ok(s)
    }

    /// Takes back delivery slots the client is done with.
    fn reap(&mut self, stats: &mut Stats) {
        for _ in 0..=QUEUE_CAPACITY {
            let d = match self.end.to_client.free.dequeue() {
                Ok(Some(d)) => d,
                Ok(None) => return,
                Err(_) => {
                    stats.client_queue_corrupt += 1;
                    return;
                }
            };
            match self.layout.stack_index(d.offset) {
                Ok(i) if (i as usize) < self.slots && self.out[i as usize] => {
                    self.out[i as usize] = false;
                    self.free[self.nfree] = i as u16;
                    self.nfree += 1;
                }
                _ => stats.client_bad_records += 1,
            }
        }
    }

    /// Whether a delivery would find a slot and ring room now.
    fn can_take(&mut self, stats: &mut Stats) -> bool {
        if self.nfree == 0 {
            self.reap(stats);
        }
        self.nfree > 0 && !matches!(self.end.to_client.active.free_slots(), Ok(0))
    }

    /// Copies a payload into a delivery slot and queues its record.
    fn deliver(&mut self, payload: &[u8], from: Endpoint, port: u16, stats: &mut Stats) {
        if self.nfree == 0 {
            self.reap(stats);
        }
        if self.nfree == 0 {
            stats.drop_client_full += 1;
            return;
        }
        let i = self.free[self.nfree - 1];
        let offset = self.layout.stack_slot(u32::from(i));
        let Some(dst) = self.data.get_mut(offset as usize..offset as usize + payload.len()) else {
            stats.drop_client_full += 1;
            return;
        };
        dst.copy_from_slice(payload);
        stats.copies_to_client += 1;
        let rec = Datagram { offset, len: payload.len() as u32, remote: from, local_port: port };
        match self.end.to_client.active.enqueue(rec.to_desc()) {
            Ok(()) => {
                self.nfree -= 1;
                self.out[i as usize] = true;
                self.delivered = true;
            }
            Err(ring::EnqueueError::Full) => stats.drop_client_full += 1,
            Err(ring::EnqueueError::Peer(_)) => {
                stats.client_queue_corrupt += 1;
                stats.drop_client_full += 1;
            }
        }
    }

    /// Hands a client buffer back on the from-client free ring.
    fn give_back(&mut self, offset: u32, stats: &mut Stats) {
        match self.end.from_client.free.enqueue(free_desc(offset)) {
            Ok(()) => self.returned = true,
            // Full means the client does not collect its buffers: its loss.
            Err(ring::EnqueueError::Full) => stats.client_bad_records += 1,
            Err(ring::EnqueueError::Peer(_)) => stats.client_queue_corrupt += 1,
        }
    }
}

/// The network stack.
pub struct Netstack<'a> {
    cfg: Config,
    clock: Clock,
    iface: Interface,
    sockets: SocketSet<'a>,
    dev: NetDevice<'a>,
    neigh: Neighbours,
    ports: [Option<(u16, Owner)>; MAX_PORTS],
    client: Option<ClientSession<'a>>,
    app: Option<&'a mut dyn UdpApp>,
    stats: Stats,
    last_arp: Option<([u8; 4], u64)>,
    /// A datagram for the client that found it full: held (its buffer not returned) until
    /// the client frees a slot, which back-pressures the driver instead of dropping here.
    held: Option<(Frame, UdpIn)>,
}

fn owner(ports: &[Option<(u16, Owner)>], port: u16) -> Option<Owner> {
    ports.iter().flatten().find(|(p, _)| *p == port).map(|(_, o)| *o)
}

impl<'a> Netstack<'a> {
    /// Builds the stack over the packet buffers and the driver's queue ends (receive pair:
    /// the stack is the Receiver; transmit pair: the Sender) and posts the receive buffers.
    /// Call [`Netstack::poll`] next and perform its actions (the first signals the driver).
    pub fn new(
        cfg: Config,
        net_buffers: Region<'a>,
        rx: ring::Receiver<'a>,
        tx: ring::Sender<'a>,
        now_tsc: u64,
    ) -> Result<Self, ConfigError> {
        cfg.validate(net_buffers.len())?;
        let clock = Clock::new(cfg.tsc_hz);
        let mut dev = NetDevice::new(net_buffers, rx, tx, &cfg.pool);
        dev.rx.post();
        let hw = HardwareAddress::Ethernet(EthernetAddress(cfg.mac));
        let mut iface = Interface::new(IfaceConfig::new(hw), &mut dev, clock.instant(now_tsc));
        let [a, b, c, d] = cfg.ip;
        iface.update_ip_addrs(|addrs| {
            // One address into an empty list: cannot overflow.
            let _ = addrs.push(IpCidr::new(IpAddress::v4(a, b, c, d), cfg.prefix_len));
        });
        if let Some(g) = cfg.gateway {
            // The routes table has room for a default route (smoltcp's minimum is 2).
            let _ = iface.routes_mut().add_default_ipv4_route(Ipv4Address::from(g));
        }
        let storage: &'a mut [SocketStorage<'a>] = &mut [];
        Ok(Self {
            cfg,
            clock,
            iface,
            sockets: SocketSet::new(storage),
            dev,
            neigh: Neighbours::default(),
            ports: [None; MAX_PORTS],
            client: None,
            app: None,
            stats: Stats::default(),
            last_arp: None,
            held: None,
        })
    }

    /// The configuration in force.
    pub fn config(&self) -> &Config {
        &self.cfg
    }

    /// Stack counters.
    pub fn stats(&self) -> Stats {
        self.stats
    }

    /// Device-layer counters.
    pub fn device_stats(&self) -> DeviceStats {
        self.dev.stats()
    }

    /// Receive buffers currently with the driver.
    pub fn rx_posted(&self) -> usize {
        self.dev.rx.posted()
    }

    /// Free transmit buffers.
    pub fn tx_free(&self) -> usize {
        self.dev.tx.free_slots()
    }

    /// Free delivery slots of the client session.
    pub fn client_free(&self) -> Option<usize> {
        self.client.as_ref().map(|c| c.nfree)
    }

    /// Attaches the client session (its queue region's stack end and its data region).
    pub fn attach_client(&mut self, end: ServerEnd<'a>, data: Region<'a>) -> Result<(), DataRegionTooSmall> {
        self.client = Some(ClientSession::new(end, data)?);
        Ok(())
    }

    /// Hosts an application in the stack's PD on its port.
    pub fn host_app(&mut self, app: &'a mut dyn UdpApp) -> Result<(), BindError> {
        self.bind(app.port(), Owner::App)?;
        self.app = Some(app);
        Ok(())
    }

    fn bind(&mut self, port: u16, who: Owner) -> Result<(), BindError> {
        match owner(&self.ports, port) {
            Some(o) if o == who && who == Owner::Client => return Ok(()),
            Some(_) => return Err(BindError::InUse),
            None => {}
        }
        let slot = self.ports.iter_mut().find(|p| p.is_none()).ok_or(BindError::TooManyPorts)?;
        *slot = Some((port, who));
        Ok(())
    }

    /// Serves a protected call from the client and returns the reply. Garbage gets a
    /// `BadRequest` reply, never a panic.
    pub fn protected(&mut self, request: &msg::Message) -> msg::Message {
        let req = match Request::decode(request) {
            Ok(r) => r,
            Err(_) => {
                return msg::encode_reply(&Request::Bind { port: 1 }, Err(BindError::BadRequest));
            }
        };
        let result = if self.client.is_none() {
            Err(BindError::BadRequest)
        } else {
            match req {
                Request::Bind { port } => self.bind(port, Owner::Client),
                Request::Unbind { port } => match owner(&self.ports, port) {
                    Some(Owner::Client) => {
                        for p in self.ports.iter_mut() {
                            if matches!(p, Some((q, Owner::Client)) if *q == port) {
                                *p = None;
                            }
                        }
                        Ok(())
                    }
                    _ => Err(BindError::NotBound),
                },
            }
        };
        msg::encode_reply(&req, result)
    }

    /// Does all available work: takes back sent buffers, sends the client's datagrams,
    /// processes received frames (fast path, smoltcp, or drop), lets smoltcp transmit, then
    /// decides on signals with the suppressed-notification protocol and, when idle, asks to be
    /// signalled. Bounded: at most one ring's worth of frames and records per call.
    pub fn poll(&mut self, now_tsc: u64) -> Actions {
        let now = self.clock.instant(now_tsc);
        self.stats.polls += 1;
        self.dev.tx.reap();
        self.dev.rx.post();
        if let Some(c) = self.client.as_mut() {
            c.reap(&mut self.stats);
        }
        let mut more = self.client_sends();
        more |= self.receive(now);
        self.iface.poll_maintenance(now);
        let _ = self.iface.poll_egress(now, &mut self.dev, &mut self.sockets);
        if more {
            self.stats.batch_limited += 1;
        }

        let mut a = Actions::default();
        if self.dev.rx.take_published() {
            a.notify_driver_rx = self.dev.rx.ring().free.signal_needed();
        }
        if self.dev.tx.take_published() {
            a.notify_driver_tx = self.dev.tx.ring().active.signal_needed();
        }
        if let Some(c) = self.client.as_mut() {
            if core::mem::take(&mut c.delivered) {
                a.notify_client |= c.end.to_client.active.signal_needed();
            }
            if core::mem::take(&mut c.returned) {
                a.notify_client |= c.end.from_client.free.signal_needed();
            }
        }

        if !more {
            more |= self.prepare_to_block();
        }
        a.more_work = more;
        a.next_wakeup_tsc = self.iface.poll_at(now, &self.sockets).map(|t| self.clock.tsc(t));
        self.stats.notify_driver += u64::from(a.notify_driver());
        self.stats.notify_client += u64::from(a.notify_client);
        a
    }

    /// Asks for signals where the stack has to wait; true if work turned up meanwhile.
    fn prepare_to_block(&mut self) -> bool {
        let mut more = false;
        let mut check = |r: Result<bool, ring::PeerError>, corrupt: &mut u64| match r {
            Ok(blocked) => more |= !blocked,
            Err(_) => *corrupt += 1,
        };
        let st = &mut self.stats;
        if self.held.is_none() {
            check(self.dev.rx.ring().active.prepare_to_block(), &mut st.driver_queue_corrupt);
        } else {
            // Blocked on the client, not the driver: its signal (below) wakes us.
            self.dev.rx.ring().active.cancel_signal();
        }
        if self.dev.tx.free_slots() == 0 {
            // Out of transmit buffers: the driver's returns are what we wait for.
            check(self.dev.tx.ring().free.prepare_to_block(), &mut st.driver_queue_corrupt);
        } else {
            // Notification avoidance: returns are reaped at every poll anyway.
            self.dev.tx.ring().free.cancel_signal();
        }
        if let Some(c) = self.client.as_mut() {
            check(c.end.from_client.active.prepare_to_block(), &mut st.client_queue_corrupt);
            if c.nfree == 0 || self.held.is_some() {
                check(c.end.to_client.free.prepare_to_block(), &mut st.client_queue_corrupt);
            } else {
                c.end.to_client.free.cancel_signal();
            }
        }
        more
    }

    /// Drains the client's send queue; true if the batch limit stopped it.
    fn client_sends(&mut self) -> bool {
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
                Some(dst_mac) => match self.dev.tx.alloc() {
                    None => self.stats.drop_no_tx_buffer += 1,
                    Some(slot) => {
                        let buf = self.dev.tx.buf(slot);
                        let len = dg.len as usize;
                        match c.data.get(dg.range()) {
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

    /// Processes received frames; true if the batch limit stopped it.
    fn receive(&mut self, now: Instant) -> bool {
        if let Some((f, u)) = self.held.take() {
            if !self.client_ready(u) {
                self.held = Some((f, u));
                return false; // waiting for the client: asked for its signal before blocking
            }
            self.fast_path(f, u);
            self.dev.rx.give_back(f.slot);
        }
        let budget = self.dev.rx.ring().active.capacity();
        for _ in 0..budget {
            let Some(f) = self.dev.rx.next_frame() else { return false };
            let ports = &self.ports;
            let class = wire::classify(self.dev.rx.frame(f), self.cfg.mac, self.cfg.ip, |p| {
                owner(ports, p).is_some()
            });
            match class {
                Class::Udp(u) => {
                    self.stats.udp_in += 1;
                    self.neigh.learn(u.from.addr, u.src_mac);
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
    fn fast_path(&mut self, f: Frame, u: UdpIn) {
        let payload_range = u.payload_offset..u.payload_offset + u.payload_len;
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
                let payload = &self.dev.rx.frame(f)[payload_range];
                let buf = self.dev.tx.buf(slot);
                let reply = app.on_datagram(
                    payload,
                    u.from,
                    &mut buf[UDP_HEADROOM..UDP_HEADROOM + MAX_PAYLOAD as usize],
                );
                let dst_mac = match reply {
                    Some((n, to)) if n <= MAX_PAYLOAD as usize => {
                        if to.addr == u.from.addr {
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
                Some(c) => c.deliver(&self.dev.rx.frame(f)[payload_range], u.from, u.port, &mut self.stats),
                None => self.stats.drop_app += 1,
            },
            None => self.stats.drop_app += 1,
        }
    }
}

/// The address whose MAC a datagram to `dst` goes to: `dst` itself on our subnet, else the
/// gateway (or `dst` if there is none: the send then waits for an ARP reply that may not come).
fn next_hop(cfg: &Config, dst: [u8; 4]) -> [u8; 4] {
    match cfg.gateway {
        Some(g) if !cfg.on_link(dst) => g,
        _ => dst,
    }
}
