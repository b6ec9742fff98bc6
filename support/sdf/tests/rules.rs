//! One test per validation rule: each fixture in `fixtures/` must be rejected with the
//! error at the given line:col and a message containing the given fragment. The table is
//! also checked against the fixture folder and its README, so no rule goes untested.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

/// (fixture name without `.xml`, line, column, message fragment)
const RULES: &[(&str, u32, u32, &str)] = &[
    ("bar_missing", 3, 5, "missing the required attribute 'bar'"),
    ("bar_range", 3, 63, "<memory_region> bar=\"6\" is out of range: expected 0..5"),
    ("bar_twice", 4, 60, "BAR 0 of PCI device 8086:100e is already claimed"),
    ("irq_msi_bad", 5, 37, "<irq> msi=\"yes\": expected \"true\" or \"false\""),
    ("irq_msi_without_pci", 5, 42, "msi=\"true\" needs pci=\"vvvv:dddd\""),
    ("irq_pci_alternatives_differ", 7, 21, "list the same alternatives in the same order"),
    ("pci_alt_twice", 3, 45, "8086:100e is listed twice"),
    ("pci_alt_bars", 3, 71, "3 BARs for 2 pci= alternatives"),
    ("bar_twice_alt", 4, 62, "BAR 0 of PCI device 8086:10d3 is already claimed by memory region \"nic\""),
    ("setvar_pci_id_not_pci", 8, 31, "region_pci_id=\"buf\": that memory region is not a PCI device's BAR"),
    ("dma_unknown", 4, 47, "dma=\"nci\": no memory region of that name"),
    ("dma_not_pci", 4, 47, "that region is not a PCI device's BAR"),
    ("dma_large_page", 4, 51, "must use 4 KiB pages"),
    ("dma_on_device", 3, 69, "dma= goes on RAM regions only"),
    ("iommu_bad", 3, 69, "iommu=\"yes\": expected \"required\" or \"optional\""),
    ("iommu_on_ram", 3, 47, "iommu= goes on pci= regions only"),
    ("bool_cached", 6, 40, "cached=\"no\": expected \"true\" or \"false\""),
    ("bool_notify", 13, 28, "notify=\"True\": expected \"true\" or \"false\""),
    ("bool_pp", 12, 28, "pp=\"1\": expected \"true\" or \"false\""),
    ("budget", 4, 47, "'budget' on <protection_domain> is not supported: this kernel build is non-MCS"),
    ("channel_id_range", 12, 21, "<end> id=\"63\" is out of range: expected 0..62"),
    ("channel_one_end", 11, 5, "<channel> has 1 <end> element: expected exactly two"),
    ("channel_same_pd", 13, 14, "both ends of the <channel> are in the same protection domain"),
    ("channel_three_ends", 14, 5, "<channel> has 3 <end> elements: expected exactly two"),
    ("channel_unknown_pd", 13, 14, "pd=\"c\": no protection domain of that name"),
    ("dtd", 2, 1, "DOCTYPE"),
    ("duplicate_pd", 8, 24, "a protection domain of that name already exists (line 4)"),
    ("duplicate_region", 4, 20, "a memory region of that name already exists (line 3)"),
    ("empty", 1, 1, "no root element"),
    ("fault_notify_id_badge", 7, 36, "<fault_notify> id=30: the monitor signals \"manager\" as notification badge bit 1 << id"),
    ("fault_notify_id_clash", 14, 27, "<end> id=1 is already used in protection domain \"manager\" by a fault notice (line 7)"),
    ("fault_notify_id_range", 7, 36, "<fault_notify> id=\"63\" is out of range: expected 0..62"),
    ("fault_notify_missing_id", 7, 9, "<fault_notify> is missing the required attribute 'id'"),
    ("fault_notify_outside_pd", 8, 5, "unexpected element <fault_notify> in <system>: it belongs inside the <protection_domain>"),
    ("fault_notify_self", 7, 23, "a protection domain cannot be told of its own fault"),
    ("fault_notify_twice", 8, 23, "protection domain \"driver\" already tells it of its faults (line 7)"),
    ("fault_notify_unknown_pd", 7, 23, "<fault_notify> pd=\"manger\": no protection domain of that name (did you mean \"manager\"?)"),
    ("fault_injection_bad", 2, 9, "<system> fault_injection=\"off\": expected \"true\" or \"false\""),
    ("fault_policy_bad", 4, 47, "<protection_domain> fault=\"reboot\": expected \"stop\""),
    ("id_duplicate_channel", 19, 21, "id=1 is already used in protection domain \"a\""),
    ("id_duplicate_irq_channel", 13, 21, "irqs and channels share one id space per PD"),
    ("ioport_addr_range", 7, 24, "<ioport> addr=\"0x10000\" is out of range: expected 0x0..0xffff"),
    ("ioport_id_twice", 8, 17, "<ioport> id=0 is already used by another <ioport>"),
    ("ioport_overlap", 11, 24, "overlap ports 0x3f8..0x3ff"),
    ("ioport_past_end", 7, 38, "past the last I/O port 0xffff"),
    ("ioport_size_zero", 7, 37, "<ioport> size=\"0\" is out of range"),
    ("irq_id_badge", 7, 14, "<irq> id=27: an irq is delivered as notification badge bit 1 << id, and seL4 5.0 badges are 28 bits (the top one marks PPCs): expected an irq id in 0..26"),
    ("irq_id_range", 7, 14, "<irq> id=\"100\" is out of range: expected 0..62"),
    ("irq_no_form", 7, 9, "<irq> needs either pin="),
    ("irq_pci_malformed", 7, 21, "<irq> pci=\"8086-100e\": expected \"vvvv:dddd\""),
    ("irq_pci_twice", 11, 21, "that device's interrupt is already claimed"),
    ("irq_pin_range", 7, 21, "<irq> pin=\"24\" is out of range: expected 0..23"),
    ("irq_pin_twice", 11, 21, "IOAPIC 0 pin 4 is already claimed by the irq at line 7"),
    ("irq_trigger_bad", 7, 40, "trigger=\"rising\": expected \"level\" or \"edge\""),
    ("irq_vector_range", 7, 29, "<irq> vector=\"108\" is out of range: expected 0..107"),
    ("irq_vector_twice", 8, 29, "vector=4 is already used by the irq at line 7"),
    ("malformed_xml", 7, 5, "malformed XML"),
    ("map_outside_user", 6, 23, "past the end of x86_64 user space"),
    ("map_overlap", 8, 23, "overlaps the map of \"two\""),
    ("map_page_zero", 6, 23, "maps page 0"),
    ("map_unknown_region", 7, 14, "mr=\"bfu\": no memory region of that name"),
    ("missing_attribute", 6, 9, "<map> is missing the required attribute 'vaddr'"),
    ("missing_program_image", 4, 5, "has no <program_image path="),
    ("missing_region_size", 3, 5, "<memory_region> is missing the required attribute 'size'"),
    ("no_pd", 2, 1, "has no <protection_domain>"),
    ("not_utf8", 3, 33, "not valid UTF-8"),
    ("notify_id_badge", 13, 21, "<end> id=40: \"a\" notifies \"b\" on this channel"),
    ("number_huge_priority", 4, 33, "priority=\"99999999999999999999999\" is out of range: expected 0..254"),
    ("number_invalid", 6, 23, "vaddr=\"0x20g000\": expected a number"),
    ("number_negative", 12, 21, "negative"),
    ("number_overflow_decimal", 6, 23, "does not fit in 64 bits"),
    ("number_overflow_hex", 3, 31, "does not fit in 64 bits"),
    ("page_size_bad", 3, 49, "page_size=\"0x40000000\" is not supported: expected 0x1000 (4 KiB) or 0x200000 (2 MiB)"),
    ("passive", 4, 47, "attribute 'passive' on <protection_domain> is not supported: this kernel build is non-MCS"),
    ("pci_bad_index", 3, 47, "pci=\"8086:100e@x\": expected"),
    ("pci_malformed", 3, 47, "pci=\"8086:10e\": expected \"vvvv:dddd\""),
    ("pci_with_phys_addr", 3, 70, "has both phys_addr= and pci="),
    ("period", 4, 47, "'period' on <protection_domain> is not supported: this kernel build is non-MCS"),
    ("perms_bad_letter", 6, 40, "perms=\"rwz\": expected a combination of 'r', 'w' and 'x'"),
    ("perms_write_only", 6, 40, "perms=\"w\": write-only mappings are not possible"),
    ("perms_no_read", 6, 40, "perms=\"x\": pages without 'r' are not accessible on x86"),
    ("phys_addr_unaligned", 3, 45, "is not aligned to the region's page size"),
    ("phys_overlap", 4, 46, "overlaps memory region \"dev1\""),
    ("pp_both_ends", 13, 28, "pp=\"true\" on both ends"),
    ("pp_equal_priority", 13, 28, "\"b\" (priority 10) may only call a PD of strictly higher priority, but \"a\" has priority 10"),
    ("pp_lower_priority", 12, 28, "may only call a PD of strictly higher priority, but \"b\" has priority 5"),
    ("priority_range", 4, 33, "priority=\"255\" is out of range: expected 0..254"),
    ("program_image_twice", 6, 9, "a second <program_image>"),
    ("region_size_not_multiple", 3, 31, "size=0x1800 is not a multiple of its page size 0x1000"),
    ("region_size_not_multiple_large", 3, 31, "is not a multiple of its page size 0x200000"),
    ("setvar_duplicate", 7, 17, "symbol \"buf\" is already set in protection domain \"a\" (line 6)"),
    ("setvar_duplicate_channel", 12, 28, "symbol \"peer\" is already set in protection domain \"a\""),
    ("setvar_no_value", 7, 9, "<setvar> needs value="),
    ("setvar_paddr_unknown", 7, 28, "region_paddr=\"nope\": no memory region of that name"),
    ("setvar_pd_index_unknown", 7, 31, "<setvar> pd_index=\"bb\": no protection domain of that name"),
    ("setvar_sharers_unknown", 7, 28, "<setvar> region_sharers=\"buff\": no memory region of that name"),
    ("setvar_two_forms", 7, 38, "<setvar> has both value= and region_sharers=: expected exactly one of"),
    ("setvar_symbol_bad", 6, 40, "expected a symbol name"),
    ("setvar_value_bad", 7, 29, "IPv4 address part 256 is out of range"),
    ("mac_malformed", 8, 31, "<setvar> value=\"52:54:00:12:34\": 5 ':'-separated groups; expected a MAC address: six two-digit hex groups separated by ':'"),
    ("session_mac_multicast", 8, 31, "MAC 01:00:5e:00:00:01 is a multicast or broadcast address (bit 0 of its first byte is set), not a unicast station address"),
    ("sessions_too_many", 5, 35, "NIC driver \"driver\" is given 5 sessions; the NIC driver serves at most 4"),
    ("sessions_zero", 5, 35, "NIC driver \"driver\" is given 0 sessions; it needs at least 1"),
    ("sessions_not_number", 5, 17, "setvar \"sessions\" of NIC driver \"driver\": expected <setvar symbol=\"sessions\" value=\"N\"/>"),
    ("session_missing_client", 5, 17, "NIC driver \"driver\" is given 2 sessions but has no setvar client_pd1:"),
    ("session_client_beyond", 9, 17, "setvar \"client_pd2\" is for session 2, but NIC driver \"driver\" is given 2 sessions (0..1)"),
    ("session_client_twice", 8, 37, "setvar \"client_pd1\" names protection domain \"netstack\", which is already the client of NIC driver \"driver\" through setvar \"client_pd\" at line 6"),
    ("session_mac_duplicate", 9, 31, "MAC 52:54:00:12:34:5a of setvar \"mac2\" is already given to setvar \"mac1\" at line 7"),
    ("session_mac_not_mac", 8, 31, "setvar \"mac1\" of NIC driver \"driver\": expected value=\"aa:bb:cc:dd:ee:ff\""),
    ("session_symbol_misnamed", 9, 17, "setvar \"mac0\" of NIC driver \"driver\" names no session"),
    ("stack_size_unaligned", 4, 47, "expected a multiple of the 4 KiB page size"),
    ("text_in_element", 7, 9, "unexpected text \"stray words\""),
    ("too_many_pds", 192, 5, "too many protection domains: at most 63"),
    ("unclosed", 5, 39, "ends before the document is complete"),
    ("unknown_attribute", 6, 40, "unknown attribute 'prems' on <map>"),
    ("unknown_element", 6, 9, "unknown element <mapp> in <protection_domain>"),
    ("unknown_element_system", 4, 5, "unknown element <memory_regions> in <system>"),
    ("vaddr_unaligned", 6, 23, "vaddr=0x200800 is not aligned to the page size 0x1000"),
    ("vaddr_unaligned_large", 6, 23, "is not aligned to the page size 0x200000"),
    ("wrong_root", 2, 1, "expected <system>"),
];

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

