//! The NIC driver PD (`driver.elf` in `system.xml`): wires the host-tested `driver` library to
//! the PD runtime. The backend named by the `nic_model` setvar (82540 = e1000, the default and
//! QEMU's NIC; 83820 = DP83820, 64-bit descriptors) works on the PCI BAR the system file maps (`nic_regs`),
//! its descriptor rings live in `driver_dma` (`dma_vaddr`, physical `dma_paddr`), the IRQ is
//! channel 0, the client (netstack or the loopback test PD) is channel 1 and the dataspace
//! manager channel 2.
//!
//! * Client PPCs (`dataspace_api::msg::SessionRequest`): OPEN asks the manager to ATTACH each
//!   named dataspace for the client (the manager checks the client shares it), brings the
//!   device up and replies with the session id and the MAC; CLOSE resets the device, unpins
//!   and detaches; DRIVER_STATS prints and returns the counters.
//! * Notifications: the IRQ and the client's signal run the engine; its `Actions` say whether
//!   to signal the client and ack the IRQ; `more_work` keeps polling (device interrupts stay
//!   masked) until the backlog is gone.
//! * Translation: `driver::xlate::CacheXlate` over the shared cache (plain loads), REFILL and
//!   lazy PIN/UNPIN calls to the manager; idle pins are given back after a second.
#![no_std]
#![no_main]

use dataspace_api::msg::{DriverStats, MgrReply, MgrRequest, SessionError, SessionReply, SessionRequest};
use dataspace_api::{DsId, PdId};
use driver::dp83820::{Addressing, Dp83820};
use driver::e1000::E1000;
use driver::hw::{MmioDma, MmioRegs, Regs};
use driver::{Actions, CacheXlate, Config, Driver, LinkError, MgrLink, NicBackend};
use pd::{debug_println, Channel, ChannelSet, Handler, Message, Refusal};
use static_cell::StaticCell;

// Regions (system.xml maps them; the image tool writes their addresses and sizes).
pd::setvar!(nic_regs: u64 = 0);
pd::setvar!(nic_regs_size: u64 = 0x20000);
pd::setvar!(dma_vaddr: u64 = 0);
pd::setvar!(dma_size: u64 = 0x10000);
pd::setvar!(dma_paddr: u64 = 0);
pd::setvar!(rx_queues: u64 = 0);
pd::setvar!(rx_queues_size: u64 = 0x4000);
pd::setvar!(tx_queues: u64 = 0);
pd::setvar!(tx_queues_size: u64 = 0x4000);
pd::setvar!(translation_cache: u64 = 0);
pd::setvar!(translation_cache_size: u64 = 0x4000);
// Tunables.
pd::setvar!(holdoff_us: u64 = 100);
// The client's PD index (its position among the system file's protection domains): what the
// driver names when it asks the manager to attach the client's dataspaces.
pd::setvar!(client_pd: u64 = 2);
// Print the statistics every this many interrupts (0 = only on DRIVER_STATS and CLOSE).
pd::setvar!(stats_every_irqs: u64 = 0);
// Which chip the BAR belongs to: 82540 = Intel e1000 (QEMU's NIC), 83820 = NatSemi DP83820.
pd::setvar!(nic_model: u64 = 82540);

const IRQ: Channel = Channel::new(0);
const CLIENT: Channel = Channel::new(1);
const MANAGER: Channel = Channel::new(2);

/// Capacity of each client queue (the driver<->netstack contract, pds/driver/README.md).
const QUEUE_CAPACITY: u32 = 256;
/// The one session this driver serves.
const SESSION_ID: u32 = 1;
/// Where the transmit ring starts in `driver_dma` (the receive ring is at 0).
const TX_RING_OFFSET: usize = 0x8000;

type Xlate = CacheXlate<'static, PpcLink>;
type Engine<B> = Driver<'static, B, Xlate>;

