//! No input makes the validator panic, hang or print a malformed diagnostic. A bounded,
//! deterministic fuzz run (seeded PRNG, a few thousand inputs: random bytes, XML-ish
//! token soup, mutations of every fixture) plus hand-made pathological inputs (deep
//! nesting, huge values, many elements, one endless line). Every accepted input must also
//! satisfy the model's invariants.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::Path;
use std::time::{Duration, Instant};

use sdf::*;

/// xorshift64*: small, deterministic, good enough to pick mutations.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: usize) -> usize {
        if n == 0 {
            0
        } else {
            (self.next() % n as u64) as usize
        }
    }
    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }
}

const TOKENS: &[&str] = &[
    "<",
    ">",
    "/>",
    "</",
    "=",
    "\"",
    "'",
    " ",
    "\n",
    "\t",
    "<!--",
    "-->",
    "<![CDATA[",
    "]]>",
    "&amp;",
    "&#x41;",
    "&#0;",
    "&bogus;",
    "<?xml version=\"1.0\"?>",
    "<!DOCTYPE system>",
    "\u{feff}",
    "\u{0}",
    "é",
    "\u{10ffff}",
    "\u{fffe}",
    "system",
    "protection_domain",
    "memory_region",
    "channel",
    "end",
    "map",
    "irq",
    "ioport",
    "setvar",
    "program_image",
    "name",
    "priority",
    "stack_size",
    "passive",
    "budget",
    "period",
    "mr",
    "vaddr",
    "perms",
    "cached",
    "setvar_vaddr",
    "setvar_size",
    "size",
    "page_size",
    "phys_addr",
    "pci",
    "bar",
    "pd",
    "id",
    "pp",
    "notify",
    "pin",
    "vector",
    "ioapic",
    "trigger",
    "polarity",
    "addr",
    "symbol",
    "value",
    "region_paddr",
    "region_size",
    "setvar_id",
    "setvar_addr",
    "path",
    "xmlns:x",
    "x:y",
    "0",
    "1",
    "-1",
    "62",
    "63",
    "107",
    "108",
    "254",
    "255",
    "0x",
    "0x1000",
    "0x200000",
    "0x7fff_ffff_f000",
    "0xffff",
    "0x10000",
    "18446744073709551615",
    "18446744073709551616",
    "0xffffffffffffffff",
    "0x1_0000_0000_0000_0000",
    "99999999999999999999999999999999",
    "1_0",
    "_",
    "true",
    "false",
    "yes",
    "rw",
    "w",
    "rwx",
    "x",
    "wx",
    "rr",
    "8086:100e",
    "8086:100e@1",
    "8086:100e@99999999999",
    "ffff:ffff",
    "10.0.2.15",
    "256.1.1.1",
    "1.2.3",
    "level",
    "edge",
    "high",
    "low",
    "a",
    "b",
];

fn random_bytes(rng: &mut Rng) -> Vec<u8> {
    let len = rng.below(300);
    (0..len).map(|_| rng.next() as u8).collect()
}

fn token_soup(rng: &mut Rng) -> Vec<u8> {
    let mut out = String::from("<system>");
    for _ in 0..rng.below(120) {
        let token: &&str = rng.pick(TOKENS);
        out.push_str(token);
    }
    if rng.below(2) == 0 {
        out.push_str("</system>");
    }
    out.into_bytes()
}

fn mutate(rng: &mut Rng, base: &[u8]) -> Vec<u8> {
    let mut v = base.to_vec();
    for _ in 0..1 + rng.below(4) {
        let at = rng.below(v.len() + 1);
        match rng.below(7) {
            0 if !v.is_empty() => {
                let i = rng.below(v.len());
                v[i] = rng.next() as u8;
            }
            1 => {
                let end = (at + rng.below(40)).min(v.len());
                v.drain(at..end);
            }
            2 => {
                let end = (at + rng.below(60)).min(v.len());
                let chunk = v[at..end].to_vec();
                let to = rng.below(v.len() + 1);
                v.splice(to..to, chunk);
            }
            3 | 4 => {
                let t = rng.pick(TOKENS).as_bytes().to_vec();
                v.splice(at..at, t);
            }
            _ => {
                // Replace an attribute value (the text between a pair of quotes).
                let quotes: Vec<usize> = v.iter().enumerate().filter(|(_, &b)| b == b'"').map(|(i, _)| i).collect();
                if quotes.len() >= 2 {
                    let k = rng.below(quotes.len() / 2) * 2;
                    let (a, b) = (quotes[k] + 1, quotes[k + 1]);
                    let t = rng.pick(TOKENS).as_bytes().to_vec();
                    v.splice(a..b, t);
                }
            }
        }
    }
    v
}

