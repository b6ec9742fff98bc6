//! Address spaces: the root task's scratch window (where frames are filled), the paging
//! structures a PD's page needs, frame mappings, and a PD's stack, IPC buffer and
//! `<map>`ped memory regions.

use core::fmt::Write;

use sel4::{init, CPtr, CapRights, ObjectType, Page, PageDirectory, PageTable, Pdpt, Pml4, VmAttributes};
use spec::{MapRec, PdRec};

use crate::vspace::Level;
use crate::PortIo;

use super::error::{BootError, Ctx, R};
use super::{Builder, PdObjs, PAGE, ROOT, SCRATCH};

impl<'a, W: Write, P: PortIo> Builder<'a, '_, W, P> {
    /// Paging structures for the scratch page in our own address space.
    pub(super) fn scratch(&mut self) -> R<'a> {
        let vs = init::VSPACE;
        let pdpt = self.object(ObjectType::Pdpt, 0, 12).ctx("creating the scratch window")?;
        Pdpt(CPtr(pdpt)).map(vs, SCRATCH, VmAttributes::WriteBack).ctx("mapping the scratch PDPT")?;
        let pd = self.object(ObjectType::PageDirectory, 0, 12).ctx("creating the scratch window")?;
        PageDirectory(CPtr(pd)).map(vs, SCRATCH, VmAttributes::WriteBack).ctx("mapping the scratch page directory")?;
        let pt = self.object(ObjectType::PageTable, 0, 12).ctx("creating the scratch window")?;
        PageTable(CPtr(pt)).map(vs, SCRATCH, VmAttributes::WriteBack).ctx("mapping the scratch page table")?;
        Ok(())
    }

    /// Creates the paging structures a page at `vaddr` needs in PD `i`'s address space.
    pub(super) fn paging(&mut self, i: usize, vaddr: u64, page_bits: u8) -> R<'a> {
        let vs = Pml4(CPtr(self.pds[i].vspace));
        let (need, k) = self.plan.plan(vaddr, page_bits).ctx("planning page tables")?;
        for n in need.iter().take(k).flatten() {
            let (ty, step) = match n.level {
                Level::Pdpt => (ObjectType::Pdpt, "creating a PDPT"),
                Level::Pd => (ObjectType::PageDirectory, "creating a page directory"),
                Level::Pt => (ObjectType::PageTable, "creating a page table"),
            };
            let slot = self.object(ty, 0, 12).ctx(step)?;
            let a = VmAttributes::WriteBack;
            match n.level {
                Level::Pdpt => Pdpt(CPtr(slot)).map(vs, n.vaddr, a),
                Level::Pd => PageDirectory(CPtr(slot)).map(vs, n.vaddr, a),
                Level::Pt => PageTable(CPtr(slot)).map(vs, n.vaddr, a),
            }
            .ctx("mapping a paging structure")?;
            self.stats.paging += 1;
        }
        Ok(())
    }

    pub(super) fn map(&mut self, i: usize, frame: u64, vaddr: u64, page_bits: u8, write: bool, cached: bool) -> R<'a> {
        self.paging(i, vaddr, page_bits)?;
        let rights = if write { CapRights::READ_WRITE } else { CapRights::READ };
        let attr = if cached { VmAttributes::WriteBack } else { VmAttributes::CacheDisabled };
        Page(CPtr(frame)).map(Pml4(CPtr(self.pds[i].vspace)), vaddr, rights, attr).ctx("mapping a frame")
    }

    /// Stack (the page below stack_bottom stays unmapped: the guard) and IPC buffer.
    pub(super) fn map_stack_and_ipc_buffer(&mut self, i: usize, pd: PdRec, objs: PdObjs) -> R<'a> {
        let stack_pages = pd.stack_size.get() / PAGE;
        let stack = self.frames(stack_pages).ctx("allocating the stack")?;
        for k in 0..stack_pages {
            self.map(i, stack + k, pd.stack_bottom.get() + k * PAGE, 12, true, true)?;
        }
        self.map(i, objs.ipc_frame, pd.ipc_buffer.get(), 12, true, true)?;
        Ok(())
    }

    /// Memory regions: a copy of each frame cap per mapping (a cap maps once).
    pub(super) fn map_regions(&mut self, i: usize, maps: &[MapRec]) -> R<'a> {
        let spec = self.spec;
        for m in maps {
            let ri = m.region.get() as usize;
            let r = self.regions[ri];
            let rname = spec.str(&spec.regions[ri].name);
            let in_region = |e: BootError<'a>| BootError { region: Some(rname), ..e };
            let copies = self.slots.alloc(r.count).ctx("copying frame caps").map_err(in_region)?;
            for k in 0..r.count {
                ROOT.copy(copies + k, 64, ROOT.slot(r.first + k), CapRights::ALL)
                    .ctx("copying a frame cap")
                    .map_err(in_region)?;
                let va = m.vaddr.get() + (k << r.page_bits);
                self.map(i, copies + k, va, r.page_bits, m.perms & spec::PERM_W != 0, m.cached != 0)
                    .map_err(in_region)?;
            }
        }
        Ok(())
    }
}
