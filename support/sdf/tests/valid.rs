//! Valid files parse to the model we expect: the project's `system.xml` (the topology the
//! other components are written against), `fixtures/valid_full.xml` (every element,
//! attribute, default and edge value) and `fixtures/valid_sessions.xml` (a NIC driver with two
//! sessions).

use std::path::Path;

use sdf::*;

fn load(rel: &str) -> System {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(rel);
    match parse_file(&path) {
        Ok(s) => s,
        Err(e) => panic!("{e}"),
    }
}

fn setvar(pd: &ProtectionDomain, symbol: &str) -> SetVarValue {
    pd.setvars
        .iter()
        .find(|v| v.symbol == symbol)
        .unwrap_or_else(|| panic!("{}: no setvar {symbol}", pd.name))
        .value
        .clone()
}

fn map<'a>(pd: &'a ProtectionDomain, mr: &str) -> &'a Map {
    pd.maps.iter().find(|m| m.mr == mr).unwrap_or_else(|| panic!("{} does not map {mr}", pd.name))
}

#[test]
fn project_system_xml_has_the_designed_topology() {
    let s = load("../../system.xml");
    assert!(s.warnings.is_empty(), "warnings: {:?}", s.warnings);
    let names: Vec<(&str, u8, &str)> =
        s.pds.iter().map(|p| (p.name.as_str(), p.priority, p.program_image.path.as_str())).collect();
    assert_eq!(
        names,
        [
            ("dataspace_mgr", 200, "dataspace_mgr.elf"),
            ("driver", 150, "driver.elf"),
            ("netstack", 100, "netstack.elf"),
            ("echo", 50, "echo.elf"),
        ]
    );

    // Device registers: the e1000's BAR 0, mapped uncached into the driver only.
    let regs = s.region("e1000_regs").expect("e1000_regs");
    assert_eq!(regs.size, 0x20000);
    let ids: Vec<(u16, u16, u8)> =
        regs.pci().expect("a pci= region").choices().map(|(d, bar)| (d.vendor, d.device, bar)).collect();
    assert_eq!(ids, [(0x8086, 0x100e, 0), (0x8086, 0x10d3, 0), (0x100b, 0x0022, 1)], "every supported NIC, in order");
    let driver = s.pd("driver").expect("driver");
    let m = map(driver, "e1000_regs");
    assert!(!m.cached);
    assert_eq!(m.perms, Perms::RW);
    assert_eq!(setvar(driver, m.setvar_vaddr.as_deref().expect("setvar_vaddr")), SetVarValue::Number(m.vaddr));
    for pd in &s.pds {
        if pd.name != "driver" {
            assert!(pd.maps.iter().all(|m| m.mr != "e1000_regs"), "{} maps the NIC registers", pd.name);
        }
    }

    // The buffer dataspace: only the netstack maps it. The driver never does, and the dataspace
    // manager, which only needs its size, gets that from a region_size setvar, not a mapping.
    let who_maps = |mr: &str| -> Vec<&str> {
        s.pds.iter().filter(|p| p.maps.iter().any(|m| m.mr == mr)).map(|p| p.name.as_str()).collect()
    };
    assert_eq!(who_maps("net_buffers"), ["netstack"]);
    let dsm = s.pd("dataspace_mgr").expect("dataspace_mgr");
    let net_buffers_size = s.region("net_buffers").expect("net_buffers").size;
    assert_eq!(setvar(dsm, "ds0_size"), SetVarValue::Number(net_buffers_size));
    // 4 KiB pages: the NIC's IO space (VT-d) maps only 4 KiB frames; it, the rings and the
    // echo's reply slots (sent by reference) are the only memory granted to the NIC's DMA.
    assert_eq!(s.region("net_buffers").map(|r| r.page_size), Some(PageSize::Small));
    let dma_regions: Vec<&str> =
        s.regions.iter().filter(|r| r.dma.as_deref() == Some("e1000_regs")).map(|r| r.name.as_str()).collect();
    assert_eq!(dma_regions, ["driver_dma", "net_buffers", "echo_data"]);
    assert_eq!(who_maps("rx_queues"), ["driver", "netstack"]);
    assert_eq!(who_maps("tx_queues"), ["driver", "netstack"]);
    assert_eq!(who_maps("driver_dma"), ["driver"]);
    assert_eq!(who_maps("translation_cache"), ["dataspace_mgr", "driver"]);
    assert_eq!(map(driver, "translation_cache").perms.to_string(), "r");
    assert_eq!(map(s.pd("dataspace_mgr").expect("dsm"), "translation_cache").perms, Perms::RW);
    assert_eq!(who_maps("echo_queues"), ["netstack", "echo"]);
    assert_eq!(who_maps("echo_data"), ["netstack", "echo"]);

    // The NIC interrupt, resolved from PCI at boot.
    assert_eq!(driver.irqs.len(), 1);
    let IrqKind::Pci { device, msi } = driver.irqs[0].kind else { panic!("the driver's irq is a pci= irq") };
    assert!(msi, "the driver asks for MSI (INTx where the chip has none)");
    assert_eq!(device.to_string(), "8086:100e|8086:10d3|100b:0022", "the same alternatives as the region");
    assert_eq!(setvar(driver, "nic_pci_id"), SetVarValue::RegionPciId("e1000_regs".into()));
    assert_eq!(s.irq_count(), 1);

    // Tunables.
    assert_eq!(setvar(driver, "holdoff_us"), SetVarValue::Number(100));
    assert_eq!(setvar(driver, "driver_dma_paddr"), SetVarValue::RegionPaddr("driver_dma".into()));
    let net = s.pd("netstack").expect("netstack");
    assert_eq!(setvar(net, "ip_addr"), SetVarValue::Number(0x0a00_020f));
    assert_eq!(setvar(net, "prefix_len"), SetVarValue::Number(24));
    assert_eq!(setvar(net, "gateway"), SetVarValue::Number(0x0a00_0202));

    // Channels: (caller, callee) for every pp end; notifications both ways everywhere.
    let mut calls = Vec::new();
    for ch in &s.channels {
        assert!(ch.ends.iter().all(|e| e.notify));
        for k in 0..2 {
            if ch.ends[k].pp {
                calls.push((ch.ends[k].pd.as_str(), ch.ends[1 - k].pd.as_str()));
            }
        }
        for e in &ch.ends {
            assert_eq!(s.pds[e.pd_index].name, e.pd);
        }
    }
    assert_eq!(calls, [("netstack", "driver"), ("driver", "dataspace_mgr"), ("echo", "netstack")]);
    assert_eq!(s.summary(), "4 PDs, 8 memory regions, 3 channels, 1 IRQ, 0 I/O port ranges");
}

