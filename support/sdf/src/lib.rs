//! Parser and validator for the system file (`system.xml`, Microkit SDF format with the
//! x86 forms and our PCI extension), turning it into the typed [`System`] model that the
//! image tool and tests consume.
//!
//! Bad input is always an error value ([`Diagnostic`], printed as
//! `file:line:col: error: message`), never a panic. Exactly one error is reported: the
//! first in document order among the element-local checks (structure, attributes, number
//! syntax and ranges); only when there are none, the first among the cross-element rules
//! (names resolve, nothing is claimed twice, no overlaps, calls go up in priority), so an
//! error is never a mere consequence of an earlier one. See `tests/fixtures/README.md`
//! for every rule.
//!
//! Attribute names and defaults follow Microkit: `priority` 0, `stack_size` 0x2000,
//! `perms` "rw", `cached` true, `page_size` 0x1000, `pp` false, `notify` true, irq
//! `ioapic` 0, `trigger` level, `polarity` high.
//!
//! ```
//! let xml = br#"<system>
//!   <memory_region name="buf" size="0x1000"/>
//!   <protection_domain name="hello" priority="10">
//!     <program_image path="hello.elf"/>
//!     <map mr="buf" vaddr="0x200000" setvar_vaddr="buf"/>
//!   </protection_domain>
//! </system>"#;
//! let system = sdf::parse("example.xml", xml).unwrap();
//! assert_eq!(system.pds[0].maps[0].vaddr, 0x200000);
//! assert_eq!(system.summary(), "1 PD, 1 memory region, 0 channels, 0 IRQs, 0 I/O port ranges");
//! ```

#![forbid(unsafe_code)]

mod check;
mod diag;
pub mod model;
mod parse;
mod sessions;
mod value;

use std::path::Path;

pub use diag::{Diagnostic, Severity};
pub use model::*;

/// At most this many protection domains (Microkit's limit: badges and PD indices).
pub const MAX_PDS: usize = 63;
/// Highest PD priority (255 belongs to the monitor).
pub const MAX_PRIORITY: u8 = 254;
/// Channel and irq ids are 0..=62 (one notification badge bit each).
pub const MAX_CHANNEL_ID: u64 = 62;
/// Highest id that may receive notifications (a channel end whose peer notifies) or be an
/// irq: its badge bit `1 << id` must fit seL4 5.0's 28-bit badges below the PPC bit 27.
pub const MAX_NOTIFY_ID: u64 = 26;
/// IOAPIC irq `vector` is 0..=107 (seL4 delivers it on CPU vector 0x30 + vector).
pub const MAX_IRQ_VECTOR: u64 = 107;
/// seL4's IOAPIC has 24 pins.
pub const MAX_IOAPIC_PIN: u64 = 23;
/// IOAPICs the kernel supports (`CONFIG_MAX_NUM_IOAPIC`, 1 by default).
pub const MAX_IOAPICS: u64 = 1;
/// Most sessions (clients) a NIC driver serves: its `sessions` setvar is 1..=this. It is
/// `nic_api::MAX_SESSIONS` (the driver's limit), written here without depending on nic-api.
pub const MAX_NIC_SESSIONS: u64 = 4;
/// Default stack size of a PD (Microkit's).
pub const DEFAULT_STACK_SIZE: u64 = 0x2000;
pub const MIN_STACK_SIZE: u64 = 0x1000;
pub const MAX_STACK_SIZE: u64 = 16 * 1024 * 1024;
/// One past the highest user virtual address on x86_64 seL4 (user space ends at
/// 0x7FFF_FFFF_FFFF).
pub const USER_TOP: u64 = 0x8000_0000_0000;
/// Physical addresses are at most 52 bits on x86_64.
pub const PHYS_ADDR_LIMIT: u64 = 1 << 52;

