//! A template protection domain's logic: one channel (id 1) to a peer and one shared memory
//! region. Two PDs built from it talk to each other: the one whose system file sets `starts`
//! to 1 writes a greeting into the shared region and notifies its peer; the peer reads the
//! greeting, writes its answer after it and notifies back; the first prints the answer.
//!
//! The logic lives here, with no kernel calls and no `unsafe`, so `cargo test` checks it on
//! the host; the binary in `pd/` declares the setvars, takes the region view from
//! `pd::region!` and implements [`Platform`] with the runtime. Keep the shape and replace the
//! greeting with your PD's work.
#![no_std]
#![forbid(unsafe_code)]

use core::fmt;

use region::MappedRegion;

/// The peer's channel id (this PD's `<end id="1">`).
pub const PEER_CHANNEL: u8 = 1;
/// Where each side writes in the shared region, and how much.
const GREETING_AT: usize = 0;
const ANSWER_AT: usize = 64;
const LEN: usize = 64;
/// The smallest shared region the PD works with.
pub const MIN_REGION: usize = ANSWER_AT + LEN;

/// What the PD needs from the runtime.
pub trait Platform {
    /// Notify the peer; false if the runtime refused (the adapter prints why).
    fn notify_peer(&mut self) -> bool;
    /// Print one line on the console (the adapter prefixes the PD's name).
    fn print(&mut self, line: fmt::Arguments<'_>);
}

/// One side of the greeting.
pub struct Template {
    region: MappedRegion,
    starts: bool,
}

impl Template {
    /// The PD over its shared region; `starts` if it greets first. A region smaller than
    /// [`MIN_REGION`] gives `None` after printing what to map.
    pub fn new(region: MappedRegion, starts: bool, p: &mut impl Platform) -> Option<Self> {
        if region.size() < MIN_REGION {
            p.print(format_args!("shared region {region:?} is smaller than {MIN_REGION} bytes"));
            return None;
        }
        p.print(format_args!("up; shared region of {:#x} bytes at {:#x}", region.size(), region.vaddr()));
        Some(Self { region, starts })
    }

    /// The shared region.
    pub fn region(&self) -> &MappedRegion {
        &self.region
    }

    /// After `init`: the starting side writes its greeting and notifies the peer.
    pub fn start(&mut self, p: &mut impl Platform) {
        if self.starts {
            let greeting = "hello from the template PD";
            if self.put(GREETING_AT, greeting) && p.notify_peer() {
                p.print(format_args!("wrote \"{greeting}\" and notified channel {PEER_CHANNEL}"));
            }
        }
    }

    /// The peer notified: read its answer (starting side) or answer its greeting.
    pub fn notified(&mut self, p: &mut impl Platform) {
        let mut buf = [0u8; LEN];
        if self.starts {
            p.print(format_args!("the peer answered \"{}\"", self.get(ANSWER_AT, &mut buf)));
            return;
        }
        p.print(format_args!("read \"{}\" from the shared region", self.get(GREETING_AT, &mut buf)));
        if self.put(ANSWER_AT, "hello back") && p.notify_peer() {
            p.print(format_args!("answered and notified channel {PEER_CHANNEL}"));
        }
    }

    /// Writes `text` (zero-padded to `LEN`) at `at` (in bounds: `new` checked the size).
    fn put(&self, at: usize, text: &str) -> bool {
        let mut buf = [0u8; LEN];
        let n = text.len().min(LEN);
        buf[..n].copy_from_slice(&text.as_bytes()[..n]);
        self.region.write(at, &buf).is_ok()
    }

    /// The zero-padded text at `at` (or a marker if it is not UTF-8).
    fn get<'b>(&self, at: usize, buf: &'b mut [u8; LEN]) -> &'b str {
        if self.region.read(at, buf).is_err() {
            return "<unreadable>";
        }
        let n = buf.iter().position(|&b| b == 0).unwrap_or(LEN);
        core::str::from_utf8(&buf[..n]).unwrap_or("<not UTF-8>")
    }
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

    #[test]
    fn the_starting_side_greets_and_reads_the_answer() {
        let mut p = Fake::default();
        let mut t = Template::new(region_host::zeroed("shared", 4096), true, &mut p).unwrap();
        t.start(&mut p);
        assert_eq!(p.lines[1], "wrote \"hello from the template PD\" and notified channel 1");
        let mut got = [0u8; 26];
        t.region().read(0, &mut got).unwrap();
        assert_eq!(&got, b"hello from the template PD");
        t.region().write(ANSWER_AT, b"hi").unwrap();
        t.notified(&mut p);
        assert_eq!(p.lines[2], "the peer answered \"hi\"");
        assert_eq!(p.notified, 1);
    }

    #[test]
    fn the_other_side_answers() {
        let mut p = Fake::default();
        let region = region_host::zeroed("shared", 4096);
        region.write(0, b"hello").unwrap();
        let mut t = Template::new(region, false, &mut p).unwrap();
        t.start(&mut p);
        assert_eq!(p.notified, 0, "only the starting side greets");
        t.notified(&mut p);
        assert_eq!(&p.lines[1..], ["read \"hello\" from the shared region", "answered and notified channel 1"]);
        let mut got = [0u8; 10];
        t.region().read(ANSWER_AT, &mut got).unwrap();
        assert_eq!(&got, b"hello back");
        assert!(Template::new(region_host::zeroed("shared", 64), false, &mut p).is_none());
    }
}
