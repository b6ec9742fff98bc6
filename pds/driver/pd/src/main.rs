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
//! * Start (also after the monitor restarts a faulted driver from a clean image): the device
//!   is reset (interrupts masked, no receive buffer posted, so it can no longer DMA into client
//!   memory), the IRQ is acked (a fault in the interrupt path leaves it masked), and then
//!   `DEVICE_RESET` for this driver (`driver_pd`, its own PD index) tells the manager the
//!   device is quiet: after a fault it recovers every pin the old instance held; on a first
//!   start there is nothing to recover. Sessions are served after that.
//! * Test hook (off by default): with `crash_on_ethertype` set and the client's buffers mapped
//!   read-only (`crash_peek`, `crash_peek_size`, `crash_peek_paddr`), a received frame of that
//!   EtherType makes the driver panic, i.e. fault, in its interrupt path
//!   (tests/systems/loopback-restart.xml).
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
// This driver's own PD index (`<setvar symbol="driver_pd" pd_index="driver"/>`): named in the
// DEVICE_RESET it sends at start. Unset (u64::MAX): no DEVICE_RESET is sent.
pd::setvar!(driver_pd: u64 = u64::MAX);
// Test hook: fault on purpose when a frame of this EtherType arrives (0 = never). Needs the
// client's buffer region mapped read-only (setvar_vaddr/setvar_size `crash_peek`, region_paddr
// `crash_peek_paddr`) to look at the frame.
pd::setvar!(crash_on_ethertype: u64 = 0);
pd::setvar!(crash_peek: u64 = 0);
pd::setvar!(crash_peek_size: u64 = 0);
pd::setvar!(crash_peek_paddr: u64 = 0);

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
type E1000Nic = Hooked<E1000<MmioRegs, MmioDma>>;
type Dp83820Nic = Hooked<Dp83820<MmioRegs, MmioDma>>;

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

/// The test hook's view of received frames: the client's buffer region (mapped read-only),
/// its physical base, and the EtherType that makes the driver fault.
struct Tripwire {
    peek: pd::SharedRegion,
    paddr: u64,
    ethertype: u16,
}

/// A backend with the (optional, test-only) crash hook: it remembers the physical address of
/// each posted receive buffer and, when the device completes one holding a frame of the
/// tripwire's EtherType, panics, which faults the PD in the middle of its interrupt path as a
/// driver bug would (pins held, IRQ not acked). Without a tripwire it only forwards.
struct Hooked<B> {
    nic: B,
    tripwire: Option<Tripwire>,
    rx_phys: [u64; QUEUE_CAPACITY as usize],
}

impl<B: Nic> Hooked<B> {
    fn new(nic: B, tripwire: Option<Tripwire>) -> Self {
        Self { nic, tripwire, rx_phys: [0; QUEUE_CAPACITY as usize] }
    }

    fn check(&self, slot: u16, len: u32) {
        let Some(t) = &self.tripwire else { return };
        let Some(&phys) = self.rx_phys.get(usize::from(slot)) else { return };
        let mut ty = [0u8; 2];
        let readable = phys
            .checked_sub(t.paddr)
            .and_then(|off| usize::try_from(off).ok())
            .is_some_and(|off| len >= 14 && t.peek.read(off + 12, &mut ty).is_ok());
        if readable && u16::from_be_bytes(ty) == t.ethertype {
            panic!(
                "crash_on_ethertype: received a frame with EtherType {:#06x} in receive slot {slot}; faulting on purpose (test hook)",
                t.ethertype
            );
        }
    }
}

impl<B: Nic> NicBackend for Hooked<B> {
    const NAME: &'static str = B::NAME;

    fn init(&mut self, rx_slots: u16, tx_slots: u16, holdoff: u32) -> Result<driver::MacAddr, driver::InitError> {
        self.nic.init(rx_slots, tx_slots, holdoff)
    }
    fn irq_mask(&mut self) {
        self.nic.irq_mask()
    }
    fn irq_unmask(&mut self) {
        self.nic.irq_unmask()
    }
    fn read_cause(&mut self) -> driver::Cause {
        self.nic.read_cause()
    }
    fn rx_post(&mut self, slot: u16, phys: u64, len: u32) {
        if let Some(p) = self.rx_phys.get_mut(usize::from(slot)) {
            *p = phys;
        }
        self.nic.rx_post(slot, phys, len)
    }
    fn rx_poll(&self, slot: u16) -> Option<driver::backend::RxDone> {
        let done = self.nic.rx_poll(slot)?;
        if done.ok {
            self.check(slot, done.len);
        }
        Some(done)
    }
    fn rx_clear(&mut self, slot: u16) {
        self.nic.rx_clear(slot)
    }
    fn rx_kick(&mut self, tail: u16) {
        self.nic.rx_kick(tail)
    }
    fn tx_post(&mut self, slot: u16, phys: u64, len: u32, interrupt: bool) {
        self.nic.tx_post(slot, phys, len, interrupt)
    }
    fn tx_poll(&self, slot: u16) -> Option<driver::backend::TxDone> {
        self.nic.tx_poll(slot)
    }
    fn tx_kick(&mut self, tail: u16) {
        self.nic.tx_kick(tail)
    }
    fn read_counters(&mut self) -> driver::backend::HwCounters {
        self.nic.read_counters()
    }
    fn dma_limit(&self) -> u64 {
        self.nic.dma_limit()
    }
}

