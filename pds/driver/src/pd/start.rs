//! Start-up (also after the monitor restarts a faulted driver from a clean image): check the
//! regions and setvars, pick the chip ([`AnyNic`]), then quiesce: reset the device (interrupts
//! masked, no receive buffer posted, so it can no longer DMA into client memory), ack the IRQ
//! (a fault in the interrupt path leaves it masked), and send `DEVICE_RESET` for this driver so
//! the manager recovers every pin the old instance held. Sessions are served after that.

use dataspace_api::msg::{MgrError, MgrReply, MgrRequest};
use dataspace_api::PdId;
use nic_api::QUEUE_CAPACITY;
use region::{DmaRegion, MappedRegion, Mmio, RegionError};

use super::{say, AnyNic, Manager, Nic, Platform, State, Xlate, BUDGET, TX_RING_OFFSET};
use crate::dp83820::{Addressing, Dp83820};
use crate::e1000::{Intel, E1000};
use crate::engine::Config;
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
    /// The client's PD index: what the driver names when it asks the manager to attach.
    pub client_pd: u64,
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

/// The regions the system file maps into the driver, as the runtime's region helper gave them.
pub struct Regions {
    /// The NIC's register BAR (`nic_regs`).
    pub nic_regs: Result<MappedRegion, RegionError>,
    /// The driver's descriptor rings (`driver_dma`, with `driver_dma_paddr`).
    pub driver_dma: Result<DmaRegion, RegionError>,
    /// The driver -> client queue pair (`rx_queues`).
    pub rx_queues: Result<MappedRegion, RegionError>,
    /// The client -> driver queue pair (`tx_queues`).
    pub tx_queues: Result<MappedRegion, RegionError>,
    /// The manager's translation cache (`translation_cache`).
    pub translation_cache: Result<MappedRegion, RegionError>,
}

/// Everything a started driver holds: the backend, the translation adapter, the queue regions,
/// the client and the engine's configuration.
pub struct Parts<B, P: Platform> {
    /// The backend.
    pub nic: B,
    /// The translation adapter over the shared cache.
    pub xlate: Xlate<P>,
    /// The driver -> client queue region.
    pub rx_queues: MappedRegion,
    /// The client -> driver queue region.
    pub tx_queues: MappedRegion,
    /// The client served.
    pub client: PdId,
    /// The engine's configuration.
    pub cfg: Config,
}

impl<B, P: Platform> Parts<B, P> {
    /// The same parts with the backend wrapped (e.g. by a test hook).
    pub fn map_nic<C>(self, f: impl FnOnce(B) -> C) -> Parts<C, P> {
        let Parts { nic, xlate, rx_queues, tx_queues, client, cfg } = self;
        Parts { nic: f(nic), xlate, rx_queues, tx_queues, client, cfg }
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
    let chip_name = chip.name;
    let (regs, dma) = (mapped(r.nic_regs, platform)?, mapped(r.driver_dma, platform)?);
    let rx_queues = mapped(r.rx_queues, platform)?;
    let tx_queues = mapped(r.tx_queues, platform)?;
    let cache = mapped(r.translation_cache, platform)?;
    if dma.len() < 2 * TX_RING_OFFSET {
        say!(platform, "driver_dma must be at least {:#x} bytes", 2 * TX_RING_OFFSET);
        return None;
    }
    let Some(client) = PdId::new(s.client_pd) else {
        say!(platform, "setvar client_pd = {} is not a PD index", s.client_pd);
        return None;
    };
    let table = match dataspace_api::cache::table_from_region(&cache) {
        Ok(t) => t,
        Err(e) => {
            say!(platform, "translation cache: {e}");
            return None;
        }
    };
    let idle_ticks = if s.tsc_hz == 0 { 1 << 31 } else { s.tsc_hz };
    let xlate = CacheXlate::new(table, Manager::new(platform.clone()), idle_ticks);
    let cfg = config(s.holdoff_us);
    say!(
        platform,
        "up: {chip_name} at {:#x}, rings at physical {:#x}, hold-off {} us, client {client}; waiting for a session",
        regs.vaddr(),
        dma.phys_base(),
        cfg.holdoff_us
    );
    let regs = Mmio::new(regs);
    let (rx_mem, tx_mem) = dma.split(TX_RING_OFFSET);
    let nic = if chip == nic_api::CHIP_DP83820 {
        // 64-bit descriptors: the rings and buffers may lie anywhere in physical memory.
        AnyNic::Dp83820(Dp83820::new(regs, rx_mem, tx_mem, Addressing::Bits64))
    } else if chip == nic_api::CHIP_82574L {
        AnyNic::E1000(E1000::for_model(Intel::I82574, regs, rx_mem, tx_mem))
    } else {
        AnyNic::E1000(E1000::new(regs, rx_mem, tx_mem))
    };
    Some(Parts { nic, xlate, rx_queues, tx_queues, client, cfg })
}

/// The start-up quiesce (see the module docs). A device that does not come out of reset serves
/// nothing.
pub fn quiesce<B: Nic, P: Platform>(mut nic: B, xlate: Xlate<P>, cfg: Config, s: &Settings, p: &mut P) -> State<B, P> {
    nic.irq_mask();
    if let Err(e) = nic.init(cfg.rx_slots, cfg.tx_slots, cfg.holdoff_us) {
        say!(p, "device reset at start failed ({e}); refusing every session");
        return State::Broken;
    }
    nic.irq_mask();
    p.irq_ack();
    let Some(me) = PdId::new(s.driver_pd) else {
        say!(
            p,
            "device reset; no DEVICE_RESET sent (setvar driver_pd, this driver's PD index, is not set: needed to recover pins after a restart)"
        );
        return State::Idle(nic, xlate);
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
    State::Idle(nic, xlate)
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