/// A backend the PD can run: the device-neutral `NicBackend` plus its hold-off register, read
/// back for the log.
trait Nic: NicBackend {
    fn holdoff_register(&self) -> (&'static str, u32);
}

impl Nic for E1000<MmioRegs, MmioDma> {
    fn holdoff_register(&self) -> (&'static str, u32) {
        ("ITR", self.regs().read32(driver::e1000::regs::ITR))
    }
}

impl Nic for Dp83820<MmioRegs, MmioDma> {
    fn holdoff_register(&self) -> (&'static str, u32) {
        ("IHR", self.regs().read32(driver::dp83820::regs::IHR))
    }
}

/// The manager, through the PPC channel.
struct PpcLink;

impl MgrLink for PpcLink {
    fn call(&mut self, req: &MgrRequest) -> Result<Result<MgrReply, dataspace_api::msg::MgrError>, LinkError> {
        let m = req.encode();
        let msg = Message::new(m.label, m.mrs()).map_err(|_| LinkError::Call)?;
        let reply = MANAGER.pp_call(&msg).map_err(|e| {
            debug_println!("{}: call to the dataspace manager failed: {e}", pd::name());
            LinkError::Call
        })?;
        MgrReply::decode(req.op(), reply.label(), reply.words()).map_err(LinkError::Decode)
    }

    fn now(&self) -> u64 {
        pd::tsc()
    }
}

// It lives in a static (the STATE cells); session transitions move it on the 256 KiB stack.
#[allow(clippy::large_enum_variant)]
enum State<B: Nic> {
    /// No session: the device is untouched (or reset) and holds no client buffer.
    Idle(B, Xlate),
    /// A session is open.
    Open(Engine<B>),
    /// Start-up failed or a transition lost the device (the reason was printed).
    Broken,
}

struct DriverPd<B: Nic + 'static> {
    state: &'static mut State<B>,
    client: PdId,
    cfg: Config,
    shown_miss: bool,
    shown_hit: bool,
    next_stats_irq: u64,
}

static E1000_STATE: StaticCell<State<E1000<MmioRegs, MmioDma>>> = StaticCell::new();
static DP83820_STATE: StaticCell<State<Dp83820<MmioRegs, MmioDma>>> = StaticCell::new();

/// The PD, for the chip the system file names.
enum AnyDriver {
    E1000(DriverPd<E1000<MmioRegs, MmioDma>>),
    Dp83820(DriverPd<Dp83820<MmioRegs, MmioDma>>),
}

fn region(name: &'static str, vaddr: u64, size: u64) -> Option<(usize, usize)> {
    if vaddr == 0 || size == 0 {
        debug_println!(
            "{}: the system file maps no `{name}` region (setvar_vaddr/setvar_size `{name}`)",
            pd::name()
        );
        return None;
    }
    Some((vaddr as usize, size as usize))
}

/// What every backend needs: registers, the two ring regions, the translation handle.
struct Parts {
    regs: MmioRegs,
    rx_mem: MmioDma,
    tx_mem: MmioDma,
    xlate: Xlate,
    client: PdId,
    cfg: Config,
}

fn start() -> Option<Parts> {
    let regs = region("nic_regs", nic_regs.get(), nic_regs_size.get())?;
    let dma = region("driver_dma", dma_vaddr.get(), dma_size.get())?;
    let cache = region("translation_cache", translation_cache.get(), translation_cache_size.get())?;
    if dma.1 < 2 * TX_RING_OFFSET {
        debug_println!("{}: driver_dma must be at least {:#x} bytes", pd::name(), 2 * TX_RING_OFFSET);
        return None;
    }
    let Some(client) = PdId::new(client_pd.get()) else {
        debug_println!("{}: setvar client_pd = {} is not a PD index", pd::name(), client_pd.get());
        return None;
    };
    let holdoff = u32::try_from(holdoff_us.get()).unwrap_or(u32::MAX);
    // SAFETY: the system file maps the NIC's register BAR (uncached) at `nic_regs` and the
    // driver's DMA region (physically contiguous, at physical `dma_paddr`) at `dma_vaddr`,
    // for the PD's whole life; only the views made here touch them.
    let (regs, dma) = unsafe {
        (
            MmioRegs::new(regs.0 as *mut u32, regs.1),
            MmioDma::new(dma.0 as *mut u32, dma_paddr.get(), dma.1),
        )
    };
    let (rx_mem, tx_mem) = dma.split(TX_RING_OFFSET);
    // SAFETY: the translation cache is mapped (read-only is enough) at `translation_cache` for
    // the PD's life; the manager writes it only with the seqlock's atomic stores.
    let table = match unsafe { dataspace_api::cache::table_from_raw(cache.0 as *mut u8, cache.1) } {
        Ok(t) => t,
        Err(e) => {
            debug_println!("{}: translation cache: {e}", pd::name());
            return None;
        }
    };
    let hz = pd::tsc_hz();
    let idle_ticks = if hz == 0 { 1 << 31 } else { hz };
    let xlate = CacheXlate::new(table, PpcLink, idle_ticks);
    let cfg = Config {
        rx_slots: QUEUE_CAPACITY as u16,
        tx_slots: QUEUE_CAPACITY as u16,
        budget: 64,
        holdoff_us: holdoff,
    };
    Some(Parts { regs, rx_mem, tx_mem, xlate, client, cfg })
}

