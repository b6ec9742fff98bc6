//! The driver-core test suite, written once and instantiated for every backend + model pair
//! (e1000; DP83820 with 32- and 64-bit descriptors) by `suite!` below. Each test drives the
//! core through the simulated PD loop in `model::rig` and asserts on real figures: bytes on the
//! wire and in client buffers, device and driver counters, interrupt and signal counts.

extern crate std;

mod filter;
mod multi;

use crate::engine::Config;
use crate::model::rig::*;
use crate::model::{test_frame, NicModel};
use ring::Desc;
use std::vec::Vec;

fn cfg(holdoff_us: u32) -> Config {
    Config { rx_slots: 64, tx_slots: 64, budget: 32, holdoff_us }
}

fn ready<F: Fixture>(c: Config) -> Rig<F> {
    let mut r = rig::<F>(c);
    r.client_post_rx(0, 128);
    r.settle(1_000_000);
    r
}

/// Closing a session resets the device (it owns no client buffer any more) and unpins every
/// page the driver had pinned; frames arriving afterwards reach no client memory.
pub fn shutdown_resets_and_unpins<F: Fixture>() {
    let mut r = ready::<F>(cfg(0));
    for i in 0..4 {
        assert!(r.client_send(&test_frame(PEER, MAC, 100, i)));
    }
    r.settle(10_000_000);
    assert!(r.driver.xlate().pinned_now() > 0, "{}: buffers posted", F::NAME);
    let delivered = r.driver.stats().rx_packets;
    let (_backend, xlate, stats, reset) = r.shutdown();
    assert_eq!(reset, Ok(()), "{}: the reset completes", F::NAME);
    assert_eq!(xlate.pinned_now(), 0, "{}: every pin given back", F::NAME);
    assert_eq!(stats.rx_packets, delivered);
}

/// The receive-address filter passes unicast for the programmed addresses (16 on every chip:
/// the 82540's and 82574's receive-address registers; the DP83820's perfect match plus 15 in
/// its hash table, whose test addresses here are chosen not to collide), keeps broadcast, and
/// refuses a list it cannot hold or a non-station entry without changing what it passes.
pub fn unicast_filter<F: Fixture>() {
    use crate::backend::{FilterError, MacAddr, NicBackend};
    const OTHER: [u8; 6] = [0x52, 0x54, 0x00, 0x12, 0x34, 0x57];
    let max = 16;
    let mut r = ready::<F>(cfg(0));
    let two = [MacAddr(MAC), MacAddr(OTHER)];
    assert_eq!(r.driver.backend_mut().set_unicast_filter(&two), Ok(()), "{}", F::NAME);
    let many: Vec<MacAddr> = (0..=max as u8).map(|i| MacAddr([0x52, 0x54, 0, 1, 2, i])).collect();
    let e = r.driver.backend_mut().set_unicast_filter(&many);
    assert_eq!(e, Err(FilterError::TooMany { max }), "{}: one too many", F::NAME);
    let e = r.driver.backend_mut().set_unicast_filter(&[MacAddr([0x01, 0, 0x5e, 0, 0, 1])]);
    assert!(matches!(e, Err(FilterError::NotStation(_))), "{}: multicast entry refused", F::NAME);
    let deliver = |r: &mut Rig<F>, dst: [u8; 6], tag: u32| {
        let before = r.client.received.len();
        r.arrive(r.clock.now() + 1_000, test_frame(dst, PEER, 80, tag));
        r.settle(10_000_000);
        r.client.received.len() - before
    };
    // Refused calls left the filter as the last accepted one (or init) set it.
    assert_eq!(deliver(&mut r, MAC, 1), 1, "{}: station address passes", F::NAME);
    assert_eq!(deliver(&mut r, OTHER, 2), 1, "{}: second address", F::NAME);
    assert_eq!(deliver(&mut r, PEER, 3), 0, "{}: unicast for nobody is dropped", F::NAME);
    assert_eq!(deliver(&mut r, [0xff; 6], 4), 1, "{}: broadcast passes", F::NAME);
    // Reprogrammed to OTHER alone: the old station address is now dropped in hardware.
    assert_eq!(r.driver.backend_mut().set_unicast_filter(&[MacAddr(OTHER)]), Ok(()));
    assert_eq!(deliver(&mut r, OTHER, 5), 1, "{}: new address passes", F::NAME);
    assert_eq!(deliver(&mut r, MAC, 6), 0, "{}: old address dropped", F::NAME);
    assert_eq!(deliver(&mut r, [0xff; 6], 7), 1, "{}: broadcast still passes", F::NAME);
    let full: Vec<MacAddr> = (0..max as u8).map(|i| MacAddr([0x52, 0x54, 0, 9, 9, i])).collect();
    assert_eq!(r.driver.backend_mut().set_unicast_filter(&full), Ok(()));
    assert_eq!(deliver(&mut r, [0x52, 0x54, 0, 9, 9, 15], 8), 1, "{}: last entry used", F::NAME);
    assert_eq!(deliver(&mut r, OTHER, 9), 0, "{}: entries beyond the list cleared", F::NAME);
    assert_eq!(r.driver.session().errors.rejected(), 0);
}

