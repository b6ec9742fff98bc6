//! The DP83820's multi-address receive filter (perfect match plus the 2048-bit hash table)
//! driven through the backend and the driver core against the model: every programmed address
//! arrives, an unprogrammed one is dropped in "hardware" unless it collides in the hash (the
//! documented false positive), broadcast still passes, and a shorter list clears the old bits.
//! The suite test `unicast_filter` covers the limit and refusals on every chip; these are the
//! hash-specific cases.

extern crate std;

use crate::backend::{FilterError, MacAddr, NicBackend};
use crate::dp83820::regs::{RFCR, RFCR_AAB, RFCR_APM, RFCR_RFEN, RFCR_UHEN};
use crate::dp83820::{hash_index, MAX_UNICAST};
use crate::engine::Config;
use crate::model::rig::*;
use crate::model::{test_frame, MmioDevice};
use std::vec::Vec;

/// Three more client addresses, and one nobody programs. Their hash indices (1055, 1779, 1467;
/// fifth 222) differ from each other and from the station address's (1547):
/// `distinct_test_hashes` checks it.
const A1: [u8; 6] = [0x02, 0x00, 0x00, 0x00, 0x00, 0x01];
const A2: [u8; 6] = [0x02, 0x00, 0x00, 0x00, 0x00, 0x02];
const A3: [u8; 6] = [0x02, 0x00, 0x00, 0x00, 0x00, 0x03];
const FIFTH: [u8; 6] = [0x02, 0x00, 0x00, 0x00, 0x00, 0x05];

fn ready<F: Fixture>() -> Rig<F> {
    let mut r = rig::<F>(Config { rx_slots: 64, tx_slots: 64, budget: 32, holdoff_us: 0 });
    r.client_post_rx(0, 128);
    r.settle(1_000_000);
    r
}

fn program<F: Fixture>(r: &mut Rig<F>, macs: &[[u8; 6]]) -> Result<(), FilterError> {
    let list: Vec<MacAddr> = macs.iter().map(|&m| MacAddr(m)).collect();
    r.driver.backend_mut().set_unicast_filter(&list)
}

/// Sends one frame to `dst`; returns (frames the client got, frames the NIC's filter refused).
fn deliver<F: Fixture<M = crate::model::dp83820::Dp83820Model>>(
    r: &mut Rig<F>,
    dst: [u8; 6],
    tag: u32,
) -> (usize, u64) {
    let (got, filtered) = (r.client.received.len(), r.model.borrow().filtered);
    r.arrive(r.clock.now() + 1_000, test_frame(dst, PEER, 80, tag));
    r.settle(10_000_000);
    (r.client.received.len() - got, r.model.borrow().filtered - filtered)
}

fn rfcr<F: Fixture<M = crate::model::dp83820::Dp83820Model>>(r: &Rig<F>) -> u32 {
    r.model.borrow_mut().mmio_read(RFCR)
}

fn hash_bits<F: Fixture<M = crate::model::dp83820::Dp83820Model>>(r: &Rig<F>) -> u32 {
    r.model.borrow().hash_words().iter().map(|w| w.count_ones()).sum()
}

#[test]
fn distinct_test_hashes() {
    let idx: Vec<u16> = [MAC, A1, A2, A3, FIFTH].iter().map(hash_index).collect();
    assert_eq!(idx, [1547, 1055, 1779, 1467, 222]);
    for (i, a) in idx.iter().enumerate() {
        assert!(idx[i + 1..].iter().all(|b| b != a), "test addresses collide: {idx:?}");
    }
}

#[test]
fn backend_and_model_hash_agree() {
    // Two independent CRC formulations (bitwise MSB-first in the backend, reflected then
    // bit-reversed in the model) over many addresses.
    let mut x: u64 = 0x2545_f491_4f6c_dd1d;
    for _ in 0..2000 {
        x = x.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        let b = x.to_le_bytes();
        let mac = [b[2], b[3], b[4], b[5], b[6], b[7]];
        assert_eq!(hash_index(&mac), crate::model::dp83820::hash_index(&mac), "{mac:x?}");
    }
}