/// A placeholder client for a driver that could not start (it serves no session anyway).
const NO_CLIENT: PdId = match PdId::new(0) {
    Some(pd) => pd,
    None => panic!("PD index 0 is valid"),
};

fn pd_for<B: Nic>(cell: &'static StaticCell<State<B>>, state: State<B>, client: PdId, cfg: Config) -> DriverPd<B> {
    DriverPd {
        state: cell.init(state),
        client,
        cfg,
        shown_miss: false,
        shown_hit: false,
        next_stats_irq: stats_every_irqs.get(),
    }
}

fn init() -> AnyDriver {
    let model = nic_model.get();
    let chip = match model {
        82540 => "e1000 (82540EM)",
        83820 => "DP83820",
        _ => {
            debug_println!("{}: setvar nic_model = {model}: use 82540 (e1000) or 83820 (DP83820)", pd::name());
            "unknown NIC"
        }
    };
    let parts = if chip == "unknown NIC" { None } else { start() };
    let Some(p) = parts else {
        debug_println!("{}: cannot start; refusing every session", pd::name());
        return AnyDriver::E1000(pd_for(&E1000_STATE, State::Broken, NO_CLIENT, Config::default()));
    };
    debug_println!(
        "{}: up: {chip} at {:#x}, rings at physical {:#x}, hold-off {} us, client {}; waiting for a session",
        pd::name(),
        nic_regs.get(),
        dma_paddr.get(),
        p.cfg.holdoff_us,
        p.client
    );
    if model == 83820 {
        // 64-bit descriptors: the rings and buffers may lie anywhere in physical memory.
        let nic = Dp83820::new(p.regs, p.rx_mem, p.tx_mem, Addressing::Bits64);
        AnyDriver::Dp83820(pd_for(&DP83820_STATE, State::Idle(nic, p.xlate), p.client, p.cfg))
    } else {
        let nic = E1000::new(p.regs, p.rx_mem, p.tx_mem);
        AnyDriver::E1000(pd_for(&E1000_STATE, State::Idle(nic, p.xlate), p.client, p.cfg))
    }
}

fn notify_client() {
    if let Err(e) = CLIENT.notify() {
        debug_println!("{}: cannot signal the client: {e}", pd::name());
    }
}

/// Carries out the engine's actions; while it reports a backlog, keeps polling (device
/// interrupts stay masked meanwhile).
fn perform<B: Nic>(engine: &mut Engine<B>, mut a: Actions) {
    loop {
        if a.notify_client {
            notify_client();
        }
        if a.ack_irq {
            if let Err(e) = IRQ.irq_ack() {
                debug_println!("{}: cannot ack the IRQ: {e}", pd::name());
            }
        }
        if !a.more_work {
            return;
        }
        a = engine.poll();
    }
}

fn driver_stats<B: Nic>(engine: &Engine<B>) -> DriverStats {
    let s = engine.stats();
    let x = engine.xlate().stats();
    let e = engine.session().errors;
    DriverStats {
        irqs: s.irqs,
        rx_packets: s.rx_packets,
        tx_packets: s.tx_packets,
        notify_sent: s.notify_sent,
        notify_suppressed: s.notify_suppressed,
        xlate_hits: x.reader.hits,
        xlate_misses: x.reader.misses,
        errors: e.rejected()
            + e.queue_corrupt
            + e.returns_dropped
            + s.rx_frame_errors
            + s.tx_errors
            + s.rx_dropped_no_buffer
            + s.rx_dropped_client_full,
    }
}

