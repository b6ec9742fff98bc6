//! `debug_print!` / `debug_println!`: formatted output on the kernel's debug console
//! (`seL4_DebugPutChar`; our kernel is a debug build). Output is formatted into a line buffer
//! first and then written in one burst, which keeps lines from different PDs from being cut
//! into each other while one of them is still formatting.

use core::fmt::{self, Write};

const LINE: usize = 256;

struct LineBuf {
    buf: [u8; LINE],
    len: usize,
}

impl LineBuf {
    fn flush(&mut self) {
        emit(&self.buf[..self.len]);
        self.len = 0;
    }
}

impl Write for LineBuf {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        for &b in s.as_bytes() {
            if self.len == LINE {
                self.flush();
            }
            self.buf[self.len] = b;
            self.len += 1;
            if b == b'\n' {
                self.flush();
            }
        }
        Ok(())
    }
}

#[cfg(not(test))]
fn emit(bytes: &[u8]) {
    for &b in bytes {
        sel4::syscall::debug_put_char(b);
    }
}

#[cfg(test)]
fn emit(_bytes: &[u8]) {}

/// Used by the macros; not part of the API.
#[doc(hidden)]
pub fn _print(args: fmt::Arguments<'_>) {
    let mut line = LineBuf { buf: [0; LINE], len: 0 };
    let _ = line.write_fmt(args);
    line.flush();
}

/// Prints to the debug console.
#[macro_export]
macro_rules! debug_print {
    ($($arg:tt)*) => { $crate::_print(::core::format_args!($($arg)*)) };
}

/// Prints a line to the debug console.
#[macro_export]
macro_rules! debug_println {
    () => { $crate::_print(::core::format_args!("\n")) };
    ($($arg:tt)*) => { $crate::_print(::core::format_args!("{}\n", ::core::format_args!($($arg)*))) };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_lines_are_split_not_dropped() {
        // Exercises the buffer-full path; the output goes to the test's stdout.
        let mut l = LineBuf { buf: [0; LINE], len: 0 };
        let long = "x".repeat(LINE * 2 + 3);
        l.write_str(&long).unwrap();
        assert_eq!(l.len, 3, "two full buffers flushed, three bytes pending");
        l.write_str("\n").unwrap();
        assert_eq!(l.len, 0);
    }
}
