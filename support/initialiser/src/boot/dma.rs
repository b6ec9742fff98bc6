//! DMA confinement (issue 12, docs/iommu.md): with a VT-d IOMMU, each PCI device a system file
//! names gets its own IO space holding exactly the RAM regions granted to it (`dma=`), each
//! frame at IO address = physical address, so the driver programs the addresses it always did
//! and any other address faults in the IOMMU instead of reaching memory. Without an IOMMU the
//! boot log says DMA is not confined, and a device that requires confinement is refused.
//!
//! The grants are static: made once here, before any PD runs, and never changed, so a
//! restarted driver finds its device's IO space exactly as its predecessor had it. The plans
//! (request id, badge, which IO page tables) are host-tested in [`crate::iommu`].

use core::fmt::Write;

use sel4::{init, CPtr, CapData, CapRights, IoPageTable, IoSpace, ObjectType, Page};

use crate::iommu::{self, Confinement};
use crate::pci::Bdf;
use crate::PortIo;

use super::error::{fail, BootError, Cause, Ctx, R};
use super::{Builder, ROOT};

/// Most IO address ranges (granted regions) one device may have.
const MAX_GRANTS: usize = 32;

impl<'a, W: Write, P: PortIo> Builder<'a, '_, W, P> {
    /// Refuses a device whose region says `iommu="required"` when DMA cannot be confined;
    /// called before the device is enabled as a bus master.
    pub(super) fn check_confinement_required(&self, region: usize) -> R<'a> {
        let r = &self.spec.regions[region];
        if r.flags & spec::REGION_IOMMU_REQUIRED == 0 || matches!(self.iommu, Confinement::Confined { .. }) {
            return Ok(());
        }
        let why = match self.iommu {
            Confinement::NoKernelSupport => {
                "the system file requires DMA confinement for this device (iommu=\"required\") but the kernel \
                 was built without IOMMU support (boot the IOMMU kernel); the device is not started"
            }
            _ => {
                "the system file requires DMA confinement for this device (iommu=\"required\") but no IOMMU \
                 was found (turn on VT-d in the firmware, or on QEMU q35 add -device intel-iommu); the device \
                 is not started"
            }
        };
        fail("checking DMA confinement", Cause::Msg(why))
            .map_err(|e| BootError { region: Some(self.spec.str(&r.name)), ..e })
    }

    /// Builds every device's IO space from the `dma=` grants (after all regions exist, before
    /// any PD starts) and prints what each device may reach and the `DMA:` boot line.
    pub(super) fn dma_grants(&mut self) -> R<'a> {
        let spec = self.spec;
        let state = self.iommu;
        let Confinement::Confined { levels } = state else {
            self.say(format_args!("initialiser: {state}\n"));
            return Ok(());
        };
        let mut domain: u16 = 0;
        for dev in 0..spec.regions.len() {
            let Some((bdf, id)) = self.region_pci[dev] else { continue };
            // One IO space per PCI function: skip a second BAR region of a device seen already.
            if self.region_pci[..dev].iter().flatten().any(|&(b, _)| b == bdf) {
                continue;
            }
            let name = spec.str(&spec.regions[dev].name);
            let in_region = |e: BootError<'a>| BootError { region: Some(name), ..e };
            let mut ranges = [(0u64, 0u64); MAX_GRANTS];
            let mut grants = [0usize; MAX_GRANTS];
            let mut n = 0;
            for (g, r) in spec.regions.iter().enumerate() {
                let same_device = r
                    .dma_device()
                    .and_then(|d| self.region_pci.get(d).copied().flatten())
                    .is_some_and(|(b, _)| b == bdf);
                if !same_device {
                    continue;
                }
                if n == MAX_GRANTS {
                    return fail(
                        "granting DMA",
                        Cause::MsgNum(
                            "too many regions granted to one device; the initialiser supports at most",
                            MAX_GRANTS as u64,
                        ),
                    )
                    .map_err(in_region);
                }
                let o = self.regions[g];
                if o.page_bits != 12 {
                    return fail("granting DMA", Cause::Msg("a region granted to DMA must use 4 KiB pages"))
                        .map_err(|e| BootError { region: Some(spec.str(&r.name)), ..e });
                }
                ranges[n] = (o.paddr, o.paddr + (o.count << 12));
                grants[n] = g;
                n += 1;
            }
            let head = |b: &mut Self| {
                b.say(format_args!(
                    "initialiser: DMA: PCI {:02x}:{:02x}.{} ({:04x}:{:04x}, request id {:#x})",
                    bdf.bus,
                    bdf.dev,
                    bdf.func,
                    id.vendor,
                    id.device,
                    iommu::request_id(bdf)
                ))
            };
            if n == 0 {
                head(self);
                self.say(format_args!(" is granted no memory: every DMA it attempts is blocked\n"));
                continue;
            }
            domain += 1;
            let space = self.io_space(bdf, domain).map_err(in_region)?;
            let tables = self.io_tables(space, levels, &ranges[..n]).map_err(in_region)?;
            let mut bytes = 0;
            for &g in &grants[..n] {
                let o = self.regions[g];
                self.map_io_frames(space, o.first, o.count, o.paddr)
                    .map_err(|e| BootError { region: Some(spec.str(&spec.regions[g].name)), ..e })?;
                bytes += o.count << 12;
            }
            head(self);
            self.say(format_args!(" reaches only {bytes:#x} bytes in {n} region(s) ("));
            for (k, &g) in grants[..n].iter().enumerate() {
                let sep = if k == 0 { "" } else { ", " };
                self.say(format_args!("{sep}{}", spec.str(&spec.regions[g].name)));
            }
            self.say(format_args!("), IO domain {domain}, {tables} IO page tables\n"));
        }
        self.say(format_args!("initialiser: {state}\n"));
        Ok(())
    }

    /// The device's IO space: the root task's IOSpace cap minted with its domain and request id.
    fn io_space(&mut self, bdf: Bdf, domain: u16) -> R<'a, IoSpace> {
        let Ok(badge) = iommu::iospace_badge(domain, bdf) else {
            return fail("minting the device's IO space", Cause::Msg("IO domain 0 is reserved"));
        };
        let slot = self.slots.alloc(1).ctx("allocating the IO space slot")?;
        ROOT.mint(slot, 64, ROOT.slot(init::IO_SPACE.0 .0), CapRights::ALL, CapData(u64::from(badge)))
            .ctx("minting the device's IO space (the kernel refuses IO domains below its first valid one, one per firmware RMRR)")?;
        Ok(IoSpace(CPtr(slot)))
    }

    /// Retypes and maps the IO page tables `ranges` need; returns how many.
    fn io_tables(&mut self, space: IoSpace, levels: usize, ranges: &[(u64, u64)]) -> R<'a, usize> {
        let mut result: R<'a> = Ok(());
        let n = iommu::plan_tables(levels, ranges, |t| {
            if result.is_err() {
                return;
            }
            result = self
                .object(ObjectType::IoPageTable, 0, 12)
                .ctx("allocating an IO page table")
                .and_then(|slot| IoPageTable(CPtr(slot)).map(space, t.io_addr).ctx("mapping an IO page table"));
        });
        result.map(|()| n)
    }

    /// Maps `count` 4 KiB frames (root slots `first..`, physically contiguous from `paddr`) into
    /// `space` at IO address = physical address, read-write. Each mapping uses a copy of the
    /// frame cap (a cap maps once; the PDs' mappings use the originals).
    fn map_io_frames(&mut self, space: IoSpace, first: u64, count: u64, paddr: u64) -> R<'a> {
        let copies = self.slots.alloc(count).ctx("allocating slots for the IO mappings")?;
        for k in 0..count {
            ROOT.copy(copies + k, 64, ROOT.slot(first + k), CapRights::ALL)
                .ctx("copying a frame cap for its IO mapping")?;
            let io = paddr + (k << 12);
            Page(CPtr(copies + k)).map_io(space, CapRights::READ_WRITE, io).ctx("mapping a frame into the IO space")?;
        }
        Ok(())
    }
}
