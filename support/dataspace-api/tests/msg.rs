//! PPC message formats: every request and reply round-trips through its message, decode
//! rejects wrong labels, lengths and values with the right error, and garbage never panics.
use dataspace_api::cache::Translation;
use dataspace_api::msg::{
    label, DecodeError, DsList, Message, MgrError, MgrReply, MgrRequest, MgrStats, Op,
    SessionError, SessionReply, SessionRequest, MAX_MRS,
};
use dataspace_api::session::Attachment;
use dataspace_api::{DsId, PdId};

fn pd(i: u64) -> PdId {
    PdId::new(i).unwrap()
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
        MgrRequest::DriverFaulted { driver: pd(1) },
        MgrRequest::DeviceReset { driver: pd(1) },
    ]
}

#[test]
fn requests_round_trip() {
    for req in all_requests() {
        let m = req.encode();
        assert_eq!(m.label, req.op().label());
        assert_eq!(MgrRequest::decode(m.label, m.mrs()), Ok(req), "{req:?}");
    }
}

#[test]
fn request_decode_rejects_bad_input() {
    assert_eq!(MgrRequest::decode(0, &[]), Err(DecodeError::UnknownLabel(0)));
    assert_eq!(MgrRequest::decode(label::OPEN, &[1, 1]), Err(DecodeError::UnknownLabel(label::OPEN)));
    assert_eq!(
        MgrRequest::decode(label::ATTACH, &[1]),
        Err(DecodeError::BadLength { label: label::ATTACH, expected: 2, got: 1 })
    );
    assert_eq!(
        MgrRequest::decode(label::ATTACH, &[63, 1]),
        Err(DecodeError::BadValue { field: "client", value: 63 })
    );
    assert_eq!(
        MgrRequest::decode(label::REFILL, &[1 << 32, 0]),
        Err(DecodeError::BadValue { field: "dataspace", value: 1 << 32 })
    );
    assert_eq!(
        MgrRequest::decode(label::PIN, &[1, 0, 0, 0]),
        Err(DecodeError::BadValue { field: "count", value: 0 })
    );
    assert_eq!(
        MgrRequest::decode(label::UNPIN, &[1, 0, 1 << 40]),
        Err(DecodeError::BadValue { field: "count", value: 1 << 40 })
    );
    assert!(MgrRequest::decode(label::STATS, &[0]).is_err());
    assert!(MgrRequest::decode(label::DEVICE_RESET, &[u64::MAX]).is_err());
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
        assert_eq!(MgrReply::decode(op, m.label, m.mrs()), Ok(result), "{op:?}");
    }
}

#[test]
fn reply_decode_rejects_bad_input() {
    assert_eq!(MgrReply::decode(Op::Detach, 999, &[]), Err(DecodeError::UnknownLabel(999)));
    // page size not a power of two
    assert!(MgrReply::decode(Op::Attach, 0, &[0, 4, 4097, 1]).is_err());
    // base + pages past u32
    assert!(MgrReply::decode(Op::Attach, 0, &[u32::MAX as u64, 4, 4096, 1]).is_err());
    // unaligned frame, pinned flag not 0/1
    assert!(MgrReply::decode(Op::Refill, 0, &[0x1001, 0, 0, 1, 1]).is_err());
    assert!(MgrReply::decode(Op::Refill, 0, &[0x1000, 2, 0, 1, 1]).is_err());
    // an error reply carries no MRs
    assert!(MgrReply::decode(Op::Pin, MgrError::Pinned.code(), &[1]).is_err());
}

#[test]
fn error_codes_are_distinct_and_displayed() {
    for code in 0..64 {
        if let Some(e) = MgrError::from_code(code) {
            assert_eq!(e.code(), code);
            assert!(!e.to_string().is_empty());
        }
        if let Some(e) = SessionError::from_code(code) {
            assert_eq!(e.code(), code);
            assert!(!e.to_string().is_empty());
        }
    }
    let wrapped = SessionError::Manager(MgrError::NotShared);
    assert_eq!(SessionError::from_code(wrapped.code()), Some(wrapped));
    assert!(wrapped.to_string().contains("does not share"));
}

