//! The runtime's error values: every refused or failed operation says which grant or range
//! it needed, so the fix (usually a line in the system file) is obvious from the message.

use core::fmt;

/// What kind of grant an operation needs from the system file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GrantKind {
    /// `Channel::notify`: a `<channel>` end with this id and `notify="true"` (the default).
    Notify,
    /// `Channel::pp_call`: a `<channel>` end with this id and `pp="true"`.
    PpCall,
    /// `Channel::irq_ack`: an `<irq id=..>` of this PD.
    Irq,
    /// `IoPort::new`: an `<ioport id=..>` of this PD.
    IoPort,
}

impl GrantKind {
    fn what(self) -> &'static str {
        match self {
            GrantKind::Notify => "channel",
            GrantKind::PpCall => "channel",
            GrantKind::Irq => "irq",
            GrantKind::IoPort => "ioport",
        }
    }

    fn fix(self) -> &'static str {
        match self {
            GrantKind::Notify => "a <channel> with an <end> for this PD with this id (notify=\"true\")",
            GrantKind::PpCall => "a <channel> with an <end> for this PD with this id and pp=\"true\"",
            GrantKind::Irq => "an <irq> with this id in this protection_domain",
            GrantKind::IoPort => "an <ioport> with this id in this protection_domain",
        }
    }

    fn verb(self) -> &'static str {
        match self {
            GrantKind::Notify => "notify",
            GrantKind::PpCall => "pp_call",
            GrantKind::Irq => "irq_ack",
            GrantKind::IoPort => "I/O port access",
        }
    }
}

/// Why a runtime operation failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Error {
    /// The system file grants this PD no such channel / IRQ / I/O port range.
    NotGranted { kind: GrantKind, id: u8 },
    /// A port access outside the granted range `first .. first + size`.
    PortOutOfRange { id: u8, port: u16, width: u8, first: u16, size: u32 },
    /// The kernel refused an invocation the grant allowed (a boot-time set-up problem).
    Kernel(sel4::InvocationError),
    /// The server behind `channel` refused the PPC with this code (see [`crate::Refusal`]).
    Refused { channel: u8, code: u64 },
    /// A message with more words than [`crate::Message::MAX_WORDS`].
    MessageTooLong { len: usize },
    /// A message label above [`crate::Message::MAX_LABEL`].
    LabelTooLarge { label: u64 },
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Error::NotGranted { kind, id } => write!(
                f,
                "{} not granted: {} {id} is not granted to this PD for {}; the system file needs {}",
                kind.verb(),
                kind.what(),
                match kind {
                    GrantKind::Notify => "notify",
                    GrantKind::PpCall => "protected procedure calls",
                    GrantKind::Irq => "interrupts",
                    GrantKind::IoPort => "port I/O",
                },
                kind.fix()
            ),
            Error::PortOutOfRange { id, port, width, first, size } => write!(
                f,
                "I/O port {port:#x} ({width}-byte access) is outside ioport {id}, which grants {first:#x}..{:#x}",
                first as u32 + size
            ),
            Error::Kernel(e) => write!(f, "kernel refused: {e}"),
            Error::Refused { channel, code } => {
                write!(f, "the PD behind channel {channel} refused the call: {}", crate::Refusal(code))
            }
            Error::MessageTooLong { len } => write!(
                f,
                "message of {len} words is longer than the {} a PD message may carry",
                crate::Message::MAX_WORDS
            ),
            Error::LabelTooLarge { label } => {
                write!(f, "message label {label:#x} is above the largest allowed, {:#x}", crate::Message::MAX_LABEL)
            }
        }
    }
}
