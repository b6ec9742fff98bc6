//! The one protected-procedure-call message type: a label and up to [`Message::MAX_WORDS`]
//! words. It lives in its own dependency-free crate so that the PD runtime (which moves it
//! through the kernel), every protocol crate (which encodes requests and replies into it and
//! decodes them from it) and host tests all use the same type, with no per-protocol copies.
//!
//! A server that refuses a call replies with the reserved label [`REFUSED_LABEL`] and the
//! refusal code in word 0; the runtime's `pp_call` turns that into an error for the caller.
#![no_std]
#![forbid(unsafe_code)]

use core::fmt;

/// The reply label that carries a [`Refusal`] (the largest label seL4 can carry).
pub const REFUSED_LABEL: u64 = 0xf_ffff;

/// Why a message could not be built or received.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MessageError {
    /// More words than [`Message::MAX_WORDS`].
    TooLong {
        /// Words asked for.
        len: usize,
    },
    /// A label above [`Message::MAX_LABEL`].
    LabelTooLarge {
        /// The label asked for.
        label: u64,
    },
}

impl fmt::Display for MessageError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            MessageError::TooLong { len } => {
                write!(f, "message of {len} words is longer than the {} a PD message may carry", Message::MAX_WORDS)
            }
            MessageError::LabelTooLarge { label } => {
                write!(f, "message label {label:#x} is above the largest allowed, {:#x}", Message::MAX_LABEL)
            }
        }
    }
}

/// A PPC request or reply.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Message {
    label: u64,
    len: usize,
    words: [u64; Message::MAX_WORDS],
}

impl Message {
    /// Most words a message carries (4 in registers, the rest in the IPC buffer).
    pub const MAX_WORDS: usize = 16;
    /// Largest label a PD may use ([`REFUSED_LABEL`] is reserved).
    pub const MAX_LABEL: u64 = REFUSED_LABEL - 1;

    /// A message with `label` and no words.
    pub const fn empty(label: u64) -> Result<Message, MessageError> {
        if label > Self::MAX_LABEL {
            return Err(MessageError::LabelTooLarge { label });
        }
        Ok(Message { label, len: 0, words: [0; Self::MAX_WORDS] })
    }

    /// A message with `label` and `words`.
    pub fn new(label: u64, words: &[u64]) -> Result<Message, MessageError> {
        let mut m = Message::empty(label)?;
        if words.len() > Self::MAX_WORDS {
            return Err(MessageError::TooLong { len: words.len() });
        }
        m.words[..words.len()].copy_from_slice(words);
        m.len = words.len();
        Ok(m)
    }

    /// A message of exactly `N` words, checked at compile time (protocol encoders).
    pub const fn of<const N: usize>(label: u64, words: [u64; N]) -> Result<Message, MessageError> {
        const { assert!(N <= Message::MAX_WORDS, "a message carries at most 16 words") };
        let mut m = match Message::empty(label) {
            Ok(m) => m,
            Err(e) => return Err(e),
        };
        let mut i = 0;
        while i < N {
            m.words[i] = words[i];
            i += 1;
        }
        m.len = N;
        Ok(m)
    }

    /// Appends a word.
    pub fn push(&mut self, word: u64) -> Result<(), MessageError> {
        if self.len == Self::MAX_WORDS {
            return Err(MessageError::TooLong { len: self.len + 1 });
        }
        self.words[self.len] = word;
        self.len += 1;
        Ok(())
    }

    /// The label (a request's operation, or a reply's status).
    pub fn label(&self) -> u64 {
        self.label
    }

    /// The words in use.
    pub fn words(&self) -> &[u64] {
        &self.words[..self.len]
    }

    /// Word `i`, or `None` past the end (a short request is then easy to refuse).
    pub fn word(&self, i: usize) -> Option<u64> {
        self.words().get(i).copied()
    }

    /// Words in use.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether the message has no words.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Words 0..4, as the syscall passes them in registers (zero-padded).
    pub fn regs(&self) -> [u64; 4] {
        [self.words[0], self.words[1], self.words[2], self.words[3]]
    }

    /// Words from 4 on, which go through the IPC buffer (MR4..).
    pub fn overflow(&self) -> &[u64] {
        self.words.get(4..self.len).unwrap_or(&[])
    }

    /// The reply that carries a refusal.
    pub fn refusal(r: Refusal) -> Message {
        let mut words = [0; Self::MAX_WORDS];
        words[0] = r.0;
        Message { label: REFUSED_LABEL, len: 1, words }
    }

    /// Rebuilds a received message from its label, length, register words and (for words 4
    /// and up) `mr(i)`, which reads message register `i` of the IPC buffer. Longer than
    /// [`Message::MAX_WORDS`] is an error (the runtime refuses it), and `mr` is then not
    /// called. Any label is accepted, [`REFUSED_LABEL`] included (it marks a refusal).
    pub fn received(
        label: u64,
        len: usize,
        regs: [u64; 4],
        mut mr: impl FnMut(usize) -> u64,
    ) -> Result<Message, MessageError> {
        if len > Self::MAX_WORDS {
            return Err(MessageError::TooLong { len });
        }
        let mut words = [0; Self::MAX_WORDS];
        for (i, w) in words.iter_mut().enumerate().take(len) {
            *w = if i < 4 { regs[i] } else { mr(i) };
        }
        Ok(Message { label, len, words })
    }

