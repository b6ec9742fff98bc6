//! Start-up (also after the monitor restarts a faulted driver from a clean image): check the
//! regions and setvars, pick the chip ([`AnyNic`]), gather the sessions the system file
//! configures (`sessions`, each session's client, MAC and queue regions; a multi-session
//! driver also its receive pool and a window on each client's buffers), then quiesce: reset
//! the device (interrupts masked, no receive buffer posted, so it can no longer DMA into client
//! memory), ack the IRQ (a fault in the interrupt path leaves it masked), and send
//! `DEVICE_RESET` for this driver so the manager recovers every pin the old instance held.
//! Sessions are served after that.

use dataspace_api::msg::{MgrError, MgrReply, MgrRequest};
use dataspace_api::PdId;
use nic_api::{MacAddr, QUEUE_CAPACITY, QUEUE_REGION_SIZE};
use region::{DmaRegion, MappedRegion, Mmio, RegionError};

use super::pool::{PdPool, Window};
use super::{say, AnyNic, Manager, Nic, Platform, Xlate, BUDGET, MAX_SESSIONS, POOL_OFFSET, TX_RING_OFFSET};
use crate::dp83820::{Addressing, Dp83820};
use crate::e1000::{Intel, E1000};
use crate::engine::{Config, POOL_BUF};
use crate::xlate::{CacheXlate, MgrLink};

/// The setvars the PD reads (besides its regions).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Settings {
    /// Which chip the BAR belongs to: `vendor << 16 | device` of the PCI function the
    /// initialiser bound to the NIC's region (`<setvar symbol="nic_pci_id" region_pci_id=..>`),
    /// one of [`nic_api::SUPPORTED_CHIPS`]; 0 = not set.
    pub nic_pci_id: u64,
    /// Interrupt hold-off in microseconds.
    pub holdoff_us: u64,
    /// Sessions the driver serves (`sessions`, 1..=[`MAX_SESSIONS`]; 1 receives directly into
    /// the client's buffers, more through the receive pool).
    pub sessions: u64,
    /// Each session's client PD index (`client_pd`, `client_pd1`, ...): what the driver names
    /// when it asks the manager to attach; [`NOT_SET`] if the file gives none.
    pub client_pds: [u64; MAX_SESSIONS],
    /// Each session's station address as [`MacAddr::to_word`] (`mac`, `mac1`, ...); 0 = the
    /// NIC's own (session 0 only).
    pub macs: [u64; MAX_SESSIONS],
    /// This driver's own PD index, named in DEVICE_RESET; `u64::MAX` = none is sent.
    pub driver_pd: u64,
    /// Print the statistics every this many interrupts (0 = only on DRIVER_STATS and CLOSE).
    pub stats_every_irqs: u64,
    /// The TSC frequency (0 if unknown): idle pins are given back after a second.
    pub tsc_hz: u64,
    /// This instance's generation (`pd::generation()`: the driver's faults before it
    /// started), named in DEVICE_RESET so the manager can order it against fault notices.
    pub generation: u32,
}

/// A PD-index setvar nobody set (the binary's placeholder): PD index 0 is a real PD.
pub const NOT_SET: u64 = u64::MAX;

/// One session's regions, as the runtime's region helper gave them.
pub struct SessionRegions {
    /// The driver -> client queue pair (`rx_queues`, `rx_queues1`, ...).
    pub rx_queues: Result<MappedRegion, RegionError>,
    /// The client -> driver queue pair (`tx_queues`, `tx_queues1`, ...).
    pub tx_queues: Result<MappedRegion, RegionError>,
    /// A multi-session driver's read-write view of the client's buffers (`client_buffers`,
    /// `client_buffers1`, ...), with its physical base (`client_buffers_paddr`, ...).
    pub buffers: Result<DmaRegion, RegionError>,
}

