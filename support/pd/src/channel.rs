//! Channels: a PD's numbered connections to its peers (and its IRQs, which share the id
//! space). `Channel::{notify, pp_call, irq_ack}` check the grant first and then invoke the
//! capability the initialiser placed at the slot `spec::cspace` assigns to that id.
//! [`ChannelSet`] is the batch of channels one wake-up reports.

use core::fmt;

use crate::error::{Error, GrantKind};
use crate::message::Message;
use sel4::{CPtr, IrqHandler};
use spec::cspace;

/// A channel (or IRQ) id of this PD, as the system file numbers it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Channel(u8);

impl Channel {
    pub const fn new(id: u8) -> Channel {
        Channel(id)
    }

    pub const fn id(self) -> u8 {
        self.0
    }

    /// Signals the peer's notification. Never blocks.
    pub fn notify(self) -> Result<(), Error> {
        crate::grants().check(GrantKind::Notify, self.0)?;
        sel4::syscall::signal(CPtr(cspace::NOTIFY_BASE + self.0 as u64));
        Ok(())
    }

    /// Acknowledges (unmasks) the IRQ with this id, so it can fire again.
    pub fn irq_ack(self) -> Result<(), Error> {
        crate::grants().check(GrantKind::Irq, self.0)?;
        IrqHandler(CPtr(cspace::IRQ_BASE + self.0 as u64)).ack().map_err(Error::Kernel)
    }

    /// Calls the peer's `protected` handler with `msg` and waits for its reply. The peer runs
    /// on its own stack at its own (higher) priority; a refusal comes back as
    /// [`Error::Refused`].
    pub fn pp_call(self, msg: &Message) -> Result<Message, Error> {
        crate::grants().check(GrantKind::PpCall, self.0)?;
        for (k, w) in msg.overflow().iter().enumerate() {
            // Cannot fail: at most MAX_WORDS (16) < 120 message registers.
            let _ = sel4::ipc::set_mr(4 + k, *w);
        }
        let (tag, regs) =
            sel4::syscall::call(CPtr(cspace::PP_BASE + self.0 as u64), crate::message::tag(msg), msg.regs());
        let reply = crate::message::decode(tag, regs, |i| sel4::ipc::get_mr(i).unwrap_or(0))?;
        match reply.as_refusal() {
            Some(r) => Err(Error::Refused { channel: self.0, code: r.0 }),
            None => Ok(reply),
        }
    }
}

impl fmt::Display for Channel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "channel {}", self.0)
    }
}

/// The channels (and IRQs) that signalled since the PD last waited: one bit per id.
#[derive(Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct ChannelSet(u64);

impl ChannelSet {
    /// The set a notification badge names (bits at and above `NOTIFY_ID_LIMIT` are not
    /// notification bits and are dropped).
    pub const fn from_badge(badge: u64) -> ChannelSet {
        ChannelSet(badge & ((1u64 << cspace::NOTIFY_ID_LIMIT) - 1))
    }

    pub const fn bits(self) -> u64 {
        self.0
    }

    pub const fn contains(self, ch: Channel) -> bool {
        ch.0 < 64 && self.0 & (1u64 << ch.0) != 0
    }

    pub const fn is_empty(self) -> bool {
        self.0 == 0
    }

    pub const fn len(self) -> usize {
        self.0.count_ones() as usize
    }

    /// The channels in ascending id order.
    pub fn iter(self) -> ChannelSetIter {
        ChannelSetIter(self.0)
    }
}

impl IntoIterator for ChannelSet {
    type Item = Channel;
    type IntoIter = ChannelSetIter;
    fn into_iter(self) -> ChannelSetIter {
        self.iter()
    }
}

/// Iterator over a [`ChannelSet`].
#[derive(Clone, Debug)]
pub struct ChannelSetIter(u64);

impl Iterator for ChannelSetIter {
    type Item = Channel;
    fn next(&mut self) -> Option<Channel> {
        if self.0 == 0 {
            return None;
        }
        let id = self.0.trailing_zeros();
        self.0 &= self.0 - 1;
        Some(Channel(id as u8))
    }
}

impl fmt::Debug for ChannelSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_set().entries(self.iter().map(|c| c.0)).finish()
    }
}

/// What one wake-up of the event loop delivered, decided from the badge alone (badges are
/// minted by the initialiser, so a peer cannot forge one).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Event {
    /// Notification bits (peers and IRQs).
    Notified(ChannelSet),
    /// A PPC through this channel id (only on a PD with an endpoint).
    Protected(Channel),
    /// A wake-up with no bits (nothing to do).
    Spurious,
}

impl Event {
    /// Classifies a badge received on the PD's endpoint (`on_endpoint`) or notification.
    pub fn classify(badge: u64, on_endpoint: bool) -> Event {
        if on_endpoint && badge & cspace::PP_BADGE != 0 {
            return Event::Protected(Channel((badge & !cspace::PP_BADGE) as u8 & 63));
        }
        let set = ChannelSet::from_badge(badge);
        if set.is_empty() {
            Event::Spurious
        } else {
            Event::Notified(set)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn channel_sets_iterate_in_order_and_print_ids() {
        let s = ChannelSet::from_badge((1 << 1) | (1 << 4) | (1 << 26));
        let ids: Vec<u8> = s.iter().map(|c| c.id()).collect();
        assert_eq!(ids, [1, 4, 26]);
        assert_eq!(s.len(), 3);
        assert!(s.contains(Channel::new(4)));
        assert!(!s.contains(Channel::new(2)));
        assert!(!s.contains(Channel::new(200)), "out-of-range ids are simply absent");
        assert_eq!(format!("{s:?}"), "{1, 4, 26}");
        assert!(ChannelSet::default().is_empty());
    }

    #[test]
    fn pp_badges_and_notification_badges_never_mix() {
        // A PPC arrives with PP_BADGE | the receiver's channel id.
        assert_eq!(Event::classify(cspace::PP_BADGE | 3, true), Event::Protected(Channel::new(3)));
        // The bound notification's word arrives as a plain badge on the same endpoint.
        assert_eq!(
            Event::classify((1 << 3) | (1 << 26), true),
            Event::Notified(ChannelSet::from_badge((1 << 3) | (1 << 26)))
        );
        // On a notification-only PD the PP bit means nothing and is dropped.
        assert_eq!(Event::classify(cspace::PP_BADGE, false), Event::Spurious);
        assert_eq!(Event::classify(0, true), Event::Spurious);
        // Every id that may notify maps to a bit below PP_BADGE.
        for id in 0..cspace::NOTIFY_ID_LIMIT {
            assert_eq!(Event::classify(1 << id, true), Event::Notified(ChannelSet::from_badge(1 << id)));
        }
    }
}
