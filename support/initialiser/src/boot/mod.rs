//! Builds the system described by the packed spec (DESIGN.md §5 step 3): memory regions, then
//! per protection domain its CNode, address space, TCB, IPC buffer, stack, ELF segments, maps,
//! notification, endpoint, channel caps, IRQs and I/O ports, and starts it.
//!
//! Every kernel object comes from the bootinfo untypeds through [`UntypedPool`], whose model
//! of the kernel's watermark tells where each object lands physically (checked against
//! `X86_Page_GetAddress` for every region). Capabilities live in the root CNode (slots from
//! [`SlotAlloc`]); a PD's CNode receives only what its system-file entries grant. This module
//! makes system calls, so it runs only on seL4; its pure parts are in `alloc`, `vspace`,
//! `pci` and `fault`, which are host-tested.
//!
//! The order is in [`build`]: device regions, the scratch window, RAM regions, the devices'
//! IO spaces (DMA grants), the fault endpoint, every PD's objects (pass 1), the monitor's
//! fault-notice caps, then every PD's start (pass 2). Each step has its file: `regions`
//! (with `pci_devices`), `dma`, `objects`
//! (untyped retypes), `pd` (both passes), `image`, `address_space`, `caps`, `irq` and
//! `ioport`; boot errors are in `error`.

mod address_space;
mod caps;
mod console;
mod dma;
mod error;
mod image;
mod ioport;
mod irq;
mod objects;
mod pci_devices;
mod pd;
mod regions;

use core::fmt::{self, Write};

use sel4::{init, BootInfo, CNode, CapData, CapRights, ObjectType};
use spec::{cspace, Spec};

use crate::alloc::{SlotAlloc, UntypedPool};
use crate::fault::PdLayout;
use crate::iommu::Confinement;
use crate::pci::{self, IntxRule};
use crate::vspace::PagingPlan;
use crate::PortIo;

pub use console::{ConsoleCaps, COM1, CONSOLE_BADGE};
use error::{fail, Ctx, CtxData, R};
pub use error::{BootError, Cause};
pub use image::{fill_page, patch_value};

/// Where the initialiser maps a frame to fill it: PML4 slot 1 (512 GiB), far from its image.
pub const SCRATCH: u64 = 0x80_0000_0000;
/// Most memory regions a system may have.
pub const MAX_REGIONS: usize = 128;
/// Most program-image segments over all PDs (the monitor keeps their frames to restart PDs).
pub const MAX_SEGMENTS: usize = 512;
/// Most fault notices (`<fault_notify>`) a system may have.
pub const MAX_FAULT_NOTICES: usize = 64;
/// Most objects one `Untyped_Retype` creates (`CONFIG_RETYPE_FAN_OUT_LIMIT`).
const FAN_OUT: u64 = sel4::RETYPE_FAN_OUT_LIMIT;
const PAGE: u64 = 4096;

/// A region's frames: caps in root slots `first..first + count`, physically contiguous from
/// `paddr`.
#[derive(Copy, Clone, Debug, Default)]
pub struct RegionObjs {
    pub first: u64,
    pub count: u64,
    pub page_bits: u8,
    pub paddr: u64,
}

/// A PD's kernel objects (root CNode slots; `endpoint` 0 when it has none).
#[derive(Copy, Clone, Debug, Default)]
pub struct PdObjs {
    pub tcb: u64,
    pub cnode: u64,
    pub vspace: u64,
    pub notification: u64,
    pub endpoint: u64,
    pub ipc_frame: u64,
    pub layout: PdLayout,
}

/// The running system, as the monitor needs it.
pub struct System<'a> {
    pub spec: Spec<'a>,
    pub pds: [PdObjs; spec::MAX_PDS],
    pub fault_ep: u64,
    /// Per spec segment: the root slot of its first frame (its frames are in consecutive
    /// slots), so the monitor can restore a PD's writable segments to restart it.
    pub seg_frames: [u64; MAX_SEGMENTS],
    /// Per fault notice (`spec.fault_notifies`): a root slot holding the target's notification,
    /// badged `1 << id`.
    pub notice_caps: [u64; MAX_FAULT_NOTICES],
    /// An empty root slot the monitor uses for a temporary frame-cap copy.
    pub scratch_slot: u64,
    /// An empty root slot the monitor saves a fault message's reply capability into, to
    /// check that a kernel fault IPC (which always leaves one) sent it.
    pub reply_slot: u64,
    /// Physical address of each memory region (for `region_paddr` patches on a restart).
    pub region_paddr: [u64; MAX_REGIONS],
    /// `vendor << 16 | device` of the PCI function bound to each `pci=` region (0 for other
    /// regions), for `region_pci_id` patches on a restart.
    pub region_pci_id: [u64; MAX_REGIONS],
    /// TSC ticks per second.
    pub tsc_hz: u64,
    /// Console input (COM1), if it could be set up.
    pub console: Option<ConsoleCaps>,
}