pub fn init_reset_and_mac<F: Fixture>() {
    let r = rig::<F>(cfg(100));
    assert_eq!(r.driver.mac().0, MAC, "{}: MAC read back after reset", F::NAME);
    let h = r.model.borrow().programmed_holdoff_ns();
    assert!((99_000..=100_000).contains(&h), "{}: 100 us hold-off programmed as {h} ns", F::NAME);
    let r0 = rig::<F>(cfg(0));
    assert_eq!(r0.model.borrow().programmed_holdoff_ns(), 0);
    // Too long a hold-off is an error value, not a panic.
    let e = rig_with::<F>(cfg(1_000_000), |_, _| {}).err().expect("must be refused");
    assert!(std::format!("{e}").contains("hold-off"), "{e}");
    // A bad ring size too.
    let e = rig_with::<F>(Config { rx_slots: 12, ..cfg(0) }, |_, _| {}).err().expect("refused");
    assert!(std::format!("{e}").contains("slots"), "{e}");
}

pub fn rx_all_sizes<F: Fixture>() {
    let mut r = ready::<F>(cfg(0));
    assert_eq!(r.driver.rx_posted(), 63, "ring of 64 holds 63 buffers");
    let mut sizes: Vec<usize> = (60..=1514).step_by(37).collect();
    sizes.extend([61, 64, 128, 1500, 1513, 1514]);
    let frames: Vec<Vec<u8>> = sizes.iter().enumerate().map(|(i, &l)| test_frame(MAC, PEER, l, i as u32)).collect();
    let t = r.clock.now();
    for (i, f) in frames.iter().enumerate() {
        r.arrive(t + i as u64 * 20_000, f.clone());
    }
    // Broadcast is accepted, frames for another station are filtered.
    r.arrive(t + 5_000_000, test_frame([0xff; 6], PEER, 60, 999));
    r.arrive(t + 5_000_100, test_frame(PEER, MAC, 60, 998));
    r.settle(100_000_000);
    let got = &r.client.received;
    assert_eq!(got.len(), frames.len() + 1, "{}", F::NAME);
    assert_eq!(&got[..frames.len()], &frames[..], "byte-exact, in order");
    let s = r.driver.stats();
    assert_eq!(s.rx_packets, frames.len() as u64 + 1);
    let bytes: usize = sizes.iter().sum::<usize>() + 60;
    assert_eq!(s.rx_bytes, bytes as u64);
    assert_eq!(s.rx_dropped_no_buffer, 0);
    assert_eq!(r.driver.session().errors.rejected(), 0);
    // Buffers recycled: the ring is full of buffers again, each pinned exactly once.
    assert_eq!(r.driver.rx_posted(), 63);
    assert_eq!(r.driver.xlate().pinned_now(), 63);
    assert_eq!(s.pins - s.unpins, 63);
}

