//! The dataspace manager PD (`dataspace_mgr.elf` in `system.xml`): wires the host-tested
//! `dataspace-mgr` library ([`dataspace_mgr::service`]) to the PD runtime. Setvars (scheme in
//! `system.xml`'s header and the crate README): dataspaces `ds0..ds3` (`dsK_size`, `dsK_paddr`,
//! `dsK_sharers`, `dsK_id`, `dsK_page_size`), `driver_pd`, `pin_quota`, region `translation_cache`.
//! Channels: 1 = driver, 2 = admin PD, 3 = the monitor's driver-fault notice (`<fault_notify>`).
#![no_std]
#![no_main]

use core::mem::MaybeUninit;

use dataspace_api::{cache::table_from_region, PdId};
use dataspace_mgr::service::{self, MgrPd, Platform, Role, Setup, Slot, StartError};
use linked_list_allocator::LockedHeap;
use pd::{debug_println, Channel, ChannelSet, Handler, Message, Refusal};
use static_cell::ConstStaticCell;

pd::setvar!(driver_pd: u64 = 1);
pd::setvar!(pin_quota: u64 = 512);
macro_rules! slot {
    ($size:ident, $paddr:ident, $sharers:ident, $id:ident = $default_id:expr, $page:ident) => {{
        pd::setvar!($size: u64 = 0);
        pd::setvar!($paddr: u64 = 0);
        pd::setvar!($sharers: u64 = 0);
        pd::setvar!($id: u64 = $default_id);
        pd::setvar!($page: u64 = 4096);
        Slot { size: $size.get(), paddr: $paddr.get(), sharers: $sharers.get(), id: $id.get(), page_size: $page.get() }
    }};
}

const DRIVER: Channel = Channel::new(1);
const ADMIN: Channel = Channel::new(2);
const DRIVER_FAULT: Channel = Channel::new(3);

/// The heap `Manager::new` allocates its tables from (requests never allocate).
static HEAP: ConstStaticCell<[MaybeUninit<u8>; 256 * 1024]> = ConstStaticCell::new([MaybeUninit::uninit(); 256 * 1024]);
#[global_allocator]
static ALLOCATOR: LockedHeap = LockedHeap::empty();

/// The runtime's clock, console and fault notices.
struct Kernel;

impl Platform for Kernel {
    fn now_tsc(&mut self) -> u64 {
        pd::tsc()
    }
    fn print(&mut self, line: core::fmt::Arguments<'_>) {
        debug_println!("{}: {line}", pd::name());
    }
    fn faults_of(&mut self, pd: PdId) -> u32 {
        pd::fault_count(pd.index())
    }
}

/// Running, or down after a start-up failure (then every request is refused).
struct Mgr(Option<MgrPd<'static>>);

fn start() -> Result<MgrPd<'static>, StartError> {
    let region = pd::region!(translation_cache)
        .map_err(|_| StartError("the translation_cache region is not mapped (setvar_vaddr translation_cache)"))?;
    let cache = table_from_region(&region).map_err(|e| {
        debug_println!("{}: translation cache: {e}", pd::name());
        StartError("bad translation cache region")
    })?;
    let slots = [
        slot!(ds0_size, ds0_paddr, ds0_sharers, ds0_id = 0, ds0_page_size),
        slot!(ds1_size, ds1_paddr, ds1_sharers, ds1_id = 1, ds1_page_size),
        slot!(ds2_size, ds2_paddr, ds2_sharers, ds2_id = 2, ds2_page_size),
        slot!(ds3_size, ds3_paddr, ds3_sharers, ds3_id = 3, ds3_page_size),
    ];
    service::start(&Setup { driver_pd: driver_pd.get(), pin_quota: pin_quota.get(), slots }, cache, &mut Kernel)
}

fn init() -> Mgr {
    ALLOCATOR.lock().init_from_slice(HEAP.take());
    Mgr(start().map_err(|why| debug_println!("{}: cannot start: {why}; refusing every request", pd::name())).ok())
}

impl Handler for Mgr {
    fn notified(&mut self, channels: ChannelSet) {
        match &mut self.0 {
            _ if !channels.contains(DRIVER_FAULT) => debug_println!(
                "{}: notified on {channels:?}; only channel {DRIVER_FAULT} (driver faults) is expected",
                pd::name()
            ),
            Some(mgr) => mgr.driver_faulted(&mut Kernel),
            None => debug_println!("{}: told that the driver faulted, but this manager never started", pd::name()),
        }
    }

    fn protected(&mut self, channel: Channel, msg: Message) -> Result<Message, Refusal> {
        let role = match channel {
            DRIVER => Role::Driver,
            ADMIN => Role::Admin,
            _ => return Err(Refusal::UNSUPPORTED),
        };
        self.0.as_mut().ok_or(Refusal::UNSUPPORTED)?.protected(role, channel, &msg, &mut Kernel)
    }
}

pd::protection_domain!(init);
