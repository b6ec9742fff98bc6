//! The runner's pure parts: the hold-off copy of a system file, output names and progress text.

use std::time::{Duration, UNIX_EPOCH};

use eval::results::ConfigKey;
use eval::run::{holdoff_of, progress_name, time_left, timestamp, with_holdoff, Which};

const XML: &str = r#"<system>
    <protection_domain name="driver" priority="200">
        <setvar symbol="driver_dma_paddr" region_paddr="driver_dma" />
        <setvar symbol="holdoff_us" value="100" />
    </protection_domain>
</system>"#;

#[test]
fn holdoff_is_read_and_replaced_in_place() {
    assert_eq!(holdoff_of(XML).unwrap(), 100);
    let z = with_holdoff(XML, 0).unwrap();
    assert_eq!(holdoff_of(&z).unwrap(), 0);
    assert_eq!(z, XML.replace(r#"symbol="holdoff_us" value="100""#, r#"symbol="holdoff_us" value="0""#));
}

#[test]
fn the_repositorys_system_files_set_a_holdoff() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    for f in ["system.xml", "examples/echo-in-netstack/echo-in-netstack.xml"] {
        let xml = std::fs::read_to_string(root.join(f)).unwrap();
        assert_eq!(holdoff_of(&xml).unwrap(), 100, "{f}");
        assert_eq!(holdoff_of(&with_holdoff(&xml, 0).unwrap()).unwrap(), 0, "{f}");
    }
}

#[test]
fn missing_or_repeated_holdoff_is_an_error() {
    assert!(holdoff_of("<system/>").unwrap_err().contains("no <setvar symbol=\"holdoff_us\""));
    let twice = format!("{XML}{XML}");
    assert!(with_holdoff(&twice, 0).unwrap_err().contains("2 times"));
    assert!(holdoff_of(r#"<setvar symbol="holdoff_us" value="soon" />"#).unwrap_err().contains("not a whole number"));
}

#[test]
fn names_times_and_configurations() {
    assert_eq!(timestamp(UNIX_EPOCH + Duration::from_secs(0)), "19700101-000000");
    assert_eq!(timestamp(UNIX_EPOCH + Duration::from_secs(1_709_210_096)), "20240229-123456");
    assert_eq!(time_left(Duration::from_secs(40)), "about 40 s left");
    assert_eq!(time_left(Duration::from_secs(300)), "about 5 min left");
    assert_eq!(progress_name(&ConfigKey { system: "sel4".into(), holdoff_us: Some(100) }), "sel4 holdoff=100us");
    assert_eq!(progress_name(&ConfigKey { system: "linux".into(), holdoff_us: None }), "linux");
    assert_eq!(Which::parse("sel4-colocated").unwrap(), Which::Colocated);
    assert_eq!(Which::parse("sel4-noiommu").unwrap(), Which::Sel4NoIommu);
    assert_eq!(Which::Sel4NoIommu.system(), "sel4-noiommu");
    assert_eq!(Which::Sel4Holdoff0.system(), "sel4", "the hold-off is a column of its own");
    assert!(Which::parse("bsd")
        .unwrap_err()
        .contains("choose from sel4, sel4-noiommu, sel4-lazyfpu, sel4-holdoff0, sel4-colocated, linux"));
}

#[test]
fn the_baseline_is_asked_for_with_its_own_flag_and_must_name_a_commit() {
    assert!(Which::parse("sel4-baseline").unwrap_err().contains("--baseline REV"));
    assert_eq!(Which::Baseline.system(), "sel4-baseline");
    assert!(!Which::ALL.contains(&Which::Baseline), "never measured unless asked for");
    let root = qemu_harness::repo_root();
    assert!(eval::baseline::resolve(&root, "-rf").unwrap_err().contains("is not a revision"));
    assert!(eval::baseline::resolve(&root, "no-such-revision-here").unwrap_err().contains("no such commit"));
    // HEAD resolves to a 40-digit commit id (the tests run in a git checkout, as CI's clone).
    let c = eval::baseline::resolve(&root, "HEAD").unwrap();
    assert_eq!(c.len(), 40, "{c}");
}
