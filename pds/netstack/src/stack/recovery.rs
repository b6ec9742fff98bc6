//! Recovery of the stack's two sessions after a peer restarts (DESIGN.md section 4), and its
//! buffer pools as the monitor's `status` shows them. The PD level (`startup`) zeroes the
//! shared queue regions and lays new ends over them; here the stack takes the new ends and
//! takes back every buffer the dead peer held, so every pool is whole again.

use super::ports::Owner;
use super::Netstack;
use socket_api::ServerEnd;

/// One buffer pool's counts: in all, with the stack, lent to a peer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PoolCounts {
    /// Buffers in all.
    pub size: u32,
    /// Buffers the stack holds.
    pub free: u32,
    /// Buffers lent to the peer (posted to the driver, queued to or held by the client).
    pub posted: u32,
}

impl PoolCounts {
    fn of(size: usize, posted: usize) -> Self {
        let (size, posted) = (size as u32, posted as u32);
        Self { size, free: size.saturating_sub(posted), posted }
    }
}

/// The stack's pools: receive buffers (`rx`, posted to the driver), transmit buffers (`tx`,
/// with the driver while sent) and the client session's delivery slots (`client`, none in
/// hosted mode).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Pools {
    /// Receive buffers.
    pub rx: PoolCounts,
    /// Transmit buffers.
    pub tx: PoolCounts,
    /// The client's delivery slots.
    pub client: Option<PoolCounts>,
}

impl<'a> Netstack<'a> {
    /// The pools' counts now.
    pub fn pools(&self) -> Pools {
        Pools {
            rx: PoolCounts::of(self.dev.rx.size(), self.dev.rx.posted()),
            tx: PoolCounts::of(self.dev.tx.size(), self.dev.tx.with_driver()),
            client: self.client.as_ref().map(|c| PoolCounts::of(c.slots(), c.slots() - c.nfree)),
        }
    }

    /// The driver was restarted and a new session opened (its OPEN zeroed the queues): takes
    /// the new ends, reclaims every receive and transmit buffer (a datagram held for a full
    /// client is dropped with its buffer) and posts the receive buffers again. Poll next.
    pub fn reset_driver(&mut self, rx: ring::Receiver<'a>, tx: ring::Sender<'a>) {
        self.held = None;
        self.dev.reset(rx, tx);
        // The client's slots the old driver held are the client's again.
        if let Some(c) = self.client.as_mut() {
            let stats = &mut self.stats;
            self.dev.tx.take_foreign_back(|off| c.give_back(off, stats));
        }
        self.dev.rx.post();
    }

    /// The client was restarted: takes the new end (over the zeroed queue region), takes back
    /// every delivery slot, drops a datagram held for it (its receive buffer goes back to the
    /// driver) and unbinds its ports (the new instance binds again). Poll next.
    pub fn reset_client(&mut self, end: ServerEnd<'a>) {
        if let Some((frame, _)) = self.held.take() {
            self.dev.rx.give_back(frame.slot);
        }
        if let Some(c) = self.client.as_mut() {
            c.reset(end);
        }
        // Its slots still with the driver come back to nobody: the new instance owns them all.
        self.dev.tx.forget_foreign();
        for p in self.ports.iter_mut() {
            if matches!(p, Some((_, Owner::Client))) {
                *p = None;
            }
        }
    }

    /// Whether the client holds `port` (a BIND for it comes from a new instance).
    pub fn client_holds(&self, port: u16) -> bool {
        super::ports::owner(&self.ports, port) == Some(Owner::Client)
    }

    /// Whether the client holds any port.
    pub fn client_holds_any(&self) -> bool {
        self.ports.iter().flatten().any(|(_, o)| *o == Owner::Client)
    }
}
