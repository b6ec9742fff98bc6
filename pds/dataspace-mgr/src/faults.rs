//! Driver faults: a faulted driver's requests are refused while its pins stay in force (its
//! device may still do DMA); after the device reset its pins, attachments and cache go.

use dataspace_api::msg::MgrError;
use dataspace_api::PdId;

use crate::state::Pin;
use crate::Manager;

impl Manager<'_> {
    /// The monitor reports `driver` faulted: its requests are refused from now on and its
    /// pins stay in force until [`Manager::device_reset`] (its device may still do DMA).
    pub fn driver_faulted(&mut self, driver: PdId) -> Result<(), MgrError> {
        let d = self.driver_index(driver)?;
        self.drivers[d].faulted = true;
        Ok(())
    }

    /// `driver`'s device has been reset after a fault: every pin it held is dropped, every
    /// attachment removed and its whole cache invalidated, and it may make requests again
    /// (its restarted instance re-attaches as clients reopen sessions). Returns (pinned pages
    /// released, attachments removed).
    pub fn device_reset(&mut self, driver: PdId) -> Result<(u32, u32), MgrError> {
        let d = self.driver_index(driver)?;
        let drv = &mut self.drivers[d];
        if !drv.faulted {
            return Err(MgrError::NotFaulted);
        }
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