#[test]
fn full_fixture_parses_every_form_with_defaults() {
    let s = load("tests/fixtures/valid_full.xml");
    let server = s.pd("server").expect("server");
    let client = s.pd("client").expect("client");

    assert_eq!((server.priority, server.stack_size), (254, 0x10000));
    assert_eq!((client.priority, client.stack_size), (0, DEFAULT_STACK_SIZE));
    assert_eq!(server.program_image.path, "build/server.elf");
    assert_eq!(server.pos, Pos { line: 11, col: 5 });
    assert_eq!(server.program_image.pos, Pos { line: 12, col: 9 });

    // Fault policies (default stop) and fault notices, resolved to the PD told (id 26: the
    // highest id whose badge bit fits).
    assert_eq!((server.fault, client.fault), (FaultPolicy::Stop, FaultPolicy::Restart));
    assert!(server.fault_notifies.is_empty());
    let told: Vec<(&str, usize, u8)> =
        client.fault_notifies.iter().map(|f| (f.pd.as_str(), f.pd_index, f.id)).collect();
    assert_eq!(told, [("server", 0, 26)]);

    // Regions and their backing.
    let backing: Vec<(&str, u64, PageSize, Backing)> =
        s.regions.iter().map(|r| (r.name.as_str(), r.size, r.page_size, r.backing)).collect();
    let e1000e = PciDevice { vendor: 0x8086, device: 0x10d3, index: 0 };
    let nic = PciBar {
        device: PciMatch::new(&[PciDevice { vendor: 0x8086, device: 0x100e, index: 1 }, e1000e]).unwrap(),
        bars: [0; MAX_PCI_ALTERNATIVES],
    };
    assert_eq!(
        backing,
        [
            ("ram", 0x3000, PageSize::Small, Backing::Allocated),
            ("big", 0x400000, PageSize::Large, Backing::Allocated),
            ("vga", 0x20000, PageSize::Small, Backing::Fixed { phys_addr: 0xa0000 }),
            ("nic", 0x20000, PageSize::Small, Backing::Pci(nic)),
            ("spare", 0x1000, PageSize::Small, Backing::Allocated),
        ]
    );
    assert_eq!(s.region("big").map(|r| r.page_count()), Some(2));
    // DMA: the nic may reach "ram" only, and must not start unconfined.
    let dma: Vec<(&str, Option<&str>, bool)> =
        s.regions.iter().map(|r| (r.name.as_str(), r.dma.as_deref(), r.iommu_required)).collect();
    assert_eq!(
        dma,
        [
            ("ram", Some("nic"), false),
            ("big", None, false),
            ("vga", None, false),
            ("nic", None, true),
            ("spare", None, false)
        ]
    );

    // Maps: defaults (rw, cached) and explicit values; the top-of-user-space edge.
    let ram = map(server, "ram");
    assert_eq!((ram.vaddr, ram.perms, ram.cached), (0x1000, Perms::RW, true));
    assert_eq!(ram.pos, Pos { line: 13, col: 9 });
    let big = map(server, "big");
    assert_eq!(big.vaddr + 0x400000, USER_TOP);
    assert_eq!(big.perms, Perms { read: true, write: true, execute: true });
    assert!(!map(server, "nic").cached);
    assert_eq!(map(client, "ram").perms, Perms { read: true, write: false, execute: false });

    // IRQs: IOAPIC defaults (ioapic 0, level, high) and explicit, and PCI.
    let kinds: Vec<(u8, IrqKind)> = server.irqs.iter().map(|i| (i.id, i.kind)).collect();
    assert_eq!(
        kinds,
        [
            (0, IrqKind::Ioapic { ioapic: 0, pin: 4, vector: 4, trigger: Trigger::Level, polarity: Polarity::High }),
            (1, IrqKind::Ioapic { ioapic: 0, pin: 11, vector: 11, trigger: Trigger::Edge, polarity: Polarity::Low }),
            (2, IrqKind::Pci { device: nic.device, msi: true }),
        ]
    );

    // I/O ports.
    let ports: Vec<(u8, u16, u32)> = server.ioports.iter().map(|p| (p.id, p.addr, p.size)).collect();
    assert_eq!(ports, [(0, 0x3f8, 8), (62, 0xfff0, 0x10)]);

    // Every setvar form, in document order, with values resolved where known now.
    let vars: Vec<(&str, SetVarValue, SetVarSource)> =
        server.setvars.iter().map(|v| (v.symbol.as_str(), v.value.clone(), v.source)).collect();
    use SetVarSource as S;
    use SetVarValue::Number as N;
    assert_eq!(
        vars,
        [
            ("ram_vaddr", N(0x1000), S::MapVaddr),
            ("ram_size", N(0x3000), S::MapSize),
            ("nic", N(0x4000_0000), S::MapVaddr),
            ("serial_irq", N(0), S::IrqId),
            ("com1", N(0), S::IoPortId),
            ("com1_base", N(0x3f8), S::IoPortAddr),
            ("ip", N(0xc0a8_0102), S::Value),
            ("count", N(0x10), S::Value),
            ("big_paddr", SetVarValue::RegionPaddr("big".into()), S::RegionPaddr),
            ("big_size", N(0x40_0000), S::RegionSize),
            ("nic_chip", SetVarValue::RegionPciId("nic".into()), S::RegionPciId),
        ]
    );
    assert_eq!(
        client.setvars.iter().map(|v| (v.symbol.as_str(), v.value.clone(), v.source)).collect::<Vec<_>>(),
        [("server_ch", N(62), S::ChannelId)]
    );

    // The channel: pp from client (0) up to server (254); neither end notifies (the client's
    // id 62 could not receive a notification badge).
    let ch = &s.channels[0];
    assert_eq!((ch.ends[0].pd.as_str(), ch.ends[0].id, ch.ends[0].pp, ch.ends[0].notify), ("client", 62, true, false));
    assert_eq!((ch.ends[1].pd.as_str(), ch.ends[1].id, ch.ends[1].pp, ch.ends[1].notify), ("server", 3, false, false));
    assert_eq!(ch.ends[0].pd_index, s.pd_index("client").expect("client"));
    let ends: Vec<u8> = client.channel_ends(&s, ch.ends[0].pd_index).map(|(_, e)| e.id).collect();
    assert_eq!(ends, [62]);

    // The unmapped region is a warning, at its element.
    assert_eq!(s.warnings.len(), 1, "{:?}", s.warnings);
    assert_eq!(s.warnings[0].severity, Severity::Warning);
    assert_eq!(s.warnings[0].pos, Pos { line: 9, col: 5 });
    assert!(s.warnings[0].to_string().contains("warning: memory region \"spare\" is not mapped"));
    assert_eq!(s.summary(), "2 PDs, 5 memory regions, 1 channel, 3 IRQs, 2 I/O port ranges");
}

