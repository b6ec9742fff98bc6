//! A discrete-event test rig: one NIC model, the driver core with its backend, and a simulated
//! client PD, all on a virtual clock. It plays the PD main loop (perform `Actions`, ack the
//! IRQ, poll while `more_work`) and a single CPU with the driver at higher priority than the
//! client; each driver event and each client packet costs virtual time, so interrupt hold-off
//! and overload behave as on a real machine. Used by the driver-core suite and the hold-off
//! bench; the numbers it produces are host-model figures, not hardware measurements.

extern crate std;

use super::{Clock, FakeXlate, NicModel, Phys, PhysMem, PhysWindow, SharedRegs};
use crate::backend::NicBackend;
use crate::dp83820::{Addressing, Dp83820};
use crate::e1000::E1000;
use crate::engine::{Actions, Config, Driver, Stats};
use crate::session::Session;
use ring::{CacheLine, Desc};
use std::boxed::Box;
use std::cell::RefCell;
use std::collections::VecDeque;
use std::rc::Rc;
use std::vec::Vec;

/// Physical layout of the rig's fake memory.
pub const PHYS_BASE: u64 = 0x4000_0000;
/// Descriptor memory for each ring.
pub const RING_BYTES: usize = 0x2000;
/// The client's dataspace id.
pub const DS: u32 = 1;
/// Bytes per client buffer.
pub const BUF: u32 = 2048;
/// Client receive buffers (indices 0..RX_BUFS) and transmit buffers (after them).
pub const RX_BUFS: u32 = 256;
/// Client transmit buffers.
pub const TX_BUFS: u32 = 256;
/// Size of the client's dataspace.
pub const DS_SIZE: u64 = (RX_BUFS + TX_BUFS) as u64 * BUF as u64;
const DS_PHYS: u64 = PHYS_BASE + 0x10_0000;
/// Queue capacity of every client ring.
pub const QCAP: u32 = 256;
/// The station address every model's EEPROM holds.
pub const MAC: [u8; 6] = [0x52, 0x54, 0x00, 0x12, 0x34, 0x56];
/// A peer on the wire.
pub const PEER: [u8; 6] = [0x52, 0x54, 0x00, 0xaa, 0xbb, 0xcc];

/// Virtual CPU cost of one driver event (kernel entry/exit, IRQ ack, register accesses).
pub const EVENT_NS: u64 = 2_000;
/// Virtual CPU cost per packet the driver handles.
pub const DRIVER_PKT_NS: u64 = 500;
/// Virtual CPU cost per packet the client handles.
pub const CLIENT_PKT_NS: u64 = 1_000;
/// Idle time step.
pub const TICK_NS: u64 = 250;

/// How to build one backend + model pair over the rig's memory.
pub trait Fixture {
    /// The model.
    type M: NicModel + 'static;
    /// The backend the driver runs.
    type B: NicBackend;
    /// Name for reports.
    const NAME: &'static str;
    /// Builds both over `phys`.
    fn build(phys: &Phys, clock: &Clock) -> (Rc<RefCell<Self::M>>, Self::B);
}

fn windows(phys: &Phys) -> (PhysWindow, PhysWindow) {
    (PhysWindow::new(phys, PHYS_BASE, RING_BYTES), PhysWindow::new(phys, PHYS_BASE + RING_BYTES as u64, RING_BYTES))
}

/// e1000 backend on the e1000 model.
pub struct E1000Fx;
impl Fixture for E1000Fx {
    type M = super::e1000::E1000Model;
    type B = E1000<SharedRegs<Self::M>, PhysWindow>;
    const NAME: &'static str = "e1000";
    fn build(phys: &Phys, clock: &Clock) -> (Rc<RefCell<Self::M>>, Self::B) {
        let m = Rc::new(RefCell::new(Self::M::new(phys.clone(), clock.clone(), MAC)));
        let (rx, tx) = windows(phys);
        (m.clone(), E1000::new(SharedRegs(m), rx, tx))
    }
}