impl<B: Nic> Nic for Hooked<B> {
    fn holdoff_register(&self) -> (&'static str, u32) {
        self.nic.holdoff_register()
    }
}

/// The crash hook's configuration, if the system file sets one.
fn tripwire() -> Option<Tripwire> {
    let ethertype = crash_on_ethertype.get();
    if ethertype == 0 {
        return None;
    }
    let Ok(ethertype) = u16::try_from(ethertype) else {
        debug_println!("{}: crash_on_ethertype = {ethertype:#x} is not an EtherType; test hook off", pd::name());
        return None;
    };
    if crash_peek.get() == 0 || crash_peek_size.get() == 0 || crash_peek_paddr.get() == 0 {
        debug_println!(
            "{}: crash_on_ethertype needs the client's buffers mapped read-only (setvar_vaddr/setvar_size crash_peek, region_paddr crash_peek_paddr); test hook off",
            pd::name()
        );
        return None;
    }
    debug_println!(
        "{}: TEST HOOK: a received frame with EtherType {ethertype:#06x} makes this driver fault",
        pd::name()
    );
    // SAFETY: the system file maps the client's buffer region at `crash_peek` with this size
    // for the PD's life (read-only is enough: the hook only reads it, with volatile loads).
    let peek = unsafe { pd::SharedRegion::new(crash_peek.get() as usize, crash_peek_size.get() as usize) };
    Some(Tripwire { peek, paddr: crash_peek_paddr.get(), ethertype })
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

static E1000_STATE: StaticCell<State<E1000Nic>> = StaticCell::new();
static DP83820_STATE: StaticCell<State<Dp83820Nic>> = StaticCell::new();

/// The PD, for the chip the system file names.
enum AnyDriver {
    E1000(DriverPd<E1000Nic>),
    Dp83820(DriverPd<Dp83820Nic>),
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
        let nic = Hooked::new(Dp83820::new(p.regs, p.rx_mem, p.tx_mem, Addressing::Bits64), tripwire());
        let state = quiesce(nic, p.xlate, p.cfg);
        AnyDriver::Dp83820(pd_for(&DP83820_STATE, state, p.client, p.cfg))
    } else {
        let nic = Hooked::new(E1000::new(p.regs, p.rx_mem, p.tx_mem), tripwire());
        let state = quiesce(nic, p.xlate, p.cfg);
        AnyDriver::E1000(pd_for(&E1000_STATE, state, p.client, p.cfg))
    }
}

/// Start-up after a possible fault of an earlier instance: reset the device so it stops any
/// DMA (interrupts masked, no receive buffer posted), ack the IRQ in case the old instance
/// died before acking it, then tell the manager the device is quiet (DEVICE_RESET) so it
/// recovers the old instance's pins. A device that does not come out of reset serves nothing.
fn quiesce<B: Nic>(mut nic: B, xlate: Xlate, cfg: Config) -> State<B> {
    nic.irq_mask();
    if let Err(e) = nic.init(cfg.rx_slots, cfg.tx_slots, cfg.holdoff_us) {
        debug_println!("{}: device reset at start failed ({e}); refusing every session", pd::name());
        return State::Broken;
    }
    nic.irq_mask();
    if let Err(e) = IRQ.irq_ack() {
        debug_println!("{}: cannot ack the IRQ: {e}", pd::name());
    }
    let Some(me) = PdId::new(driver_pd.get()) else {
        debug_println!(
            "{}: device reset; no DEVICE_RESET sent (setvar driver_pd, this driver's PD index, is not set: needed to recover pins after a restart)",
            pd::name()
        );
        return State::Idle(nic, xlate);
    };
    match PpcLink.call(&MgrRequest::DeviceReset { driver: me }) {
        Ok(Ok(MgrReply::Recovered { pins, attachments })) => debug_println!(
            "{}: device reset; the dataspace manager recovered {pins} pins and {attachments} attachment(s) of the previous instance",
            pd::name()
        ),
        Ok(Err(dataspace_api::msg::MgrError::NotFaulted)) => {
            debug_println!("{}: device reset; first start, no pins to recover", pd::name())
        }
        Ok(other) => debug_println!("{}: device reset; DEVICE_RESET: unexpected answer {other:?}", pd::name()),
        Err(e) => debug_println!("{}: device reset; DEVICE_RESET to the dataspace manager failed: {e}", pd::name()),
    }
    State::Idle(nic, xlate)
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
