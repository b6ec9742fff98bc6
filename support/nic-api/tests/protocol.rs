//! The session protocol on the wire: every request and reply round-trips through its message,
//! every malformed message is refused with the right error, garbage never panics, the client
//! helper maps each failure to its error, and the stats line has its one format.
use dataspace_api::msg::MgrError;
use message::Message;
use nic_api::client::{self, CallError, ClientError, Opened};
use nic_api::msg::label;
use nic_api::{DecodeError, DriverStats, DsId, DsList, MacAddr, Op, SessionError, SessionReply, SessionRequest};

fn m(label: u64, words: &[u64]) -> Message {
    Message::new(label, words).unwrap()
}

const STATS: DriverStats = DriverStats {
    irqs: 1,
    rx_packets: 2,
    tx_packets: 3,
    notify_sent: 4,
    notify_suppressed: 5,
    xlate_hits: 6,
    xlate_misses: 7,
    errors: 8,
};

#[test]
fn requests_round_trip() {
    let open = SessionRequest::Open(DsList::new(&[DsId(1), DsId(9), DsId(4)]).unwrap());
    let msg = open.encode();
    assert_eq!((msg.label(), msg.words()), (label::OPEN, &[3, 1, 9, 4][..]));
    assert_eq!(SessionRequest::decode(&msg), Ok(open));
    let six: Vec<DsId> = (0..6).map(DsId).collect();
    let open6 = SessionRequest::Open(DsList::new(&six).unwrap());
    assert_eq!(SessionRequest::decode(&open6.encode()), Ok(open6));
    for req in [SessionRequest::Close { session: 12 }, SessionRequest::Stats] {
        assert_eq!(SessionRequest::decode(&req.encode()), Ok(req));
    }
    assert_eq!(SessionRequest::Stats.encode().words(), &[] as &[u64]);
}

#[test]
fn malformed_requests_are_refused() {
    assert_eq!(DsList::new(&[]), Err(SessionError::NoDataspaces));
    assert_eq!(DsList::new(&[DsId(1); 7]), Err(SessionError::TooManyDataspaces));
    assert_eq!(DsList::new(&[DsId(1), DsId(1)]), Err(SessionError::DuplicateDataspace));
    let bad_len = |l, e, g| Err(DecodeError::BadLength { label: l, expected: e, got: g });
    assert_eq!(SessionRequest::decode(&m(label::OPEN, &[])), bad_len(label::OPEN, 1, 0));
    assert_eq!(SessionRequest::decode(&m(label::OPEN, &[2, 1])), bad_len(label::OPEN, 3, 2));
    assert_eq!(SessionRequest::decode(&m(label::OPEN, &[0])), Err(DecodeError::BadValue { field: "count", value: 0 }));
    assert_eq!(
        SessionRequest::decode(&m(label::OPEN, &[7, 1, 2, 3, 4, 5, 6, 7])),
        Err(DecodeError::BadValue { field: "count", value: 7 })
    );
    assert!(matches!(
        SessionRequest::decode(&m(label::OPEN, &[2, 5, 5])),
        Err(DecodeError::BadValue { field: "dataspace (duplicate)", .. })
    ));
    assert_eq!(
        SessionRequest::decode(&m(label::OPEN, &[1, 1 << 33])),
        Err(DecodeError::BadValue { field: "dataspace", value: 1 << 33 })
    );
    assert_eq!(SessionRequest::decode(&m(label::CLOSE, &[])), bad_len(label::CLOSE, 1, 0));
    assert_eq!(
        SessionRequest::decode(&m(label::CLOSE, &[1 << 40])),
        Err(DecodeError::BadValue { field: "session", value: 1 << 40 })
    );
    assert_eq!(SessionRequest::decode(&m(label::DRIVER_STATS, &[1])), bad_len(label::DRIVER_STATS, 0, 1));
    assert_eq!(SessionRequest::decode(&m(1, &[])), Err(DecodeError::UnknownLabel(1)));
}

#[test]
fn replies_round_trip() {
    let mac = MacAddr([0x52, 0x54, 0, 0x12, 0x34, 0x56]);
    for (op, r) in [
        (Op::Open, Ok(SessionReply::Opened { session: 3, mac })),
        (Op::Open, Err(SessionError::DeviceFailed)),
        (Op::Open, Err(SessionError::Manager(MgrError::NotShared))),
        (Op::Close, Ok(SessionReply::Closed)),
        (Op::Close, Err(SessionError::UnknownSession)),
        (Op::Stats, Ok(SessionReply::Stats(STATS))),
    ] {
        assert_eq!(SessionReply::decode(op, &SessionReply::encode(&r)), Ok(r), "{op:?}");
    }
    // The MAC travels as one word, byte 0 lowest.
    let msg = SessionReply::encode(&Ok(SessionReply::Opened { session: 1, mac: MacAddr([1, 2, 3, 4, 5, 6]) }));
    assert_eq!(msg.words(), &[1, 0x0605_0403_0201]);
    assert_eq!(SessionReply::encode(&Ok(SessionReply::Stats(STATS))).words(), &[1, 2, 3, 4, 5, 6, 7, 8]);
}

