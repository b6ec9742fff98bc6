//! The harness's error type: every failure says what went wrong and what to do about it, and a
//! failed wait carries the whole serial log so far, so a failing test explains itself.

use std::fmt;
use std::io;
use std::path::PathBuf;
use std::time::Duration;

/// Result with the harness's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// What can go wrong while building, booting or talking to a guest.
#[derive(Debug)]
pub enum Error {
    /// The QEMU binary is not installed (or not where `QEMU` points).
    QemuNotFound { program: PathBuf },
    /// QEMU exists but could not be started.
    Spawn { program: PathBuf, source: io::Error },
    /// A file named in the configuration (kernel, initrd, cdrom) does not exist.
    MissingFile { what: &'static str, path: PathBuf },
    /// The configuration cannot be turned into a QEMU command line.
    InvalidConfig(String),
    /// A regular expression given to `expect_regex` does not compile.
    BadPattern { pattern: String, message: String },
    /// The expected output did not appear within the per-call timeout.
    Timeout { pattern: String, waited: Duration, log: String },
    /// The overall time limit of this QEMU run passed; QEMU was killed.
    OverallTimeout { pattern: String, limit: Duration, log: String },
    /// QEMU exited before the expected output appeared.
    Exited { pattern: String, status: String, log: String },
    /// The kernel build script failed.
    KernelBuild { command: String, status: String, output: String },
    /// `make image` failed (a bad system file, or a PD that does not build).
    ImageBuild { command: String, status: String, output: String },
    /// A host-side network operation failed (dgram link).
    Net { context: String, source: io::Error },
    /// A frame did not arrive in time on a dgram link.
    NoFrame { waited: Duration, seen: usize },
    /// Any other I/O failure, with what the harness was doing.
    Io { context: String, source: io::Error },
}

fn write_log(f: &mut fmt::Formatter<'_>, log: &str) -> fmt::Result {
    if log.is_empty() {
        return write!(f, "\n(no output was captured)");
    }
    write!(f, "\n----- QEMU output so far -----\n{log}")?;
    if !log.ends_with('\n') {
        writeln!(f)?;
    }
    write!(f, "----- end of QEMU output -----")
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::QemuNotFound { program } => write!(
                f,
                "QEMU not found: '{}' is not installed or not on PATH. Install Debian's \
                 qemu-system-x86 package (support/deps.sh does), or point the QEMU environment \
                 variable at a qemu-system-x86_64 binary",
                program.display()
            ),
            Error::Spawn { program, source } => {
                write!(f, "could not start '{}': {source}", program.display())
            }
            Error::MissingFile { what, path } => {
                let hint = match *what {
                    "NIC boot ROM" => "Debian's ipxe-qemu package ships it; support/deps.sh installs it",
                    "TFTP directory" => "`make pxe` prepares one",
                    _ => "build it first: `make kernel` builds the kernel",
                };
                write!(f, "the {what} '{}' does not exist ({hint})", path.display())
            }
            Error::InvalidConfig(msg) => write!(f, "invalid QEMU configuration: {msg}"),
            Error::BadPattern { pattern, message } => {
                write!(f, "bad regular expression {pattern:?}: {message}")
            }
            Error::Timeout { pattern, waited, log } => {
                write!(f, "timed out after {:.1} s waiting for {pattern} on the serial console", waited.as_secs_f64())?;
                write_log(f, log)
            }
            Error::OverallTimeout { pattern, limit, log } => {
                write!(
                    f,
                    "the QEMU run reached its overall time limit of {:.0} s (QEMU was killed) \
                     while waiting for {pattern}; raise QemuConfig::timeout if the guest is just slow",
                    limit.as_secs_f64()
                )?;
                write_log(f, log)
            }
            Error::Exited { pattern, status, log } => {
                write!(f, "QEMU exited ({status}) before {pattern} appeared on the serial console")?;
                write_log(f, log)
            }
            Error::KernelBuild { command, status, output } => write!(
                f,
                "building the seL4 kernel failed: `{command}` {status}\n{output}\n\
                 (run `make kernel` for the full message; support/kernel/deps.sh installs what it needs)"
            ),
            Error::ImageBuild { command, status, output } => {
                write!(f, "building the system image failed: `{command}` {status}\n{output}")
            }
            Error::Net { context, source } => write!(f, "{context}: {source}"),
            Error::NoFrame { waited, seen } => write!(
                f,
                "no matching Ethernet frame from the guest within {:.1} s ({seen} other frame(s) \
                 were received and skipped)",
                waited.as_secs_f64()
            ),
            Error::Io { context, source } => write!(f, "{context}: {source}"),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::Spawn { source, .. } | Error::Net { source, .. } | Error::Io { source, .. } => Some(source),
            _ => None,
        }
    }
}

impl Error {
    /// The captured QEMU output carried by a failed wait, if this error has one.
    pub fn log(&self) -> Option<&str> {
        match self {
            Error::Timeout { log, .. } | Error::OverallTimeout { log, .. } | Error::Exited { log, .. } => Some(log),
            _ => None,
        }
    }
}
