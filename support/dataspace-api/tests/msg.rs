//! PPC message formats: every request and reply round-trips through its message, decode
//! rejects wrong labels, lengths and values with the right error, and garbage never panics.
use dataspace_api::cache::Translation;
use dataspace_api::msg::{label, DecodeError, Message, MgrError, MgrReply, MgrRequest, MgrStats, Op, MAX_MRS};
use dataspace_api::{Attachment, DsId, PdId};

fn pd(i: u64) -> PdId {
    PdId::new(i).unwrap()
}

/// A message as the runtime would deliver it.
fn m(label: u64, words: &[u64]) -> Message {
    Message::new(label, words).unwrap()
}

fn all_requests() -> Vec<MgrRequest> {
    vec![
        MgrRequest::Attach { client: pd(3), ds: DsId(7) },
        MgrRequest::Detach { client: pd(62), ds: DsId(u32::MAX) },
        MgrRequest::Refill { ds: DsId(1), page: 5 },
        MgrRequest::Pin { ds: DsId(1), first: 2, count: 3, expiry: 0 },
        MgrRequest::Pin { ds: DsId(1), first: u32::MAX, count: u32::MAX, expiry: u64::MAX },
        MgrRequest::Unpin { ds: DsId(2), first: 0, count: 1 },
        MgrRequest::Reclaim { ds: DsId(2), page: 9 },
        MgrRequest::Stats,
        MgrRequest::DriverFaulted { driver: pd(1), faults: 3 },
        MgrRequest::DeviceReset { driver: pd(1), generation: 0 },
        MgrRequest::DeviceReset { driver: pd(62), generation: u32::MAX },
    ]
}

#[test]
fn requests_round_trip() {
    for req in all_requests() {
        let m = req.encode();
        assert_eq!(m.label(), req.op().label());
        assert_eq!(MgrRequest::decode(&m), Ok(req), "{req:?}");
    }
}

#[test]
fn request_decode_rejects_bad_input() {
    assert_eq!(MgrRequest::decode(&m(0, &[])), Err(DecodeError::UnknownLabel(0)));
    assert_eq!(MgrRequest::decode(&m(0x20, &[1, 1])), Err(DecodeError::UnknownLabel(0x20)));
    assert_eq!(
        MgrRequest::decode(&m(label::ATTACH, &[1])),
        Err(DecodeError::BadLength { label: label::ATTACH, expected: 2, got: 1 })
    );
    assert_eq!(
        MgrRequest::decode(&m(label::ATTACH, &[63, 1])),
        Err(DecodeError::BadValue { field: "client", value: 63 })
    );
    assert_eq!(
        MgrRequest::decode(&m(label::REFILL, &[1 << 32, 0])),
        Err(DecodeError::BadValue { field: "dataspace", value: 1 << 32 })
    );
    assert_eq!(
        MgrRequest::decode(&m(label::PIN, &[1, 0, 0, 0])),
        Err(DecodeError::BadValue { field: "count", value: 0 })
    );
    assert_eq!(
        MgrRequest::decode(&m(label::UNPIN, &[1, 0, 1 << 40])),
        Err(DecodeError::BadValue { field: "count", value: 1 << 40 })
    );
    assert!(MgrRequest::decode(&m(label::STATS, &[0])).is_err());
    assert!(MgrRequest::decode(&m(label::DEVICE_RESET, &[u64::MAX])).is_err());
}

#[test]
fn replies_round_trip() {
    let cases: Vec<(Op, Result<MgrReply, MgrError>)> = vec![
        (Op::Attach, Ok(MgrReply::Attached(Attachment::new(DsId(4), 16, 32, 4096).unwrap()))),
        (Op::Detach, Ok(MgrReply::Done)),
        (
            Op::Refill,
            Ok(MgrReply::Translated(Translation {
                ds: DsId(4),
                page: 3,
                frame: 0x7654_3000,
                pinned: true,
                expiry: 99,
            })),
        ),
        (Op::Pin, Ok(MgrReply::PinCount { held: 3, quota: 8 })),
        (Op::Unpin, Err(MgrError::NotPinned)),
        (Op::Pin, Err(MgrError::QuotaExceeded)),
        (
            Op::Stats,
            Ok(MgrReply::Stats(MgrStats {
                refills: 1,
                pins: 2,
                unpins: 3,
                expired: 4,
                quota_refusals: 5,
                reclaims: 6,
                reclaim_refusals: 7,
                pinned_pages: 8,
            })),
        ),
        (Op::DeviceReset, Ok(MgrReply::Recovered { pins: 5, attachments: 2 })),
        (Op::Reclaim, Err(MgrError::Pinned)),
    ];
    for (op, result) in cases {
        let m = MgrReply::encode(&result);
        assert_eq!(MgrReply::decode(op, &m), Ok(result), "{op:?}");
    }
}

