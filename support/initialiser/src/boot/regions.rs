//! Memory regions: device memory (fixed physical or a PCI BAR) taken at its address in
//! address order, RAM regions allocated contiguously, and the check that the kernel put
//! each region's frames where the untyped model says.

use core::fmt::Write;

use sel4::{CPtr, ObjectType, Page};

use crate::pci::{self, Bar};
use crate::PortIo;

use super::error::{fail, BootError, Cause, Ctx, R};
use super::{Builder, RegionObjs, MAX_REGIONS};

impl<'a, W: Write, P: PortIo> Builder<'a, '_, W, P> {
    /// `REGION_PHYS` and `REGION_PCI` regions: frames at their physical address, taken in
    /// address order (an untyped's watermark only moves up).
    pub(super) fn device_regions(&mut self) -> R<'a> {
        let spec = self.spec;
        let mut order = [(u64::MAX, 0usize); MAX_REGIONS];
        let mut n = 0;
        for (i, r) in spec.regions.iter().enumerate() {
            let name = spec.str(&r.name);
            let in_region = |e: BootError<'a>| BootError { region: Some(name), ..e };
            let size = r.size.get();
            let bits = r.page_bits as u32;
            if !(bits == 12 || bits == 21) || size == 0 || size % (1 << bits) != 0 {
                return fail(
                    "checking the region",
                    Cause::MsgNum("size must be a non-zero multiple of the page size; size is", size),
                )
                .map_err(in_region);
            }
            let mut mapped = size;
            let paddr = match r.kind {
                spec::REGION_RAM => continue,
                spec::REGION_PHYS => r.phys_addr.get(),
                spec::REGION_PCI => {
                    let (f, which) = self.find_pci(r.pci_candidates(), "finding the PCI device").map_err(in_region)?;
                    let bar_no = r.bar_of(which);
                    let alternatives = r.pci_candidates().count() > 1;
                    let bar = pci::probe_bar(self.io, f.bdf, bar_no).ctx("reading the BAR").map_err(in_region)?;
                    let (addr, bar_size) = match bar {
                        Bar::Memory { addr, size, .. } => (addr, size),
                        Bar::Io { port, size } => {
                            return fail(
                                "reading the BAR",
                                Cause::BadBar {
                                    bar: bar_no,
                                    what: "is an I/O BAR: grant its ports with <ioport> instead",
                                    addr: port as u64,
                                    size: size as u64,
                                },
                            )
                            .map_err(in_region)
                        }
                        Bar::Absent => {
                            return fail(
                                "reading the BAR",
                                Cause::BadBar {
                                    bar: bar_no,
                                    what: "is not implemented by the device",
                                    addr: 0,
                                    size: 0,
                                },
                            )
                            .map_err(in_region)
                        }
                    };
                    // With alternatives the region is the largest window any of them needs; a
                    // smaller BAR is mapped whole and the rest of the window stays unmapped
                    // (never the device memory beyond the BAR). A BAR below a page cannot be
                    // mapped alone.
                    if alternatives && size > bar_size && bar_size >= 1 << bits {
                        mapped = bar_size & !((1u64 << bits) - 1);
                    } else if size > bar_size {
                        return fail(
                            "checking the BAR",
                            Cause::BadBar { bar: bar_no, what: "is smaller than the region", addr, size: bar_size },
                        )
                        .map_err(in_region);
                    }
                    if addr == 0 {
                        return fail(
                            "checking the BAR",
                            Cause::BadBar {
                                bar: bar_no,
                                what: "was never assigned an address by the firmware",
                                addr,
                                size: bar_size,
                            },
                        )
                        .map_err(in_region);
                    }
                    self.check_confinement_required(i)?;
                    self.region_pci[i] = Some((f.bdf, f.id));
                    pci::enable(self.io, f.bdf, pci::CMD_MEMORY | pci::CMD_BUS_MASTER)
                        .ctx("enabling the PCI device")
                        .map_err(in_region)?;
                    self.say(format_args!(
                        "initialiser: region '{name}': PCI {:02x}:{:02x}.{} ({:04x}:{:04x}) BAR {} at {addr:#x} ({bar_size:#x} bytes)\n",
                        f.bdf.bus, f.bdf.dev, f.bdf.func, f.id.vendor, f.id.device, bar_no
                    ));
                    if mapped < size {
                        self.say(format_args!(
                            "initialiser: region '{name}': only the BAR's {mapped:#x} bytes of the {size:#x}-byte window are mapped\n"
                        ));
                    }
                    addr
                }
                _ => {
                    return fail("reading the system spec", Cause::MsgNum("unknown region kind", r.kind as u64))
                        .map_err(in_region)
                }
            };
            if paddr % (1 << bits) != 0 {
                return fail(
                    "checking the region",
                    Cause::MsgNum("physical address is not aligned to the page size:", paddr),
                )
                .map_err(in_region);
            }
            self.regions[i] = RegionObjs { first: 0, count: mapped >> bits, page_bits: bits as u8, paddr };
            order[n] = (paddr, i);
            n += 1;
        }
        order[..n].sort_unstable();
        for w in order[..n].windows(2) {
            let (a, ia) = w[0];
            let ra = self.regions[ia];
            if a + (ra.count << ra.page_bits) > w[1].0 {
                let name = spec.str(&spec.regions[w[1].1].name);
                return fail(
                    "placing device memory",
                    Cause::MsgNum("overlaps another region's physical memory at", w[1].0),
                )
                .map_err(|e| BootError { region: Some(name), ..e });
            }
        }
        for &(paddr, i) in &order[..n] {
            let r = self.regions[i];
            let ty = if r.page_bits == 21 { ObjectType::LargePage } else { ObjectType::Page4K };
            let name = spec.str(&spec.regions[i].name);
            let first = self
                .objects_at(paddr, ty, r.page_bits as u32, r.count)
                .ctx("taking its frames from device memory")
                .map_err(|e| BootError { region: Some(name), ..e })?;
            self.regions[i].first = first;
            self.check_paddr(i)?;
        }
        Ok(())
    }

    /// Verifies our untyped model against the kernel: the region's first frame must be where
    /// we expected it.
    pub(super) fn check_paddr(&mut self, i: usize) -> R<'a> {
        let r = self.regions[i];
        let got = Page(CPtr(r.first)).get_address().ctx("reading the frame address")?;
        if got != r.paddr {
            let name = self.spec.str(&self.spec.regions[i].name);
            return fail(
                "checking the frame address",
                Cause::MsgNum("the kernel placed the frames elsewhere (untyped model bug); got", got),
            )
            .map_err(|e| BootError { region: Some(name), ..e });
        }
        Ok(())
    }

    /// RAM regions: physically contiguous, zeroed by the kernel (fresh untyped memory).
    pub(super) fn ram_regions(&mut self) -> R<'a> {
        let spec = self.spec;
        for (i, r) in spec.regions.iter().enumerate() {
            if r.kind != spec::REGION_RAM {
                continue;
            }
            let name = spec.str(&r.name);
            let bits = r.page_bits as u32;
            let count = r.size.get() >> bits;
            let ty = if bits == 21 { ObjectType::LargePage } else { ObjectType::Page4K };
            let (first, paddr) = self
                .objects(ty, 0, bits, count)
                .ctx("allocating its frames")
                .map_err(|e| BootError { region: Some(name), ..e })?;
            self.stats.frames += count;
            self.regions[i] = RegionObjs { first, count, page_bits: bits as u8, paddr };
            self.check_paddr(i)?;
        }
        Ok(())
    }
}