impl<'a> System<'a> {
    pub fn pd_name(&self, i: usize) -> &'a str {
        self.spec.pds.get(i).map_or("?", |pd| self.spec.str(&pd.name))
    }
}

/// Boot statistics for the last line of the boot report.
#[derive(Copy, Clone, Debug, Default)]
pub struct Stats {
    pub frames: u64,
    pub paging: u64,
    pub slots: u64,
    pub free_ram: u64,
}

struct Builder<'a, 'w, W: Write, P: PortIo> {
    spec: Spec<'a>,
    out: &'w mut W,
    io: &'w P,
    uts: UntypedPool,
    slots: SlotAlloc,
    regions: [RegionObjs; MAX_REGIONS],
    pds: [PdObjs; spec::MAX_PDS],
    plan: PagingPlan,
    fault_ep: u64,
    seg_frames: [u64; MAX_SEGMENTS],
    rule: Option<IntxRule>,
    host_bridge: Option<pci::Id>,
    /// Per region: the PCI function whose BAR it is (`REGION_PCI` regions).
    region_pci: [Option<(pci::Bdf, pci::Id)>; MAX_REGIONS],
    /// Whether device DMA can be confined (bootinfo `numIOPTLevels`).
    iommu: Confinement,
    stats: Stats,
    /// TSC ticks per second (bootinfo's archInfo is MHz), patched into every PD's info block.
    tsc_hz: u64,
}

const ROOT: CNode = init::CNODE;