/// e1000 backend for the 82574L on the 82574L model.
pub struct E1000eFx;
impl Fixture for E1000eFx {
    type M = super::e1000::E1000Model;
    type B = E1000<SharedRegs<Self::M>, PhysWindow>;
    const NAME: &'static str = "e1000e (82574L)";
    fn build(phys: &Phys, clock: &Clock) -> (Rc<RefCell<Self::M>>, Self::B) {
        let m = Rc::new(RefCell::new(Self::M::new_82574(phys.clone(), clock.clone(), MAC)));
        let (rx, tx) = windows(phys);
        (m.clone(), E1000::for_model(crate::e1000::Intel::I82574, SharedRegs(m), rx, tx))
    }
}

/// DP83820 backend (32-bit descriptors) on the DP83820 model.
pub struct Dp32Fx;
impl Fixture for Dp32Fx {
    type M = super::dp83820::Dp83820Model;
    type B = Dp83820<SharedRegs<Self::M>, PhysWindow>;
    const NAME: &'static str = "DP83820 (32-bit descriptors)";
    fn build(phys: &Phys, clock: &Clock) -> (Rc<RefCell<Self::M>>, Self::B) {
        let m = Rc::new(RefCell::new(Self::M::new(phys.clone(), clock.clone(), MAC)));
        let (rx, tx) = windows(phys);
        (m.clone(), Dp83820::new(SharedRegs(m), rx, tx, Addressing::Bits32))
    }
}

/// DP83820 backend (64-bit descriptors) on the DP83820 model.
pub struct Dp64Fx;
impl Fixture for Dp64Fx {
    type M = super::dp83820::Dp83820Model;
    type B = Dp83820<SharedRegs<Self::M>, PhysWindow>;
    const NAME: &'static str = "DP83820 (64-bit descriptors)";
    fn build(phys: &Phys, clock: &Clock) -> (Rc<RefCell<Self::M>>, Self::B) {
        let m = Rc::new(RefCell::new(Self::M::new(phys.clone(), clock.clone(), MAC)));
        let (rx, tx) = windows(phys);
        (m.clone(), Dp83820::new(SharedRegs(m), rx, tx, Addressing::Bits64))
    }
}

/// The simulated client PD (e.g. the network stack): the other end of the driver's queues.
pub struct Client {
    /// Receive direction: frames in (active), empty buffers out (free).
    pub rx: ring::Receiver<'static>,
    /// Transmit direction: frames out (active), sent buffers back (free).
    pub tx: ring::Sender<'static>,
    phys: Phys,
    free_tx: Vec<u32>,
    /// Frames received, in order.
    pub received: Vec<Vec<u8>>,
    /// Whether the client gives receive buffers back after consuming them.
    pub return_rx: bool,
    /// Receive buffers the client kept.
    pub kept_rx: Vec<Desc>,
    /// Signals the client sent to the driver.
    pub signals_to_driver: u64,
    /// Transmit buffers returned with `len == 0` (refused by the driver).
    pub tx_refused: u64,
    /// Receive buffers returned with `len == 0` (the driver could not post them).
    pub rx_empty: u64,
    /// Frames handed to the driver.
    pub tx_enqueued: u64,
    /// Whether the client is runnable (woken by a signal or has its own work).
    pub awake: bool,
    wants_tx_signal: bool,
}

impl Client {
    fn buf_phys(d: &Desc) -> u64 {
        DS_PHYS + u64::from(d.offset)
    }

    /// Offers receive buffers `first..first+n` to the driver.
    pub fn post_rx(&mut self, first: u32, n: u32) -> bool {
        for i in first..first + n {
            let d = Desc { dataspace: DS, offset: i * BUF, len: BUF, cookie: i };
            if self.rx.free.enqueue(d).is_err() {
                return false;
            }
        }
        self.signal_if(true)
    }

    /// Puts a raw descriptor (possibly malformed) on the transmit queue.
    pub fn send_raw(&mut self, d: Desc) -> bool {
        let ok = self.tx.active.enqueue(d).is_ok();
        self.tx_enqueued += u64::from(ok);
        self.signal_if(false);
        ok
    }