/// The regions the system file maps into the driver, as the runtime's region helper gave them.
pub struct Regions {
    /// The NIC's register BAR (`nic_regs`).
    pub nic_regs: Result<MappedRegion, RegionError>,
    /// The driver's descriptor rings, and a multi-session driver's receive pool (`driver_dma`,
    /// with `driver_dma_paddr`).
    pub driver_dma: Result<DmaRegion, RegionError>,
    /// The manager's translation cache (`translation_cache`).
    pub translation_cache: Result<MappedRegion, RegionError>,
    /// Each session's regions (those of sessions beyond `sessions` are not looked at).
    pub sessions: [SessionRegions; MAX_SESSIONS],
}

/// One configured session: its client, its station address and its queue regions.
pub struct SessionCfg {
    /// The client.
    pub client: PdId,
    /// Its station address (`None`: the NIC's own).
    pub mac: Option<MacAddr>,
    /// The driver -> client queue region.
    pub rx_queues: MappedRegion,
    /// The client -> driver queue region.
    pub tx_queues: MappedRegion,
}

/// Everything a started driver holds: the backend, the translation adapter, the receive pool,
/// the configured sessions and the engine's configuration.
pub struct Parts<B, P: Platform, C = PdPool> {
    /// The backend.
    pub nic: B,
    /// The translation adapter over the shared cache.
    pub xlate: Xlate<P>,
    /// The receive pool (empty for a single-session driver).
    pub pool: C,
    /// The sessions the system file configures.
    pub sessions: [Option<SessionCfg>; MAX_SESSIONS],
    /// The engine's configuration.
    pub cfg: Config,
}

impl<B, P: Platform, C> Parts<B, P, C> {
    /// The same parts with the backend wrapped (e.g. by a test hook).
    pub fn map_nic<D>(self, f: impl FnOnce(B) -> D) -> Parts<D, P, C> {
        let Parts { nic, xlate, pool, sessions, cfg } = self;
        Parts { nic: f(nic), xlate, pool, sessions, cfg }
    }
}

/// The engine's configuration for a hold-off.
pub fn config(holdoff_us: u64) -> Config {
    Config {
        rx_slots: QUEUE_CAPACITY as u16,
        tx_slots: QUEUE_CAPACITY as u16,
        budget: BUDGET,
        holdoff_us: u32::try_from(holdoff_us).unwrap_or(u32::MAX),
    }
}

/// Checks the regions and setvars and builds the parts for the chip `nic_pci_id` names, printing
/// the `up:` line, or what is missing (then `None`: the driver refuses every session).
pub fn parts<P: Platform>(regions: Regions, s: &Settings, platform: &P) -> Option<Parts<AnyNic, P>> {
    let built = build(regions, s, platform);
    if built.is_none() {
        say!(platform, "cannot start; refusing every session");
    }
    built
}

/// The region, or `None` after printing which `<map>` is missing.
fn mapped<T, P: Platform>(r: Result<T, RegionError>, platform: &P) -> Option<T> {
    r.map_err(|e| say!(platform, "{e}")).ok()
}

/// A setvar name with session `k`'s suffix (none for session 0).
struct Sym(&'static str, usize);

impl core::fmt::Display for Sym {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self.1 {
            0 => f.write_str(self.0),
            k => write!(f, "{}{k}", self.0),
        }
    }
}

