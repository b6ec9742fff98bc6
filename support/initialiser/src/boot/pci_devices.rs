//! The PCI devices a system names: finding one by vendor:device:index (for a BAR-backed
//! region or a `pci=` irq; with alternatives, the first present in the listed order), and the
//! host bridge's rule for routing INTx lines to IOAPIC pins.

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

    /// The first of `candidates` (a region's or irq's `pci=` alternatives, in order) that is
    /// present, and its position among them.
    pub(super) fn find_pci<'c>(
        &mut self,
        candidates: impl Iterator<Item = &'c spec::PciId>,
        step: &'static str,
    ) -> R<'a, (pci::Found, usize)> {
        let mut tried = [spec::PciId::default(); spec::PCI_ALTERNATIVES];
        let mut n = 0;
        for id in candidates.take(spec::PCI_ALTERNATIVES) {
            let (vendor, device, index) = (id.vendor.get(), id.device.get(), id.index.get());
            if let Some(f) = pci::find(self.io, vendor, device, index).ctx(step)? {
                return Ok((f, n));
            }
            tried[n] = *id;
            n += 1;
        }
        match n {
            1 => {
                let id = tried[0];
                fail(step, Cause::PciAbsent { vendor: id.vendor.get(), device: id.device.get(), index: id.index.get() })
            }
            _ => fail(step, Cause::PciNoneOf { ids: tried, n }),
        }
    }
}