    /// Copies `frame` into a free transmit buffer and queues it; false if none is free.
    pub fn send(&mut self, frame: &[u8]) -> bool {
        if self.free_tx.is_empty() {
            self.reclaim_tx();
        }
        let Some(i) = self.free_tx.pop() else {
            self.wants_tx_signal = true;
            return false;
        };
        let d = Desc { dataspace: DS, offset: (RX_BUFS + i) * BUF, len: frame.len() as u32, cookie: i };
        self.phys.borrow_mut().write(Self::buf_phys(&d), frame);
        if self.tx.active.enqueue(d).is_err() {
            self.free_tx.push(i);
            return false;
        }
        self.tx_enqueued += 1;
        self.signal_if(false);
        true
    }

    /// Collects transmit buffers the driver handed back; returns how many.
    pub fn reclaim_tx(&mut self) -> u64 {
        let mut n = 0;
        while let Ok(Some(d)) = self.tx.free.dequeue() {
            if d.len == 0 {
                self.tx_refused += 1;
            }
            if d.dataspace == DS && d.cookie < TX_BUFS && d.offset == (RX_BUFS + d.cookie) * BUF {
                self.free_tx.push(d.cookie);
            }
            n += 1;
        }
        n
    }

    /// Signals the driver if it asked (producer half of the protocol).
    fn signal_if(&mut self, rx_free: bool) -> bool {
        let s = if rx_free { self.rx.free.signal_needed() } else { self.tx.active.signal_needed() };
        self.signals_to_driver += u64::from(s);
        s
    }

    /// Consumes received frames and returned buffers; returns packets handled.
    pub fn run(&mut self) -> u64 {
        let mut n = 0;
        let mut returned = false;
        while let Ok(Some(d)) = self.rx.active.dequeue() {
            self.rx_empty += u64::from(d.len == 0);
            let mut f = std::vec![0u8; d.len as usize];
            self.phys.borrow_mut().read(Self::buf_phys(&d), &mut f);
            self.received.push(f);
            n += 1;
            let buf = Desc { len: BUF, ..d };
            if self.return_rx && self.rx.free.enqueue(buf).is_ok() {
                returned = true;
            } else {
                self.kept_rx.push(buf);
            }
        }
        if returned {
            self.signal_if(true);
        }
        n += self.reclaim_tx();
        // Before sleeping: ask for a signal on received frames; on returned tx buffers only
        // when out of them (the client's own notification avoidance).
        let rx_idle = self.rx.active.prepare_to_block().unwrap_or(true);
        let tx_idle = if self.wants_tx_signal && self.free_tx.is_empty() {
            self.tx.free.prepare_to_block().unwrap_or(true)
        } else {
            self.wants_tx_signal = false;
            true
        };
        self.awake = !(rx_idle && tx_idle);
        n
    }
}

/// Counters the rig keeps about the run.
#[derive(Clone, Copy, Debug, Default)]
pub struct RigCounts {
    /// Driver events that were IRQs.
    pub irq_events: u64,
    /// Driver events in total (irq, client signal, poll).
    pub events: u64,
    /// Most packets the driver handled in one event.
    pub max_pkts_per_event: u64,
    /// Signals from driver to client.
    pub driver_to_client: u64,
}

/// The whole simulated system.
pub struct Rig<F: Fixture> {
    /// Virtual time.
    pub clock: Clock,
    /// Fake physical memory.
    pub phys: Phys,
    /// The NIC model.
    pub model: Rc<RefCell<F::M>>,
    /// The driver under test.
    pub driver: Driver<'static, F::B, FakeXlate>,
    /// The client PD.
    pub client: Client,
    /// Frames scheduled to arrive from the wire: (time ns, frame).
    pub wire_in: VecDeque<(u64, Vec<u8>)>,
    /// Frames the device put on the wire.
    pub wire_out: Vec<Vec<u8>>,
    /// Run counters.
    pub counts: RigCounts,
    irq_pending_ack: bool,
    more_work: bool,
    driver_signalled: bool,
}

