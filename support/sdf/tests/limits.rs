//! The checker's limits agree with the crates that define them (the checker itself depends on
//! none of them, so a change there must show up here).

#[test]
fn the_nic_session_limit_is_the_drivers() {
    assert_eq!(sdf::MAX_NIC_SESSIONS, nic_api::MAX_SESSIONS as u64);
}