/// Parses `input`, failing the test on a panic or a malformed diagnostic, and checking the
/// model's invariants when the input is accepted.
fn run(input: &[u8]) -> Result<(), String> {
    let result = catch_unwind(AssertUnwindSafe(|| parse("fuzz.xml", input)))
        .map_err(|_| format!("panic on input {:?}", String::from_utf8_lossy(input)))?;
    let lines = input.iter().filter(|&&b| b == b'\n').count() as u32 + 1;
    match result {
        Err(d) => {
            let text = d.to_string();
            let ok = d.severity == Severity::Error
                && d.file == "fuzz.xml"
                && d.pos.line >= 1
                && d.pos.line <= lines
                && d.pos.col >= 1
                && !d.message.is_empty()
                && !text.contains('\n')
                && text.starts_with(&format!("fuzz.xml:{}:{}: error: ", d.pos.line, d.pos.col));
            if ok {
                Ok(())
            } else {
                Err(format!("malformed diagnostic {text:?} for input {:?}", String::from_utf8_lossy(input)))
            }
        }
        Ok(system) => {
            invariants(&system).map_err(|e| format!("{e} for accepted input {:?}", String::from_utf8_lossy(input)))
        }
    }
}

/// What every accepted system guarantees to its consumers.
fn invariants(s: &System) -> Result<(), String> {
    let check = |cond: bool, what: &str| if cond { Ok(()) } else { Err(what.to_string()) };
    check(!s.pds.is_empty() && s.pds.len() <= MAX_PDS, "PD count")?;
    for mr in &s.regions {
        check(mr.size > 0 && mr.size % mr.page_size.bytes() == 0, "region size")?;
        check(s.regions.iter().filter(|o| o.name == mr.name).count() == 1, "unique region name")?;
    }
    for pd in &s.pds {
        check(pd.priority <= MAX_PRIORITY, "priority")?;
        check(pd.stack_size % 0x1000 == 0 && (MIN_STACK_SIZE..=MAX_STACK_SIZE).contains(&pd.stack_size), "stack")?;
        check(s.pds.iter().filter(|o| o.name == pd.name).count() == 1, "unique PD name")?;
        for m in &pd.maps {
            let mr = s.region(&m.mr).ok_or("map of unknown region")?;
            check(m.vaddr % mr.page_size.bytes() == 0 && m.vaddr >= 0x1000, "map alignment")?;
            check(m.vaddr.checked_add(mr.size).is_some_and(|e| e <= USER_TOP), "map in user space")?;
            check(m.perms.read, "perms readable")?;
        }
        for irq in &pd.irqs {
            check(u64::from(irq.id) <= MAX_CHANNEL_ID, "irq id")?;
        }
        let mut symbols: Vec<&str> = pd.setvars.iter().map(|v| v.symbol.as_str()).collect();
        symbols.sort_unstable();
        check(symbols.windows(2).all(|w| w[0] != w[1]), "unique setvar symbols")?;
        for v in pd.setvars.iter().filter(|v| v.source == SetVarSource::ValueMac) {
            let mac = match v.value {
                SetVarValue::Number(word) => MacAddr::from_word(word),
                _ => None,
            };
            check(mac.is_some_and(MacAddr::is_unicast_station), "MAC setvar")?;
        }
        if let Some(n) = pd.setvars.iter().find(|v| v.symbol == "sessions") {
            let ok = matches!(n.value, SetVarValue::Number(k) if (1..=MAX_NIC_SESSIONS).contains(&k));
            check(ok, "NIC driver session count")?;
        }
    }
    for ch in &s.channels {
        let [a, b] = &ch.ends;
        check(a.pd_index < s.pds.len() && b.pd_index < s.pds.len() && a.pd_index != b.pd_index, "channel ends")?;
        check(!(a.pp && b.pp), "pp one way")?;
        if a.pp {
            check(s.pds[b.pd_index].priority > s.pds[a.pd_index].priority, "pp priority")?;
        }
        if b.pp {
            check(s.pds[a.pd_index].priority > s.pds[b.pd_index].priority, "pp priority")?;
        }
    }
    Ok(())
}

fn corpus() -> Vec<Vec<u8>> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = vec![std::fs::read(root.join("../../system.xml")).expect("system.xml")];
    let mut paths: Vec<_> = std::fs::read_dir(root.join("tests/fixtures"))
        .expect("fixtures")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "xml"))
        .collect();
    paths.sort();
    files.extend(paths.iter().map(|p| std::fs::read(p).expect("fixture")));
    files
}

#[test]
fn random_and_mutated_inputs_never_panic() {
    let corpus = corpus();
    let mut rng = Rng(0x5eed_1234_abcd_ef01);
    let mut failures = Vec::new();
    let mut accepted = 0;
    let start = Instant::now();
    for i in 0..4000 {
        let input = match i % 4 {
            0 => random_bytes(&mut rng),
            1 => token_soup(&mut rng),
            _ => {
                let base = rng.pick(&corpus).clone();
                mutate(&mut rng, &base)
            }
        };
        if let Err(e) = run(&input) {
            failures.push(e);
        }
        if parse("fuzz.xml", &input).is_ok() {
            accepted += 1;
        }
    }
    assert!(failures.is_empty(), "{} failures, first: {}", failures.len(), failures[0]);
    // Mutations of valid files are sometimes still valid: the invariant checks ran.
    assert!(accepted > 0, "no mutated input was accepted; the invariants were never exercised");
    assert!(start.elapsed() < Duration::from_secs(15), "fuzz run too slow: {:?}", start.elapsed());
}