/// Builds and starts every PD of `spec`; prints one line per PD started.
pub fn build<'a, W: Write, P: PortIo>(
    bi: &BootInfo<'_>,
    spec: Spec<'a>,
    io: &P,
    out: &mut W,
) -> R<'a, (System<'a>, Stats)> {
    if spec.regions.len() > MAX_REGIONS {
        return fail(
            "reading the system spec",
            Cause::MsgNum("too many memory regions; the initialiser supports at most", MAX_REGIONS as u64),
        );
    }
    if spec.segments.len() > MAX_SEGMENTS {
        return fail(
            "reading the system spec",
            Cause::MsgNum(
                "too many program segments over all PDs; the initialiser supports at most",
                MAX_SEGMENTS as u64,
            ),
        );
    }
    if spec.fault_notifies.len() > MAX_FAULT_NOTICES {
        return fail(
            "reading the system spec",
            Cause::MsgNum(
                "too many <fault_notify> elements; the initialiser supports at most",
                MAX_FAULT_NOTICES as u64,
            ),
        );
    }
    let mut uts = UntypedPool::new();
    for u in bi.untypeds() {
        uts.add(u.cap.0, u.paddr, u.size_bits, u.is_device).ctx("reading bootinfo")?;
    }
    let empty = bi.empty();
    let mut b = Builder {
        spec,
        out,
        io,
        uts,
        slots: SlotAlloc::new(empty.start, empty.end),
        regions: [RegionObjs::default(); MAX_REGIONS],
        pds: [PdObjs::default(); spec::MAX_PDS],
        plan: PagingPlan::new(),
        fault_ep: 0,
        seg_frames: [0; MAX_SEGMENTS],
        rule: None,
        host_bridge: None,
        region_pci: [None; MAX_REGIONS],
        iommu: Confinement::from_bootinfo(bi.num_iopt_levels() as usize),
        stats: Stats::default(),
        tsc_hz: bi.tsc_mhz().saturating_mul(1_000_000),
    };
    b.device_regions()?;
    b.scratch()?;
    b.ram_regions()?;
    for (i, r) in spec.regions.iter().enumerate() {
        let o = b.regions[i];
        b.say(format_args!(
            "initialiser: region '{}': {:#x} bytes at physical {:#x} ({} x {} KiB frames{})\n",
            spec.str(&r.name),
            r.size.get(),
            o.paddr,
            o.count,
            (1u64 << o.page_bits) >> 10,
            if r.kind == spec::REGION_RAM { "" } else { ", device memory" }
        ));
    }
    b.dma_grants()?;
    b.fault_ep = b.object(ObjectType::Endpoint, 0, 4).ctx("creating the fault endpoint")?;
    for i in 0..spec.pds.len() {
        let name = spec.str(&spec.pds[i].name);
        b.pd_objects(i).map_err(|e| BootError { pd: Some(name), ..e })?;
    }
    // The monitor's caps for fault notices: the target's notification, badged 1 << id.
    let mut notice_caps = [0u64; MAX_FAULT_NOTICES];
    for (k, f) in spec.fault_notifies.iter().enumerate() {
        let name = spec.str(&spec.pds[f.pd.get() as usize].name);
        let in_pd = |e: BootError<'a>| BootError { pd: Some(name), ..e };
        let target = b.pds[f.target.get() as usize].notification;
        let slot = b.slots.alloc(1).ctx("allocating a fault notice slot").map_err(in_pd)?;
        let data = CapData::badge(1 << f.id).ctx_data("badging a fault notice").map_err(in_pd)?;
        ROOT.mint(slot, 64, ROOT.slot(target), CapRights::WRITE, data)
            .ctx("minting a fault notice cap")
            .map_err(in_pd)?;
        notice_caps[k] = slot;
    }
    let scratch_slot = b.slots.alloc(1).ctx("allocating the monitor's scratch slot")?;
    let reply_slot = b.slots.alloc(1).ctx("allocating the monitor's reply slot")?;
    for i in 0..spec.pds.len() {
        let name = spec.str(&spec.pds[i].name);
        b.pd_start(i).map_err(|e| BootError { pd: Some(name), ..e })?;
    }
    let console = match b.console() {
        Ok(c) => Some(c),
        Err(e) => {
            b.say(format_args!("initialiser: console input unavailable ({e}); the monitor still reports faults\n"));
            None
        }
    };
    b.stats.slots = b.slots.used_up_to() - empty.start;
    b.stats.free_ram = b.uts.free_ram();
    let mut region_paddr = [0u64; MAX_REGIONS];
    for (p, r) in region_paddr.iter_mut().zip(&b.regions) {
        *p = r.paddr;
    }
    let mut region_pci_id = [0u64; MAX_REGIONS];
    for (p, bound) in region_pci_id.iter_mut().zip(&b.region_pci) {
        *p = bound.map_or(0, |(_, id)| image::pci_id_value(id));
    }
    let system = System {
        spec,
        pds: b.pds,
        fault_ep: b.fault_ep,
        seg_frames: b.seg_frames,
        notice_caps,
        scratch_slot,
        reply_slot,
        region_paddr,
        region_pci_id,
        tsc_hz: b.tsc_hz,
        console,
    };
    Ok((system, b.stats))
}

impl<'a, W: Write, P: PortIo> Builder<'a, '_, W, P> {
    fn say(&mut self, args: fmt::Arguments<'_>) {
        let _ = self.out.write_fmt(args);
    }
}

/// The CNode guard that makes a PD's 2^CNODE_BITS-slot CNode resolve a whole 64-bit cptr.
pub fn pd_cnode_guard() -> Result<CapData, sel4::CapDataError> {
    CapData::guard(0, 64 - cspace::CNODE_BITS as u32)
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::*;

    #[test]
    fn cnode_guard_covers_the_rest_of_the_word() {
        let g = pd_cnode_guard().unwrap();
        // Tag bit 31, guard value 0, guard size 64 - 9 = 55 in bits 2..8.
        assert_eq!(g.0, (1 << 31) | (55 << 2));
        // Every slot the PD layout uses fits in the CNode.
        for top in [cspace::IOPORT_BASE + spec::MAX_IDS as u64 - 1, cspace::IRQ_BASE + 62, cspace::PP_BASE + 62] {
            assert!(top < 1 << cspace::CNODE_BITS, "slot {top}");
        }
    }
}