fn check(name: &str, line: u32, col: u32, fragment: &str) -> Result<(), String> {
    let path = fixtures().join(format!("{name}.xml"));
    let bytes = std::fs::read(&path).map_err(|e| format!("{name}: cannot read fixture: {e}"))?;
    let shown = format!("fixtures/{name}.xml");
    match sdf::parse(&shown, &bytes) {
        Ok(_) => Err(format!("{name}: accepted, expected an error at {line}:{col} containing {fragment:?}")),
        Err(d) => {
            let text = d.to_string();
            let prefix = format!("{shown}:{line}:{col}: error: ");
            if !text.starts_with(&prefix) || !text.contains(fragment) {
                return Err(format!("{name}:\n  expected {prefix}...{fragment}...\n  got      {text}"));
            }
            if text.contains('\n') {
                return Err(format!("{name}: message spans several lines: {text}"));
            }
            Ok(())
        }
    }
}

#[test]
fn every_rule_is_rejected_at_the_right_place() {
    let failures: Vec<String> =
        RULES.iter().filter_map(|&(name, line, col, fragment)| check(name, line, col, fragment).err()).collect();
    assert!(failures.is_empty(), "{} of {} rules failed:\n{}", failures.len(), RULES.len(), failures.join("\n"));
}

#[test]
fn every_invalid_fixture_is_in_the_table_and_the_readme() {
    let readme = std::fs::read_to_string(fixtures().join("README.md")).expect("fixtures/README.md");
    let table: BTreeSet<&str> = RULES.iter().map(|r| r.0).collect();
    assert_eq!(table.len(), RULES.len(), "a fixture is listed twice");
    for entry in std::fs::read_dir(fixtures()).expect("fixtures dir") {
        let path = entry.expect("dir entry").path();
        let (Some(stem), Some("xml")) =
            (path.file_stem().and_then(|s| s.to_str()), path.extension().and_then(|s| s.to_str()))
        else {
            continue;
        };
        assert!(readme.contains(&format!("`{stem}.xml`")), "{stem}.xml is not described in fixtures/README.md");
        if stem.starts_with("valid_") {
            continue;
        }
        assert!(table.contains(stem), "fixture {stem}.xml has no expectation in RULES");
    }
}