/// Builds a rig; `setup` may adjust the model (e.g. EEPROM behaviour) and the fake
/// translation before the driver initialises the device.
pub fn rig_with<F: Fixture>(
    cfg: Config,
    setup: impl FnOnce(&mut F::M, &mut FakeXlate),
) -> Result<Rig<F>, crate::backend::InitError> {
    let clock = Clock::default();
    let phys = PhysMem::new(PHYS_BASE, (DS_PHYS - PHYS_BASE) as usize + DS_SIZE as usize);
    let (model, backend) = F::build(&phys, &clock);
    let mut xlate = FakeXlate::new();
    xlate.add(DS, DS_PHYS, DS_SIZE);
    setup(&mut model.borrow_mut(), &mut xlate);
    let lines = CacheLine::lines_for(QCAP).expect("queue capacity");
    let rxmem: &'static mut [CacheLine] = Box::leak(std::vec![CacheLine::ZERO; lines].into_boxed_slice());
    let txmem: &'static mut [CacheLine] = Box::leak(std::vec![CacheLine::ZERO; lines].into_boxed_slice());
    let (drv_rx, cli_rx) = ring::split(rxmem, QCAP).expect("rx queues");
    let (cli_tx, drv_tx) = ring::split(txmem, QCAP).expect("tx queues");
    let session = Session::new(&[(DS, DS_SIZE)]).expect("session");
    let driver = Driver::new(backend, xlate, drv_rx, drv_tx, session, cfg)?;
    let client = Client {
        rx: cli_rx,
        tx: cli_tx,
        phys: phys.clone(),
        free_tx: (0..TX_BUFS).rev().collect(),
        received: Vec::new(),
        return_rx: true,
        kept_rx: Vec::new(),
        signals_to_driver: 0,
        tx_refused: 0,
        rx_empty: 0,
        tx_enqueued: 0,
        awake: true,
        wants_tx_signal: false,
    };
    let mut rig = Rig {
        clock,
        phys,
        model,
        driver,
        client,
        wire_in: VecDeque::new(),
        wire_out: Vec::new(),
        counts: RigCounts::default(),
        irq_pending_ack: false,
        more_work: false,
        driver_signalled: false,
    };
    let a = rig.driver.poll();
    rig.apply(a, 0);
    Ok(rig)
}

/// Builds a rig with default model settings.
pub fn rig<F: Fixture>(cfg: Config) -> Rig<F> {
    match rig_with::<F>(cfg, |_, _| {}) {
        Ok(r) => r,
        Err(e) => panic!("{}: init failed: {e}", F::NAME),
    }
}

impl<F: Fixture> Rig<F> {
    fn pkts(s: &Stats) -> u64 {
        s.rx_packets + s.tx_packets + s.rx_frame_errors + s.rx_dropped_client_full
    }

    fn apply(&mut self, a: Actions, pkts: u64) {
        self.counts.events += 1;
        self.counts.max_pkts_per_event = self.counts.max_pkts_per_event.max(pkts);
        self.clock.advance(EVENT_NS + DRIVER_PKT_NS * pkts);
        if a.notify_client() {
            self.counts.driver_to_client += 1;
            self.client.awake = true;
        }
        if a.ack_irq {
            self.irq_pending_ack = false;
        }
        self.more_work = a.more_work;
    }

    /// Ends the session (`Driver::shutdown`): the backend, the fake translation and the
    /// session's statistics.
    #[allow(clippy::type_complexity)]
    pub fn shutdown(self) -> (F::B, FakeXlate, crate::engine::Stats, Result<(), crate::backend::InitError>) {
        self.driver.shutdown()
    }

    /// Lets the client post receive buffers (signals the driver if it asked).
    pub fn client_post_rx(&mut self, first: u32, n: u32) {
        if self.client.post_rx(first, n) {
            self.driver_signalled = true;
        }
    }

    /// Lets the client send a frame now.
    pub fn client_send(&mut self, frame: &[u8]) -> bool {
        let before = self.client.signals_to_driver;
        let ok = self.client.send(frame);
        if self.client.signals_to_driver > before {
            self.driver_signalled = true;
        }
        ok
    }

    /// Lets the client queue a raw descriptor.
    pub fn client_send_raw(&mut self, d: Desc) -> bool {
        let before = self.client.signals_to_driver;
        let ok = self.client.send_raw(d);
        if self.client.signals_to_driver > before {
            self.driver_signalled = true;
        }
        ok
    }

    /// Schedules `frame` to arrive from the wire at `at_ns`.
    pub fn arrive(&mut self, at_ns: u64, frame: Vec<u8>) {
        self.wire_in.push_back((at_ns, frame));
    }

