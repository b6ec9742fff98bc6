//! Recovery of the stack's sessions after a peer restarts (issue 10): a restarted driver's new
//! session over fresh queues gets every receive and transmit buffer back (whatever the old
//! driver held or had filled) and works; a restarted client's session is reset (every delivery
//! slot back, its ports unbound) and its new instance binds and receives again. Pools end at
//! their full size.

use net_testkit::Wire;
use netstack::testkit;
use netstack::{Netstack, PoolCounts};
use ring::CacheLine;
use socket_api::msg::{label, Request};
use socket_api::{ClientEnd, Endpoint, Region, ServerEnd, UdpApp};

struct Mirror;

impl UdpApp for Mirror {
    fn port(&self) -> u16 {
        7
    }
    fn on_datagram(&mut self, p: &[u8], from: Endpoint, reply: &mut [u8]) -> Option<(usize, Endpoint)> {
        reply[..p.len()].copy_from_slice(p);
        Some((p.len(), from))
    }
}

/// Runs stack and wire until neither has work (bounded).
fn pump(wire: &mut Wire, ns: &mut Netstack<'_>, t: &mut u64) {
    for _ in 0..64 {
        *t += 1_000;
        let a = ns.poll(*t);
        let sent = wire.collect();
        wire.kick();
        if !a.more_work && sent == 0 {
            return;
        }
    }
    panic!("stack did not go idle within 64 polls");
}

fn echoed(wire: &mut Wire, ns: &mut Netstack<'_>, t: &mut u64, sport: u16) -> bool {
    assert!(wire.inject(&net_testkit::peer_udp(sport, 7, b"ping")));
    pump(wire, ns, t);
    wire.take_sent().iter().filter_map(|f| net_testkit::parse_udp(f)).any(|u| u.to.port == sport)
}

const RX_WHOLE: PoolCounts = PoolCounts { size: 256, free: 0, posted: 256 };
const TX_WHOLE: PoolCounts = PoolCounts { size: 256, free: 256, posted: 0 };

#[test]
fn a_restarted_driver_gets_a_clean_session_and_every_buffer_back() {
    let (mut wire, mut ns) = testkit::setup(testkit::config());
    ns.host_app(Box::leak(Box::new(Mirror))).unwrap();
    let mut t = 0;
    pump(&mut wire, &mut ns, &mut t);
    assert!(echoed(&mut wire, &mut ns, &mut t, 40000));
    assert_eq!((ns.pools().rx, ns.pools().tx), (RX_WHOLE, TX_WHOLE));

    // In flight when the driver dies: hoarded receive buffers, filled ones not yet taken, and
    // replies queued for transmission but never sent.
    for _ in 0..10 {
        wire.take_rx_buffer().unwrap();
    }
    for i in 0..3 {
        assert!(wire.inject(&net_testkit::peer_udp(41000 + i, 7, b"lost?")));
    }
    let _ = ns.poll(t + 1);
    assert!(ns.pools().tx.posted > 0, "replies are with the driver: {:?}", ns.pools());

    let (rx, tx) = wire.restart();
    ns.reset_driver(rx, tx);
    assert_eq!(ns.pools().tx, TX_WHOLE, "every transmit buffer is back");
    assert_eq!(ns.pools().rx, RX_WHOLE, "every receive buffer is posted again");
    pump(&mut wire, &mut ns, &mut t);
    assert!(echoed(&mut wire, &mut ns, &mut t, 40001), "the new session carries the echo");
    assert_eq!((ns.pools().rx, ns.pools().tx), (RX_WHOLE, TX_WHOLE));
}

fn session() -> (ServerEnd<'static>, ClientEnd<'static>) {
    let lines = socket_api::QUEUE_REGION_SIZE / ring::CACHE_LINE;
    socket_api::split_owned(vec![CacheLine::ZERO; lines].leak()).unwrap()
}

fn bind(ns: &mut Netstack<'_>, port: u16) {
    assert_eq!(ns.protected(&Request::Bind { port }.encode()).label(), label::OK);
}

#[test]
fn a_restarted_client_gets_a_reset_session_and_binds_again() {
    let (mut wire, mut ns) = testkit::setup(testkit::config());
    let (server, mut client) = session();
    ns.attach_client(server, Region::from_mut(vec![0u8; 0x40000].leak())).unwrap();
    bind(&mut ns, 7);
    let mut t = 0;
    pump(&mut wire, &mut ns, &mut t);
    let whole = ns.pools().client.unwrap();
    assert_eq!(whole.posted, 0);
    for i in 0..5 {
        assert!(wire.inject(&net_testkit::peer_udp(42000 + i, 7, b"to the client")));
    }
    pump(&mut wire, &mut ns, &mut t);
    assert_eq!(ns.pools().client.unwrap().posted, 5, "five delivery slots with the client");
    assert!(ns.client_holds(7));

    // The client dies holding them; its new instance gets a new session.
    let (server, mut client2) = session();
    ns.reset_client(server);
    assert_eq!(ns.pools().client, Some(whole), "every delivery slot is back");
    assert!(!ns.client_holds(7) && !ns.client_holds_any(), "the dead instance's ports are unbound");
    bind(&mut ns, 7);
    assert!(wire.inject(&net_testkit::peer_udp(43000, 7, b"again")));
    pump(&mut wire, &mut ns, &mut t);
    assert!(client2.to_client.active.dequeue().unwrap().is_some(), "the new instance receives");
    assert!(client.to_client.active.dequeue().unwrap().is_some(), "(the old queues are left as they were)");
    assert_eq!((ns.pools().rx, ns.pools().tx), (RX_WHOLE, TX_WHOLE));
}
