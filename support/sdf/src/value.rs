//! Parsers for attribute values (numbers, booleans, perms, PCI ids, IPv4 and MAC addresses,
//! symbol names). Each returns the value or a sentence saying what was expected; the caller adds
//! the element, the attribute and the position.

use crate::model::{MacAddr, PciDevice, PciMatch, Perms, MAX_PCI_ALTERNATIVES};

/// Why a number did not parse.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum NumError {
    Empty,
    Negative,
    Invalid,
    Overflow,
}

impl NumError {
    pub(crate) fn describe(&self) -> &'static str {
        match self {
            NumError::Empty => "expected a number (decimal, or hex with 0x), found an empty value",
            NumError::Negative => "expected a non-negative number, found a negative one",
            NumError::Invalid => "expected a number (decimal, or hex with 0x)",
            NumError::Overflow => "number too large: it does not fit in 64 bits",
        }
    }
}

/// A u64 in decimal or `0x` hex; `_` may separate digits (as Microkit allows). No sign,
/// no surrounding white space.
pub(crate) fn parse_u64(s: &str) -> Result<u64, NumError> {
    if s.is_empty() {
        return Err(NumError::Empty);
    }
    if s.starts_with('-') {
        return Err(NumError::Negative);
    }
    let (digits, radix) = match s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
        Some(rest) => (rest, 16),
        None => (s, 10),
    };
    if digits.starts_with('_') || digits.ends_with('_') {
        return Err(NumError::Invalid);
    }
    let mut value: u64 = 0;
    let mut any = false;
    for c in digits.chars() {
        if c == '_' {
            continue;
        }
        let d = c.to_digit(radix).ok_or(NumError::Invalid)?;
        any = true;
        value =
            value.checked_mul(u64::from(radix)).and_then(|v| v.checked_add(u64::from(d))).ok_or(NumError::Overflow)?;
    }
    if !any {
        return Err(NumError::Invalid);
    }
    Ok(value)
}

/// `true` or `false`, exactly.
pub(crate) fn parse_bool(s: &str) -> Option<bool> {
    match s {
        "true" => Some(true),
        "false" => Some(false),
        _ => None,
    }
}

/// Mapping permissions: a combination of `r`, `w`, `x`, each at most once, including `r`.
pub(crate) fn parse_perms(s: &str) -> Result<Perms, String> {
    let mut perms = Perms { read: false, write: false, execute: false };
    if s.is_empty() {
        return Err("expected a combination of 'r', 'w' and 'x' such as \"rw\", found an empty value".into());
    }
    for c in s.chars() {
        let slot = match c {
            'r' => &mut perms.read,
            'w' => &mut perms.write,
            'x' => &mut perms.execute,
            _ => {
                return Err(format!(
                    "expected a combination of 'r', 'w' and 'x' such as \"rw\", found {}",
                    crate::parse::show_char(c)
                ))
            }
        };
        if *slot {
            return Err(format!("'{c}' appears twice; expected each of 'r', 'w', 'x' at most once"));
        }
        *slot = true;
    }
    if perms.write && !perms.read {
        return Err("write-only mappings are not possible on x86 (writable pages are readable): use \"rw\"".into());
    }
    if !perms.read {
        return Err("pages without 'r' are not accessible on x86: use \"r\" or \"rx\"".into());
    }
    Ok(perms)
}

/// `id|id|...`: one to [`MAX_PCI_ALTERNATIVES`] PCI ids ([`parse_pci`]) in order of preference,
/// none repeated.
pub(crate) fn parse_pci_match(s: &str) -> Result<PciMatch, String> {
    let mut ids = Vec::new();
    for (i, part) in s.split('|').enumerate() {
        let d = parse_pci(part).map_err(|why| {
            if s.contains('|') {
                format!("alternative {} ({:?}): {why}", i + 1, part)
            } else {
                why
            }
        })?;
        if ids.contains(&d) {
            return Err(format!("{d} is listed twice; list each alternative once"));
        }
        ids.push(d);
    }
    if ids.len() > MAX_PCI_ALTERNATIVES {
        return Err(format!("{} alternatives; at most {MAX_PCI_ALTERNATIVES} may be listed (\"a|b|c|d\")", ids.len()));
    }
    PciMatch::new(&ids).ok_or_else(|| "expected at least one PCI id".to_string())
}

