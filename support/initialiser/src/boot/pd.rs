//! One protection domain, in two passes: pass 1 creates the objects other PDs' caps refer
//! to (TCB, CNode, address space, notification, endpoint); pass 2 fills its address space
//! and CSpace (each step in its own file), then configures and starts its thread.

use core::fmt::Write;

use sel4::{init, CNode, CPtr, CapData, Notification, ObjectType, Page, Pml4, PrioProps, Tcb, UserContext};
use spec::{cspace, PdRec};

use crate::fault::PdLayout;
use crate::PortIo;

use super::error::{Ctx, CtxData, R};
use super::{Builder, PdObjs};

impl<'a, W: Write, P: PortIo> Builder<'a, '_, W, P> {
    /// Pass 1: the objects peers' caps refer to (TCB, CNode, VSpace, notification, endpoint).
    pub(super) fn pd_objects(&mut self, i: usize) -> R<'a> {
        let pd = self.spec.pds[i];
        let tcb = self.object(ObjectType::Tcb, 0, 11).ctx("creating the TCB")?;
        let cnode = self
            .object(ObjectType::CapTable, cspace::CNODE_BITS as u64, cspace::CNODE_BITS as u32 + sel4::SLOT_BITS)
            .ctx("creating the CNode")?;
        let vspace = self.object(ObjectType::Pml4, 0, 12).ctx("creating the address space")?;
        init::ASID_POOL.assign(Pml4(CPtr(vspace))).ctx("assigning an ASID")?;
        let notification = self.object(ObjectType::Notification, 0, 5).ctx("creating the notification")?;
        let endpoint = if pd.flags & spec::PD_HAS_ENDPOINT != 0 {
            self.object(ObjectType::Endpoint, 0, 4).ctx("creating the endpoint")?
        } else {
            0
        };
        let ipc_frame = self.frames(1).ctx("creating the IPC buffer")?;
        Tcb(CPtr(tcb)).bind_notification(Notification(CPtr(notification))).ctx("binding the notification")?;
        self.pds[i] = PdObjs {
            tcb,
            cnode,
            vspace,
            notification,
            endpoint,
            ipc_frame,
            layout: PdLayout { stack_bottom: pd.stack_bottom.get() },
        };
        Ok(())
    }

    /// Pass 2: address space, caps, TCB, start.
    pub(super) fn pd_start(&mut self, i: usize) -> R<'a> {
        let spec = self.spec;
        let pd: PdRec = spec.pds[i];
        let name = spec.str(&pd.name);
        let objs = self.pds[i];
        self.plan.clear();

        self.load_image(i, pd)?;
        self.map_stack_and_ipc_buffer(i, pd, objs)?;
        let maps = spec.pd_maps(&pd);
        self.map_regions(i, maps)?;

        // The PD's CSpace: only what its entries grant.
        let cn = CNode(CPtr(objs.cnode));
        self.install_own_caps(i, cn, objs)?;
        let channels = self.install_channels(i, cn)?;
        self.install_irqs(name, pd, cn, objs)?;
        self.install_ioports(pd, cn)?;

        // The thread.
        let tcb = Tcb(CPtr(objs.tcb));
        let guard = CapData::guard(0, 64 - cspace::CNODE_BITS as u32).ctx_data("encoding the CNode guard")?;
        tcb.configure(
            CPtr(cspace::FAULT_EP),
            PrioProps::new(pd.priority, pd.priority),
            cn,
            guard,
            Pml4(CPtr(objs.vspace)),
            CapData::NONE,
            pd.ipc_buffer.get(),
            Page(CPtr(objs.ipc_frame)),
        )
        .ctx("configuring the TCB")?;
        let regs = UserContext {
            rip: pd.entry.get(),
            rsp: pd.stack_bottom.get() + pd.stack_size.get(),
            ..UserContext::default()
        };
        tcb.write_registers(false, 2, &regs).ctx("setting the entry point and stack")?;
        tcb.resume().ctx("starting the thread")?;
        self.say(format_args!(
            "initialiser: started PD '{name}' (priority {}, {} maps, {} channels)\n",
            pd.priority,
            maps.len(),
            channels
        ));
        Ok(())
    }
}
