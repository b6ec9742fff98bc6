//! Program images: each ELF segment gets fresh frames, filled through the scratch window
//! with the boot-time setvar patches (a region's physical address, the PCI id bound to a
//! region, the TSC frequency) written in. The monitor fills frames the same way to restore a PD it restarts.

use core::fmt::Write;

use sel4::{init, CPtr, CapRights, InvocationError, Page, VmAttributes};
use spec::{PatchRec, PdRec, Spec};

use crate::PortIo;

use super::error::{fail, Cause, Ctx, R};
use super::{Builder, PAGE, SCRATCH};

/// Fills the frame `page` (not mapped anywhere else in the root task) with one page of PD `pd`'s
/// image: `data` (at most a page) at its start, zeros after it when `zero_rest` (a fresh frame
/// is zero already; a reused one is not), and every boot-time patch of `pd` that falls in the
/// page, valued by `patch_value(patch)`. Maps it at [`SCRATCH`] meanwhile. Returns the number
/// of patch bytes written.
pub fn fill_page(
    spec: &Spec<'_>,
    pd: usize,
    page: Page,
    page_vaddr: u64,
    data: &[u8],
    zero_rest: bool,
    patch_value: impl Fn(&PatchRec) -> u64,
) -> Result<u64, InvocationError> {
    page.map(init::VSPACE, SCRATCH, CapRights::READ_WRITE, VmAttributes::WriteBack)?;
    let dst = SCRATCH as *mut u8;
    let n = data.len().min(PAGE as usize);
    // SAFETY: the frame was just mapped read-write at SCRATCH (4 KiB, nothing else lives
    // there) and `n` is at most one page.
    unsafe { core::ptr::copy_nonoverlapping(data.as_ptr(), dst, n) };
    if zero_rest {
        // SAFETY: `n..PAGE` lies inside the scratch page mapped above.
        unsafe { core::ptr::write_bytes(dst.add(n), 0, PAGE as usize - n) };
    }
    let mut patched = 0;
    for p in spec.patches.iter().filter(|p| p.pd.get() as usize == pd) {
        let value = patch_value(p).to_le_bytes();
        for (k, byte) in value.iter().enumerate() {
            let a = p.vaddr.get().wrapping_add(k as u64);
            if (page_vaddr..page_vaddr + PAGE).contains(&a) {
                // SAFETY: `a - page_vaddr` < 4096, inside the scratch page mapped above.
                unsafe { dst.add((a - page_vaddr) as usize).write_volatile(*byte) };
                patched += 1;
            }
        }
    }
    page.unmap()?;
    Ok(patched)
}

/// The value of a boot-time patch: the TSC frequency, region `r`'s physical address
/// (`region_paddr(r)`), or the `vendor << 16 | device` of the PCI function bound to region `r`
/// (`region_pci_id(r)`, 0 if none was). The boot and the monitor's restart look regions up in
/// their own tables.
pub fn patch_value(
    p: &PatchRec,
    tsc_hz: u64,
    region_paddr: impl Fn(usize) -> u64,
    region_pci_id: impl Fn(usize) -> u64,
) -> u64 {
    let r = p.region.get() as usize;
    match (p.kind.get(), p.region.get()) {
        (spec::PATCH_PADDR, spec::PATCH_TSC_HZ) => tsc_hz,
        (spec::PATCH_PCI_ID, _) => region_pci_id(r),
        _ => region_paddr(r),
    }
}

/// `vendor << 16 | device`, as a `region_pci_id` setvar receives it.
pub fn pci_id_value(id: crate::pci::Id) -> u64 {
    (id.vendor as u64) << 16 | id.device as u64
}

impl<'a, W: Write, P: PortIo> Builder<'a, '_, W, P> {
    /// Copies one page of a segment (and any boot-time patches in it) into `frame` through the
    /// scratch window. Returns how many patch bytes landed in this page.
    pub(super) fn fill(&mut self, i: usize, frame: u64, page_vaddr: u64, data: &[u8]) -> R<'a, u64> {
        let (tsc_hz, regions, bound) = (self.tsc_hz, &self.regions, &self.region_pci);
        let value = |p: &PatchRec| {
            patch_value(
                p,
                tsc_hz,
                |r| regions.get(r).map_or(0, |o| o.paddr),
                |r| bound.get(r).copied().flatten().map_or(0, |(_, id)| pci_id_value(id)),
            )
        };
        fill_page(&self.spec, i, Page(CPtr(frame)), page_vaddr, data, false, value)
            .ctx("filling a program image page through the scratch window")
    }

    /// ELF segments: fresh frames, filled through the scratch window, then mapped.
    pub(super) fn load_image(&mut self, i: usize, pd: PdRec) -> R<'a> {
        let spec = self.spec;
        let mut patched = 0;
        for (k, seg) in spec.pd_segments(&pd).iter().enumerate() {
            let vaddr = seg.vaddr.get();
            if vaddr % PAGE != 0 {
                return fail("loading the program image", Cause::MsgNum("segment not page aligned at", vaddr));
            }
            let pages = seg.mem_size.get().div_ceil(PAGE);
            let data = spec.segment_data(seg);
            let first = self.frames(pages).ctx("allocating program image frames")?;
            if let Some(slot) = self.seg_frames.get_mut(pd.segments.first.get() as usize + k) {
                *slot = first;
            }
            for k in 0..pages {
                let lo = (k * PAGE) as usize;
                let chunk = data.get(lo..data.len().min(lo + PAGE as usize)).unwrap_or(&[]);
                patched += self.fill(i, first + k, vaddr + k * PAGE, chunk)?;
                self.map(i, first + k, vaddr + k * PAGE, 12, seg.perms & spec::PERM_W != 0, true)?;
            }
        }
        let want = spec.patches.iter().filter(|p| p.pd.get() as usize == i).count() as u64 * 8;
        if patched != want {
            return fail(
                "applying boot-time setvars",
                Cause::Msg(
                    "a setvar symbol (region_paddr, or the info block's tsc_hz) lies outside the loaded segments",
                ),
            );
        }
        Ok(())
    }
}