pub fn tx_frames<F: Fixture>() {
    let mut r = ready::<F>(cfg(0));
    let frames: Vec<Vec<u8>> = (0..40).map(|i| test_frame(PEER, MAC, 60 + i * 36, i as u32)).collect();
    for f in &frames {
        assert!(r.client_send(f));
        r.step();
    }
    r.settle(100_000_000);
    assert_eq!(r.wire_out, frames, "{}: frames on the wire, byte-exact", F::NAME);
    let s = r.driver.stats();
    assert_eq!(s.tx_packets, 40);
    assert_eq!(s.tx_bytes, frames.iter().map(|f| f.len() as u64).sum::<u64>());
    assert_eq!(r.driver.tx_in_flight(), 0);
    assert_eq!(r.client.tx_refused, 0);
    assert_eq!(r.driver.xlate().pinned_now(), 63, "tx pins released; rx buffers stay pinned");
    // Short frames are padded by the device.
    assert!(r.client_send(&test_frame(PEER, MAC, 20, 77)[..20]));
    r.settle(10_000_000);
    assert_eq!(r.wire_out.last().map(|f| f.len()), Some(60));
}

pub fn batching_and_suppression<F: Fixture>() {
    let mut r = ready::<F>(cfg(0));
    // A burst arriving while the driver is not running is handled in one interrupt and costs
    // the client one signal.
    let t = r.clock.now();
    for i in 0..32 {
        r.arrive(t, test_frame(MAC, PEER, 100, i));
    }
    let (irq0, n0) = (r.counts.irq_events, r.counts.driver_to_client);
    r.settle(50_000_000);
    assert_eq!(r.client.received.len(), 32);
    assert_eq!(r.counts.irq_events - irq0, 1, "{}: one interrupt for the batch", F::NAME);
    assert_eq!(r.counts.driver_to_client - n0, 1, "one signal for the batch");

    // A busy client: the first frame finds the driver idle (one signal); while transmissions
    // are in flight the driver does not ask to be signalled, so the rest go without one.
    let s0 = r.client.signals_to_driver;
    let before = r.driver.stats();
    for i in 0..30 {
        assert!(r.client_send(&test_frame(PEER, MAC, 200, i)));
        if i == 0 {
            r.step(); // the driver takes the first frame: now one is in flight
            assert!(r.driver.tx_in_flight() > 0);
        }
    }
    let signals = r.client.signals_to_driver - s0;
    assert_eq!(signals, 1, "{}: busy client enqueues 29 frames with no signal", F::NAME);
    r.settle(50_000_000);
    assert_eq!(r.wire_out.len(), 30, "all sent: the tx-complete interrupt woke the driver");
    assert!(r.driver.stats().tx_signal_avoided > before.tx_signal_avoided);
    assert!(r.driver.stats().notify_suppressed > 0);
}

pub fn holdoff_reduces_interrupts<F: Fixture>() {
    // 1514-byte frames at ~1 Gb/s line rate (12.2 us apart).
    let f0 = burst_figures::<F>(0, 400, 1514, 12_200);
    let f100 = burst_figures::<F>(100, 400, 1514, 12_200);
    assert_eq!(f0.received, 400);
    assert_eq!(f100.received, 400);
    assert!(f0.irqs_per_pkt > 0.8, "{}: ~1 interrupt per frame without hold-off: {f0:?}", F::NAME);
    assert!(f100.irqs_per_pkt < 0.2, "{}: hold-off coalesces: {f100:?}", F::NAME);
    assert!(f100.irqs_per_pkt * 4.0 < f0.irqs_per_pkt);
    assert!(f100.notify_per_pkt < f0.notify_per_pkt);
}