/// Session `k`'s configuration, or `None` after printing what is wrong.
fn session_cfg<P: Platform>(
    k: usize,
    r: SessionRegions,
    s: &Settings,
    pooled: bool,
    platform: &P,
) -> Option<(SessionCfg, Option<Window>)> {
    if s.client_pds[k] == NOT_SET {
        say!(
            platform,
            "session {}: setvar {} is not set (<setvar symbol=\"{}\" pd_index=\"<its client>\"/>)",
            k + 1,
            Sym("client_pd", k),
            Sym("client_pd", k)
        );
        return None;
    }
    let Some(client) = PdId::new(s.client_pds[k]) else {
        say!(platform, "setvar {} = {} is not a PD index (session {})", Sym("client_pd", k), s.client_pds[k], k + 1);
        return None;
    };
    let mac = match s.macs[k] {
        0 if k == 0 => None,
        0 => {
            say!(
                platform,
                "session {} has no MAC: set <setvar symbol=\"{}\" value=\"52:54:00:..\"/>",
                k + 1,
                Sym("mac", k)
            );
            return None;
        }
        w => match MacAddr::from_word(w).filter(MacAddr::is_valid_station) {
            Some(m) => Some(m),
            None => {
                say!(platform, "setvar {} = {w:#x} is not a unicast station address", Sym("mac", k));
                return None;
            }
        },
    };
    let rx_queues = mapped(r.rx_queues, platform)?;
    let tx_queues = mapped(r.tx_queues, platform)?;
    for q in [&rx_queues, &tx_queues] {
        if q.size() < QUEUE_REGION_SIZE {
            say!(platform, "{} is {:#x} bytes; a queue pair needs {QUEUE_REGION_SIZE:#x}", q.name(), q.size());
            return None;
        }
    }
    let window = if pooled {
        let Ok(buffers) = r.buffers else {
            say!(
                platform,
                "session {}: the driver copies frames into the client's buffers, so it maps them: <map mr=\"<the client's buffer region>\" .. setvar_vaddr=\"{b}\" setvar_size=\"{b}_size\"/> and <setvar symbol=\"{b}_paddr\" region_paddr=\"..\"/>",
                k + 1,
                b = Sym("client_buffers", k)
            );
            return None;
        };
        Some(buffers)
    } else {
        None
    };
    Some((SessionCfg { client, mac, rx_queues, tx_queues }, window))
}

fn build<P: Platform>(r: Regions, s: &Settings, platform: &P) -> Option<Parts<AnyNic, P>> {
    let Some(chip) = nic_api::chip_for_pci_id(s.nic_pci_id) else {
        if s.nic_pci_id == 0 {
            say!(
                platform,
                "setvar nic_pci_id is not set: add <setvar symbol=\"nic_pci_id\" region_pci_id=\"<the NIC's pci= region>\"/> so the initialiser says which chip it bound"
            );
        } else {
            say!(
                platform,
                "PCI device {:04x}:{:04x} is no NIC this driver has a backend for (supported: {})",
                s.nic_pci_id >> 16 & 0xffff,
                s.nic_pci_id & 0xffff,
                SupportedList
            );
        }
        return None;
    };
    let n = match usize::try_from(s.sessions) {
        Ok(n @ 1..=MAX_SESSIONS) => n,
        _ => {
            say!(platform, "setvar sessions = {} must be 1..={MAX_SESSIONS}", s.sessions);
            return None;
        }
    };
    let pooled = n > 1;
    let chip_name = chip.name;
    let (regs, dma) = (mapped(r.nic_regs, platform)?, mapped(r.driver_dma, platform)?);
    let cache = mapped(r.translation_cache, platform)?;
    let cfg = config(s.holdoff_us);
    let pool_need = POOL_OFFSET + usize::from(cfg.rx_slots) * POOL_BUF;
    if dma.len() < 2 * TX_RING_OFFSET || (pooled && dma.len() < pool_need) {
        let need = if pooled { pool_need } else { 2 * TX_RING_OFFSET };
        say!(platform, "driver_dma must be at least {need:#x} bytes (it is {:#x})", dma.len());
        return None;
    }
    let mut sessions: [Option<SessionCfg>; MAX_SESSIONS] = [const { None }; MAX_SESSIONS];
    let mut windows: [Option<Window>; MAX_SESSIONS] = [const { None }; MAX_SESSIONS];
    for (k, sr) in r.sessions.into_iter().enumerate().take(n) {
        let (sc, w) = session_cfg(k, sr, s, pooled, platform)?;
        sessions[k] = Some(sc);
        windows[k] = w;
    }
    let table = match dataspace_api::cache::table_from_region(&cache) {
        Ok(t) => t,
        Err(e) => {
            say!(platform, "translation cache: {e}");
            return None;
        }
    };
    let idle_ticks = if s.tsc_hz == 0 { 1 << 31 } else { s.tsc_hz };
    let xlate = CacheXlate::new(table, Manager::new(platform.clone()), idle_ticks);
    let clients = Clients(&sessions);
    if pooled {
        say!(
            platform,
            "up: {chip_name} at {:#x}, rings at physical {:#x}, hold-off {} us, {n} sessions ({clients}), receive pool of {} buffers (each frame copied once into its client's buffer); waiting for sessions",
            regs.vaddr(),
            dma.phys_base(),
            cfg.holdoff_us,
            cfg.rx_slots
        );
    } else {
        say!(
            platform,
            "up: {chip_name} at {:#x}, rings at physical {:#x}, hold-off {} us, client {clients}; waiting for a session",
            regs.vaddr(),
            dma.phys_base(),
            cfg.holdoff_us
        );
    }
    let regs = Mmio::new(regs);
    let (rings, pool_mem) = dma.split(POOL_OFFSET);
    let (rx_mem, tx_mem) = rings.split(TX_RING_OFFSET);
    let pool = if pooled { PdPool::new(pool_mem, windows) } else { PdPool::none() };
    let nic = if chip == nic_api::CHIP_DP83820 {
        // 64-bit descriptors: the rings and buffers may lie anywhere in physical memory.
        AnyNic::Dp83820(Dp83820::new(regs, rx_mem, tx_mem, Addressing::Bits64))
    } else if chip == nic_api::CHIP_82574L {
        AnyNic::E1000(E1000::for_model(Intel::I82574, regs, rx_mem, tx_mem))
    } else {
        AnyNic::E1000(E1000::new(regs, rx_mem, tx_mem))
    };
    Some(Parts { nic, xlate, pool, sessions, cfg })
}