#[test]
fn same_input_same_answer() {
    let corpus = corpus();
    let mut rng = Rng(42);
    for _ in 0..300 {
        let base = rng.pick(&corpus).clone();
        let input = mutate(&mut rng, &base);
        assert_eq!(parse("f.xml", &input), parse("f.xml", &input));
    }
}

fn timed(what: &str, input: &[u8]) -> Result<System, Diagnostic> {
    let start = Instant::now();
    let r = catch_unwind(AssertUnwindSafe(|| parse("big.xml", input))).unwrap_or_else(|_| panic!("{what}: panic"));
    assert!(start.elapsed() < Duration::from_secs(5), "{what}: took {:?}", start.elapsed());
    if let Err(d) = &r {
        assert!(d.to_string().starts_with("big.xml:"), "{what}: {d}");
    }
    r
}

#[test]
fn pathological_inputs_are_rejected_quickly() {
    // Deep nesting.
    let deep = format!(
        "<system><protection_domain name=\"p\"><program_image path=\"p\"/></protection_domain>{}{}</system>",
        "<a>".repeat(100_000),
        "</a>".repeat(100_000)
    );
    let e = timed("deep nesting", deep.as_bytes()).unwrap_err();
    assert!(e.message.contains("unknown element <a>"), "{e}");

    // Unclosed deep nesting.
    let e = timed("unclosed nesting", "<system>".repeat(50_000).as_bytes()).unwrap_err();
    assert!(e.message.contains("malformed XML"), "{e}");

    // A 1 MB attribute value and a 1 MB number.
    let huge = format!("<system><protection_domain name=\"p\"><program_image path=\"p\"/></protection_domain><memory_region name=\"{}\" size=\"{}\"/></system>", "n".repeat(1 << 20), "9".repeat(1 << 20));
    let e = timed("huge values", huge.as_bytes()).unwrap_err();
    assert!(e.message.contains("does not fit in 64 bits") && e.message.len() < 300, "{e}");

    // Many elements on one endless line: 20 000 maps in one PD, none overlapping.
    let mut xml = String::from("<system><memory_region name=\"m\" size=\"0x1000\"/><protection_domain name=\"p\"><program_image path=\"p.elf\"/>");
    for i in 0..20_000u64 {
        xml.push_str(&format!("<map mr=\"m\" vaddr=\"0x{:x}\"/>", 0x1000 + i * 0x1000));
    }
    xml.push_str("</protection_domain></system>");
    let s = timed("20k maps", xml.as_bytes()).expect("valid");
    assert_eq!(s.pds[0].maps.len(), 20_000);

    // The same with the last map overlapping the first.
    let bad = xml.replace("vaddr=\"0x4e20000\"", "vaddr=\"0x1000\"");
    let e = timed("20k maps, last overlapping", bad.as_bytes()).unwrap_err();
    assert!(e.message.contains("overlaps the map"), "{e}");
    assert_eq!(e.pos.line, 1);

    // 10 000 PDs: too many, reported at the 64th.
    let mut xml = String::from("<system>\n");
    for i in 0..10_000 {
        xml.push_str(&format!(
            "<protection_domain name=\"p{i}\"><program_image path=\"p.elf\"/></protection_domain>\n"
        ));
    }
    xml.push_str("</system>\n");
    let e = timed("10k PDs", xml.as_bytes()).unwrap_err();
    assert_eq!((e.pos.line, e.pos.col), (65, 1), "{e}");

    // Thousands of channels naming unknown PDs: still fast, first one reported.
    let mut xml =
        String::from("<system>\n<protection_domain name=\"p\"><program_image path=\"p.elf\"/></protection_domain>\n");
    for i in 0..5_000 {
        xml.push_str(&format!("<channel><end pd=\"p\" id=\"{}\"/><end pd=\"q{i}\" id=\"0\"/></channel>\n", i % 63));
    }
    xml.push_str("</system>\n");
    let e = timed("5k bad channels", xml.as_bytes()).unwrap_err();
    assert_eq!(e.pos.line, 3, "{e}");
    assert!(e.message.contains("pd=\"q0\": no protection domain"), "{e}");

    // Control characters and non-ASCII in names are shown escaped, on one line.
    let xml = "<system><protection_domain name=\"é\u{7}\"><program_image path=\"a\"/><map mr=\"x\u{85}\" vaddr=\"1\"/></protection_domain></system>";
    let e = timed("escapes", xml.as_bytes()).unwrap_err();
    assert!(!e.to_string().contains('\u{7}') && !e.to_string().contains('\u{85}'), "{e}");
}

#[test]
fn empty_and_blank_inputs() {
    for input in [&b""[..], b" ", b"\n\n", b"\xef\xbb\xbf", b"<?xml version=\"1.0\"?>"] {
        let e = parse("e.xml", input).unwrap_err();
        assert!(e.message.contains("no root element"), "{input:?}: {e}");
    }
    let e = parse("e.xml", b"\xff\xfe<\x00s\x00").unwrap_err();
    assert_eq!((e.pos.line, e.pos.col), (1, 1));
    assert!(e.message.contains("UTF-8"));
}
