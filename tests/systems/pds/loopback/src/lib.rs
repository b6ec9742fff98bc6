//! The loopback test PD's logic (tests/systems/loopback*.xml), behind a small platform trait so
//! the binary only wires it to the runtime. It opens a session with the driver (nic-api's
//! client helper), posts `rx_buffers` 2 KiB receive buffers from `net_buffers`, and returns
//! every received frame through the driver's transmit queue with its MAC addresses swapped
//! (zero copy: the receive buffer itself is sent, and comes back on the transmit free ring to
//! be posted for reception again).
//!
//! Frames with EtherType 0x88b5 (IEEE local experimental) are commands from the test:
//! * `STATS`: asks the driver (DRIVER_STATS) and the dataspace manager (STATS, admin channel 2)
//!   for their counters; both print them;
//! * `RECLAIM`: the dataspace manager's pin check (issue 4): RECLAIM of a page the driver has
//!   pinned is refused; after CLOSE (the driver resets the device and unpins) the same
//!   RECLAIM succeeds; then the session is reopened and looping goes on.
//!
//! On the monitor's notice that the driver faulted ([`Loopback::driver_faulted`]) the session
//! is gone: the loopback forgets its queue ends and the buffers the old driver held, zeroes the
//! queues and opens a new session (the OPEN call waits until the restarted driver serves it),
//! posting every buffer again.
#![no_std]
#![forbid(unsafe_code)]

use core::fmt;

use dataspace_api::msg::{MgrError, MgrReply, MgrRequest, Op};
use dataspace_api::DsId;
use message::Message;
use nic_api::client::{self, CallError};
use nic_api::{MAX_SESSION_DATASPACES, QUEUE_CAPACITY};
use region::MappedRegion;
use ring::Desc;

const BUF: u32 = 2048;
const PAGE: u32 = 4096;
const CONTROL_ETHERTYPE: [u8; 2] = [0x88, 0xb5];

/// What the binary provides: the two PPC channels, the driver's signal and the console.
pub trait Platform {
    /// A PPC to the driver (channel 1).
    fn call_driver(&mut self, m: &Message) -> Result<Message, CallError>;
    /// A PPC to the dataspace manager (admin channel 2); `Err` carries the runtime's message.
    fn call_manager(&mut self, m: &Message) -> Result<Message, CallError>;
    /// Signals the driver.
    fn notify_driver(&mut self);
    /// Prints one console line, prefixed with the PD's name.
    fn print(&self, line: fmt::Arguments<'_>);
}

macro_rules! say {
    ($p:expr, $($arg:tt)*) => { ($p).print(format_args!($($arg)*)) };
}

/// The regions the system file maps into the loopback.
pub struct Regions {
    /// The driver -> loopback queue pair.
    pub rx_queues: MappedRegion,
    /// The loopback -> driver queue pair.
    pub tx_queues: MappedRegion,
    /// The packet buffers (dataspace `ds`).
    pub net_buffers: MappedRegion,
}

/// The loopback client.
pub struct Loopback<P: Platform> {
    p: P,
    regions: Regions,
    rx: Option<ring::Receiver<'static>>,
    tx: Option<ring::Sender<'static>>,
    ds: u32,
    nbufs: u32,
    session: u32,
    looped: u64,
    tx_full: u64,
}

impl<P: Platform> Loopback<P> {
    /// Starts: opens the session, posts the buffers and loops what already arrived.
    pub fn start(p: P, regions: Regions, ds: u32, rx_buffers: u64) -> Self {
        let max = (regions.net_buffers.size() as u32 / BUF).min(QUEUE_CAPACITY);
        let nbufs = u32::try_from(rx_buffers).unwrap_or(u32::MAX).min(max);
        let mut lb = Loopback { p, regions, rx: None, tx: None, ds, nbufs, session: 0, looped: 0, tx_full: 0 };
        say!(lb.p, "up; opening a session with the driver ({MAX_SESSION_DATASPACES} dataspace(s) max)");
        if lb.open() {
            lb.run();
        }
        lb
    }

    /// The driver signalled.
    pub fn driver_notified(&mut self) {
        self.run();
    }

    /// The monitor's notice: the driver faulted and is being restarted.
    pub fn driver_faulted(&mut self) {
        say!(
            self.p,
            "the driver faulted (monitor's notice; session {} lost after {} frames looped); reopening",
            self.session,
            self.looped
        );
        if self.reopen() {
            say!(self.p, "session reopened after the driver's restart; looping again");
        }
        self.run();
    }

