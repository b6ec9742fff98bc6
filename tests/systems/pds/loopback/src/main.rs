//! Test-only PD: the NIC driver's loopback client (tests/systems/loopback*.xml). It opens a
//! session with the driver (channel 1), posts `rx_buffers` 2 KiB receive buffers from
//! `net_buffers`, and returns every received frame through the driver's transmit queue with
//! its MAC addresses swapped (zero copy: the receive buffer itself is sent, and comes back on
//! the transmit free ring to be posted for reception again).
//!
//! Frames with EtherType 0x88b5 (IEEE local experimental) are commands from the test:
//! * `STATS`: asks the driver (DRIVER_STATS) and the dataspace manager (STATS, admin channel 2)
//!   for their counters; both print them;
//! * `RECLAIM`: the dataspace manager's pin check (issue 4): RECLAIM of a page the driver has
//!   pinned is refused; after CLOSE (the driver resets the device and unpins) the same
//!   RECLAIM succeeds; then the session is reopened and looping goes on.
//!
//! A notification on channel 3 is the monitor's fault notice (tests/systems/loopback-restart.xml:
//! `<fault_notify pd="loopback" id="3"/>` in the driver's element): the driver faulted and is
//! being restarted, so the session is gone. The loopback forgets its queue ends and the
//! buffers the old driver held, zeroes the queues and opens a new session (the OPEN call waits
//! until the restarted driver serves it), posting every buffer again.
#![no_std]
#![no_main]

use dataspace_api::msg::{mac_to_word, MgrReply, MgrRequest, Op, SessionReply, SessionRequest};
use dataspace_api::session::MAX_SESSION_DATASPACES;
use dataspace_api::DsId;
use pd::{debug_println, Channel, ChannelSet, Handler, Message, SharedRegion};
use ring::Desc;

pd::setvar!(rx_queues: u64 = 0);
pd::setvar!(rx_queues_size: u64 = 0);
pd::setvar!(tx_queues: u64 = 0);
pd::setvar!(tx_queues_size: u64 = 0);
pd::setvar!(net_buffers: u64 = 0);
pd::setvar!(net_buffers_size: u64 = 0);
pd::setvar!(net_buffers_ds: u64 = 0);
pd::setvar!(rx_buffers: u64 = 128);

const DRIVER: Channel = Channel::new(1);
const MANAGER: Channel = Channel::new(2);
/// The monitor's notice that the driver faulted.
const DRIVER_FAULT: Channel = Channel::new(3);
const CAPACITY: u32 = 256;
const BUF: u32 = 2048;
const PAGE: u32 = 4096;
const CONTROL_ETHERTYPE: [u8; 2] = [0x88, 0xb5];

struct Loopback {
    rx: Option<ring::Receiver<'static>>,
    tx: Option<ring::Sender<'static>>,
    bufs: SharedRegion,
    ds: u32,
    nbufs: u32,
    session: u32,
    looped: u64,
    tx_full: u64,
}

fn name() -> &'static str {
    pd::name()
}

/// One call, as (label, words) of the reply.
fn call(ch: Channel, label: u64, words: &[u64]) -> Result<Message, pd::Error> {
    let msg = Message::new(label, words)?;
    ch.pp_call(&msg)
}

fn mac_str(m: [u8; 6]) -> impl core::fmt::Display {
    struct M([u8; 6]);
    impl core::fmt::Display for M {
        fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
            let m = self.0;
            write!(f, "{:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}", m[0], m[1], m[2], m[3], m[4], m[5])
        }
    }
    M(m)
}