#[test]
fn device_memory_mapped_cached_is_a_warning_not_an_error() {
    let xml = br#"<system>
  <memory_region name="dev" size="0x1000" phys_addr="0xfebf0000"/>
  <protection_domain name="p"><program_image path="p.elf"/><map mr="dev" vaddr="0x10000"/></protection_domain>
</system>"#;
    let s = parse("w.xml", xml).expect("valid");
    assert_eq!(s.warnings.len(), 1);
    assert_eq!(s.warnings[0].to_string(), "w.xml:3:60: warning: device memory region \"dev\" is mapped cached; device registers usually want cached=\"false\"");
}

#[test]
fn first_error_in_document_order_wins() {
    // Two element-local errors: the earlier one (line 3) is reported, not the later one.
    let xml = br#"<system>
  <memory_region name="a" size="0x1000"/>
  <protection_domain name="p" priority="300"><program_image path="p.elf"/>
    <map mr="a" vaddr="0x1000" perms="q"/>
  </protection_domain>
</system>"#;
    let e = parse("f.xml", xml).unwrap_err();
    assert!(e.to_string().starts_with("f.xml:3:31: error: <protection_domain> priority=\"300\""), "{e}");

    // A local error later in the file wins over a cross-element error earlier on: the
    // cross-element rules only run on a locally valid file.
    let xml = br#"<system>
  <protection_domain name="p"><program_image path="p.elf"/><map mr="nope" vaddr="0x1000"/></protection_domain>
  <memory_region name="a" size="0x1001"/>
</system>"#;
    let e = parse("f.xml", xml).unwrap_err();
    assert!(e.to_string().starts_with("f.xml:3:27: error: <memory_region> size=0x1001"), "{e}");

    // Same input, same answer.
    assert_eq!(parse("f.xml", xml).unwrap_err(), e);
}