    /// The refusal this reply carries, if it is one.
    pub fn as_refusal(&self) -> Option<Refusal> {
        (self.label == REFUSED_LABEL).then(|| Refusal(self.word(0).unwrap_or(0)))
    }
}

impl fmt::Debug for Message {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Message {{ label: {:#x}, words: {:x?} }}", self.label, self.words())
    }
}

/// Why a server refused a PPC. Servers define their own codes; the runtime uses the two
/// below (and codes from `0xffff_0000` up are kept for it).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Refusal(pub u64);

impl Refusal {
    /// The server's handler does not serve PPCs (the default `Handler::protected`).
    pub const UNSUPPORTED: Refusal = Refusal(0xffff_0001);
    /// The request was malformed (too long for the runtime to receive, or not a request of
    /// the server's protocol).
    pub const BAD_MESSAGE: Refusal = Refusal(0xffff_0002);
    /// The server faulted while serving the call and was restarted; the call did not
    /// complete (the new instance may be called again).
    pub const RESTARTED: Refusal = Refusal(0xffff_0003);
    /// The server faulted and is stopped; it refuses every call.
    pub const STOPPED: Refusal = Refusal(0xffff_0004);
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Refusal::UNSUPPORTED => {
                write!(f, "the server does not accept protected calls (code {:#x})", self.0)
            }
            Refusal::BAD_MESSAGE => write!(f, "the request was malformed (code {:#x})", self.0),
            Refusal::RESTARTED => write!(
                f,
                "the server faulted during the call and was restarted; the call did not complete (code {:#x})",
                self.0
            ),
            Refusal::STOPPED => write!(f, "the server faulted and is stopped (code {:#x})", self.0),
            Refusal(code) => write!(f, "refusal code {code:#x}"),
        }
    }
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::*;
    use std::format;
    use std::vec::Vec;

    #[test]
    fn short_messages_travel_in_registers_only() {
        let m = Message::new(7, &[1, 2, 3]).unwrap();
        assert_eq!(m.regs(), [1, 2, 3, 0]);
        assert!(m.overflow().is_empty());
        let back = Message::received(7, 3, m.regs(), |_| panic!("no IPC-buffer read for 3 words")).unwrap();
        assert_eq!(back, m);
    }

    #[test]
    fn long_messages_use_the_ipc_buffer_from_mr4() {
        let words: Vec<u64> = (100..116).collect();
        let m = Message::new(1, &words).unwrap();
        assert_eq!(m.regs(), [100, 101, 102, 103]);
        assert_eq!(m.overflow(), &words[4..]);
        let mut ipc = [0u64; 120];
        for (k, w) in m.overflow().iter().enumerate() {
            ipc[4 + k] = *w;
        }
        let back = Message::received(1, m.len(), m.regs(), |i| ipc[i]).unwrap();
        assert_eq!(back.words(), &words[..]);
        assert_eq!(back.label(), 1);
    }

    #[test]
    fn limits_are_errors() {
        assert_eq!(Message::new(1, &[0; 17]), Err(MessageError::TooLong { len: 17 }));
        assert_eq!(Message::empty(REFUSED_LABEL), Err(MessageError::LabelTooLarge { label: REFUSED_LABEL }));
        assert_eq!(Message::of(1 << 20, [1]), Err(MessageError::LabelTooLarge { label: 1 << 20 }));
        let mut m = Message::new(0, &[0; 16]).unwrap();
        assert_eq!(m.push(1), Err(MessageError::TooLong { len: 17 }));
        assert_eq!(
            Message::received(3, 40, [0; 4], |_| panic!("must not read")),
            Err(MessageError::TooLong { len: 40 })
        );
        assert!(format!("{}", MessageError::TooLong { len: 17 }).contains("17 words"));
    }

    #[test]
    fn fixed_size_messages_match_slices() {
        assert_eq!(Message::of(4, [9, 8, 7]).unwrap(), Message::new(4, &[9, 8, 7]).unwrap());
        assert_eq!(Message::of(4, []).unwrap(), Message::empty(4).unwrap());
    }

    #[test]
    fn refusals_round_trip() {
        let r = Message::refusal(Refusal(42));
        assert_eq!(r.label(), REFUSED_LABEL);
        let back = Message::received(r.label(), r.len(), r.regs(), |_| 0).unwrap();
        assert_eq!(back.as_refusal(), Some(Refusal(42)));
        assert_eq!(Message::new(5, &[42]).unwrap().as_refusal(), None);
        assert!(format!("{}", Refusal::UNSUPPORTED).contains("does not accept"));
    }

    #[test]
    fn word_access_is_bounds_checked() {
        let m = Message::new(2, &[9]).unwrap();
        assert_eq!(m.word(0), Some(9));
        assert_eq!(m.word(1), None);
        assert_eq!(m.len(), 1);
        assert!(!m.is_empty());
    }
}