pub fn overload_without_livelock<F: Fixture>() {
    let c = Config { rx_slots: 64, tx_slots: 64, budget: 16, holdoff_us: 0 };
    let mut r = ready::<F>(c);
    // Receive flood: a 64-byte frame every 200 ns (far beyond the 2 us + 0.5 us/packet the
    // driver needs), for 20 ms; meanwhile the client transmits a frame every 50 us.
    let t0 = r.clock.now();
    let end = t0 + 20_000_000;
    let mut t = t0;
    let mut i = 0;
    while t < end {
        r.arrive(t, test_frame(MAC, PEER, 64, i));
        t += 200;
        i += 1;
    }
    let offered = i as u64;
    let mut sent = 0;
    let mut next_tx = t0;
    while r.clock.now() < end {
        if r.clock.now() >= next_tx {
            if r.client_send(&test_frame(PEER, MAC, 1000, sent)) {
                sent += 1;
            }
            next_tx += 50_000;
        }
        r.step();
    }
    r.settle(100_000_000);
    r.driver.fold_counters();
    let s = r.driver.stats();
    assert!(sent >= 390, "{}: the client got to run and send ({sent})", F::NAME);
    assert_eq!(r.wire_out.len() as u32, sent, "{}: every transmission made progress", F::NAME);
    let got = r.client.received.len() as u64;
    assert!(got > 1000, "{}: receive progress under overload ({got})", F::NAME);
    assert_eq!(s.rx_packets, got);
    let dropped = r.model.borrow().rx_overruns();
    assert_eq!(got + dropped, offered, "every frame delivered or counted as dropped");
    assert_eq!(s.rx_dropped_no_buffer, dropped, "driver's drop count matches the device");
    assert!(r.counts.max_pkts_per_event <= 16 + 64, "bounded work per event");
    assert!(s.max_work_per_event <= 16, "budget respected: {}", s.max_work_per_event);
    assert!(s.budget_exhausted > 0, "backlog handled by polling with interrupts masked");
    let edges = r.model.borrow().irq_edges();
    assert!(edges < got / 2, "{}: interrupts masked while polling ({edges} for {got})", F::NAME);
}

pub fn rx_overrun_counted<F: Fixture>() {
    let mut r = rig::<F>(cfg(0));
    r.client.return_rx = false; // a client that never returns buffers
    r.client_post_rx(0, 8);
    r.settle(1_000_000);
    let t = r.clock.now();
    for i in 0..50 {
        r.arrive(t + i * 5_000, test_frame(MAC, PEER, 300, i as u32));
    }
    r.settle(100_000_000);
    assert_eq!(r.client.received.len(), 8);
    // Drops raise no interrupt of their own (no livelock); the counters are read on demand.
    r.driver.fold_counters();
    let s = r.driver.stats();
    assert_eq!(s.rx_dropped_no_buffer, 42, "{}", F::NAME);
    assert_eq!(r.model.borrow().rx_overruns(), 42);
    // The driver is healthy: transmit still works, and returned buffers bring rx back.
    assert!(r.client_send(&test_frame(PEER, MAC, 100, 1)));
    r.settle(10_000_000);
    assert_eq!(r.wire_out.len(), 1);
    assert!(r.driver.stats().rx_overrun_events > 0, "overrun seen in the cause register");
    r.client.return_rx = true;
    r.client_post_rx(8, 8);
    r.settle(1_000_000);
    let t = r.clock.now();
    r.arrive(t, test_frame(MAC, PEER, 300, 99));
    r.settle(10_000_000);
    assert_eq!(r.client.received.len(), 9);
}