#[test]
fn session_messages_round_trip_and_validate() {
    let ids = [DsId(1), DsId(9), DsId(4)];
    let open = SessionRequest::Open(DsList::new(&ids).unwrap());
    let m = open.encode();
    assert_eq!(m.mrs(), &[3, 1, 9, 4]);
    assert_eq!(SessionRequest::decode(m.label, m.mrs()), Ok(open));
    let close = SessionRequest::Close { session: 12 };
    let m = close.encode();
    assert_eq!(SessionRequest::decode(m.label, m.mrs()), Ok(close));

    assert_eq!(DsList::new(&[]), Err(SessionError::NoDataspaces));
    assert_eq!(DsList::new(&[DsId(1); 7]), Err(SessionError::TooManyDataspaces));
    assert_eq!(DsList::new(&[DsId(1), DsId(1)]), Err(SessionError::DuplicateDataspace));
    // count disagrees with the length; count 0; count too large; duplicate ids; id past u32
    assert!(SessionRequest::decode(label::OPEN, &[2, 1]).is_err());
    assert!(SessionRequest::decode(label::OPEN, &[0]).is_err());
    assert!(SessionRequest::decode(label::OPEN, &[7, 1, 2, 3, 4, 5, 6, 7]).is_err());
    assert!(SessionRequest::decode(label::OPEN, &[2, 5, 5]).is_err());
    assert!(SessionRequest::decode(label::OPEN, &[1, 1 << 33]).is_err());
    assert!(SessionRequest::decode(label::OPEN, &[]).is_err());

    for r in [
        Ok(SessionReply::Opened { session: 3, mac: [0x52, 0x54, 0, 0x12, 0x34, 0x56] }),
        Err(SessionError::DeviceFailed),
        Err(SessionError::Manager(MgrError::NotShared)),
    ] {
        let m = SessionReply::encode(&r);
        assert_eq!(SessionReply::decode(true, m.label, m.mrs()), Ok(r));
    }
    let m = SessionReply::encode(&Ok(SessionReply::Closed));
    assert_eq!(SessionReply::decode(false, m.label, m.mrs()), Ok(Ok(SessionReply::Closed)));

    // The MAC travels as one word, byte 0 lowest; a word with bits above 48 is refused.
    let m = SessionReply::encode(&Ok(SessionReply::Opened { session: 1, mac: [1, 2, 3, 4, 5, 6] }));
    assert_eq!(m.mrs(), &[1, 0x0605_0403_0201]);
    assert!(SessionReply::decode(true, 0, &[1, 1 << 48]).is_err());
    assert!(SessionReply::decode(true, 0, &[1]).is_err(), "an OPEN reply without the MAC");

    let stats = SessionRequest::Stats;
    let m = stats.encode();
    assert_eq!((m.label, m.mrs()), (label::DRIVER_STATS, &[][..]));
    assert_eq!(SessionRequest::decode(m.label, m.mrs()), Ok(stats));
    assert!(SessionRequest::decode(label::DRIVER_STATS, &[1]).is_err());
    let s = dataspace_api::msg::DriverStats { irqs: 1, rx_packets: 2, tx_packets: 3, notify_sent: 4,
        notify_suppressed: 5, xlate_hits: 6, xlate_misses: 7, errors: 8 };
    let m = SessionReply::encode(&Ok(SessionReply::Stats(s)));
    assert_eq!(m.mrs(), &[1, 2, 3, 4, 5, 6, 7, 8]);
    assert_eq!(SessionReply::decode_stats(m.label, m.mrs()), Ok(Ok(SessionReply::Stats(s))));
    assert!(SessionReply::decode_stats(0, &[1, 2]).is_err());
}

#[test]
fn message_new_bounds_length() {
    assert!(Message::new(1, &[0; MAX_MRS]).is_ok());
    assert_eq!(Message::new(1, &[0; MAX_MRS + 1]), Err(DecodeError::TooLong(MAX_MRS + 1)));
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
        Op::Attach, Op::Detach, Op::Refill, Op::Pin, Op::Unpin, Op::Reclaim, Op::Stats,
        Op::DriverFaulted, Op::DeviceReset,
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
        if let Ok(req) = MgrRequest::decode(label, &mrs) {
            decoded += 1;
            let m = req.encode();
            assert_eq!((m.label, m.mrs()), (label, &mrs[..]));
        }
        if let Ok(req) = SessionRequest::decode(label, &mrs) {
            let m = req.encode();
            assert_eq!((m.label, m.mrs()), (label, &mrs[..]));
        }
        for op in ops {
            if let Ok(reply) = MgrReply::decode(op, label, &mrs) {
                let m = MgrReply::encode(&reply);
                assert_eq!((m.label, m.mrs()), (label, &mrs[..]), "{op:?}");
            }
        }
        let _ = SessionReply::decode(next() % 2 == 0, label, &mrs);
        if let Err(e) = MgrRequest::decode(label, &mrs) {
            assert!(!e.to_string().is_empty());
        }
    }
    assert!(decoded > 1_000, "the generator hit too few valid requests ({decoded})");
}
