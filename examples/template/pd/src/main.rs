//! The template PD's binary: wires the `template` library to the PD runtime. A PD main has
//! only this: setvars, region views from `pd::region!`, a platform adapter for the kernel
//! calls the library needs, and a `Handler` that forwards. No `unsafe`, no logic.
#![no_std]
#![no_main]

use pd::{debug_println, Channel, ChannelSet, Handler};
use template::{Platform, Template};

// Filled in by the image tool from `<setvar symbol="starts" value="1"/>`; the region view
// below from `<map .. setvar_vaddr="shared" setvar_size="shared_size">`.
pd::setvar!(starts: u64 = 0);

/// The channel to the peer (its id as this PD's `<end id="1">` says).
const PEER: Channel = Channel::new(template::PEER_CHANNEL);

/// The kernel calls the library makes.
struct Kernel;

impl Platform for Kernel {
    fn notify_peer(&mut self) -> bool {
        PEER.notify().map_err(|e| debug_println!("{}: cannot notify the peer: {e}", pd::name())).is_ok()
    }
    fn print(&mut self, line: core::fmt::Arguments<'_>) {
        debug_println!("{}: {line}", pd::name());
    }
}

/// Running, or idle when the region is missing (the reason was printed).
struct TemplatePd(Option<Template>);

fn init() -> TemplatePd {
    let region = pd::region!(shared).map_err(|e| debug_println!("{}: {e}", pd::name())).ok();
    let mut t = region.and_then(|r| Template::new(r, starts.get() == 1, &mut Kernel));
    if let Some(t) = &mut t {
        t.start(&mut Kernel);
    }
    TemplatePd(t)
}

impl Handler for TemplatePd {
    fn notified(&mut self, channels: ChannelSet) {
        if let (Some(t), true) = (&mut self.0, channels.contains(PEER)) {
            t.notified(&mut Kernel);
        }
    }
}

pd::protection_domain!(init);