fn print_stats<B: Nic>(engine: &Engine<B>) {
    let s = engine.stats();
    let x = engine.xlate().stats();
    let d = driver_stats(engine);
    debug_println!(
        "{}: stats irqs={} rx={} tx={} notify_sent={} notify_suppressed={} client_wakeups={} \
         tx_signal_avoided={} polls={} budget_exhausted={} max_work={} xlate_hits={} \
         xlate_misses={} refills={} pin_calls={} unpin_calls={} pinned_pages={} \
         rx_dropped_no_buffer={} rx_dropped_client_full={} errors={}",
        pd::name(),
        s.irqs,
        s.rx_packets,
        s.tx_packets,
        s.notify_sent,
        s.notify_suppressed,
        s.client_wakeups,
        s.tx_signal_avoided,
        s.polls,
        s.budget_exhausted,
        s.max_work_per_event,
        x.reader.hits,
        x.reader.misses,
        x.refill_calls,
        x.pin_calls,
        x.unpin_calls,
        x.pinned_pages,
        s.rx_dropped_no_buffer,
        s.rx_dropped_client_full,
        d.errors
    );
}

impl<B: Nic> DriverPd<B> {
    fn open(&mut self, ids: &[DsId]) -> Result<SessionReply, SessionError> {
        let (nic, mut xlate) = match core::mem::replace(self.state, State::Broken) {
            State::Idle(nic, xlate) => (nic, xlate),
            other => {
                let err = match other {
                    State::Open(_) => SessionError::NoFreeSession,
                    _ => SessionError::DeviceFailed,
                };
                *self.state = other;
                return Err(err);
            }
        };
        let mut spaces = [(0u32, 0u64); dataspace_api::session::MAX_SESSION_DATASPACES];
        for (i, &ds) in ids.iter().enumerate() {
            match xlate.attach(self.client, ds) {
                Ok(at) => spaces[i] = (ds.0, at.size()),
                Err(e) => {
                    debug_println!("{}: OPEN refused: {ds}: {e}", pd::name());
                    let _ = xlate.detach_all(self.client);
                    *self.state = State::Idle(nic, xlate);
                    return Err(e);
                }
            }
        }
        let session = driver::Session::new(&spaces[..ids.len()]);
        // SAFETY: the system file maps both queue regions read-write into this PD at these
        // addresses and sizes for its whole life; the previous session's ends (if any) were
        // dropped with its engine, so these are the only ends in this PD.
        let queues = unsafe {
            (
                ring::Sender::from_raw(rx_queues.get() as *mut u8, rx_queues_size.get() as usize, QUEUE_CAPACITY),
                ring::Receiver::from_raw(tx_queues.get() as *mut u8, tx_queues_size.get() as usize, QUEUE_CAPACITY),
            )
        };
        let (session, rx, tx) = match (session, queues) {
            (Ok(s), (Ok(rx), Ok(tx))) => (s, rx, tx),
            (s, (rx, tx)) => {
                if let Err(e) = s {
                    debug_println!("{}: OPEN refused: {e}", pd::name());
                }
                for e in [rx.err(), tx.err()].into_iter().flatten() {
                    debug_println!("{}: client queues (rx_queues/tx_queues): {e}", pd::name());
                }
                let _ = xlate.detach_all(self.client);
                *self.state = State::Idle(nic, xlate);
                return Err(SessionError::DeviceFailed);
            }
        };
        match Driver::try_new(nic, xlate, rx, tx, session, self.cfg) {
            Ok(mut engine) => {
                let mac = engine.mac();
                let (reg, value) = engine.backend().holdoff_register();
                debug_println!(
                    "{}: session {SESSION_ID} open for {}: {} dataspace(s), MAC {mac}, hold-off {} us ({reg} {value})",
                    pd::name(),
                    self.client,
                    ids.len(),
                    self.cfg.holdoff_us
                );
                let a = engine.poll();
                perform(&mut engine, a);
                *self.state = State::Open(engine);
                Ok(SessionReply::Opened {
                    session: SESSION_ID,
                    mac: mac.0,
                })
            }
            Err((e, nic, mut xlate)) => {
                debug_println!("{}: cannot bring the device up: {e}", pd::name());
                let _ = xlate.detach_all(self.client);
                *self.state = State::Idle(nic, xlate);
                Err(SessionError::DeviceFailed)
            }
        }
    }

