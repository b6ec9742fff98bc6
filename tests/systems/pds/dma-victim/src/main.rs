//! Test-only PD (`dma_victim.elf`, tests/systems/iommu-stray.xml, `make test-iommu`): an
//! innocent PD whose page a buggy driver's DMA targets. It fills its page `victim_page` with a
//! known pattern at start and, each time it is notified (by the test driver, once the device
//! has completed the stray receive buffer), compares the page with the pattern and says
//! whether it is intact or how much was overwritten. With the IOMMU on, the device can reach
//! only the driver's grant, so the page must stay intact; without it, the frame lands here.
#![no_std]
#![no_main]

use pd::{debug_println, ChannelSet, Handler, MappedRegion};

pd::setvar!(victim_page_paddr: u64 = 0);

/// The pattern byte at `offset`: position-dependent, so no frame repeats it by chance.
fn pattern(offset: usize) -> u8 {
    (offset.wrapping_mul(31) as u8) ^ 0xa5
}

struct Victim(Option<MappedRegion>);

fn init() -> Victim {
    let page = match pd::region!(victim_page) {
        Ok(p) => p,
        Err(e) => {
            debug_println!("{}: no victim page ({e}); nothing to guard", pd::name());
            return Victim(None);
        }
    };
    for off in 0..page.size() {
        // In bounds by construction; a failure would only leave the byte unwritten.
        let _ = page.write(off, &[pattern(off)]);
    }
    debug_println!(
        "{}: pattern written to {} bytes at physical {:#x}",
        pd::name(),
        page.size(),
        victim_page_paddr.get()
    );
    Victim(Some(page))
}

impl Handler for Victim {
    fn notified(&mut self, _channels: ChannelSet) {
        let Some(page) = &self.0 else { return };
        let (mut changed, mut first) = (0usize, None);
        for off in 0..page.size() {
            let mut b = [0u8];
            if page.read(off, &mut b).is_ok() && b[0] != pattern(off) {
                changed += 1;
                first.get_or_insert(off);
            }
        }
        match first {
            None => debug_println!("{}: pattern intact ({} bytes)", pd::name(), page.size()),
            Some(at) => debug_println!(
                "{}: pattern overwritten: {changed} of {} bytes changed, the first at offset {at:#x}",
                pd::name(),
                page.size()
            ),
        }
    }
}

pd::protection_domain!(init);
