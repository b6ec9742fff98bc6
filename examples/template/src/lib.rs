//! A template protection domain's logic: one channel (id 1) to a peer and one shared region
//! laid out by an interface crate (`template-protocol`: a `ring` queue pair and text buffers).
//! Two PDs built from it talk to each other: the one whose system file sets `starts` to 1
//! writes a greeting into a buffer and sends its descriptor on the queue; the peer reads it,
//! writes its answer into the same buffer and hands the descriptor back on the free ring; the
//! first prints the answer. Signals follow the rings' suppressed-notification protocol: a side
//! notifies only when the other asked for it.
//!
//! The logic lives here, with no kernel calls and no `unsafe`, so `cargo test` checks it on
//! the host; the binary in `pd/` declares the setvars, takes the region view from
//! `pd::region!` and implements [`Platform`] with the runtime. Keep the shape and replace the
//! greeting with your PD's work.
#![no_std]
#![forbid(unsafe_code)]

use core::fmt;

use region::MappedRegion;
use ring::{Receiver, Sender};
use template_protocol as proto;

/// The peer's channel id (this PD's `<end id="1">`).
pub const PEER_CHANNEL: u8 = 1;
/// The smallest shared region the PD works with.
pub const MIN_REGION: usize = proto::MIN_REGION;

/// What the PD needs from the runtime.
pub trait Platform {
    /// Notify the peer; false if the runtime refused (the adapter prints why).
    fn notify_peer(&mut self) -> bool;
    /// Print one line on the console (the adapter prefixes the PD's name).
    fn print(&mut self, line: fmt::Arguments<'_>);
}

/// Which end of the queue this PD is.
enum Side {
    /// Greets: sends on the active ring, takes answers back from the free ring.
    Greets(Sender<'static>),
    /// Is greeted: takes greetings from the active ring, answers on the free ring.
    Greeted(Receiver<'static>),
}

/// One side of the greeting.
pub struct Template {
    region: MappedRegion,
    side: Side,
}

impl Template {
    /// The PD over its shared region; `starts` if it greets first. A region smaller than
    /// [`MIN_REGION`] gives `None` after printing what to map.
    pub fn new(region: MappedRegion, starts: bool, p: &mut impl Platform) -> Option<Self> {
        if region.size() < MIN_REGION {
            p.print(format_args!("shared region {region:?} is smaller than {MIN_REGION} bytes"));
            return None;
        }
        let (at, len, cap) = (proto::QUEUE_AT, proto::QUEUE_BYTES, proto::QUEUE_CAPACITY);
        let side = if starts {
            Sender::from_region_at(&region, at, len, cap).map(Side::Greets)
        } else {
            Receiver::from_region_at(&region, at, len, cap).map(Side::Greeted)
        };
        let side = match side {
            Ok(s) => s,
            Err(e) => {
                p.print(format_args!("bad queue region: {e}"));
                return None;
            }
        };
        p.print(format_args!("up; shared region of {:#x} bytes at {:#x}", region.size(), region.vaddr()));
        Some(Self { region, side })
    }

    /// The shared region.
    pub fn region(&self) -> &MappedRegion {
        &self.region
    }

    /// After `init`: the greeting side sends its greeting; both ask to be signalled for what
    /// they wait for (and the greeted side takes a greeting that came before it asked).
    pub fn start(&mut self, p: &mut impl Platform) {
        match &mut self.side {
            Side::Greets(tx) => {
                let greeting = "hello from the template PD";
                let Some(d) = proto::desc(0, greeting.len()) else { return };
                let queued =
                    self.region.write(d.offset as usize, greeting.as_bytes()).is_ok() && tx.active.enqueue(d).is_ok();
                if queued {
                    p.print(format_args!("sent \"{greeting}\" on the queue"));
                    if tx.active.signal_needed() {
                        p.notify_peer();
                    }
                }
                let _ = tx.free.prepare_to_block();
            }
            Side::Greeted(rx) => {
                // False: something arrived before we asked, so take it now.
                if !rx.active.prepare_to_block().unwrap_or(true) {
                    self.notified(p);
                }
            }
        }
    }

    /// The peer notified: take the answer (greeting side) or answer the greeting.
    pub fn notified(&mut self, p: &mut impl Platform) {
        let mut buf = [0u8; proto::BUFFER_LEN];
        match &mut self.side {
            Side::Greets(tx) => {
                while let Ok(Some(d)) = tx.free.dequeue() {
                    p.print(format_args!("the peer answered \"{}\"", text(&self.region, d, &mut buf)));
                }
                let _ = tx.free.prepare_to_block();
            }
            Side::Greeted(rx) => {
                while let Ok(Some(d)) = rx.active.dequeue() {
                    p.print(format_args!("read \"{}\" from the shared region", text(&self.region, d, &mut buf)));
                    let answer = "hello back";
                    let Ok((at, _)) = proto::buffer(d) else { continue };
                    let back = ring::Desc { len: answer.len() as u32, ..d };
                    if self.region.write(at, answer.as_bytes()).is_ok() && rx.free.enqueue(back).is_ok() {
                        if rx.free.signal_needed() {
                            p.notify_peer();
                        }
                        p.print(format_args!("answered \"{answer}\" on the queue"));
                    }
                }
                let _ = rx.active.prepare_to_block();
            }
        }
    }
}

/// The text in the buffer a peer's descriptor names (or a marker if the descriptor or the
/// bytes are bad: a peer cannot make this read outside the buffers).
fn text<'b>(region: &MappedRegion, d: ring::Desc, buf: &'b mut [u8; proto::BUFFER_LEN]) -> &'b str {
    let Ok((at, len)) = proto::buffer(d) else { return "<bad descriptor>" };
    if region.read(at, &mut buf[..len]).is_err() {
        return "<unreadable>";
    }
    core::str::from_utf8(&buf[..len]).unwrap_or("<not UTF-8>")
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::*;
    use std::string::{String, ToString};
    use std::vec::Vec;