/// Parses and validates a system file given as raw bytes. `file` is used in diagnostics
/// only. On success the model is complete and consistent (every rule of the format
/// holds); `System::warnings` may still list things worth a look.
pub fn parse(file: &str, bytes: &[u8]) -> Result<System, Diagnostic> {
    let text = match std::str::from_utf8(bytes) {
        Ok(t) => t,
        Err(e) => {
            let pos = diag::byte_pos(bytes, e.valid_up_to());
            return Err(Diagnostic::error(
                file,
                pos,
                "the file is not valid UTF-8 text: expected an XML file encoded in UTF-8",
            ));
        }
    };
    // A byte-order mark is not a column anyone sees in an editor.
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let lines = diag::LineIndex::new(text);
    let doc = match roxmltree::Document::parse(text) {
        Ok(doc) => doc,
        Err(e) => return Err(xml_error(file, text, &lines, &e)),
    };
    let mut reader = parse::Reader { lines: &lines, errors: Vec::new() };
    let (mut system, sources) = parse::read(&doc, &mut reader);
    if reader.errors.is_empty() {
        check::check(&mut system, &sources, &mut reader, file);
    }
    // Stable: among errors at one position, the first found wins.
    reader.errors.sort_by_key(|(pos, _)| *pos);
    match reader.errors.into_iter().next() {
        Some((pos, message)) => Err(Diagnostic::error(file, pos, message)),
        None => Ok(system),
    }
}

/// Why [`parse_file`] failed.
#[derive(Debug)]
pub enum LoadError {
    /// The file could not be read.
    Io { path: String, error: std::io::Error },
    /// The file was read but is not a valid system file.
    Invalid(Diagnostic),
}

impl std::fmt::Display for LoadError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            LoadError::Io { path, error } => {
                write!(f, "{path}: error: cannot read the system file: {error}")
            }
            LoadError::Invalid(d) => d.fmt(f),
        }
    }
}

impl std::error::Error for LoadError {}

/// Reads and validates the system file at `path` (diagnostics name it as given).
pub fn parse_file(path: &Path) -> Result<System, LoadError> {
    let shown = path.display().to_string();
    let bytes = std::fs::read(path).map_err(|error| LoadError::Io { path: shown.clone(), error })?;
    parse(&shown, &bytes).map_err(LoadError::Invalid)
}

/// Turns roxmltree's error into our format, with a message that says what was expected.
fn xml_error(file: &str, text: &str, lines: &diag::LineIndex, e: &roxmltree::Error) -> Diagnostic {
    use roxmltree::Error as E;
    let end = lines.pos(text.len());
    let tp = e.pos();
    let pos = Pos { line: tp.row, col: tp.col };
    let (pos, message) = match e {
        E::NoRootNode => (
            if text.trim().is_empty() { Pos { line: 1, col: 1 } } else { end },
            "malformed XML: the file has no root element; expected <system>...</system>".to_string(),
        ),
        E::UnexpectedEndOfStream | E::UnclosedRootNode => (
            end,
            "malformed XML: the file ends before the document is complete (an unclosed element, tag or comment)"
                .to_string(),
        ),
        E::DtdDetected => (
            text.find("<!DOCTYPE").map_or(Pos { line: 1, col: 1 }, |o| lines.pos(o)),
            "malformed XML: a <!DOCTYPE> is not allowed in a system file".to_string(),
        ),
        E::NodesLimitReached | E::AttributesLimitReached | E::NamespacesLimitReached => {
            (Pos { line: 1, col: 1 }, "malformed XML: the document is too large".to_string())
        }
        other => {
            // roxmltree's messages end with " at LINE:COL"; we print the position in front.
            let msg = other.to_string();
            let msg = match msg.rfind(" at ") {
                Some(i) if msg[i + 4..].chars().all(|c| c.is_ascii_digit() || c == ':') => msg[..i].to_string(),
                _ => msg,
            };
            // A quoted character may be a raw control character (roxmltree writes
            // `not '\n'` with a real newline); escape it so a diagnostic stays one line.
            let msg: String = msg
                .chars()
                .flat_map(|c| -> Vec<char> {
                    if c.is_control() {
                        c.escape_default().collect()
                    } else {
                        vec![c]
                    }
                })
                .collect();
            (pos, format!("malformed XML: {msg}"))
        }
    };
    Diagnostic::error(file, pos, message)
}
