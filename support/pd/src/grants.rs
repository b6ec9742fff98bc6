//! What the system file granted this PD, as the image tool recorded it in the `__pd_info`
//! block ([`spec::PdInfo`]), and the checks every channel, IRQ and I/O port operation makes
//! before it touches a capability slot: an ungranted slot is empty, and invoking an empty
//! slot would fault the PD, so the check turns that into an [`Error::NotGranted`] value.

use crate::error::{Error, GrantKind};
use spec::{PdInfo, MAX_IDS};

/// A PD's grants: bit `id` of each mask set = id granted for that use.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Grants {
    pub notify: u64,
    pub pp: u64,
    pub irqs: u64,
    pub ioports: u64,
    /// The PD serves PPCs: it receives on its endpoint, not its notification.
    pub has_endpoint: bool,
    pub ioport_first: [u16; MAX_IDS],
    pub ioport_size: [u32; MAX_IDS],
}

impl Grants {
    /// No grants at all (an unfilled info block).
    pub const NONE: Grants = Grants {
        notify: 0,
        pp: 0,
        irqs: 0,
        ioports: 0,
        has_endpoint: false,
        ioport_first: [0; MAX_IDS],
        ioport_size: [0; MAX_IDS],
    };

    /// Reads the grants out of an info block; an unfilled block (no magic) grants nothing.
    pub fn from_info(info: &PdInfo) -> Grants {
        if !info.is_filled() {
            return Grants::NONE;
        }
        let mut g = Grants {
            notify: info.notify.get(),
            pp: info.pp.get(),
            irqs: info.irqs.get(),
            ioports: info.ioport_mask.get(),
            has_endpoint: info.has_endpoint.get() != 0,
            ..Grants::NONE
        };
        for id in 0..MAX_IDS {
            g.ioport_first[id] = info.ioport_addr[id].get();
            g.ioport_size[id] = info.ioport_size[id].get();
        }
        g
    }

    fn mask(&self, kind: GrantKind) -> u64 {
        match kind {
            GrantKind::Notify => self.notify,
            GrantKind::PpCall => self.pp,
            GrantKind::Irq => self.irqs,
            GrantKind::IoPort => self.ioports,
        }
    }

    /// Is `id` granted for `kind`? Ids of 64 and more are never granted.
    pub fn check(&self, kind: GrantKind, id: u8) -> Result<(), Error> {
        let granted = (id as usize) < MAX_IDS && self.mask(kind) & (1u64 << id) != 0;
        if granted {
            Ok(())
        } else {
            Err(Error::NotGranted { kind, id })
        }
    }

    /// The granted I/O port range `id`: first port and number of ports.
    pub fn ioport_range(&self, id: u8) -> Result<(u16, u32), Error> {
        self.check(GrantKind::IoPort, id)?;
        Ok((self.ioport_first[id as usize], self.ioport_size[id as usize]))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use zerocopy::little_endian::{U16, U32, U64};
    use zerocopy::FromZeros;

    fn info() -> PdInfo {
        let mut i = PdInfo::new_zeroed();
        i.magic = spec::PD_INFO_MAGIC;
        i.notify = U64::new(0b1010);
        i.pp = U64::new(0b0100);
        i.irqs = U64::new(1 << 5);
        i.ioport_mask = U64::new(1 << 2);
        i.ioport_addr[2] = U16::new(0x3f8);
        i.ioport_size[2] = U32::new(8);
        i.has_endpoint = U64::new(1);
        i
    }

    #[test]
    fn granted_ids_pass_and_others_are_errors() {
        let g = Grants::from_info(&info());
        assert!(g.has_endpoint);
        assert_eq!(g.check(GrantKind::Notify, 1), Ok(()));
        assert_eq!(g.check(GrantKind::Notify, 3), Ok(()));
        assert_eq!(g.check(GrantKind::Notify, 2), Err(Error::NotGranted { kind: GrantKind::Notify, id: 2 }));
        // A pp grant is not a notify grant and vice versa.
        assert_eq!(g.check(GrantKind::PpCall, 2), Ok(()));
        assert!(g.check(GrantKind::PpCall, 1).is_err());
        assert_eq!(g.check(GrantKind::Irq, 5), Ok(()));
        assert!(g.check(GrantKind::Irq, 1).is_err());
        assert_eq!(g.ioport_range(2), Ok((0x3f8, 8)));
        assert_eq!(g.ioport_range(0), Err(Error::NotGranted { kind: GrantKind::IoPort, id: 0 }));
    }

    #[test]
    fn ids_past_the_masks_never_pass_and_never_panic() {
        let mut i = info();
        i.notify = U64::new(u64::MAX);
        let g = Grants::from_info(&i);
        for id in 63..=255u8 {
            assert!(g.check(GrantKind::Notify, id).is_err(), "id {id}");
            assert!(g.ioport_range(id).is_err());
        }
    }

    #[test]
    fn unfilled_info_grants_nothing() {
        let mut i = info();
        i.magic = [0; 8];
        assert_eq!(Grants::from_info(&i), Grants::NONE);
        assert!(Grants::NONE.check(GrantKind::Notify, 0).is_err());
    }

    #[test]
    fn not_granted_message_says_what_to_add() {
        let e = Grants::NONE.check(GrantKind::PpCall, 7).unwrap_err();
        let s = format!("{e}");
        assert!(s.contains("channel 7"), "{s}");
        assert!(s.contains("pp=\"true\""), "{s}");
        let s = format!("{}", Error::NotGranted { kind: GrantKind::Irq, id: 0 });
        assert!(s.contains("irq 0") && s.contains("<irq>"), "{s}");
    }
}
