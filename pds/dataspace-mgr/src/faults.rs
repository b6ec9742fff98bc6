//! Driver faults: a faulted driver's requests are refused while its pins stay in force (its
//! device may still do DMA); after the device reset its pins, attachments and cache go.
//!
//! The monitor's fault notice and the restarted instance's DEVICE_RESET may arrive in either
//! order, so both carry a count: the notice the driver's faults so far, the reset the
//! instance's generation (the faults before it started). A notice counting no more faults
//! than the live instance's generation is about an instance that reset already replaced, and
//! changes nothing; a reset from a newer generation recovers everything older instances held,
//! notice or not.

use dataspace_api::msg::MgrError;
use dataspace_api::PdId;

use crate::state::Pin;
use crate::Manager;

impl Manager<'_> {
    /// The monitor reports `driver` faulted, `faults` times in all: unless the live instance
    /// is newer than that (a stale notice: [`MgrError::NotFaulted`]), its requests are refused
    /// from now on and its pins stay in force until [`Manager::device_reset`] (its device may
    /// still do DMA).
    pub fn driver_faulted(&mut self, driver: PdId, faults: u32) -> Result<(), MgrError> {
        let d = self.driver_index(driver)?;
        let drv = &mut self.drivers[d];
        if faults <= drv.instance {
            return Err(MgrError::NotFaulted);
        }
        drv.faulted = true;
        Ok(())
    }

    /// `driver`'s device has been reset by its instance of `generation` (after a fault, or at
    /// its first start, generation 0): if that instance is newer than the live one, or the
    /// live one faulted, every pin the older instances held is dropped, every attachment
    /// removed and the whole cache invalidated, and the driver may make requests again (its
    /// new instance re-attaches as clients reopen sessions). Returns (pinned pages released,
    /// attachments removed). Nothing to recover (a first start, or a repeated reset) is
    /// [`MgrError::NotFaulted`]; a generation older than the live one is refused.
    pub fn device_reset(&mut self, driver: PdId, generation: u32) -> Result<(u32, u32), MgrError> {
        let d = self.driver_index(driver)?;
        let drv = &mut self.drivers[d];
        if generation < drv.instance {
            return Err(MgrError::NotAuthorized);
        }
        if generation == drv.instance && !drv.faulted {
            return Err(MgrError::NotFaulted);
        }
        drv.instance = generation;
        let (mut pins, mut attachments) = (0, 0);
        for binding in &mut drv.bindings {
            pins += binding.pins.iter().filter(|p| p.refs > 0).count() as u32;
            binding.pins.fill(Pin::default());
            if binding.attached.take().is_some() {
                attachments += 1;
            }
        }
        for i in 0..drv.writer.len() {
            let _ = drv.writer.invalidate(i);
        }
        drv.held = 0;
        drv.faulted = false;
        Ok((pins, attachments))
    }
}
