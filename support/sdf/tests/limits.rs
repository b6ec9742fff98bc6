//! The checker's limits and encodings agree with the crates that define them (the checker
//! itself depends on none of them, so a change there must show up here).

#[test]
fn the_nic_session_limit_is_the_drivers() {
    assert_eq!(sdf::MAX_NIC_SESSIONS, nic_api::MAX_SESSIONS as u64);
}

#[test]
fn a_mac_setvar_is_patched_as_the_driver_reads_it() {
    for m in [[0x52, 0x54, 0x00, 0x12, 0x34, 0x57], [0x02, 0xff, 0x80, 0x01, 0x7e, 0x00]] {
        let word = sdf::model::MacAddr(m).to_word();
        assert_eq!(word, nic_api::MacAddr(m).to_word());
        assert_eq!(nic_api::MacAddr::from_word(word), Some(nic_api::MacAddr(m)));
    }
}