pub fn hostile_descriptors<F: Fixture>() {
    let mut r = rig_with::<F>(cfg(0), |_, x| x.swap_pages(DS, 200, 201)).unwrap_or_else(|e| panic!("{e}"));
    // Receive side: a too-small buffer and one in an unknown dataspace are refused.
    let bad_rx = [
        Desc { dataspace: DS, offset: 0, len: 100, cookie: 0 },
        Desc { dataspace: 9, offset: 0, len: 2048, cookie: 0 },
        Desc { dataspace: DS, offset: u32::MAX - 100, len: 2048, cookie: 0 },
    ];
    for d in bad_rx {
        assert!(r.client.rx.free.enqueue(d).is_ok());
    }
    r.client_post_rx(0, 4);
    r.settle(1_000_000);
    assert_eq!(r.driver.rx_posted(), 4, "only the good buffers are posted");
    let e = r.driver.session().errors;
    assert_eq!((e.rx_buffer_too_small, e.unknown_dataspace, e.out_of_bounds), (1, 1, 1));

    // Transmit side: every malformed descriptor is refused, counted, and handed back with
    // len 0; nothing reaches the wire.
    let tx_off = RX_BUFS * BUF;
    let page300 = 201 * 4096 - 100; // crosses from page 200 into 201, whose frames are swapped
    let bad_tx = [
        Desc { dataspace: 7, offset: tx_off, len: 100, cookie: 1000 },
        Desc { dataspace: DS, offset: DS_SIZE as u32 - 50, len: 100, cookie: 1001 },
        Desc { dataspace: DS, offset: u32::MAX - 10, len: 100, cookie: 1002 },
        Desc { dataspace: DS, offset: tx_off, len: 0, cookie: 1003 },
        Desc { dataspace: DS, offset: tx_off, len: 1515, cookie: 1004 },
        Desc { dataspace: DS, offset: page300, len: 1000, cookie: 1005 },
    ];
    for d in bad_tx {
        assert!(r.client_send_raw(d));
    }
    r.settle(10_000_000);
    assert!(r.wire_out.is_empty(), "{}: nothing malformed was transmitted", F::NAME);
    r.client.reclaim_tx();
    assert_eq!(r.client.tx_refused, 6, "all handed back with len 0");
    let e = r.driver.session().errors;
    assert_eq!(e.unknown_dataspace, 2);
    assert_eq!(e.out_of_bounds, 3);
    assert_eq!((e.too_short, e.too_long, e.not_contiguous), (1, 1, 1));
    assert_eq!(e.rejected(), 9);
    assert_eq!(r.driver.tx_in_flight(), 0);
    // ...and the driver still works.
    let f = test_frame(PEER, MAC, 500, 5);
    assert!(r.client_send(&f));
    let t = r.clock.now();
    r.arrive(t + 1000, test_frame(MAC, PEER, 500, 6));
    r.settle(10_000_000);
    assert_eq!(r.wire_out, std::vec![f]);
    assert_eq!(r.client.received.len(), 1);
    assert_eq!(r.driver.xlate().pinned_now(), 4, "refused buffers left no pins behind");
}

pub fn tx_flood_costs_only_the_client<F: Fixture>() {
    let c = Config { rx_slots: 64, tx_slots: 32, budget: 16, holdoff_us: 100 };
    let mut r = ready::<F>(c);
    // The client floods the tx queue (queue capacity 256, ring 32) while frames arrive.
    let mut queued = 0;
    for i in 0..256 {
        if r.client_send(&test_frame(PEER, MAC, 1514, i)) {
            queued += 1;
        }
    }
    assert_eq!(queued, 256, "the client filled its whole queue");
    let t = r.clock.now();
    for i in 0..100 {
        r.arrive(t + i * 10_000, test_frame(MAC, PEER, 200, i as u32));
    }
    // A flooding client that keeps resending as buffers come back.
    let end = t + 5_000_000;
    let mut extra = 0;
    while r.clock.now() < end {
        if r.client_send(&test_frame(PEER, MAC, 1514, 1000 + extra)) {
            extra += 1;
        }
        r.step();
    }
    r.settle(100_000_000);
    assert_eq!(r.client.received.len(), 100, "{}: receive unaffected by the tx flood", F::NAME);
    assert_eq!(r.wire_out.len() as u32, 256 + extra, "everything queued is sent eventually");
    let s = r.driver.stats();
    assert!(s.max_work_per_event <= 16, "bounded work per event: {}", s.max_work_per_event);
    assert_eq!(r.driver.session().errors.rejected(), 0);
}

pub fn translation_misses_and_pins<F: Fixture>() {
    let mut r = ready::<F>(cfg(0));
    let s = r.driver.stats();
    // 63 receive buffers of 2 KiB: two per page, both halves touched -> 32 distinct pages.
    assert_eq!(s.xlate_misses, 32, "{}: one miss per page on first touch", F::NAME);
    assert_eq!(s.pins, 63);
    for i in 0..10 {
        assert!(r.client_send(&test_frame(PEER, MAC, 100, i)));
    }
    r.settle(10_000_000);
    let s2 = r.driver.stats();
    assert!(s2.xlate_misses > s.xlate_misses && s2.xlate_misses <= s.xlate_misses + 10);
    // Resending from the same buffers hits the cache.
    r.client.reclaim_tx();
    for i in 0..10 {
        assert!(r.client_send(&test_frame(PEER, MAC, 100, i)));
    }
    r.settle(10_000_000);
    assert_eq!(r.driver.stats().xlate_misses, s2.xlate_misses, "warm cache: no misses");
    assert_eq!(r.driver.xlate().pinned_now(), 63);
}