    #[derive(Default)]
    struct Fake {
        notified: u32,
        lines: Vec<String>,
    }

    impl Platform for Fake {
        fn notify_peer(&mut self) -> bool {
            self.notified += 1;
            true
        }
        fn print(&mut self, line: fmt::Arguments<'_>) {
            self.lines.push(line.to_string());
        }
    }

    /// Two PDs over one shared region (the greeted side's view is a second view of the same
    /// bytes, as the second PD's mapping is).
    fn pair() -> (Template, Template, Fake, Fake) {
        let (shared, other) = region_host::shared_pair("shared", 4096);
        let (mut pa, mut pb) = (Fake::default(), Fake::default());
        let a = Template::new(shared, true, &mut pa).unwrap();
        let b = Template::new(other, false, &mut pb).unwrap();
        (a, b, pa, pb)
    }

    #[test]
    fn a_greeting_goes_out_on_the_queue_and_the_answer_comes_back() {
        let (mut a, mut b, mut pa, mut pb) = pair();
        a.start(&mut pa);
        assert_eq!(pa.lines[1], "sent \"hello from the template PD\" on the queue");
        assert_eq!(pa.notified, 0, "the peer has not asked for a signal yet");
        b.start(&mut pb); // takes the greeting that came before it asked
        assert_eq!(
            &pb.lines[1..],
            ["read \"hello from the template PD\" from the shared region", "answered \"hello back\" on the queue"]
        );
        assert_eq!(pb.notified, 1, "the greeting side asked to hear of the answer");
        a.notified(&mut pa);
        assert_eq!(pa.lines[2], "the peer answered \"hello back\"");
    }

    #[test]
    fn a_waiting_peer_is_signalled_and_bad_descriptors_are_refused() {
        let (mut a, mut b, mut pa, mut pb) = pair();
        b.start(&mut pb);
        a.start(&mut pa);
        assert_eq!(pa.notified, 1, "the greeted side waits: signal it");
        b.notified(&mut pb);
        assert_eq!(pb.lines.len(), 3);
        let bad = ring::Desc { dataspace: 0, offset: 1, len: 200, cookie: 0 };
        let mut buf = [0u8; proto::BUFFER_LEN];
        assert_eq!(text(a.region(), bad, &mut buf), "<bad descriptor>");
        assert!(Template::new(region_host::zeroed("shared", 64), false, &mut pb).is_none());
    }
}