impl Loopback {
    /// Opens the session and posts every receive buffer; the queue regions must be zeroed.
    fn open(&mut self) -> bool {
        // SAFETY: the system file maps both queue regions read-write here for the PD's life;
        // any earlier ends were dropped (`self.rx`/`self.tx` are None), so these are the only
        // ends in this PD.
        let ends = unsafe {
            (
                ring::Receiver::from_raw(rx_queues.get() as *mut u8, rx_queues_size.get() as usize, CAPACITY),
                ring::Sender::from_raw(tx_queues.get() as *mut u8, tx_queues_size.get() as usize, CAPACITY),
            )
        };
        let (mut rx, tx) = match ends {
            (Ok(rx), Ok(tx)) => (rx, tx),
            (rx, tx) => {
                for e in [rx.err(), tx.err()].into_iter().flatten() {
                    debug_println!("{}: queues: {e}", name());
                }
                return false;
            }
        };
        let open = SessionRequest::Open(match dataspace_api::msg::DsList::new(&[DsId(self.ds)]) {
            Ok(l) => l,
            Err(e) => {
                debug_println!("{}: {e}", name());
                return false;
            }
        })
        .encode();
        let reply = match call(DRIVER, open.label, open.mrs()) {
            Ok(r) => r,
            Err(e) => {
                debug_println!("{}: OPEN failed: {e}", name());
                return false;
            }
        };
        match SessionReply::decode(true, reply.label(), reply.words()) {
            Ok(Ok(SessionReply::Opened { session, mac })) => {
                self.session = session;
                debug_println!("{}: session {session} open, MAC {} ({:#x})", name(), mac_str(mac), mac_to_word(mac));
            }
            Ok(Err(e)) => {
                debug_println!("{}: OPEN refused: {e}", name());
                return false;
            }
            _ => {
                debug_println!("{}: OPEN: malformed reply {reply:?}", name());
                return false;
            }
        }
        let mut posted = 0;
        for i in 0..self.nbufs {
            let d = Desc { dataspace: self.ds, offset: i * BUF, len: BUF, cookie: i };
            if rx.free.enqueue(d).is_ok() {
                posted += 1;
            }
        }
        self.rx = Some(rx);
        self.tx = Some(tx);
        debug_println!("{}: {posted} receive buffers of {BUF} bytes posted", name());
        // Signal unconditionally: the driver may have blocked before this session existed.
        let _ = DRIVER.notify();
        true
    }

    fn command(&mut self, cmd: &[u8], held: u32) {
        match cmd {
            b"STATS" => self.stats(),
            b"RECLAIM" => self.reclaim_check(held),
            _ => debug_println!("{}: unknown command {:?}", name(), cmd),
        }
    }

    fn stats(&mut self) {
        let m = SessionRequest::Stats.encode();
        match call(DRIVER, m.label, m.mrs()).map(|r| SessionReply::decode_stats(r.label(), r.words())) {
            Ok(Ok(Ok(SessionReply::Stats(s)))) => debug_println!(
                "{}: driver says irqs={} rx={} tx={} notify_sent={} notify_suppressed={} hits={} misses={} errors={}",
                name(),
                s.irqs,
                s.rx_packets,
                s.tx_packets,
                s.notify_sent,
                s.notify_suppressed,
                s.xlate_hits,
                s.xlate_misses,
                s.errors
            ),
            other => debug_println!("{}: DRIVER_STATS failed: {other:?}", name()),
        }
        let m = MgrRequest::Stats.encode();
        if let Err(e) = call(MANAGER, m.label, m.mrs()) {
            debug_println!("{}: manager STATS failed: {e}", name());
        }
        debug_println!("{}: stats done: looped={} tx_full={}", name(), self.looped, self.tx_full);
    }

    fn reclaim(&self, page: u32) -> Result<(), dataspace_api::msg::MgrError> {
        let m = MgrRequest::Reclaim { ds: DsId(self.ds), page }.encode();
        match call(MANAGER, m.label, m.mrs()) {
            Ok(r) => match MgrReply::decode(Op::Reclaim, r.label(), r.words()) {
                Ok(res) => res.map(|_| ()),
                Err(_) => Err(dataspace_api::msg::MgrError::NotAuthorized),
            },
            Err(e) => {
                debug_println!("{}: RECLAIM call failed: {e}", name());
                Err(dataspace_api::msg::MgrError::NotAuthorized)
            }
        }
    }

    /// Issue 4's check, on a page whose buffers the device holds (not the one this command
    /// arrived in, buffer `held`).
    fn reclaim_check(&mut self, held: u32) {
        let pages = (self.nbufs * BUF).div_ceil(PAGE).max(1);
        let page = ((held * BUF) / PAGE + 1) % pages;
        match self.reclaim(page) {
            Err(e) => debug_println!("{}: RECLAIM page {page} while the driver has it pinned: refused ({e})", name()),
            Ok(()) => debug_println!("{}: RECLAIM page {page} while pinned: UNEXPECTEDLY done", name()),
        }
        let m = SessionRequest::Close { session: self.session }.encode();
        match call(DRIVER, m.label, m.mrs()).map(|r| SessionReply::decode(false, r.label(), r.words())) {
            Ok(Ok(Ok(SessionReply::Closed))) => debug_println!("{}: session {} closed (the driver unpinned its pages)", name(), self.session),
            other => debug_println!("{}: CLOSE failed: {other:?}", name()),
        }
        match self.reclaim(page) {
            Ok(()) => debug_println!("{}: RECLAIM page {page} after unpin: done", name()),
            Err(e) => debug_println!("{}: RECLAIM page {page} after unpin: refused ({e})", name()),
        }
        if self.reopen() {
            debug_println!("{}: session reopened; looping again", name());
        }
    }