macro_rules! suite {
    ($name:ident, $fx:ty) => {
        mod $name {
            use super::*;
            #[test]
            fn init_reset_and_mac() {
                super::init_reset_and_mac::<$fx>()
            }
            #[test]
            fn unicast_filter() {
                super::unicast_filter::<$fx>()
            }
            #[test]
            fn rx_all_sizes() {
                super::rx_all_sizes::<$fx>()
            }
            #[test]
            fn tx_frames() {
                super::tx_frames::<$fx>()
            }
            #[test]
            fn batching_and_suppression() {
                super::batching_and_suppression::<$fx>()
            }
            #[test]
            fn holdoff_reduces_interrupts() {
                super::holdoff_reduces_interrupts::<$fx>()
            }
            #[test]
            fn overload_without_livelock() {
                super::overload_without_livelock::<$fx>()
            }
            #[test]
            fn rx_overrun_counted() {
                super::rx_overrun_counted::<$fx>()
            }
            #[test]
            fn hostile_descriptors() {
                super::hostile_descriptors::<$fx>()
            }
            #[test]
            fn tx_flood_costs_only_the_client() {
                super::tx_flood_costs_only_the_client::<$fx>()
            }
            #[test]
            fn translation_misses_and_pins() {
                super::translation_misses_and_pins::<$fx>()
            }
            #[test]
            fn shutdown_resets_and_unpins() {
                super::shutdown_resets_and_unpins::<$fx>()
            }
        }
    };
}

suite!(e1000, E1000Fx);
suite!(e1000e, E1000eFx);
suite!(dp83820_32, Dp32Fx);
suite!(dp83820_64, Dp64Fx);

#[test]
fn e1000_mac_from_eeprom_when_ral_is_empty() {
    let r = rig_with::<E1000Fx>(cfg(0), |m, _| m.autoload_mac = false).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(r.driver.mac().0, MAC, "read through EERD");
}

#[test]
fn e1000e_mac_from_eeprom_uses_the_82574_eerd_layout() {
    let r = rig_with::<E1000eFx>(cfg(0), |m, _| m.autoload_mac = false).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(r.driver.mac().0, MAC, "read through the 82574's EERD");
    assert_eq!(crate::backend::NicBackend::chip(r.driver.backend()), "e1000e (82574L)");
}

#[test]
fn the_82540_eerd_layout_on_an_82574_reads_the_wrong_words() {
    // The negative control of the test above: the 82540 backend on the 82574 model.
    use crate::backend::NicBackend;
    use crate::e1000::E1000;
    use crate::model::{PhysMem, PhysWindow, SharedRegs};
    let phys = PhysMem::new(0x10_0000, 0x10000);
    let mut model = crate::model::e1000::E1000Model::new_82574(phys.clone(), Default::default(), MAC);
    model.autoload_mac = false;
    let m = std::rc::Rc::new(std::cell::RefCell::new(model));
    let mut b =
        E1000::new(SharedRegs(m), PhysWindow::new(&phys, 0x10_0000, 0x1000), PhysWindow::new(&phys, 0x10_1000, 0x1000));
    match b.init(64, 64, 0) {
        Ok(mac) => assert_ne!(mac.0, MAC, "the 82540 layout must not find the 82574's MAC"),
        Err(e) => assert!(std::format!("{e}").contains("EERD") || std::format!("{e}").contains("MAC"), "{e}"),
    }
}

#[test]
fn dp83820_without_eeprom_mac_is_an_error() {
    let e = rig_with::<Dp32Fx>(cfg(0), |m, _| m.eeprom_mac = [0; 6]).err().expect("refused");
    assert!(std::format!("{e}").contains("MAC"), "{e}");
}

