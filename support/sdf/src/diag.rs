//! Diagnostics in the one format every tool of the project prints:
//! `<file>:<line>:<col>: error: <message>` (or `warning:`), and the byte-offset to
//! line/column mapping that produces them.

use std::fmt;

use crate::Pos;

/// How bad a diagnostic is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Severity {
    Error,
    Warning,
}

/// A message about a place in a file.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Diagnostic {
    pub file: String,
    pub pos: Pos,
    pub severity: Severity,
    pub message: String,
}

impl Diagnostic {
    pub fn error(file: &str, pos: Pos, message: impl Into<String>) -> Self {
        Diagnostic { file: file.to_string(), pos, severity: Severity::Error, message: message.into() }
    }

    pub fn warning(file: &str, pos: Pos, message: impl Into<String>) -> Self {
        Diagnostic { file: file.to_string(), pos, severity: Severity::Warning, message: message.into() }
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kind = match self.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
        };
        write!(f, "{}:{}:{}: {}: {}", self.file, self.pos.line, self.pos.col, kind, self.message)
    }
}

impl std::error::Error for Diagnostic {}

/// Maps byte offsets of a text to 1-based line/column (column in characters), in
/// O(log lines) per lookup.
pub(crate) struct LineIndex<'a> {
    text: &'a str,
    /// Byte offset of the start of every line.
    starts: Vec<usize>,
    /// Whether each line is pure ASCII (then a column is a byte difference).
    ascii: Vec<bool>,
}

impl<'a> LineIndex<'a> {
    pub(crate) fn new(text: &'a str) -> Self {
        let mut starts = vec![0];
        starts.extend(text.bytes().enumerate().filter(|&(_, b)| b == b'\n').map(|(i, _)| i + 1));
        let ascii = starts
            .iter()
            .enumerate()
            .map(|(i, &start)| {
                let end = starts.get(i + 1).copied().unwrap_or(text.len());
                text.as_bytes()[start..end].is_ascii()
            })
            .collect();
        LineIndex { text, starts, ascii }
    }

    pub(crate) fn text(&self) -> &'a str {
        self.text
    }

    pub(crate) fn pos(&self, offset: usize) -> Pos {
        let offset = offset.min(self.text.len());
        let line = match self.starts.binary_search(&offset) {
            Ok(i) => i,
            Err(i) => i.saturating_sub(1),
        };
        let start = self.starts.get(line).copied().unwrap_or(0);
        let chars = if self.ascii.get(line).copied().unwrap_or(false) {
            offset - start
        } else {
            // Characters = bytes that are not UTF-8 continuation bytes. An offset inside
            // a character (a caller's mistake) lands on that character, without panicking.
            self.text.as_bytes()[start..offset].iter().filter(|&&b| b & 0xC0 != 0x80).count()
        };
        Pos { line: u32::try_from(line + 1).unwrap_or(u32::MAX), col: u32::try_from(chars + 1).unwrap_or(u32::MAX) }
    }
}

/// Position of byte `offset` in raw bytes that are not (all) valid UTF-8: lines are
/// counted by `\n`, columns by characters of the valid prefix of the line.
pub(crate) fn byte_pos(bytes: &[u8], offset: usize) -> Pos {
    let offset = offset.min(bytes.len());
    let before = &bytes[..offset];
    let line = before.iter().filter(|&&b| b == b'\n').count() + 1;
    let line_start = before.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1);
    let col = String::from_utf8_lossy(&bytes[line_start..offset]).chars().count() + 1;
    Pos { line: u32::try_from(line).unwrap_or(u32::MAX), col: u32::try_from(col).unwrap_or(u32::MAX) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_index_matches_hand_count() {
        let text = "ab\ncé\n\nx";
        let idx = LineIndex::new(text);
        assert_eq!(idx.pos(0), Pos { line: 1, col: 1 });
        assert_eq!(idx.pos(2), Pos { line: 1, col: 3 });
        assert_eq!(idx.pos(3), Pos { line: 2, col: 1 });
        // 'é' is two bytes: the character after it is column 3.
        assert_eq!(idx.pos(6), Pos { line: 2, col: 3 });
        assert_eq!(idx.pos(7), Pos { line: 3, col: 1 });
        assert_eq!(idx.pos(8), Pos { line: 4, col: 1 });
        assert_eq!(idx.pos(999), Pos { line: 4, col: 2 });
        // Inside 'é': counts it, instead of panicking.
        assert_eq!(idx.pos(5), Pos { line: 2, col: 3 });
    }

    #[test]
    fn byte_pos_counts_lines_in_invalid_utf8() {
        let bytes = b"<a>\n  \xff";
        assert_eq!(byte_pos(bytes, 6), Pos { line: 2, col: 3 });
    }

    #[test]
    fn display_format() {
        let d = Diagnostic::error("s.xml", Pos { line: 3, col: 7 }, "boom");
        assert_eq!(d.to_string(), "s.xml:3:7: error: boom");
    }
}
