//! QEMU's machine monitor (QMP) for tests that look at the guest from outside: read guest
//! physical memory (`pmemsave`), and from it the VGA text screen, which shows what a machine
//! without a serial port would show (issue 13).
//!
//! QMP is JSON, one message a line: a greeting, then `qmp_capabilities`, then commands, each
//! answered by a line `{"return": ...}` or `{"error": ...}`; event lines may come in between
//! and are skipped. Enabled per run with [`crate::QemuConfig::monitor`].

use std::io::{self, BufRead, BufReader, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use crate::error::{Error, Result};

/// Physical address of the VGA colour text buffer.
pub const VGA_TEXT_ADDR: u64 = 0xb8000;
/// Columns and rows of the standard 80x25 text mode (two bytes a cell: character, attribute).
pub const VGA_COLS: usize = 80;
pub const VGA_ROWS: usize = 25;

/// How long to wait for QEMU to create the socket, and for one answer.
const CONNECT_WAIT: Duration = Duration::from_secs(10);
const ANSWER_WAIT: Duration = Duration::from_secs(10);

/// A fresh socket path for one QEMU run (in the temporary directory, short enough for a Unix
/// socket address).
pub(crate) fn fresh_socket_path() -> PathBuf {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    std::env::temp_dir().join(format!("qemu-harness-{}-{n}.qmp", std::process::id()))
}

/// A connected QMP session.
pub(crate) struct Qmp {
    reader: BufReader<UnixStream>,
    writer: UnixStream,
    socket: PathBuf,
}

impl Qmp {
    /// Connects (retrying while QEMU starts up) and leaves capabilities negotiation done.
    pub(crate) fn connect(socket: &Path) -> Result<Qmp> {
        let deadline = Instant::now() + CONNECT_WAIT;
        let stream = loop {
            match UnixStream::connect(socket) {
                Ok(s) => break s,
                Err(_) if Instant::now() < deadline => {
                    thread::sleep(Duration::from_millis(50));
                }
                Err(source) => {
                    return Err(Error::Io {
                        context: format!("could not connect to QEMU's QMP socket {}", socket.display()),
                        source,
                    })
                }
            }
        };
        let io_err = |source| Error::Io { context: "could not set up the QMP socket".into(), source };
        stream.set_read_timeout(Some(ANSWER_WAIT)).map_err(io_err)?;
        let writer = stream.try_clone().map_err(io_err)?;
        let mut qmp = Qmp { reader: BufReader::new(stream), writer, socket: socket.to_path_buf() };
        let greeting = qmp.read_line()?;
        if !greeting.contains("\"QMP\"") {
            return Err(qmp.protocol(format!("expected the QMP greeting, got {greeting:?}")));
        }
        qmp.execute(r#"{"execute": "qmp_capabilities"}"#)?;
        Ok(qmp)
    }

    /// Sends one command (a JSON object) and returns its `{"return": ...}` line.
    pub(crate) fn execute(&mut self, command: &str) -> Result<String> {
        self.writer
            .write_all(format!("{command}\n").as_bytes())
            .and_then(|()| self.writer.flush())
            .map_err(|source| Error::Io { context: format!("could not send {command} to QMP"), source })?;
        loop {
            let line = self.read_line()?;
            let t = line.trim_start();
            if t.starts_with("{\"return\"") {
                return Ok(line);
            }
            if t.starts_with("{\"error\"") {
                return Err(self.protocol(format!("{command} failed: {line}")));
            }
            // An event ({"event": ...}): not the answer.
        }
    }

    /// Writes `len` bytes of guest physical memory from `addr` to a file and reads them back.
    pub(crate) fn read_physical(&mut self, addr: u64, len: u32) -> Result<Vec<u8>> {
        let file = self.socket.with_extension("mem");
        let name = file.to_str().filter(|s| !s.contains(['"', '\\'])).ok_or_else(|| {
            Error::InvalidConfig(format!("temporary path {} cannot be passed to QMP", file.display()))
        })?;
        let _ = std::fs::remove_file(&file);
        self.execute(&format!(
            r#"{{"execute": "pmemsave", "arguments": {{"val": {addr}, "size": {len}, "filename": "{name}"}}}}"#
        ))?;
        let bytes = std::fs::read(&file)
            .map_err(|source| Error::Io { context: format!("could not read QEMU's memory dump {name}"), source });
        let _ = std::fs::remove_file(&file);
        let bytes = bytes?;
        if bytes.len() != len as usize {
            return Err(self.protocol(format!("pmemsave wrote {} bytes, asked for {len}", bytes.len())));
        }
        Ok(bytes)
    }

    fn read_line(&mut self) -> Result<String> {
        let mut line = String::new();
        match self.reader.read_line(&mut line) {
            Ok(0) => Err(Error::Io {
                context: "QEMU closed its QMP socket".into(),
                source: io::Error::from(io::ErrorKind::UnexpectedEof),
            }),
            Ok(_) => Ok(line),
            Err(source) => Err(Error::Io { context: "no answer on QEMU's QMP socket".into(), source }),
        }
    }

    fn protocol(&self, message: String) -> Error {
        Error::Io { context: format!("QMP ({})", self.socket.display()), source: io::Error::other(message) }
    }
}

/// The text of a VGA text buffer (`cols` cells a row, character then attribute byte), one
/// string per row with trailing blanks removed. Printable ASCII shows as itself, NUL as a
/// blank, anything else (code page 437 graphics) as U+FFFD.
pub fn decode_vga_text(buffer: &[u8], cols: usize) -> Vec<String> {
    buffer
        .chunks(cols * 2)
        .map(|row| {
            let text: String = row
                .chunks(2)
                .map(|cell| match cell[0] {
                    0 => ' ',
                    c @ 0x20..=0x7e => c as char,
                    _ => '\u{fffd}',
                })
                .collect();
            text.trim_end().to_string()
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vga_cells_decode_to_rows_of_characters_without_attributes() {
        // Three rows of 4 cells: characters with assorted attributes, NUL, a graphics glyph.
        let cells: [(u8, u8); 12] = [
            (b'h', 0x07),
            (b'e', 0x1f),
            (b'l', 0x07),
            (b'l', 0x70),
            (b' ', 0x07),
            (0, 0),
            (b' ', 0x07),
            (b' ', 0x07),
            (b'x', 0x07),
            (0x01, 0x07),
            (b'y', 0x07),
            (0, 0),
        ];
        let buf: Vec<u8> = cells.iter().flat_map(|&(c, a)| [c, a]).collect();
        assert_eq!(decode_vga_text(&buf, 4), vec!["hell", "", "x\u{fffd}y"]);
        assert_eq!(decode_vga_text(&[0, 0, b'a', 7], 2), vec![" a"]);
    }

    #[test]
    fn socket_paths_are_distinct() {
        assert_ne!(fresh_socket_path(), fresh_socket_path());
    }
}