/// The configured sessions' clients, for the `up:` line: `pd 2` or `session 1 pd 2, session 2 pd 3`.
struct Clients<'a>(&'a [Option<SessionCfg>; MAX_SESSIONS]);

impl core::fmt::Display for Clients<'_> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        let many = self.0.iter().flatten().count() > 1;
        let mut first = true;
        for (k, c) in self.0.iter().enumerate() {
            let Some(c) = c else { continue };
            let sep = if first { "" } else { ", " };
            first = false;
            if many {
                write!(f, "{sep}session {} {}", k + 1, c.client)?;
            } else {
                write!(f, "{sep}{}", c.client)?;
            }
        }
        Ok(())
    }
}

/// The start-up quiesce (see the module docs). False if the device did not come out of reset
/// (it serves nothing).
pub fn quiesce<B: Nic, P: Platform>(nic: &mut B, cfg: Config, s: &Settings, p: &mut P) -> bool {
    nic.irq_mask();
    if let Err(e) = nic.init(cfg.rx_slots, cfg.tx_slots, cfg.holdoff_us) {
        say!(p, "device reset at start failed ({e}); refusing every session");
        return false;
    }
    nic.irq_mask();
    p.irq_ack();
    let Some(me) = PdId::new(s.driver_pd) else {
        say!(
            p,
            "device reset; no DEVICE_RESET sent (setvar driver_pd, this driver's PD index, is not set: needed to recover pins after a restart)"
        );
        return true;
    };
    match Manager::new(p.clone()).call(&MgrRequest::DeviceReset { driver: me, generation: s.generation }) {
        Ok(Ok(MgrReply::Recovered { pins, attachments })) => say!(
            p,
            "device reset; the dataspace manager recovered {pins} pins and {attachments} attachment(s) of the previous instance"
        ),
        Ok(Err(MgrError::NotFaulted)) => say!(p, "device reset; first start, no pins to recover"),
        Ok(other) => say!(p, "device reset; DEVICE_RESET: unexpected answer {other:?}"),
        Err(e) => say!(p, "device reset; DEVICE_RESET to the dataspace manager failed: {e}"),
    }
    true
}

/// The supported chips as `vvvv:dddd (name)`, comma-separated.
struct SupportedList;

impl core::fmt::Display for SupportedList {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        for (i, c) in nic_api::SUPPORTED_CHIPS.iter().enumerate() {
            let sep = if i == 0 { "" } else { ", " };
            write!(f, "{sep}{:04x}:{:04x} ({})", c.vendor, c.device, c.name)?;
        }
        Ok(())
    }
}