    /// Drops our queue ends, zeroes the queues (the driver's ends are gone: closed, or lost
    /// with a faulted driver) and opens a new session with every buffer posted again.
    fn reopen(&mut self) -> bool {
        self.rx = None;
        self.tx = None;
        for (vaddr, size) in [(rx_queues.get(), rx_queues_size.get()), (tx_queues.get(), tx_queues_size.get())] {
            // SAFETY: mapped read-write for the PD's life; no ring end of this PD exists now and
            // the driver has none (session closed, or the driver restarted).
            let r = unsafe { SharedRegion::new(vaddr as usize, size as usize) };
            let zero = [0u8; 64];
            for off in (0..r.size()).step_by(64) {
                let _ = r.write(off, &zero[..64.min(r.size() - off)]);
            }
        }
        self.open()
    }

    /// Loops frames until both queues are empty and the driver has been asked to signal.
    fn run(&mut self) {
        loop {
            let mut command: Option<([u8; 16], usize, u32)> = None;
            {
                let (Some(rx), Some(tx)) = (self.rx.as_mut(), self.tx.as_mut()) else { return };
                // Received frames go back out, MACs swapped.
                while let Ok(Some(d)) = rx.active.dequeue() {
                    let off = d.offset as usize;
                    let mut hdr = [0u8; 14];
                    if d.len < 14 || self.bufs.read(off, &mut hdr).is_err() {
                        let _ = rx.free.enqueue(Desc { len: BUF, ..d });
                        continue;
                    }
                    if hdr[12..14] == CONTROL_ETHERTYPE {
                        let mut cmd = [0u8; 16];
                        let n = (d.len as usize - 14).min(cmd.len());
                        let _ = self.bufs.read(off + 14, &mut cmd[..n]);
                        let n = cmd[..n].iter().position(|&b| b == 0).unwrap_or(n);
                        let _ = rx.free.enqueue(Desc { len: BUF, ..d });
                        command = Some((cmd, n, d.offset / BUF));
                        break;
                    }
                    let mut swapped = [0u8; 12];
                    swapped[..6].copy_from_slice(&hdr[6..12]);
                    swapped[6..].copy_from_slice(&hdr[..6]);
                    let _ = self.bufs.write(off, &swapped);
                    match tx.active.enqueue(d) {
                        Ok(()) => self.looped += 1,
                        Err(_) => {
                            self.tx_full += 1;
                            let _ = rx.free.enqueue(Desc { len: BUF, ..d });
                        }
                    }
                }
                // Sent frames' buffers come back: post them for reception again.
                while let Ok(Some(d)) = tx.free.dequeue() {
                    let _ = rx.free.enqueue(Desc { len: BUF, ..d });
                }
                if tx.active.signal_needed() | rx.free.signal_needed() {
                    let _ = DRIVER.notify();
                }
                if command.is_none() {
                    let idle_rx = rx.active.prepare_to_block().unwrap_or(true);
                    let idle_tx = tx.free.prepare_to_block().unwrap_or(true);
                    if idle_rx && idle_tx {
                        return;
                    }
                }
            }
            if let Some((cmd, n, held)) = command {
                self.command(&cmd[..n], held);
            }
        }
    }
}

fn init() -> Loopback {
    // SAFETY: the system file maps `net_buffers` read-write here for the PD's life; only this
    // view touches it in this PD (the device writes it by DMA, the driver never maps it).
    let bufs = unsafe { SharedRegion::new(net_buffers.get() as usize, net_buffers_size.get() as usize) };
    let max = (bufs.size() as u32 / BUF).min(CAPACITY);
    let mut lb = Loopback {
        rx: None,
        tx: None,
        bufs,
        ds: net_buffers_ds.get() as u32,
        nbufs: (rx_buffers.get() as u32).min(max),
        session: 0,
        looped: 0,
        tx_full: 0,
    };
    debug_println!("{}: up; opening a session with the driver ({} dataspace(s) max)", name(), MAX_SESSION_DATASPACES);
    if lb.open() {
        lb.run();
    }
    lb
}

impl Handler for Loopback {
    fn notified(&mut self, channels: ChannelSet) {
        if channels.contains(DRIVER_FAULT) {
            debug_println!(
                "{}: the driver faulted (monitor's notice; session {} lost after {} frames looped); reopening",
                name(),
                self.session,
                self.looped
            );
            if self.reopen() {
                debug_println!("{}: session reopened after the driver's restart; looping again", name());
            }
        }
        if channels.contains(DRIVER) || channels.contains(DRIVER_FAULT) {
            self.run();
        }
    }
}

pd::protection_domain!(init);