    /// Opens the session and posts every receive buffer; the queue regions must be zeroed.
    fn open(&mut self) -> bool {
        let ends = (
            ring::Receiver::from_region(&self.regions.rx_queues, QUEUE_CAPACITY),
            ring::Sender::from_region(&self.regions.tx_queues, QUEUE_CAPACITY),
        );
        let (mut rx, tx) = match ends {
            (Ok(rx), Ok(tx)) => (rx, tx),
            (rx, tx) => {
                for e in [rx.err(), tx.err()].into_iter().flatten() {
                    say!(self.p, "queues: {e}");
                }
                return false;
            }
        };
        let p = &mut self.p;
        match client::open(&[DsId(self.ds)], |m| p.call_driver(m)) {
            Ok(s) => {
                self.session = s.session;
                say!(self.p, "session {} open, MAC {} ({:#x})", s.session, s.mac, s.mac.to_word());
            }
            Err(e) => {
                say!(self.p, "OPEN failed: {e}");
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
        say!(self.p, "{posted} receive buffers of {BUF} bytes posted");
        // Signal unconditionally: the driver may have blocked before this session existed.
        self.p.notify_driver();
        true
    }

    fn command(&mut self, cmd: &[u8], held: u32) {
        match cmd {
            b"STATS" => self.stats(),
            b"RECLAIM" => self.reclaim_check(held),
            _ => say!(self.p, "unknown command {:?}", cmd),
        }
    }

    fn stats(&mut self) {
        let p = &mut self.p;
        match client::driver_stats(|m| p.call_driver(m)) {
            Ok(s) => say!(self.p, "driver says {s}"),
            Err(e) => say!(self.p, "DRIVER_STATS failed: {e}"),
        }
        if let Err(e) = self.p.call_manager(&MgrRequest::Stats.encode()) {
            say!(self.p, "manager STATS failed: {e:?}");
        }
        say!(self.p, "stats done: looped={} tx_full={}", self.looped, self.tx_full);
    }

    fn reclaim(&mut self, page: u32) -> Result<(), MgrError> {
        let m = MgrRequest::Reclaim { ds: DsId(self.ds), page }.encode();
        match self.p.call_manager(&m) {
            Ok(r) => match MgrReply::decode(Op::Reclaim, &r) {
                Ok(res) => res.map(|_| ()),
                Err(_) => Err(MgrError::NotAuthorized),
            },
            Err(e) => {
                say!(self.p, "RECLAIM call failed: {e:?}");
                Err(MgrError::NotAuthorized)
            }
        }
    }

    /// Issue 4's check, on a page whose buffers the device holds (not the one this command
    /// arrived in, buffer `held`).
    fn reclaim_check(&mut self, held: u32) {
        let pages = (self.nbufs * BUF).div_ceil(PAGE).max(1);
        let page = ((held * BUF) / PAGE + 1) % pages;
        match self.reclaim(page) {
            Err(e) => say!(self.p, "RECLAIM page {page} while the driver has it pinned: refused ({e})"),
            Ok(()) => say!(self.p, "RECLAIM page {page} while pinned: UNEXPECTEDLY done"),
        }
        let p = &mut self.p;
        match client::close(self.session, |m| p.call_driver(m)) {
            Ok(()) => say!(self.p, "session {} closed (the driver unpinned its pages)", self.session),
            Err(e) => say!(self.p, "CLOSE failed: {e}"),
        }
        match self.reclaim(page) {
            Ok(()) => say!(self.p, "RECLAIM page {page} after unpin: done"),
            Err(e) => say!(self.p, "RECLAIM page {page} after unpin: refused ({e})"),
        }
        if self.reopen() {
            say!(self.p, "session reopened; looping again");
        }
    }

    /// Drops our queue ends, zeroes the queues (the driver's ends are gone: closed, or lost
    /// with a faulted driver) and opens a new session with every buffer posted again.
    fn reopen(&mut self) -> bool {
        self.rx = None;
        self.tx = None;
        for r in [&self.regions.rx_queues, &self.regions.tx_queues] {
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
                let (Some(rx), Some(tx)) = (self.rx.as_mut(), self.tx.as_mut()) else {
                    return;
                };
                let bufs = &self.regions.net_buffers;
                // Received frames go back out, MACs swapped.
                while let Ok(Some(d)) = rx.active.dequeue() {
                    let off = d.offset as usize;
                    let mut hdr = [0u8; 14];
                    if d.len < 14 || bufs.read(off, &mut hdr).is_err() {
                        let _ = rx.free.enqueue(Desc { len: BUF, ..d });
                        continue;
                    }
                    if hdr[12..14] == CONTROL_ETHERTYPE {
                        let mut cmd = [0u8; 16];
                        let n = (d.len as usize - 14).min(cmd.len());
                        let _ = bufs.read(off + 14, &mut cmd[..n]);
                        let n = cmd[..n].iter().position(|&b| b == 0).unwrap_or(n);
                        let _ = rx.free.enqueue(Desc { len: BUF, ..d });
                        command = Some((cmd, n, d.offset / BUF));
                        break;
                    }
                    let mut swapped = [0u8; 12];
                    swapped[..6].copy_from_slice(&hdr[6..12]);
                    swapped[6..].copy_from_slice(&hdr[..6]);
                    let _ = bufs.write(off, &swapped);
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
                    self.p.notify_driver();
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
