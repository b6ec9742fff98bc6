//! A PD's I/O port ranges: the root task's IOPort cap, minted down to each `<ioport>`
//! range and installed in the PD's CSpace.

use core::fmt::Write;

use sel4::{init, CNode, CapData, CapRights};
use spec::{cspace, PdRec};

use crate::PortIo;

use super::error::{fail, Cause, Ctx, CtxData, R};
use super::{Builder, ROOT};

impl<'a, W: Write, P: PortIo> Builder<'a, '_, W, P> {
    /// I/O port ranges.
    pub(super) fn install_ioports(&self, pd: PdRec, cn: CNode) -> R<'a> {
        let spec = self.spec;
        let depth = cspace::CNODE_BITS;
        for io in spec.pd_ioports(&pd) {
            let first = io.addr.get();
            let last = first as u64 + io.size.get() as u64 - 1;
            if io.size.get() == 0 || last > 0xffff {
                return fail(
                    "installing an ioport",
                    Cause::MsgNum("port range leaves 0..=0xffff; size", io.size.get() as u64),
                );
            }
            let data = CapData::io_ports(first, last as u16).ctx_data("encoding a port range")?;
            cn.mint(cspace::IOPORT_BASE + io.id as u64, depth, ROOT.slot(init::IO_PORT.0 .0), CapRights::ALL, data)
                .ctx("installing an I/O port range")?;
        }
        Ok(())
    }
}