#[test]
fn comments_whitespace_and_declaration_are_fine() {
    let xml = "\u{feff}<?xml version=\"1.0\"?>\n<!-- c -->\n<system>\n<!-- c -->\n  <protection_domain name=\"p\">\n    <!-- c --><program_image path=\"p.elf\"/>\n  </protection_domain>\n</system>\n<!-- trailing -->\n";
    let s = parse("c.xml", xml.as_bytes()).expect("valid");
    assert_eq!(s.pds[0].pos, Pos { line: 5, col: 3 });
    // The byte-order mark does not count as a column.
    let e = parse("c.xml", "\u{feff}<sys/>".as_bytes()).unwrap_err();
    assert_eq!(e.to_string(), "c.xml:1:1: error: the root element is <sys>; expected <system>");
}

#[test]
fn pd_index_and_region_sharers_resolve_from_the_file() {
    let xml = br#"<system>
      <memory_region name="bufs" size="0x1000"/>
      <memory_region name="other" size="0x1000"/>
      <protection_domain name="mgr" priority="30">
        <program_image path="m.elf"/>
        <map mr="bufs" vaddr="0x200000"/>
        <setvar symbol="client" pd_index="stack"/>
        <setvar symbol="sharers" region_sharers="bufs"/>
        <setvar symbol="nobody" region_sharers="other"/>
      </protection_domain>
      <protection_domain name="drv" priority="20">
        <program_image path="d.elf"/>
        <map mr="other" vaddr="0x200000"/>
      </protection_domain>
      <protection_domain name="stack" priority="10">
        <program_image path="s.elf"/>
        <map mr="bufs" vaddr="0x300000"/>
      </protection_domain>
    </system>"#;
    let s = sdf::parse("t.xml", xml).expect("valid");
    let value = |sym: &str| s.pds[0].setvars.iter().find(|v| v.symbol == sym).map(|v| v.value.clone());
    assert_eq!(value("client"), Some(sdf::SetVarValue::Number(2)));
    assert_eq!(value("sharers"), Some(sdf::SetVarValue::Number(0b101)), "mgr (0) and stack (2) map bufs");
    assert_eq!(value("nobody"), Some(sdf::SetVarValue::Number(0b010)), "only drv maps other");
}