    fn close(&mut self, session: u32) -> Result<SessionReply, SessionError> {
        if session != SESSION_ID || !matches!(self.state, State::Open(_)) {
            return Err(SessionError::UnknownSession);
        }
        let State::Open(engine) = core::mem::replace(self.state, State::Broken) else {
            return Err(SessionError::UnknownSession);
        };
        print_stats(&engine);
        let (nic, mut xlate, _, reset) = engine.shutdown();
        if let Err(e) = reset {
            debug_println!("{}: device reset at close failed ({e}); its pages stay pinned", pd::name());
        }
        let detached = xlate.detach_all(self.client);
        debug_println!(
            "{}: session {session} closed: device reset, {} pin calls / {} unpin calls in all, \
             dataspaces {}",
            pd::name(),
            xlate.stats().pin_calls,
            xlate.stats().unpin_calls,
            if detached.is_ok() { "detached" } else { "NOT detached (pages still pinned)" }
        );
        *self.state = State::Idle(nic, xlate);
        detached.map(|()| SessionReply::Closed)
    }

    fn show_witnesses(&mut self) {
        let State::Open(engine) = &*self.state else { return };
        let x = engine.xlate();
        if !self.shown_miss {
            if let Some(w) = x.first_miss {
                self.shown_miss = true;
                debug_println!(
                    "{}: translation miss: dataspace {} page {} not cached; REFILL from the manager gave frame {:#x}",
                    pd::name(),
                    w.ds,
                    w.page,
                    w.frame
                );
            }
        }
        if !self.shown_hit {
            if let Some(w) = x.first_hit.get() {
                self.shown_hit = true;
                debug_println!(
                    "{}: translation hit: dataspace {} page {} -> frame {:#x} from the shared cache (no kernel call)",
                    pd::name(),
                    w.ds,
                    w.page,
                    w.frame
                );
            }
        }
    }
}

impl<B: Nic> Handler for DriverPd<B> {
    fn notified(&mut self, channels: ChannelSet) {
        match &mut *self.state {
            State::Open(engine) => {
                if channels.contains(IRQ) {
                    let a = engine.on_irq();
                    perform(engine, a);
                }
                if channels.contains(CLIENT) {
                    let a = engine.on_client_notified();
                    perform(engine, a);
                }
                engine.xlate_mut().sweep();
                let every = stats_every_irqs.get();
                if every != 0 && engine.stats().irqs >= self.next_stats_irq {
                    self.next_stats_irq = engine.stats().irqs + every;
                    print_stats(engine);
                }
            }
            _ => {
                // No session: the device has interrupts masked; ack anything on the line.
                if channels.contains(IRQ) {
                    let _ = IRQ.irq_ack();
                }
            }
        }
        self.show_witnesses();
    }

    fn protected(&mut self, channel: Channel, msg: Message) -> Result<Message, Refusal> {
        if channel != CLIENT {
            return Err(Refusal::UNSUPPORTED);
        }
        let request = match SessionRequest::decode(msg.label(), msg.words()) {
            Ok(r) => r,
            Err(e) => {
                debug_println!("{}: bad session request: {e}", pd::name());
                return Err(Refusal::BAD_MESSAGE);
            }
        };
        let reply = match request {
            SessionRequest::Open(list) => self.open(list.ids()),
            SessionRequest::Close { session } => self.close(session),
            SessionRequest::Stats => match &*self.state {
                State::Open(engine) => {
                    print_stats(engine);
                    Ok(SessionReply::Stats(driver_stats(engine)))
                }
                _ => Err(SessionError::UnknownSession),
            },
        };
        self.show_witnesses();
        let m = SessionReply::encode(&reply);
        Message::new(m.label, m.mrs()).map_err(|_| Refusal::BAD_MESSAGE)
    }
}

impl Handler for AnyDriver {
    fn notified(&mut self, channels: ChannelSet) {
        match self {
            AnyDriver::E1000(d) => d.notified(channels),
            AnyDriver::Dp83820(d) => d.notified(channels),
        }
    }

    fn protected(&mut self, channel: Channel, msg: Message) -> Result<Message, Refusal> {
        match self {
            AnyDriver::E1000(d) => d.protected(channel, msg),
            AnyDriver::Dp83820(d) => d.protected(channel, msg),
        }
    }
}

pd::protection_domain!(init);