    /// One scheduling decision: wire arrivals, then the driver (higher priority), then the
    /// client, else time passes.
    pub fn step(&mut self) {
        let now = self.clock.now();
        while self.wire_in.front().is_some_and(|(t, _)| *t <= now) {
            let Some((_, f)) = self.wire_in.pop_front() else {
                break;
            };
            self.model.borrow_mut().deliver(&f);
        }
        self.wire_out.extend(self.model.borrow_mut().take_sent());
        let before = Self::pkts(&self.driver.stats());
        let event = if !self.irq_pending_ack && self.model.borrow_mut().irq_line() {
            self.irq_pending_ack = true;
            self.counts.irq_events += 1;
            Some(self.driver.on_irq())
        } else if self.more_work {
            Some(self.driver.poll())
        } else if self.driver_signalled {
            self.driver_signalled = false;
            Some(self.driver.on_client_notified())
        } else {
            None
        };
        if let Some(a) = event {
            let pkts = Self::pkts(&self.driver.stats()) - before;
            self.apply(a, pkts);
            self.wire_out.extend(self.model.borrow_mut().take_sent());
            return;
        }
        if self.client.awake {
            let before = self.client.signals_to_driver;
            let n = self.client.run();
            if self.client.signals_to_driver > before {
                self.driver_signalled = true;
            }
            self.clock.advance(CLIENT_PKT_NS * n.max(1));
            return;
        }
        // Idle: jump to the next arrival, or tick (hold-off timers run on the clock).
        self.clock.advance(TICK_NS);
    }

    /// Runs until virtual time `until_ns`.
    pub fn run_until(&mut self, until_ns: u64) {
        while self.clock.now() < until_ns {
            self.step();
        }
    }

    /// Runs until nothing is scheduled and everyone is idle (or `limit_ns` passes).
    pub fn settle(&mut self, limit_ns: u64) {
        let end = self.clock.now() + limit_ns;
        while self.clock.now() < end {
            let quiet = self.wire_in.is_empty()
                && !self.more_work
                && !self.driver_signalled
                && !self.client.awake
                && !self.irq_pending_ack
                && !self.model.borrow_mut().irq_line()
                && !self.model.borrow().cause_pending();
            if quiet && self.driver.tx_in_flight() == 0 {
                return;
            }
            self.step();
        }
    }
}

/// Host-model figures for a burst: interrupts and notifications per packet.
#[derive(Clone, Copy, Debug)]
pub struct BurstFigures {
    /// Frames in the burst.
    pub frames: u64,
    /// Frames the client received.
    pub received: u64,
    /// Device interrupt assertions per received frame.
    pub irqs_per_pkt: f64,
    /// Driver -> client signals per received frame.
    pub notify_per_pkt: f64,
    /// Client -> driver signals per received frame.
    pub client_signals_per_pkt: f64,
}

/// Receives a burst of `n` frames of `len` bytes spaced `gap_ns` apart with the given hold-off
/// and reports the per-packet figures (host model, not hardware).
pub fn burst_figures<F: Fixture>(holdoff_us: u32, n: u64, len: usize, gap_ns: u64) -> BurstFigures {
    let mut r = rig::<F>(Config { rx_slots: 128, tx_slots: 128, budget: 64, holdoff_us });
    r.client_post_rx(0, 128);
    r.settle(1_000_000);
    let t0 = r.clock.now() + 10_000;
    for i in 0..n {
        r.arrive(t0 + i * gap_ns, super::test_frame(MAC, PEER, len, i as u32));
    }
    let edges0 = r.model.borrow().irq_edges();
    let n0 = r.counts.driver_to_client;
    let s0 = r.client.signals_to_driver;
    r.settle(10_000_000_000);
    let received = r.client.received.len() as u64;
    let per = |x: u64| x as f64 / received.max(1) as f64;
    let edges = r.model.borrow().irq_edges();
    BurstFigures {
        frames: n,
        received,
        irqs_per_pkt: per(edges - edges0),
        notify_per_pkt: per(r.counts.driver_to_client - n0),
        client_signals_per_pkt: per(r.client.signals_to_driver - s0),
    }
}
