//! Unit tests of the session interface: record packing, validation of hostile records, PPC
//! encode/decode round trips and garbage, and both directions over owned queue memory.

extern crate std;
use super::msg::*;
use super::*;
use std::vec;

/// A raw message, as a hostile or confused peer might send it.
fn m(label: u64, words: &[u64]) -> Message {
    Message::new(label, words).unwrap()
}

const PEER: Endpoint = Endpoint { addr: [10, 0, 2, 2], port: 40000 };

#[test]
fn record_round_trips_through_a_descriptor() {
    let d = Datagram { offset: 0x2_0800, len: 1472, remote: PEER, local_port: 7 };
    let desc = d.to_desc();
    assert_eq!(desc.dataspace, 0x0a00_0202);
    assert_eq!(desc.cookie, 40000 << 16 | 7);
    assert_eq!(Datagram::from_desc(&desc), d);
}

#[test]
fn layout_splits_the_data_region() {
    let l = DataLayout::new(0x40000).unwrap();
    assert_eq!(l.half(), 64);
    assert_eq!(l.stack_slot(3), 3 * SLOT_SIZE);
    assert_eq!(l.client_slot(0), 64 * SLOT_SIZE);
    assert_eq!(l.stack_index(3 * SLOT_SIZE), Ok(3));
    assert_eq!(l.client_index(l.client_slot(5)), Ok(5));
    // Each side's half is refused where the other half is expected.
    assert!(l.stack_index(l.client_slot(0)).is_err());
    assert!(l.client_index(l.stack_slot(0)).is_err());
    assert!(l.client_index(0x40000).is_err());
    assert!(l.client_index(l.client_slot(0) + 1).is_err());
    assert!(DataLayout::new(SLOT_SIZE as usize).is_err());
    assert!(DataLayout::new(0).is_err());
}

#[test]
fn hostile_client_records_are_refused() {
    let l = DataLayout::new(0x40000).unwrap();
    let bound = |p: u16| p == 7;
    let ok = Datagram { offset: l.client_slot(1), len: 100, remote: PEER, local_port: 7 };
    assert_eq!(l.check_from_client(&ok.to_desc(), bound), Ok((ok, 1)));
    let cases = [
        (Datagram { offset: l.stack_slot(1), ..ok }, RecordError::BadOffset { offset: l.stack_slot(1) }),
        (Datagram { offset: u32::MAX, ..ok }, RecordError::BadOffset { offset: u32::MAX }),
        (Datagram { len: 1473, ..ok }, RecordError::TooLong { len: 1473 }),
        (Datagram { len: u32::MAX, ..ok }, RecordError::TooLong { len: u32::MAX }),
        (Datagram { local_port: 8, ..ok }, RecordError::PortNotBound { port: 8 }),
    ];
    for (d, e) in cases {
        assert_eq!(l.check_from_client(&d.to_desc(), bound), Err(e), "{d:?}");
        assert!(!std::format!("{e}").is_empty());
    }
    for remote in [
        Endpoint { port: 0, ..PEER },
        Endpoint { addr: [0; 4], ..PEER },
        Endpoint { addr: [255; 4], ..PEER },
        Endpoint { addr: [224, 0, 0, 1], ..PEER },
    ] {
        let d = Datagram { remote, ..ok };
        assert_eq!(l.check_from_client(&d.to_desc(), bound), Err(RecordError::BadRemote { remote }));
    }
    // The client-side check mirrors it.
    let from_stack = Datagram { offset: l.stack_slot(2), ..ok };
    assert_eq!(l.check_from_stack(&from_stack.to_desc()), Ok((from_stack, 2)));
    assert!(l.check_from_stack(&ok.to_desc()).is_err());
}

#[test]
fn ppc_messages_round_trip_and_reject_garbage() {
    for req in [Request::Bind { port: 7 }, Request::Unbind { port: 65535 }] {
        let m = req.encode();
        assert_eq!(Request::decode(&m), Ok(req));
        let ok = encode_reply(&req, Ok(()));
        assert_eq!(decode_reply(&req, &ok), Ok(Ok(())));
        for e in [BindError::InUse, BindError::TooManyPorts, BindError::NotBound, BindError::BadRequest] {
            let r = encode_reply(&req, Err(e));
            assert_eq!(decode_reply(&req, &r), Ok(Err(e)));
        }
    }
    assert_eq!(Request::decode(&m(0x99, &[7])), Err(DecodeError::UnknownLabel(0x99)));
    assert_eq!(Request::decode(&m(label::BIND, &[0])), Err(DecodeError::BadPort(0)));
    assert_eq!(Request::decode(&m(label::BIND, &[65536])), Err(DecodeError::BadPort(65536)));
    assert_eq!(
        Request::decode(&m(label::BIND, &[7, 8])),
        Err(DecodeError::BadLength { label: label::BIND, expected: 1, got: 2 })
    );
    assert!(Request::decode(&m(label::UNBIND, &[])).is_err());
    let bind = Request::Bind { port: 7 };
    assert!(decode_reply(&bind, &m(77, &[])).is_err());
    assert!(decode_reply(&bind, &m(label::OK, &[8])).is_err(), "reply for a different port");
    assert!(decode_reply(&bind, &m(1, &[1])).is_err(), "error replies carry no MRs");
}

#[test]
fn both_directions_over_owned_memory() {
    let mut mem = vec![ring::CacheLine::ZERO; QUEUE_REGION_SIZE / ring::CACHE_LINE];
    let (mut s, mut c) = split_owned(&mut mem).unwrap();
    let l = DataLayout::new(0x40000).unwrap();
    // stack -> client, with the suppressed-notification handshake.
    assert!(c.to_client.active.prepare_to_block().unwrap());
    let d = Datagram { offset: l.stack_slot(0), len: 5, remote: PEER, local_port: 7 };
    s.to_client.active.enqueue(d.to_desc()).unwrap();
    assert!(s.to_client.active.signal_needed());
    let got = c.to_client.active.dequeue().unwrap().unwrap();
    assert_eq!(l.check_from_stack(&got), Ok((d, 0)));
    c.to_client.free.enqueue(free_desc(d.offset)).unwrap();
    assert_eq!(s.to_client.free.dequeue().unwrap().unwrap().offset, d.offset);
    // client -> stack, no signal requested: none needed.
    let d = Datagram { offset: l.client_slot(0), len: 5, remote: PEER, local_port: 7 };
    c.from_client.active.enqueue(d.to_desc()).unwrap();
    assert!(!c.from_client.active.signal_needed());
    let got = s.from_client.active.dequeue().unwrap().unwrap();
    assert_eq!(l.check_from_client(&got, |p| p == 7), Ok((d, 0)));
    let mut small = vec![ring::CacheLine::ZERO; 10];
    assert!(split_owned(&mut small).is_err());
}
