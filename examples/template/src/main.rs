//! A template protection domain: one channel (id 1) to a peer and one shared memory region.
//! Two PDs built from it talk to each other: the one whose system file sets `starts` to 1
//! writes a greeting into the shared region and notifies its peer; the peer reads the
//! greeting, writes its answer after it and notifies back; the first prints the answer. Keep
//! the shape (setvars, `init`, a `Handler`) and replace the greeting with your PD's work.
#![no_std]
#![no_main]

use pd::{debug_println, Channel, ChannelSet, Handler, SharedRegion};

// Filled in by the image tool from the system file's `<map .. setvar_vaddr="shared"
// setvar_size="shared_size">` and `<setvar symbol="starts" value="1"/>`.
pd::setvar!(shared: u64 = 0);
pd::setvar!(shared_size: u64 = 0);
pd::setvar!(starts: u64 = 0);

/// The channel to the peer (its id as this PD's `<end id="1">` says).
const PEER: Channel = Channel::new(1);
/// Where each side writes in the shared region.
const GREETING_AT: usize = 0;
const ANSWER_AT: usize = 64;
const LEN: usize = 64;

struct Template {
    region: Option<SharedRegion>,
}

/// Writes `text` (zero-padded to `LEN`) at `at`.
fn put(r: &SharedRegion, at: usize, text: &str) -> Result<(), pd::Error> {
    let mut buf = [0u8; LEN];
    let n = text.len().min(LEN);
    buf[..n].copy_from_slice(&text.as_bytes()[..n]);
    r.write(at, &buf)
}

/// Reads the zero-padded text at `at` into `buf`; returns it (or a marker if not UTF-8).
fn get<'b>(r: &SharedRegion, at: usize, buf: &'b mut [u8; LEN]) -> Result<&'b str, pd::Error> {
    r.read(at, buf)?;
    let n = buf.iter().position(|&b| b == 0).unwrap_or(LEN);
    Ok(core::str::from_utf8(&buf[..n]).unwrap_or("<not UTF-8>"))
}

fn init() -> Template {
    let (vaddr, size) = (shared.get(), shared_size.get());
    if vaddr == 0 || size < (ANSWER_AT + LEN) as u64 {
        debug_println!(
            "{}: no shared region of at least {} bytes: map one with setvar_vaddr=\"shared\" setvar_size=\"shared_size\"",
            pd::name(),
            ANSWER_AT + LEN
        );
        return Template { region: None };
    }
    // SAFETY: the system file maps this region read-write at `shared` (`shared_size` bytes) and
    // this PD touches it only through this one view.
    let region = unsafe { SharedRegion::new(vaddr as usize, size as usize) };
    debug_println!("{}: up; shared region of {size:#x} bytes at {vaddr:#x}", pd::name());
    if starts.get() == 1 {
        let greeting = "hello from the template PD";
        match put(&region, GREETING_AT, greeting).and_then(|_| PEER.notify()) {
            Ok(()) => debug_println!("{}: wrote \"{greeting}\" and notified {PEER}", pd::name()),
            Err(e) => debug_println!("{}: cannot greet the peer: {e}", pd::name()),
        }
    }
    Template { region: Some(region) }
}

impl Handler for Template {
    fn notified(&mut self, channels: ChannelSet) {
        let Some(r) = &self.region else { return };
        if !channels.contains(PEER) {
            return;
        }
        let mut buf = [0u8; LEN];
        if starts.get() == 1 {
            match get(r, ANSWER_AT, &mut buf) {
                Ok(answer) => debug_println!("{}: the peer answered \"{answer}\"", pd::name()),
                Err(e) => debug_println!("{}: cannot read the answer: {e}", pd::name()),
            }
            return;
        }
        let result = get(r, GREETING_AT, &mut buf).map(|g| {
            debug_println!("{}: read \"{g}\" from the shared region", pd::name());
        });
        match result.and_then(|_| put(r, ANSWER_AT, "hello back")).and_then(|_| PEER.notify()) {
            Ok(()) => debug_println!("{}: answered and notified {PEER}", pd::name()),
            Err(e) => debug_println!("{}: cannot answer: {e}", pd::name()),
        }
    }
}

pd::protection_domain!(init);
