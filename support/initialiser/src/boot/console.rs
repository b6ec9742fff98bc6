//! The monitor's console input: COM1's receive interrupt (ISA IRQ 4, IOAPIC pin 4, edge,
//! active high) delivered to a notification bound to the initialiser's own TCB, so the
//! monitor's one `Recv` on the fault endpoint also wakes for typed bytes (badge
//! [`CONSOLE_BADGE`]). The kernel prints on COM1 by polling with the UART's interrupts off;
//! only the receive-data interrupt is switched on here. A vector no PD's IRQ uses is taken.

use core::fmt::Write;

use sel4::{init, CPtr, CapData, CapRights, IrqHandler, Notification, ObjectType};

use crate::PortIo;

use super::error::{Ctx, CtxData, R};
use super::{Builder, ROOT};

/// Notification badge of a console interrupt (above every PD index the fault endpoint's badges
/// carry, below seL4 5.0's 28 badge bits).
pub const CONSOLE_BADGE: u64 = 1 << 27;
/// COM1's I/O ports.
pub const COM1: u16 = 0x3f8;
/// COM1's ISA IRQ, which QEMU and PCs wire to IOAPIC pin 4.
const COM1_PIN: u64 = 4;

/// The console's IRQ handler (root slot), once set up.
#[derive(Copy, Clone, Debug, Default)]
pub struct ConsoleCaps {
    /// IRQ handler cap for COM1's receive interrupt (0: no console input).
    pub irq: u64,
}

impl<'a, W: Write, P: PortIo> Builder<'a, '_, W, P> {
    /// Sets up console input; the PDs' IRQs are already claimed, so the vector is a free one.
    pub(super) fn console(&mut self) -> R<'a, ConsoleCaps> {
        let used = |v: u64| self.spec.irqs.iter().any(|i| u64::from(i.vector) == v);
        let vector = (0..=107u64).rev().find(|&v| !used(v)).unwrap_or(107);
        let ntfn = self.object(ObjectType::Notification, 0, 5).ctx("creating the console notification")?;
        init::TCB.bind_notification(Notification(CPtr(ntfn))).ctx("binding the console notification to the monitor")?;
        let handler = self.slots.alloc(2).ctx("allocating console slots")?;
        init::IRQ_CONTROL
            .get_ioapic(ROOT.slot(handler), 0, COM1_PIN, 0, 0, vector)
            .ctx("claiming COM1's IOAPIC pin 4 (IRQControl_GetIOAPIC)")?;
        let data = CapData::badge(CONSOLE_BADGE).ctx_data("badging the console notification")?;
        ROOT.mint(handler + 1, 64, ROOT.slot(ntfn), CapRights::WRITE, data).ctx("badging the console notification")?;
        let h = IrqHandler(CPtr(handler));
        h.set_notification(Notification(CPtr(handler + 1))).ctx("IRQHandler_SetNotification (console)")?;
        // Receive-data-available interrupt on (IER bit 0); the kernel set OUT2 in MCR already.
        init::IO_PORT.out8(COM1 + 1, 0x01).ctx("enabling COM1's receive interrupt")?;
        // Drop anything typed during boot, then let the first byte raise the line.
        while init::IO_PORT.in8(COM1 + 5).map(|lsr| lsr & 1 != 0).unwrap_or(false) {
            let _ = init::IO_PORT.in8(COM1);
        }
        h.ack().ctx("unmasking the console irq")?;
        Ok(ConsoleCaps { irq: handler })
    }
}