/// `vvvv:dddd[@index]`: exactly four hex digits each for vendor and device, and an
/// optional decimal index (which of several identical functions, in scan order).
pub(crate) fn parse_pci(s: &str) -> Result<PciDevice, String> {
    const EXPECTED: &str = "expected \"vvvv:dddd\" or \"vvvv:dddd@n\" (4 hex digits of vendor id, 4 of device id, optional decimal index), e.g. \"8086:100e\"";
    let (ids, index) = match s.split_once('@') {
        Some((ids, index)) => (ids, Some(index)),
        None => (s, None),
    };
    let (vendor, device) = ids.split_once(':').ok_or_else(|| EXPECTED.to_string())?;
    let hex4 = |t: &str| -> Option<u16> {
        if t.len() == 4 && t.bytes().all(|b| b.is_ascii_hexdigit()) {
            u16::from_str_radix(t, 16).ok()
        } else {
            None
        }
    };
    let vendor = hex4(vendor).ok_or_else(|| EXPECTED.to_string())?;
    let device = hex4(device).ok_or_else(|| EXPECTED.to_string())?;
    if vendor == 0xffff {
        return Err("vendor id ffff means \"no device\" in PCI; expected a real vendor id".into());
    }
    let index = match index {
        None => 0,
        Some(t) if !t.is_empty() && t.len() <= 9 && t.bytes().all(|b| b.is_ascii_digit()) => {
            t.parse::<u32>().map_err(|_| EXPECTED.to_string())?
        }
        Some(_) => return Err(EXPECTED.into()),
    };
    Ok(PciDevice { vendor, device, index })
}

/// What a setvar `value=` holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Literal {
    /// A number or a dotted IPv4 address (as its number).
    Number(u64),
    /// A MAC address (patched as [`MacAddr::to_word`]).
    Mac(MacAddr),
}

/// A setvar `value`: a number (as [`parse_u64`]), a dotted IPv4 address `a.b.c.d`, which
/// becomes `a<<24 | b<<16 | c<<8 | d`, or a MAC address ([`parse_mac`]; any value with a ':').
pub(crate) fn parse_setvar_value(s: &str) -> Result<Literal, String> {
    if s.contains(':') {
        return parse_mac(s).map(Literal::Mac);
    }
    if s.contains('.') {
        let parts: Vec<&str> = s.split('.').collect();
        let ok_part = |p: &&str| !p.is_empty() && p.len() <= 3 && p.bytes().all(|b| b.is_ascii_digit());
        if parts.len() != 4 || !parts.iter().all(ok_part) {
            return Err("expected a number or a dotted IPv4 address such as \"10.0.2.15\"".into());
        }
        let mut value = 0u64;
        for p in parts {
            let octet: u64 = p.parse().map_err(|_| "expected a dotted IPv4 address".to_string())?;
            if octet > 255 {
                return Err(format!("IPv4 address part {octet} is out of range: expected 0..255"));
            }
            value = (value << 8) | octet;
        }
        return Ok(Literal::Number(value));
    }
    parse_u64(s).map(Literal::Number).map_err(|e| match e {
        NumError::Invalid => {
            "expected a number (decimal, or hex with 0x), a dotted IPv4 address or a MAC address".to_string()
        }
        other => other.describe().to_string(),
    })
}

/// `aa:bb:cc:dd:ee:ff`: exactly six groups of two hex digits (either case) separated by
/// ':', naming a unicast station address (not multicast or broadcast, not all zeros).
pub(crate) fn parse_mac(s: &str) -> Result<MacAddr, String> {
    const EXPECTED: &str =
        "expected a MAC address: six two-digit hex groups separated by ':', such as \"52:54:00:12:34:56\"";
    let groups: Vec<&str> = s.split(':').collect();
    if groups.len() != 6 {
        return Err(format!("{} ':'-separated groups; {EXPECTED}", groups.len()));
    }
    let mut mac = [0u8; 6];
    for (byte, group) in mac.iter_mut().zip(&groups) {
        if group.len() != 2 || !group.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(format!("group {} is not two hex digits; {EXPECTED}", crate::parse::show(group)));
        }
        *byte = u8::from_str_radix(group, 16).map_err(|_| EXPECTED.to_string())?;
    }
    let mac = MacAddr(mac);
    if mac.0 == [0; 6] {
        return Err("the all-zero MAC is not a unicast station address".into());
    }
    if !mac.is_unicast_station() {
        return Err(format!(
            "MAC {mac} is a multicast or broadcast address (bit 0 of its first byte is set), not a unicast station address; locally administered unicast addresses look like 02:xx:xx:xx:xx:xx or 52:54:00:xx:xx:xx"
        ));
    }
    Ok(mac)
}