#[test]
fn reply_decode_rejects_bad_input() {
    assert_eq!(MgrReply::decode(Op::Detach, &m(999, &[])), Err(DecodeError::UnknownLabel(999)));
    // page size not a power of two
    assert!(MgrReply::decode(Op::Attach, &m(0, &[0, 4, 4097, 1])).is_err());
    // base + pages past u32
    assert!(MgrReply::decode(Op::Attach, &m(0, &[u32::MAX as u64, 4, 4096, 1])).is_err());
    // unaligned frame, pinned flag not 0/1
    assert!(MgrReply::decode(Op::Refill, &m(0, &[0x1001, 0, 0, 1, 1])).is_err());
    assert!(MgrReply::decode(Op::Refill, &m(0, &[0x1000, 2, 0, 1, 1])).is_err());
    // an error reply carries no MRs
    assert!(MgrReply::decode(Op::Pin, &m(MgrError::Pinned.code(), &[1])).is_err());
}

#[test]
fn error_codes_are_distinct_and_displayed() {
    for code in 0..64 {
        if let Some(e) = MgrError::from_code(code) {
            assert_eq!(e.code(), code);
            assert!(!e.to_string().is_empty());
        }
    }
}

#[test]
fn longer_messages_than_any_layout_are_refused() {
    let long = m(label::ATTACH, &[1; MAX_MRS + 1]);
    assert_eq!(
        MgrRequest::decode(&long),
        Err(DecodeError::BadLength { label: label::ATTACH, expected: 2, got: MAX_MRS + 1 })
    );
    assert!(MgrReply::decode(Op::Stats, &m(label::OK, &[0; MAX_MRS + 1])).is_err());
}

/// Garbage in (deterministic pseudo-random labels and MRs, biased towards real labels and
/// small values): decode returns a value or an error, never panics, and whatever decodes
/// encodes back to the very same message.
#[test]
fn garbage_never_panics_and_accepted_input_is_canonical() {
    let mut x = 0x9e37_79b9_7f4a_7c15u64;
    let mut next = move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    let ops = [
        Op::Attach,
        Op::Detach,
        Op::Refill,
        Op::Pin,
        Op::Unpin,
        Op::Reclaim,
        Op::Stats,
        Op::DriverFaulted,
        Op::DeviceReset,
    ];
    let mut decoded = 0;
    for _ in 0..200_000 {
        let label = match next() % 4 {
            0 => next(),
            _ => next() % 0x24,
        };
        let len = (next() % (MAX_MRS as u64 + 2)) as usize;
        let mrs: Vec<u64> = (0..len)
            .map(|_| match next() % 3 {
                0 => next(),
                1 => next() % 70,
                _ => next() % 8,
            })
            .collect();
        // A label above Message::MAX_LABEL cannot be sent at all (the runtime refuses it).
        let Ok(msg) = Message::new(label, &mrs) else { continue };
        if let Ok(req) = MgrRequest::decode(&msg) {
            decoded += 1;
            let m = req.encode();
            assert_eq!((m.label(), m.words()), (label, &mrs[..]));
        }
        for op in ops {
            if let Ok(reply) = MgrReply::decode(op, &msg) {
                let m = MgrReply::encode(&reply);
                assert_eq!((m.label(), m.words()), (label, &mrs[..]), "{op:?}");
            }
        }
        if let Err(e) = MgrRequest::decode(&msg) {
            assert!(!e.to_string().is_empty());
        }
    }
    assert!(decoded > 1_000, "the generator hit too few valid requests ({decoded})");
}