#[test]
fn two_session_driver_gets_its_clients_and_macs() {
    let s = load("tests/fixtures/valid_sessions.xml");
    assert!(s.warnings.is_empty(), "warnings: {:?}", s.warnings);
    let driver = s.pd("driver").expect("driver");
    assert_eq!(setvar(driver, "sessions"), SetVarValue::Number(2));
    assert_eq!(setvar(driver, "client_pd"), SetVarValue::Number(1), "netstack is PD 1");
    assert_eq!(setvar(driver, "client_pd1"), SetVarValue::Number(2), "second is PD 2");
    // nic_api::MacAddr::to_word: byte i of the address in bits 8i..8i+8; hex of either case.
    assert_eq!(setvar(driver, "mac"), SetVarValue::Number(0x5634_1200_5452));
    assert_eq!(setvar(driver, "mac1"), SetVarValue::Number(0xefcd_ab00_5452));
    let mac1 = driver.setvars.iter().find(|v| v.symbol == "mac1").expect("mac1");
    assert_eq!(mac1.source, SetVarSource::ValueMac);
    assert_eq!(MacAddr::from_word(0xefcd_ab00_5452).map(|m| m.to_string()).as_deref(), Some("52:54:00:ab:cd:ef"));
}

#[test]
fn session_rules_apply_only_to_a_pd_with_sessions() {
    // Four sessions (the limit), session 0 without a MAC (the NIC's own is used).
    let xml = br#"<system>
      <protection_domain name="drv" priority="50"><program_image path="d.elf"/>
        <setvar symbol="sessions" value="4"/>
        <setvar symbol="client_pd" pd_index="a"/>
        <setvar symbol="client_pd1" pd_index="b"/><setvar symbol="mac1" value="02:00:00:00:00:01"/>
        <setvar symbol="client_pd2" pd_index="c"/><setvar symbol="mac2" value="02:00:00:00:00:02"/>
        <setvar symbol="client_pd3" pd_index="d"/><setvar symbol="mac3" value="02:00:00:00:00:03"/>
      </protection_domain>
      <protection_domain name="a"><program_image path="a.elf"/></protection_domain>
      <protection_domain name="b"><program_image path="a.elf"/></protection_domain>
      <protection_domain name="c"><program_image path="a.elf"/></protection_domain>
      <protection_domain name="d"><program_image path="a.elf"/>
        <setvar symbol="mac" value="02:00:00:00:00:01"/>
        <setvar symbol="gateway_mac" value="02:00:00:00:00:01"/>
        <setvar symbol="mac7" value="5"/><setvar symbol="client_pd" value="3"/>
      </protection_domain>
    </system>"#;
    let s = parse("s.xml", xml).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(setvar(s.pd("drv").expect("drv"), "client_pd3"), SetVarValue::Number(4));

    // One session: client_pd1/mac1 are beyond it; the second session's setvars are all missing.
    let one = br#"<system><protection_domain name="drv"><program_image path="d.elf"/>
        <setvar symbol="sessions" value="1"/><setvar symbol="mac1" value="02:00:00:00:00:01"/>
      </protection_domain></system>"#;
    let e = parse("s.xml", one).unwrap_err().to_string();
    assert!(e.starts_with("s.xml:2:54: error: setvar \"mac1\" is for session 1, but NIC driver \"drv\" is given 1 session (session 0 only)"), "{e}");
    let three = br#"<system><protection_domain name="drv"><program_image path="d.elf"/>
        <setvar symbol="sessions" value="3"/><setvar symbol="mac1" value="02:00:00:00:00:01"/>
      </protection_domain></system>"#;
    let e = parse("s.xml", three).unwrap_err().to_string();
    assert!(e.contains("has no setvar client_pd1, client_pd2, mac2:"), "{e}");
}
