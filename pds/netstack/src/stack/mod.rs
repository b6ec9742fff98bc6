//! The stack core: smoltcp's `Interface` (ARP, IPv4, ICMP echo, UDP port unreachable) over the
//! zero-copy device, the UDP fast path to a client session or a hosted application, the bind
//! protocol, and one `poll` that does all available work and says which signals to send.
//!
//! `client.rs` is the client session's delivery slots, `ports.rs` the bind protocol and who
//! owns a port, `send.rs` the client's datagrams out, `receive.rs` received frames in (fast
//! path, smoltcp, or drop), `recovery.rs` the sessions' resets after a peer restarts and the
//! buffer pools; this file holds the stack, its `poll` and the signal decisions.

use crate::config::{Clock, Config, ConfigError};
use crate::device::{DeviceStats, Frame, NetDevice};
use crate::wire::{Neighbours, UdpIn};
use client::ClientSession;
use ports::Owner;
use smoltcp::iface::{Config as IfaceConfig, Interface, SocketSet, SocketStorage};
use smoltcp::wire::{EthernetAddress, HardwareAddress, IpAddress, IpCidr, Ipv4Address};
use socket_api::{Region, UdpApp};

mod client;
mod ports;
mod receive;
mod recovery;
mod send;

pub use recovery::{PoolCounts, Pools};

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
    /// Client datagrams sent by reference from the client's own slot (headers written into
    /// its headroom, no copy).
    pub sent_by_reference: u64,
    /// Driver-channel signals the stack asked for.
    pub notify_driver: u64,
    /// Client-channel signals the stack asked for.
    pub notify_client: u64,
    /// Times a datagram for the client was held because the client was full (the driver's
    /// queue backs up meanwhile; the NIC drops and counts if it overflows).
    pub client_backpressure: u64,
    /// Polls that stopped at a batch limit.
    pub batch_limited: u64,
    /// Datagrams dropped because their header-derived payload range does not fit the frame the
    /// driver handed back (headers rewritten under the stack: a driver re-posted a held buffer).
    pub drop_bad_range: u64,
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
            let stats = &mut self.stats;
            self.dev.tx.take_foreign_back(|off| c.give_back(off, stats));
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
        if self.dev.tx.free_slots() == 0 || self.dev.tx.foreign_out() > 0 {
            // Out of transmit buffers, or the client's slots are out being sent (the client
            // may wait for them): the driver's returns are what we wait for.
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
}

/// The address whose MAC a datagram to `dst` goes to: `dst` itself on our subnet, else the
/// gateway (or `dst` if there is none: the send then waits for an ARP reply that may not come).
fn next_hop(cfg: &Config, dst: [u8; 4]) -> [u8; 4] {
    match cfg.gateway {
        Some(g) if !cfg.on_link(dst) => g,
        _ => dst,
    }
}