/// Individual tests for the rules the issue names, so a failure is easy to spot in the
/// test list as well.
macro_rules! rule_tests {
    ($($test:ident => $name:literal),* $(,)?) => {
        $(
            #[test]
            fn $test() {
                let &(name, line, col, fragment) = RULES.iter().find(|r| r.0 == $name).expect("rule in table");
                if let Err(e) = check(name, line, col, fragment) {
                    panic!("{e}");
                }
            }
        )*
    };
}

rule_tests! {
    malformed_xml => "malformed_xml",
    wrong_root => "wrong_root",
    unknown_element => "unknown_element",
    unknown_attribute => "unknown_attribute",
    missing_attribute => "missing_attribute",
    number_invalid => "number_invalid",
    number_overflow_hex => "number_overflow_hex",
    number_overflow_decimal => "number_overflow_decimal",
    duplicate_pd => "duplicate_pd",
    duplicate_region => "duplicate_region",
    priority_range => "priority_range",
    passive => "passive",
    budget => "budget",
    period => "period",
    map_unknown_region => "map_unknown_region",
    vaddr_unaligned => "vaddr_unaligned",
    vaddr_unaligned_large => "vaddr_unaligned_large",
    map_overlap => "map_overlap",
    map_outside_user => "map_outside_user",
    map_page_zero => "map_page_zero",
    region_size_not_multiple => "region_size_not_multiple",
    page_size_bad => "page_size_bad",
    phys_overlap => "phys_overlap",
    perms_write_only => "perms_write_only",
    perms_no_read => "perms_no_read",
    perms_bad_letter => "perms_bad_letter",
    channel_one_end => "channel_one_end",
    channel_three_ends => "channel_three_ends",
    channel_unknown_pd => "channel_unknown_pd",
    channel_same_pd => "channel_same_pd",
    channel_id_range => "channel_id_range",
    irq_id_range => "irq_id_range",
    irq_id_badge => "irq_id_badge",
    notify_id_badge => "notify_id_badge",
    id_duplicate_channel => "id_duplicate_channel",
    id_duplicate_irq_channel => "id_duplicate_irq_channel",
    pp_lower_priority => "pp_lower_priority",
    pp_equal_priority => "pp_equal_priority",
    pp_both_ends => "pp_both_ends",
    irq_vector_range => "irq_vector_range",
    irq_pin_twice => "irq_pin_twice",
    irq_vector_twice => "irq_vector_twice",
    irq_pci_twice => "irq_pci_twice",
    ioport_past_end => "ioport_past_end",
    ioport_size_zero => "ioport_size_zero",
    ioport_overlap => "ioport_overlap",
    pci_malformed => "pci_malformed",
    irq_pci_malformed => "irq_pci_malformed",
    bar_range => "bar_range",
    pci_with_phys_addr => "pci_with_phys_addr",
    irq_msi_bad => "irq_msi_bad",
    irq_msi_without_pci => "irq_msi_without_pci",
    irq_pci_alternatives_differ => "irq_pci_alternatives_differ",
    pci_alt_twice => "pci_alt_twice",
    pci_alt_bars => "pci_alt_bars",
    bar_twice_alt => "bar_twice_alt",
    setvar_pci_id_not_pci => "setvar_pci_id_not_pci",
    dma_unknown => "dma_unknown",
    dma_not_pci => "dma_not_pci",
    dma_large_page => "dma_large_page",
    dma_on_device => "dma_on_device",
    iommu_bad => "iommu_bad",
    iommu_on_ram => "iommu_on_ram",
    too_many_pds => "too_many_pds",
    setvar_duplicate => "setvar_duplicate",
    setvar_pd_index_unknown => "setvar_pd_index_unknown",
    setvar_sharers_unknown => "setvar_sharers_unknown",
    setvar_two_forms => "setvar_two_forms",
    fault_policy_bad => "fault_policy_bad",
    fault_notify_unknown_pd => "fault_notify_unknown_pd",
    fault_notify_self => "fault_notify_self",
    fault_notify_twice => "fault_notify_twice",
    fault_notify_id_clash => "fault_notify_id_clash",
    fault_notify_id_badge => "fault_notify_id_badge",
    missing_program_image => "missing_program_image",
    bool_cached => "bool_cached",
    bool_pp => "bool_pp",
    bool_notify => "bool_notify",
    empty => "empty",
    not_utf8 => "not_utf8",
    mac_malformed => "mac_malformed",
    session_mac_multicast => "session_mac_multicast",
    sessions_too_many => "sessions_too_many",
    sessions_zero => "sessions_zero",
    session_missing_client => "session_missing_client",
    session_client_beyond => "session_client_beyond",
    session_client_twice => "session_client_twice",
    session_mac_duplicate => "session_mac_duplicate",
}