fn four_addresses_pass_fifth_is_filtered<F: Fixture<M = crate::model::dp83820::Dp83820Model>>() {
    let mut r = ready::<F>();
    assert_eq!(program(&mut r, &[MAC, A1, A2, A3]), Ok(()));
    assert_eq!(rfcr(&r), RFCR_RFEN | RFCR_AAB | RFCR_APM | RFCR_UHEN, "{}: unicast hash on", F::NAME);
    assert_eq!(hash_bits(&r), 3, "{}: one hash bit per address after the first", F::NAME);
    for (i, dst) in [MAC, A1, A2, A3].into_iter().enumerate() {
        assert_eq!(deliver(&mut r, dst, i as u32), (1, 0), "{}: programmed address {i} arrives", F::NAME);
    }
    assert_eq!(deliver(&mut r, FIFTH, 10), (0, 1), "{}: unprogrammed address filtered by the NIC", F::NAME);
    assert_eq!(deliver(&mut r, PEER, 11), (0, 1), "{}: so is the peer's", F::NAME);
    assert_eq!(deliver(&mut r, [0xff; 6], 12), (1, 0), "{}: broadcast passes", F::NAME);
    assert_eq!(deliver(&mut r, [0x01, 0, 0x5e, 0, 0, 1], 13), (0, 1), "{}: multicast is not hashed", F::NAME);
    assert_eq!(r.driver.session().errors.rejected(), 0);
}

#[test]
fn four_addresses_pass_fifth_is_filtered_32() {
    four_addresses_pass_fifth_is_filtered::<Dp32Fx>()
}

#[test]
fn four_addresses_pass_fifth_is_filtered_64() {
    four_addresses_pass_fifth_is_filtered::<Dp64Fx>()
}

#[test]
fn fewer_addresses_clear_the_old_hash_bits() {
    let mut r = ready::<Dp32Fx>();
    assert_eq!(program(&mut r, &[MAC, A1, A2, A3]), Ok(()));
    assert_eq!(hash_bits(&r), 3);
    // Two addresses: only A1's bit is left.
    assert_eq!(program(&mut r, &[MAC, A1]), Ok(()));
    assert_eq!(hash_bits(&r), 1);
    assert_eq!(deliver(&mut r, A1, 1), (1, 0), "kept address arrives");
    assert_eq!(deliver(&mut r, A2, 2), (0, 1), "dropped address filtered");
    assert_eq!(deliver(&mut r, A3, 3), (0, 1), "dropped address filtered");
    // One address: perfect match only, unicast hashing off, the table empty.
    assert_eq!(program(&mut r, &[MAC]), Ok(()));
    assert_eq!(rfcr(&r), RFCR_RFEN | RFCR_AAB | RFCR_APM);
    assert_eq!(hash_bits(&r), 0);
    assert_eq!(deliver(&mut r, MAC, 4), (1, 0));
    assert_eq!(deliver(&mut r, A1, 5), (0, 1), "hash no longer consulted");
    // The first entry may move into the hash and back: A1 first, MAC hashed.
    assert_eq!(program(&mut r, &[A1, MAC]), Ok(()));
    assert_eq!(deliver(&mut r, A1, 6), (1, 0));
    assert_eq!(deliver(&mut r, MAC, 7), (1, 0));
    // None: broadcast only.
    assert_eq!(program(&mut r, &[]), Ok(()));
    assert_eq!(rfcr(&r), RFCR_RFEN | RFCR_AAB);
    assert_eq!(hash_bits(&r), 0);
    assert_eq!(deliver(&mut r, MAC, 8), (0, 1));
    assert_eq!(deliver(&mut r, A1, 9), (0, 1));
    assert_eq!(deliver(&mut r, [0xff; 6], 10), (1, 0), "broadcast still passes");
}

#[test]
fn a_hash_collision_passes_the_nic() {
    // The hash is imperfect: an address sharing A1's bit gets through the NIC, which is why
    // the core must still check destinations against its clients' addresses.
    let collider = (0..=u16::MAX)
        .map(|i| [0x02, 0x00, 0x00, 0x01, (i >> 8) as u8, i as u8])
        .find(|m| hash_index(m) == hash_index(&A1))
        .expect("2048 buckets: some address among 65536 collides");
    let mut r = ready::<Dp32Fx>();
    assert_eq!(program(&mut r, &[MAC, A1]), Ok(()));
    assert_eq!(deliver(&mut r, collider, 1).1, 0, "{collider:x?} shares A1's hash bit: not filtered");
}

#[test]
fn sixteen_addresses_fit_seventeen_are_refused() {
    assert_eq!(MAX_UNICAST, 16);
    let mut r = ready::<Dp32Fx>();
    let sixteen: Vec<[u8; 6]> = (0..16u8).map(|i| [0x02, 0x00, 0x00, 0x00, 0x01, i]).collect();
    assert_eq!(program(&mut r, &sixteen), Ok(()));
    let mut seventeen = sixteen.clone();
    seventeen.push(FIFTH);
    assert_eq!(program(&mut r, &seventeen), Err(FilterError::TooMany { max: 16 }));
    // The refusal changed nothing: all sixteen still arrive.
    for (i, &dst) in sixteen.iter().enumerate() {
        assert_eq!(deliver(&mut r, dst, i as u32), (1, 0), "entry {i}");
    }
}
