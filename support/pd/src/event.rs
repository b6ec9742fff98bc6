//! The event loop every PD ends in after `init`, as in Microkit:
//!
//! * a PD that serves PPCs (it has an endpoint) receives on the endpoint. A badge with
//!   `PP_BADGE` set is a call through channel `badge & 63` and goes to `protected`; its reply
//!   is sent by the next `ReplyRecv`, which also waits for the next event. Any other badge is
//!   the word of the PD's bound notification (peers and IRQs), delivered through the same
//!   receive, and goes to `notified`;
//! * any other PD waits on its notification and hands each batch of bits to `notified`.

use crate::channel::Event;
use crate::message::{Message, Refusal};
use crate::Handler;
use sel4::CPtr;
use spec::cspace;

/// Runs `handler` forever.
pub fn run<H: Handler>(mut handler: H) -> ! {
    if crate::grants().has_endpoint {
        serve(&mut handler)
    } else {
        let ntfn = CPtr(cspace::NOTIFICATION);
        loop {
            let badge = sel4::syscall::wait(ntfn);
            if let Event::Notified(set) = Event::classify(badge.0, false) {
                handler.notified(set);
            }
        }
    }
}

/// What a stopped server does: refuses every protected call (the first reply goes to the
/// call its faulted instance was serving, if any), ignores notifications. Uses only the stack.
#[cfg_attr(test, allow(dead_code))]
pub(crate) fn refuse_forever() -> ! {
    let ep = CPtr(cspace::ENDPOINT);
    let r = Message::refusal(Refusal::STOPPED);
    let mut caller_waits = true;
    loop {
        let got = if caller_waits {
            sel4::syscall::reply_recv(ep, crate::message::tag(&r), r.regs())
        } else {
            sel4::syscall::recv(ep)
        };
        caller_waits = matches!(Event::classify(got.badge.0, true), Event::Protected(_));
    }
}

fn serve<H: Handler>(handler: &mut H) -> ! {
    let ep = CPtr(cspace::ENDPOINT);
    // A restarted server may have been serving a call when it faulted: that caller still waits
    // for a reply, so the first receive replies to it with a refusal (no caller hangs).
    let mut reply: Option<Message> = crate::restarted().then(|| Message::refusal(Refusal::RESTARTED));
    loop {
        let got = match reply.take() {
            Some(r) => {
                for (k, w) in r.overflow().iter().enumerate() {
                    // Cannot fail: at most 16 words < 120 message registers.
                    let _ = sel4::ipc::set_mr(4 + k, *w);
                }
                sel4::syscall::reply_recv(ep, crate::message::tag(&r), r.regs())
            }
            None => sel4::syscall::recv(ep),
        };
        match Event::classify(got.badge.0, true) {
            Event::Protected(ch) => {
                let answer = match crate::message::decode(got.info, got.mrs, |i| sel4::ipc::get_mr(i).unwrap_or(0)) {
                    Ok(msg) => handler.protected(ch, msg).unwrap_or_else(Message::refusal),
                    Err(_) => Message::refusal(Refusal::BAD_MESSAGE),
                };
                reply = Some(answer);
            }
            Event::Notified(set) => handler.notified(set),
            Event::Spurious => {}
        }
    }
}