#[test]
fn dp83820_32bit_mode_refuses_buffers_above_4g() {
    use crate::backend::NicBackend;
    use crate::dp83820::{Addressing, Dp83820};
    use crate::model::{PhysMem, PhysWindow, SharedRegs};
    // Rings below 4 GiB are fine; rings above need 64-bit descriptors.
    let phys = PhysMem::new(0x1_0000_0000, 0x10000);
    let m = std::rc::Rc::new(std::cell::RefCell::new(crate::model::dp83820::Dp83820Model::new(
        phys.clone(),
        Default::default(),
        MAC,
    )));
    let mut b = Dp83820::new(
        SharedRegs(m),
        PhysWindow::new(&phys, 0x1_0000_0000, 0x1000),
        PhysWindow::new(&phys, 0x1_0000_1000, 0x1000),
        Addressing::Bits32,
    );
    let e = b.init(64, 64, 0).expect_err("above 4 GiB");
    assert!(std::format!("{e}").contains("4 GiB"), "{e}");
    assert_eq!(b.dma_limit(), 1 << 32);
}

#[test]
fn holdoff_figures() {
    // Host-model figures (not hardware): a burst of 1000 frames of 1024 bytes at ~1 Gb/s.
    std::println!("host-model figures: burst of 1000 x 1024-byte frames, 8.5 us apart");
    std::println!("{:<30} {:>9} {:>10} {:>12}", "model", "hold-off", "irq/pkt", "notify/pkt");
    fn row<F: Fixture>() {
        for h in [0, 100] {
            let f = burst_figures::<F>(h, 1000, 1024, 8_500);
            assert_eq!(f.received, 1000);
            std::println!("{:<30} {:>6} us {:>10.3} {:>12.3}", F::NAME, h, f.irqs_per_pkt, f.notify_per_pkt);
        }
    }
    row::<E1000Fx>();
    row::<Dp32Fx>();
}

/// Receive buffers the driver cannot post for reasons that are not the client's fault (here
/// the pin quota) go back to the client with `len = 0`, counted, instead of being dropped: the
/// client's pool does not drain, and once pins free up the buffers are posted again.
#[test]
fn rx_buffers_refused_by_the_pin_quota_are_returned_not_dropped() {
    let mut r = rig_with::<E1000Fx>(cfg(0), |_, x| x.quota = 10).unwrap_or_else(|e| panic!("{e}"));
    r.client_post_rx(0, 40);
    r.settle(1_000_000);
    assert_eq!(r.driver.rx_posted(), 10, "the quota allows 10 pins");
    let returned = r.driver.session().errors.rx_returned;
    assert!(returned > 0, "refused buffers counted as returned");
    assert!(r.client.rx_empty > 0, "the client got buffers back with len 0");
    // Every buffer is somewhere: with the device, or with the client (its free ring or kept).
    let with_client = r.client.rx.free.free_slots().map(|room| QCAP - room).unwrap();
    assert_eq!(u32::from(r.driver.rx_posted()) + with_client + r.client.kept_rx.len() as u32, 40);
    assert_eq!(r.driver.session().errors.translation, 0, "not counted as the client's error");
    // The quota frees up: the returned buffers are posted again.
    r.driver.xlate_mut().quota = 1 << 20;
    for i in 0..4 {
        r.arrive(r.clock.now() + 1_000, test_frame(MAC, PEER, 100, i));
    }
    r.settle(10_000_000);
    assert_eq!(r.client.received.iter().filter(|f| f.len() == 100).count(), 4, "frames still arrive");
    assert_eq!(r.driver.rx_posted(), 40, "every buffer posted once pins are available");
}

/// One event examines at most one ring's worth of free receive buffers, however many the
/// client queued (here all of them junk that never fills the ring).
#[test]
fn one_event_refills_at_most_the_ring_size() {
    let mut r = rig::<E1000Fx>(cfg(0));
    let posted = r.driver.rx_posted();
    let before = r.driver.session().errors.rx_buffer_too_small;
    for i in 0..200 {
        let d = Desc { dataspace: DS, offset: i * BUF, len: 64, cookie: i };
        assert!(r.client.rx.free.enqueue(d).is_ok());
    }
    let _ = r.driver.on_client_notified();
    let examined = r.driver.session().errors.rx_buffer_too_small - before;
    assert!(examined > 0 && examined <= 64, "one event examined {examined} buffers (ring of 64)");
    assert_eq!(r.driver.rx_posted(), posted);
}
