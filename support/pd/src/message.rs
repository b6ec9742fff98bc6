//! How the runtime moves the one message type ([`message::Message`], re-exported here) through
//! the kernel: the first four words travel in registers, the rest in the IPC buffer. The
//! conversions to and from seL4's message tag are pure functions, tested on the host.

use crate::error::Error;
use sel4::MessageInfo;

pub use message::{Message, MessageError, Refusal, REFUSED_LABEL};

/// The message tag to send `msg` with.
pub fn tag(msg: &Message) -> MessageInfo {
    MessageInfo::new(msg.label(), 0, 0, msg.len() as u64)
}

/// Rebuilds a received message from its tag, register words and (for words 4 and up)
/// `mr(i)`, which reads message register `i` of the IPC buffer. A message longer than
/// [`Message::MAX_WORDS`] is an error (the runtime refuses it); `mr` is then not called.
pub fn decode(tag: MessageInfo, regs: [u64; 4], mr: impl FnMut(usize) -> u64) -> Result<Message, Error> {
    Ok(Message::received(tag.label(), tag.length() as usize, regs, mr)?)
}

impl From<MessageError> for Error {
    fn from(e: MessageError) -> Error {
        match e {
            MessageError::TooLong { len } => Error::MessageTooLong { len },
            MessageError::LabelTooLarge { label } => Error::LabelTooLarge { label },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_carry_label_and_length() {
        let m = Message::new(7, &[1, 2, 3]).unwrap();
        assert_eq!(tag(&m).label(), 7);
        assert_eq!(tag(&m).length(), 3);
        let back = decode(tag(&m), m.regs(), |_| panic!("no IPC-buffer read for 3 words")).unwrap();
        assert_eq!(back, m);
    }

    #[test]
    fn long_messages_read_the_ipc_buffer_from_mr4() {
        let words: Vec<u64> = (100..116).collect();
        let m = Message::new(1, &words).unwrap();
        let mut ipc = [0u64; 120];
        for (k, w) in m.overflow().iter().enumerate() {
            ipc[4 + k] = *w;
        }
        assert_eq!(decode(tag(&m), m.regs(), |i| ipc[i]).unwrap().words(), &words[..]);
    }

    #[test]
    fn oversized_tags_are_refused_without_reading_the_buffer() {
        let t = MessageInfo::new(3, 0, 0, 40);
        assert_eq!(decode(t, [0; 4], |_| panic!("must not read")), Err(Error::MessageTooLong { len: 40 }));
    }

    #[test]
    fn refusals_survive_the_trip() {
        let r = Message::refusal(Refusal(42));
        assert_eq!(tag(&r).label(), REFUSED_LABEL);
        assert_eq!(decode(tag(&r), r.regs(), |_| 0).unwrap().as_refusal(), Some(Refusal(42)));
    }
}
