//! A PD's IRQs: an IOAPIC pin, a PCI device's INTx line routed to one, or a PCI device's MSI
//! (its capability programmed here, the handler from `IRQControl_GetMSI`), claimed from
//! IRQControl, delivered to the PD's notification with badge `1 << id` and unmasked.

use core::fmt::Write;

use sel4::{init, CNode, CPtr, CapData, CapRights, IrqHandler, Notification};
use spec::{cspace, PdRec};

use crate::pci;
use crate::PortIo;

use super::error::{fail, Cause, Ctx, CtxData, R};
use super::{Builder, PdObjs, ROOT};

impl<'a, W: Write, P: PortIo> Builder<'a, '_, W, P> {
    /// IRQs, delivered to the PD's notification with badge 1 << id, unmasked.
    pub(super) fn install_irqs(&mut self, name: &str, pd: PdRec, cn: CNode, objs: PdObjs) -> R<'a> {
        let spec = self.spec;
        for irq in spec.pd_irqs(&pd) {
            if irq.id >= cspace::NOTIFY_ID_LIMIT {
                return fail("installing an irq", Cause::MsgNum("irq ids must be below 27; id", irq.id as u64));
            }
            let handler = self.slots.alloc(2).ctx("allocating slots")?;
            if irq.kind == spec::IRQ_PCI && irq.msi != 0 {
                let (f, _) = self.find_pci(irq.pci_candidates(), "finding the PCI device of an irq")?;
                match pci::find_capability(self.io, f.bdf, pci::CAP_MSI).ctx("reading the capability list")? {
                    Some(cap) => {
                        // seL4 delivers user IRQ `vector` on CPU vector 0x30 + vector; the
                        // message goes to the boot CPU's local APIC, id 0 (this kernel runs
                        // on one CPU; QEMU's and almost every PC's boot CPU has APIC id 0).
                        pci::enable_msi(self.io, f.bdf, cap, 0, 0x30 + irq.vector)
                            .ctx("programming the MSI capability")?;
                        pci::enable(self.io, f.bdf, pci::CMD_BUS_MASTER | pci::CMD_MEMORY)
                            .ctx("enabling the PCI device")?;
                        init::IRQ_CONTROL
                            .get_msi(
                                ROOT.slot(handler),
                                f.bdf.bus as u64,
                                f.bdf.dev as u64,
                                f.bdf.func as u64,
                                0,
                                irq.vector as u64,
                            )
                            .ctx("claiming the MSI (IRQControl_GetMSI)")?;
                        self.say(format_args!(
                            "initialiser: PD '{name}' irq {}: PCI {:02x}:{:02x}.{} ({:04x}:{:04x}) MSI -> vector {}\n",
                            irq.id, f.bdf.bus, f.bdf.dev, f.bdf.func, f.id.vendor, f.id.device, irq.vector
                        ));
                        self.deliver(irq, handler, cn, objs)?;
                        continue;
                    }
                    None => self.say(format_args!(
                        "initialiser: PD '{name}' irq {}: PCI {:02x}:{:02x}.{} ({:04x}:{:04x}) has no MSI capability; using its INTx line\n",
                        irq.id, f.bdf.bus, f.bdf.dev, f.bdf.func, f.id.vendor, f.id.device
                    )),
                }
            }
            let (ioapic, pin, level, low) = match irq.kind {
                spec::IRQ_IOAPIC => (irq.ioapic as u64, irq.pin as u64, irq.level as u64, irq.active_low as u64),
                spec::IRQ_PCI => {
                    let rule = self.pci_rule()?;
                    let (f, _) = self.find_pci(irq.pci_candidates(), "finding the PCI device of an irq")?;
                    let pin = pci::interrupt_pin(self.io, f.bdf).ctx("reading the Interrupt Pin register")?;
                    let line = pci::interrupt_line(self.io, f.bdf).ctx("reading the Interrupt Line register")?;
                    let Some(gsi) = rule.gsi(&f, pin, line) else {
                        return fail(
                            "routing a PCI interrupt",
                            Cause::MsgNum("the device has no usable INTx line; Interrupt Pin register", pin as u64),
                        );
                    };
                    pci::enable(self.io, f.bdf, pci::CMD_BUS_MASTER | pci::CMD_MEMORY)
                        .ctx("enabling the PCI device")?;
                    self.say(format_args!(
                        "initialiser: PD '{name}' irq {}: PCI {:02x}:{:02x}.{} ({:04x}:{:04x}) INT{} -> IOAPIC pin {gsi} ({:?} rule), vector {}\n",
                        irq.id, f.bdf.bus, f.bdf.dev, f.bdf.func, f.id.vendor, f.id.device,
                        (b'A' + pin - 1) as char, rule, irq.vector
                    ));
                    (0, gsi as u64, irq.level as u64, irq.active_low as u64)
                }
                k => return fail("reading the system spec", Cause::MsgNum("unknown irq kind", k as u64)),
            };
            init::IRQ_CONTROL
                .get_ioapic(ROOT.slot(handler), ioapic, pin, level, low, irq.vector as u64)
                .ctx("claiming the IOAPIC pin (IRQControl_GetIOAPIC)")?;
            self.deliver(irq, handler, cn, objs)?;
        }
        Ok(())
    }

    /// The claimed handler in root slot `handler` (slot `handler + 1` is free): delivered to
    /// the PD's notification with badge `1 << id`, unmasked, installed in the PD's CSpace.
    fn deliver(&mut self, irq: &spec::IrqRec, handler: u64, cn: CNode, objs: PdObjs) -> R<'a> {
        let depth = cspace::CNODE_BITS;
        let data = CapData::badge(1 << irq.id).ctx_data("badging an irq")?;
        ROOT.mint(handler + 1, 64, ROOT.slot(objs.notification), CapRights::WRITE, data)
            .ctx("badging the notification")?;
        let h = IrqHandler(CPtr(handler));
        h.set_notification(Notification(CPtr(handler + 1))).ctx("IRQHandler_SetNotification")?;
        h.ack().ctx("unmasking the irq")?;
        cn.copy(cspace::IRQ_BASE + irq.id as u64, depth, ROOT.slot(handler), CapRights::ALL)
            .ctx("installing the irq handler")?;
        Ok(())
    }
}
