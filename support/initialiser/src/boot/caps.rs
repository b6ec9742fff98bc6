//! A PD's CSpace, apart from IRQs and I/O ports: its own notification and endpoint, the
//! fault endpoint badged with its index, and its channels' notify and pp caps.

use core::fmt::Write;

use sel4::{CNode, CapData, CapRights};
use spec::cspace;

use crate::PortIo;

use super::error::{fail, Cause, Ctx, CtxData, R};
use super::{Builder, PdObjs, ROOT};

impl<'a, W: Write, P: PortIo> Builder<'a, '_, W, P> {
    /// Its own caps: its notification, its endpoint (if it has one) and the fault endpoint,
    /// badged with its index.
    pub(super) fn install_own_caps(&self, i: usize, cn: CNode, objs: PdObjs) -> R<'a> {
        let depth = cspace::CNODE_BITS;
        cn.copy(cspace::NOTIFICATION, depth, ROOT.slot(objs.notification), CapRights::ALL)
            .ctx("installing its notification")?;
        if objs.endpoint != 0 {
            cn.copy(cspace::ENDPOINT, depth, ROOT.slot(objs.endpoint), CapRights::ALL)
                .ctx("installing its endpoint")?;
        }
        let badge = CapData::badge(i as u64).ctx_data("badging the fault endpoint")?;
        cn.mint(cspace::FAULT_EP, depth, ROOT.slot(self.fault_ep), CapRights::new(true, false, true), badge)
            .ctx("installing the fault endpoint")?;
        Ok(())
    }

    /// Channels: per end of the PD's, a notify cap (the peer's notification, badged with the
    /// peer's id) and a pp cap (the peer's endpoint). Returns how many channel ends it has.
    pub(super) fn install_channels(&self, i: usize, cn: CNode) -> R<'a, usize> {
        let spec = self.spec;
        let depth = cspace::CNODE_BITS;
        let mut channels = 0;
        for ch in spec.channels {
            for (me, other) in [(&ch.ends[0], &ch.ends[1]), (&ch.ends[1], &ch.ends[0])] {
                if me.pd.get() as usize != i {
                    continue;
                }
                channels += 1;
                let peer = self.pds[other.pd.get() as usize];
                if me.notify != 0 {
                    if other.id >= cspace::NOTIFY_ID_LIMIT {
                        return fail(
                            "installing a channel",
                            Cause::MsgNum(
                                "notification badges need the peer's channel id below 27; id",
                                other.id as u64,
                            ),
                        );
                    }
                    let data = CapData::badge(1 << other.id).ctx_data("badging a channel")?;
                    cn.mint(
                        cspace::NOTIFY_BASE + me.id as u64,
                        depth,
                        ROOT.slot(peer.notification),
                        CapRights::WRITE,
                        data,
                    )
                    .ctx("installing a channel's notify cap")?;
                }
                if me.pp != 0 {
                    if peer.endpoint == 0 {
                        return fail(
                            "installing a channel",
                            Cause::Msg("pp to a PD without an endpoint (spec inconsistent)"),
                        );
                    }
                    let data = CapData::badge(cspace::PP_BADGE | other.id as u64).ctx_data("badging a channel")?;
                    cn.mint(
                        cspace::PP_BASE + me.id as u64,
                        depth,
                        ROOT.slot(peer.endpoint),
                        CapRights::new(true, false, true),
                        data,
                    )
                    .ctx("installing a channel's pp cap")?;
                }
            }
        }
        Ok(channels)
    }
}