/// A symbol name an ELF can carry for a Rust `#[no_mangle] static` or a C global:
/// `[A-Za-z_][A-Za-z0-9_]*`, at most 255 bytes.
pub(crate) fn valid_symbol(s: &str) -> bool {
    let mut bytes = s.bytes();
    matches!(bytes.next(), Some(b) if b.is_ascii_alphabetic() || b == b'_')
        && bytes.all(|b| b.is_ascii_alphanumeric() || b == b'_')
        && s.len() <= 255
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers() {
        assert_eq!(parse_u64("0"), Ok(0));
        assert_eq!(parse_u64("4096"), Ok(4096));
        assert_eq!(parse_u64("0x1000"), Ok(4096));
        assert_eq!(parse_u64("0X1_000"), Ok(4096));
        assert_eq!(parse_u64("0xffff_ffff_ffff_ffff"), Ok(u64::MAX));
        assert_eq!(parse_u64("18446744073709551615"), Ok(u64::MAX));
        assert_eq!(parse_u64("18446744073709551616"), Err(NumError::Overflow));
        assert_eq!(parse_u64("0x1_0000_0000_0000_0000"), Err(NumError::Overflow));
        assert_eq!(parse_u64(""), Err(NumError::Empty));
        assert_eq!(parse_u64("-1"), Err(NumError::Negative));
        assert_eq!(parse_u64("+1"), Err(NumError::Invalid));
        assert_eq!(parse_u64(" 1"), Err(NumError::Invalid));
        assert_eq!(parse_u64("0x"), Err(NumError::Invalid));
        assert_eq!(parse_u64("0x_1"), Err(NumError::Invalid));
        assert_eq!(parse_u64("12ab"), Err(NumError::Invalid));
        assert_eq!(parse_u64("1e3"), Err(NumError::Invalid));
        assert_eq!(parse_u64("１"), Err(NumError::Invalid)); // full-width digit
    }

    #[test]
    fn perms() {
        assert_eq!(parse_perms("rw"), Ok(Perms::RW));
        assert_eq!(parse_perms("r").map(|p| p.to_string()), Ok("r".to_string()));
        assert_eq!(parse_perms("xr").map(|p| p.to_string()), Ok("rx".to_string()));
        assert!(parse_perms("w").unwrap_err().contains("write-only"));
        assert!(parse_perms("wx").unwrap_err().contains("write-only"));
        assert!(parse_perms("x").unwrap_err().contains("without 'r'"));
        assert!(parse_perms("rr").unwrap_err().contains("twice"));
        assert!(parse_perms("rq").unwrap_err().contains("'q'"));
        assert!(parse_perms("").is_err());
    }

    #[test]
    fn pci() {
        assert_eq!(parse_pci("8086:100e"), Ok(PciDevice { vendor: 0x8086, device: 0x100e, index: 0 }));
        assert_eq!(parse_pci("8086:100E@2"), Ok(PciDevice { vendor: 0x8086, device: 0x100e, index: 2 }));
        let e1000 = PciDevice { vendor: 0x8086, device: 0x100e, index: 0 };
        let e1000e = PciDevice { vendor: 0x8086, device: 0x10d3, index: 0 };
        let m = parse_pci_match("8086:100e|8086:10d3").unwrap();
        assert_eq!(m.ids(), &[e1000, e1000e]);
        assert_eq!(m.to_string(), "8086:100e|8086:10d3");
        assert_eq!(parse_pci_match("8086:100e").unwrap(), PciMatch::one(e1000));
        assert!(parse_pci_match("8086:100e|8086:100e").unwrap_err().contains("listed twice"));
        assert!(parse_pci_match("8086:100e|").unwrap_err().contains("alternative 2"));
        assert!(parse_pci_match("1:1|1:2").unwrap_err().contains("alternative 1"));
        assert!(parse_pci_match("8086:0001|8086:0002|8086:0003|8086:0004|8086:0005")
            .unwrap_err()
            .contains("at most 4"));
        for bad in [
            "8086",
            "8086:100",
            "8086:100e0",
            "808g:100e",
            "8086:100e@",
            "8086:100e@x",
            "8086:100e@-1",
            ":",
            "",
            "8086:100e@1234567890",
            "ffff:0000",
            "+086:100e",
        ] {
            assert!(parse_pci(bad).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn setvar_values() {
        use Literal::Number;
        assert_eq!(parse_setvar_value("100"), Ok(Number(100)));
        assert_eq!(parse_setvar_value("0x64"), Ok(Number(100)));
        assert_eq!(parse_setvar_value("10.0.2.15"), Ok(Number(0x0a00_020f)));
        assert_eq!(parse_setvar_value("255.255.255.255"), Ok(Number(0xffff_ffff)));
        for bad in ["10.0.2", "10.0.2.15.1", "10.0.2.256", "10..2.1", "a.b.c.d", "1.2.3.4 ", "ten"] {
            assert!(parse_setvar_value(bad).is_err(), "{bad:?} accepted");
        }
        let mac = MacAddr([0x52, 0x54, 0x00, 0x12, 0x34, 0x56]);
        assert_eq!(parse_setvar_value("52:54:00:12:34:56"), Ok(Literal::Mac(mac)));
        assert_eq!(mac.to_word(), 0x5634_1200_5452);
    }

    #[test]
    fn macs() {
        let mac = MacAddr([0x02, 0xab, 0xcd, 0xef, 0x0a, 0xff]);
        assert_eq!(parse_mac("02:ab:cd:ef:0a:ff"), Ok(mac));
        assert_eq!(parse_mac("02:AB:Cd:eF:0A:FF"), Ok(mac));
        assert_eq!(mac.to_string(), "02:ab:cd:ef:0a:ff");
        // nic_api::MacAddr::to_word: byte i in bits 8i..8i+8.
        assert_eq!(mac.to_word(), 0xff0a_efcd_ab02);
        assert_eq!(MacAddr::from_word(mac.to_word()), Some(mac));
        assert_eq!(MacAddr::from_word(1 << 48), None);
        for (bad, why) in [
            ("52:54:00:12:34", "5 ':'-separated groups"),
            ("52:54:00:12:34:56:78", "7 ':'-separated groups"),
            ("52:54:00:12:34:5g", "group \"5g\" is not two hex digits"),
            ("52:54:0:12:34:56", "group \"0\" is not two hex digits"),
            ("52:54:000:12:34:5", "group \"000\""),
            ("52:54::12:34:56", "group \"\""),
            ("52-54-00-12-34-56:", "2 ':'-separated groups"),
            (" 52:54:00:12:34:56", "group \" 52\""),
            ("+2:54:00:12:34:56", "group \"+2\""),
            ("00:00:00:00:00:00", "all-zero MAC is not a unicast station address"),
            ("01:00:5e:00:00:01", "MAC 01:00:5e:00:00:01 is a multicast or broadcast address"),
            ("ff:ff:ff:ff:ff:ff", "not a unicast station address"),
            ("53:54:00:12:34:56", "not a unicast station address"),
        ] {
            match parse_mac(bad) {
                Ok(m) => panic!("{bad:?} accepted as {m}"),
                Err(e) => assert!(e.contains(why), "{bad:?}: {e}"),
            }
        }
        assert!(parse_mac("5:5").unwrap_err().contains("such as \"52:54:00:12:34:56\""));
    }

    #[test]
    fn symbols() {
        assert!(valid_symbol("holdoff_us"));
        assert!(valid_symbol("_x1"));
        assert!(!valid_symbol("1x"));
        assert!(!valid_symbol(""));
        assert!(!valid_symbol("a-b"));
        assert!(!valid_symbol(&"a".repeat(256)));
    }
}