#[test]
fn malformed_replies_are_refused() {
    assert_eq!(
        SessionReply::decode(Op::Open, &m(0, &[1, 1 << 48])),
        Err(DecodeError::BadValue { field: "mac", value: 1 << 48 })
    );
    assert!(matches!(SessionReply::decode(Op::Open, &m(0, &[1])), Err(DecodeError::BadLength { .. })));
    assert!(matches!(SessionReply::decode(Op::Open, &m(0, &[1 << 32, 0])), Err(DecodeError::BadValue { .. })));
    assert!(matches!(SessionReply::decode(Op::Close, &m(0, &[1])), Err(DecodeError::BadLength { .. })));
    assert!(matches!(SessionReply::decode(Op::Stats, &m(0, &[1, 2])), Err(DecodeError::BadLength { .. })));
    // An error label with words, and a label no error has.
    assert!(matches!(SessionReply::decode(Op::Close, &m(5, &[1])), Err(DecodeError::BadLength { .. })));
    assert_eq!(SessionReply::decode(Op::Close, &m(99, &[])), Err(DecodeError::UnknownLabel(99)));
    assert_eq!(SessionReply::decode(Op::Close, &m(0x100, &[])), Err(DecodeError::UnknownLabel(0x100)));
}

#[test]
fn error_codes_are_distinct_and_displayed() {
    for code in 0..0x120 {
        if let Some(e) = SessionError::from_code(code) {
            assert_eq!(e.code(), code);
            assert!(!e.to_string().is_empty());
        }
    }
    let wrapped = SessionError::Manager(MgrError::NotShared);
    assert_eq!(SessionError::from_code(wrapped.code()), Some(wrapped));
    assert!(wrapped.to_string().contains("does not share"));
}

/// Deterministic pseudo-random labels and words: decode returns a value or an error, never
/// panics, and whatever decodes encodes back to the very same message.
#[test]
fn garbage_never_panics_and_accepted_input_is_canonical() {
    let mut x = 0x9e37_79b9_7f4a_7c15u64;
    let mut next = move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    let mut decoded = 0;
    for _ in 0..100_000 {
        let label = if next() % 4 == 0 { next() % Message::MAX_LABEL } else { next() % 0x24 };
        let len = (next() % 10) as usize;
        let words: Vec<u64> = (0..len).map(|_| if next() % 3 == 0 { next() } else { next() % 8 }).collect();
        let msg = m(label, &words);
        if let Ok(req) = SessionRequest::decode(&msg) {
            decoded += 1;
            assert_eq!(req.encode(), msg);
        }
        for op in [Op::Open, Op::Close, Op::Stats] {
            if let Ok(reply) = SessionReply::decode(op, &msg) {
                assert_eq!(SessionReply::encode(&reply), msg, "{op:?}");
            }
        }
    }
    assert!(decoded > 100, "the generator hit too few valid requests ({decoded})");
}

#[test]
fn mac_word_and_display() {
    let mac = MacAddr([0x52, 0x54, 0, 0x12, 0x34, 0x56]);
    assert_eq!(MacAddr::from_word(mac.to_word()), Some(mac));
    assert_eq!(MacAddr::from_word(1 << 48), None);
    assert_eq!(mac.to_string(), "52:54:00:12:34:56");
    assert!(mac.is_valid_station());
    assert!(!MacAddr([0xff; 6]).is_valid_station());
    assert!(!MacAddr([0; 6]).is_valid_station());
}

#[test]
fn stats_line_has_one_key_per_counter() {
    assert_eq!(
        STATS.to_string(),
        "irqs=1 rx_packets=2 tx_packets=3 notify_sent=4 notify_suppressed=5 xlate_hits=6 xlate_misses=7 errors=8"
    );
    assert_eq!(DriverStats::from_words(STATS.words()), STATS);
}

/// A driver that answers with `reply` and records the requests.
fn driver(seen: &mut Vec<SessionRequest>, reply: Message) -> impl FnMut(&Message) -> Result<Message, CallError> + '_ {
    move |req| {
        seen.push(SessionRequest::decode(req).unwrap());
        Ok(reply)
    }
}

#[test]
fn client_helper_opens_closes_and_fetches_stats() {
    let mac = MacAddr([2, 0, 0, 0, 0, 1]);
    let mut seen = Vec::new();
    let ok = SessionReply::encode(&Ok(SessionReply::Opened { session: 7, mac }));
    assert_eq!(client::open(&[DsId(3)], driver(&mut seen, ok)), Ok(Opened { session: 7, mac }));
    let closed = SessionReply::encode(&Ok(SessionReply::Closed));
    assert_eq!(client::close(7, driver(&mut seen, closed)), Ok(()));
    let stats = SessionReply::encode(&Ok(SessionReply::Stats(STATS)));
    assert_eq!(client::driver_stats(driver(&mut seen, stats)), Ok(STATS));
    assert_eq!(
        seen,
        [
            SessionRequest::Open(DsList::new(&[DsId(3)]).unwrap()),
            SessionRequest::Close { session: 7 },
            SessionRequest::Stats
        ]
    );
}

#[test]
fn client_helper_reports_each_failure() {
    let refused = SessionReply::encode(&Err(SessionError::NoFreeSession));
    assert_eq!(client::open(&[DsId(3)], |_| Ok(refused)), Err(ClientError::Refused(SessionError::NoFreeSession)));
    assert!(matches!(client::open(&[DsId(3)], |_| Ok(m(0, &[1]))), Err(ClientError::BadReply(_))));
    assert_eq!(client::open(&[DsId(3)], |_| Err(CallError::Kernel)), Err(ClientError::Call(CallError::Kernel)));
    assert_eq!(
        client::open(&[], |_| panic!("no call for an empty list")),
        Err(ClientError::Refused(SessionError::NoDataspaces))
    );
    assert!(matches!(client::driver_stats(|_| Ok(m(0, &[]))), Err(ClientError::BadReply(_))));
    assert_eq!(
        client::close(1, |_| Ok(SessionReply::encode(&Err(SessionError::UnknownSession)))),
        Err(ClientError::Refused(SessionError::UnknownSession))
    );
    for e in [CallError::TooLong, CallError::Refused(0xffff_0001), CallError::Kernel] {
        assert!(!ClientError::Call(e).to_string().is_empty());
    }
}
