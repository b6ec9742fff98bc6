//! Kernel objects from the bootinfo untypeds: retypes into fresh root slots (within the
//! kernel's fan-out limit), contiguous RAM objects, loose 4 KiB frames, and objects at an
//! exact physical address (device memory) behind untyped fillers.

use core::fmt::Write;

use sel4::{CPtr, ObjectType, Untyped};

use crate::alloc::fillers;
use crate::PortIo;

use super::error::Cause;
use super::{Builder, FAN_OUT, ROOT};

impl<'a, W: Write, P: PortIo> Builder<'a, '_, W, P> {
    /// Retypes `count` objects from the chosen untyped into fresh root slots (in calls of at
    /// most 256); returns the first slot.
    pub(super) fn retype_from(&mut self, ut: u64, ty: ObjectType, size_arg: u64, count: u64) -> Result<u64, Cause> {
        let first = self.slots.alloc(count)?;
        let mut done = 0;
        while done < count {
            let n = (count - done).min(FAN_OUT);
            Untyped(CPtr(ut)).retype(ty, size_arg, ROOT, 0, 0, first + done, n)?;
            done += n;
        }
        Ok(first)
    }

    /// `count` contiguous RAM objects of 2^`bits` bytes.
    pub(super) fn objects(
        &mut self,
        ty: ObjectType,
        size_arg: u64,
        bits: u32,
        count: u64,
    ) -> Result<(u64, u64), Cause> {
        let carve = self.uts.alloc_ram(bits, count)?;
        let first = self.retype_from(carve.cap, ty, size_arg, count)?;
        Ok((first, carve.paddr))
    }

    pub(super) fn object(&mut self, ty: ObjectType, size_arg: u64, bits: u32) -> Result<u64, Cause> {
        Ok(self.objects(ty, size_arg, bits, 1)?.0)
    }

    /// `count` 4 KiB frames, not necessarily contiguous (chunks of up to 256), in consecutive
    /// root slots.
    pub(super) fn frames(&mut self, count: u64) -> Result<u64, Cause> {
        let first = self.slots.alloc(count)?;
        let mut done = 0;
        while done < count {
            let n = (count - done).min(FAN_OUT);
            let carve = self.uts.alloc_ram(12, n)?;
            Untyped(CPtr(carve.cap)).retype(ObjectType::Page4K, 0, ROOT, 0, 0, first + done, n)?;
            done += n;
        }
        self.stats.frames += count;
        Ok(first)
    }

    /// Frames (or any objects) at exactly physical `paddr`, from the untyped covering it:
    /// untyped fillers move its watermark there first.
    pub(super) fn objects_at(&mut self, paddr: u64, ty: ObjectType, bits: u32, count: u64) -> Result<u64, Cause> {
        let bytes = count << bits;
        let i = self.uts.covering(paddr, bytes)?;
        let ut = self.uts.get(i).cap;
        let mut at = self.uts.watermark(i);
        for fb in fillers(at, paddr) {
            let slot = self.slots.alloc(1)?;
            Untyped(CPtr(ut)).retype(ObjectType::Untyped, fb as u64, ROOT, 0, 0, slot, 1)?;
            at += 1 << fb;
            self.uts.commit(i, at);
        }
        let first = self.retype_from(ut, ty, 0, count)?;
        self.uts.commit(i, paddr + bytes);
        Ok(first)
    }
}
