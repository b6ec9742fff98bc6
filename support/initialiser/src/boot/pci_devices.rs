//! The PCI devices a system names: finding one by vendor:device:index (for a BAR-backed
//! region or a `pci=` irq), and the host bridge's rule for routing INTx lines to IOAPIC
//! pins.

use core::fmt::Write;

use crate::pci::{self, IntxRule};
use crate::PortIo;

use super::error::{fail, Cause, Ctx, R};
use super::Builder;

impl<'a, W: Write, P: PortIo> Builder<'a, '_, W, P> {
    /// The PCI configuration-space rule for INTx lines, from the host bridge.
    pub(super) fn pci_rule(&mut self) -> R<'a, IntxRule> {
        if let Some(r) = self.rule {
            return Ok(r);
        }
        let id = pci::read_id(self.io, pci::Bdf { bus: 0, dev: 0, func: 0 }).ctx("reading the PCI host bridge")?;
        self.host_bridge = id;
        let rule = id.and_then(IntxRule::for_host_bridge);
        match rule {
            Some(r) => {
                self.rule = Some(r);
                Ok(r)
            }
            None => fail(
                "routing a PCI interrupt",
                Cause::MsgNum(
                    "unknown chipset, cannot map PCI INTx to an IOAPIC pin (known: Q35 8086:29c0, 440FX 8086:1237); \
                     use <irq pin=..> with the IOAPIC pin instead. Host bridge vendor:device",
                    id.map_or(0xffff_ffff, |i| (i.vendor as u64) << 16 | i.device as u64),
                ),
            ),
        }
    }

    pub(super) fn find_pci(&mut self, id: &spec::PciId, step: &'static str) -> R<'a, pci::Found> {
        let (vendor, device, index) = (id.vendor.get(), id.device.get(), id.index.get());
        match pci::find(self.io, vendor, device, index).ctx(step)? {
            Some(f) => Ok(f),
            None => fail(step, Cause::PciAbsent { vendor, device, index }),
        }
    }
}
