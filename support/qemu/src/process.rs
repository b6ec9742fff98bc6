//! A running QEMU: its serial console captured from stdout by a reader thread, waits for
//! output with timeouts, a watchdog that enforces the overall time limit, and kill-on-drop.

use std::fs::File;
use std::io::{self, Read, Write};
use std::os::unix::process::CommandExt;
use std::process::{Child, ChildStderr, ChildStdout, Command, ExitStatus, Stdio};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, OnceLock};
use std::thread;
use std::time::{Duration, Instant};

use regex::bytes::Regex;

use crate::config::QemuConfig;
use crate::error::{Error, Result};
use crate::monitor::{decode_vga_text, Qmp, VGA_COLS, VGA_ROWS, VGA_TEXT_ADDR};

/// How often a waiting `expect` re-checks for exit and timeouts when no output arrives.
const POLL: Duration = Duration::from_millis(100);

/// QEMU's warnings about CPU features TCG cannot emulate: harmless, and noise in error logs.
const STDERR_NOISE: &str = "TCG doesn't support requested feature";

#[derive(Default)]
struct State {
    serial: Vec<u8>,
    stderr: Vec<u8>,
    serial_open: bool,
    stderr_open: bool,
    watchdog_fired: bool,
}

struct Shared {
    state: Mutex<State>,
    changed: Condvar,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        // A reader thread cannot panic while holding the lock (it only appends bytes), but if
        // anything ever did, the captured bytes are still the best evidence we have.
        self.state.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// A regular-expression match on the serial console.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RegexMatch {
    /// Everything from the end of the previous match up to and including this one.
    pub text: String,
    /// The matched text itself.
    pub matched: String,
    /// Capture groups 1.. (group 0 is `matched`); `None` for a group that did not take part.
    pub groups: Vec<Option<String>>,
}

/// A running QEMU. Killed (and reaped) on drop, so no test leaks a QEMU even when it fails.
pub struct Qemu {
    child: Arc<Mutex<Child>>,
    shared: Arc<Shared>,
    cursor: usize,
    started: Instant,
    limit: Duration,
    command: String,
    pid: u32,
    stop_watchdog: Option<mpsc::Sender<()>>,
    /// QEMU's stdin: what is written here arrives on the guest's serial console (COM1).
    stdin: Option<std::process::ChildStdin>,
    /// The QMP socket, when the run has a monitor; connected on first use.
    qmp_path: Option<std::path::PathBuf>,
    qmp: Option<Qmp>,
}

impl Qemu {
    /// Starts QEMU as configured, with the serial console on pipes: QEMU's stdout is what the
    /// guest prints, its stdin what [`Qemu::type_line`] types.
    ///
    /// Besides kill-on-drop, QEMU is killed by a watchdog when `config.timeout` passes, and by
    /// the kernel when the test process dies (`PR_SET_PDEATHSIG`, e.g. a test run killed by a
    /// CI timeout). A `Qemu` may be moved between threads and outlive the thread that started
    /// it (QEMU is forked by one long-lived harness thread, the parent the kernel watches).
    pub fn spawn(config: QemuConfig) -> Result<Qemu> {
        let args = config.args()?;
        config.check_files()?;
        if let Some(sock) = &config.qmp {
            // A stale socket of a reused path would make QEMU fail to listen.
            let _ = std::fs::remove_file(sock);
        }
        let command = config.command_line()?;

        let log_file = match &config.log_file {
            Some(path) => Some(File::create(path).map_err(|source| Error::Io {
                context: format!("could not create the serial log file {}", path.display()),
                source,
            })?),
            None => None,
        };

        let mut cmd = Command::new(&config.program);
        cmd.args(&args).stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped());
        let parent = std::process::id();
        // SAFETY: the closure runs in the forked child before exec. It only calls prctl,
        // getppid and _exit, which are async-signal-safe, and touches no shared state.
        unsafe {
            cmd.pre_exec(move || {
                if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) != 0 {
                    return Err(io::Error::last_os_error());
                }
                // The parent may have died before prctl took effect.
                if libc::getppid() as u32 != parent {
                    libc::_exit(1);
                }
                Ok(())
            });
        }
        let mut child = spawn_from_keeper(cmd).map_err(|source| {
            if source.kind() == io::ErrorKind::NotFound {
                Error::QemuNotFound { program: config.program.clone() }
            } else {
                Error::Spawn { program: config.program.clone(), source }
            }
        })?;
        let started = Instant::now();
        let pid = child.id();
        let stdout = child.stdout.take();
        let stderr = child.stderr.take();
        let stdin = child.stdin.take();

        let shared = Arc::new(Shared {
            state: Mutex::new(State { serial_open: true, stderr_open: true, ..State::default() }),
            changed: Condvar::new(),
        });
        let child = Arc::new(Mutex::new(child));

        let mut qemu = Qemu {
            child: Arc::clone(&child),
            shared: Arc::clone(&shared),
            cursor: 0,
            started,
            limit: config.timeout,
            command,
            pid,
            stop_watchdog: None,
            stdin,
            qmp_path: config.qmp.clone(),
            qmp: None,
        };
        // From here on, an early return drops `qemu`, which kills QEMU.
        if let Some(out) = stdout {
            spawn_named("qemu-serial", {
                let shared = Arc::clone(&shared);
                move || read_serial(out, log_file, &shared)
            })?;
        }
        if let Some(err) = stderr {
            spawn_named("qemu-stderr", {
                let shared = Arc::clone(&shared);
                move || read_stderr(err, &shared)
            })?;
        }
        let (tx, rx) = mpsc::channel::<()>();
        let limit = config.timeout;
        spawn_named("qemu-watchdog", move || {
            if let Err(RecvTimeoutError::Timeout) = rx.recv_timeout(limit) {
                shared.lock().watchdog_fired = true;
                if let Ok(mut c) = child.lock() {
                    let _ = c.kill();
                }
                shared.changed.notify_all();
            }
        })?;
        qemu.stop_watchdog = Some(tx);
        Ok(qemu)
    }

    /// Types `line` and a newline on the guest's serial console (its COM1 input).
    pub fn type_line(&mut self, line: &str) -> Result<()> {
        use std::io::Write as _;
        let stdin = self.stdin.as_mut().ok_or_else(|| Error::Io {
            context: "QEMU's stdin is closed".into(),
            source: io::Error::from(io::ErrorKind::BrokenPipe),
        })?;
        stdin
            .write_all(format!("{line}\n").as_bytes())
            .and_then(|()| stdin.flush())
            .map_err(|source| Error::Io { context: format!("could not type {line:?} on the serial console"), source })
    }

    /// `len` bytes of guest physical memory from `addr`, read through the monitor (the run
    /// must have one: [`QemuConfig::monitor`]). Device memory reads as the device returns it.
    pub fn read_physical(&mut self, addr: u64, len: u32) -> Result<Vec<u8>> {
        if self.qmp.is_none() {
            let path = self.qmp_path.clone().ok_or_else(|| {
                Error::InvalidConfig("reading guest memory needs a monitor (QemuConfig::monitor(true))".into())
            })?;
            self.qmp = Some(Qmp::connect(&path)?);
        }
        let qmp = self.qmp.as_mut().ok_or_else(|| Error::InvalidConfig("no QMP session".into()))?;
        qmp.read_physical(addr, len)
    }

    /// The VGA text screen (80x25 at 0xb8000) as 25 rows, trailing blanks removed: what a
    /// monitor attached to the machine shows in text mode (needs [`QemuConfig::monitor`] and
    /// a display adapter, e.g. `.vga("std")`).
    pub fn vga_text(&mut self) -> Result<Vec<String>> {
        let bytes = self.read_physical(VGA_TEXT_ADDR, (VGA_COLS * VGA_ROWS * 2) as u32)?;
        Ok(decode_vga_text(&bytes, VGA_COLS))
    }

    /// QEMU's process id.
    pub fn pid(&self) -> u32 {
        self.pid
    }

    /// Time since QEMU was started.
    pub fn elapsed(&self) -> Duration {
        self.started.elapsed()
    }

    /// The command line QEMU was started with.
    pub fn command(&self) -> &str {
        &self.command
    }

    /// Everything the guest printed on the serial console so far.
    pub fn output(&self) -> String {
        String::from_utf8_lossy(&self.shared.lock().serial).into_owned()
    }

    /// What QEMU itself printed on stderr so far.
    pub fn stderr(&self) -> String {
        String::from_utf8_lossy(&self.shared.lock().stderr).into_owned()
    }

    /// Serial output after the last successful match (not consumed).
    pub fn pending(&self) -> String {
        let st = self.shared.lock();
        String::from_utf8_lossy(&st.serial[self.cursor.min(st.serial.len())..]).into_owned()
    }

    /// Waits until `pattern` appears in the serial output after the previous match, for at most
    /// `timeout` (and never past the run's overall limit). Returns the text from the end of the
    /// previous match through the end of this one; the next wait starts after it.
    pub fn expect(&mut self, pattern: &str, timeout: Duration) -> Result<String> {
        let needle = pattern.as_bytes();
        let (_, text) =
            self.wait_for(&format!("{pattern:?}"), timeout, |hay| find(hay, needle).map(|at| (at, at + needle.len())))?;
        Ok(text)
    }

    /// Like [`Qemu::expect`] for the first of several patterns to appear (earliest in the
    /// output wins); returns its index and the text up to and including it.
    pub fn expect_any(&mut self, patterns: &[&str], timeout: Duration) -> Result<(usize, String)> {
        if patterns.is_empty() || patterns.iter().any(|p| p.is_empty()) {
            return Err(Error::InvalidConfig("expect_any needs non-empty patterns".into()));
        }
        let mut which = 0;
        let desc = format!("any of {patterns:?}");
        let (_, text) = self.wait_for(&desc, timeout, |hay| {
            let mut best: Option<(usize, usize, usize)> = None;
            for (i, p) in patterns.iter().enumerate() {
                if let Some(at) = find(hay, p.as_bytes()) {
                    if best.is_none_or(|(b, _, _)| at < b) {
                        best = Some((at, at + p.len(), i));
                    }
                }
            }
            best.map(|(s, e, i)| {
                which = i;
                (s, e)
            })
        })?;
        Ok((which, text))
    }

    /// Like [`Qemu::expect`] with a regular expression (`regex` crate syntax).
    pub fn expect_regex(&mut self, pattern: &str, timeout: Duration) -> Result<RegexMatch> {
        let re = Regex::new(pattern)
            .map_err(|e| Error::BadPattern { pattern: pattern.to_string(), message: e.to_string() })?;
        let mut groups = Vec::new();
        let mut matched = String::new();
        let (_, text) = self.wait_for(&format!("/{pattern}/"), timeout, |hay| {
            let caps = re.captures(hay)?;
            let m = caps.get(0)?;
            matched = String::from_utf8_lossy(m.as_bytes()).into_owned();
            groups =
                caps.iter().skip(1).map(|g| g.map(|g| String::from_utf8_lossy(g.as_bytes()).into_owned())).collect();
            Some((m.start(), m.end()))
        })?;
        Ok(RegexMatch { text, matched, groups })
    }

    /// Waits for QEMU to exit by itself (e.g. guest shutdown with `-no-reboot`).
    pub fn wait_exit(&mut self, timeout: Duration) -> Result<ExitStatus> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(status) = self.try_status() {
                if self.shared.lock().watchdog_fired {
                    return Err(self.overall_timeout("QEMU to exit"));
                }
                return Ok(status);
            }
            if Instant::now() >= deadline {
                return Err(Error::Timeout { pattern: "QEMU to exit".into(), waited: timeout, log: self.full_log() });
            }
            thread::sleep(Duration::from_millis(20));
        }
    }

    /// Whether QEMU is still running.
    pub fn is_running(&mut self) -> bool {
        self.try_status().is_none()
    }

    /// Kills QEMU now and reaps it (also done on drop).
    pub fn kill(&mut self) {
        if let Ok(mut c) = self.child.lock() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    fn try_status(&self) -> Option<ExitStatus> {
        self.child.lock().ok().and_then(|mut c| c.try_wait().ok().flatten())
    }

    fn overall_timeout(&self, pattern: &str) -> Error {
        Error::OverallTimeout { pattern: pattern.into(), limit: self.limit, log: self.full_log() }
    }

    /// The serial log, QEMU's stderr (minus TCG feature warnings) and the command line.
    fn full_log(&self) -> String {
        let st = self.shared.lock();
        let mut log = String::from_utf8_lossy(&st.serial).into_owned();
        let stderr: Vec<String> = String::from_utf8_lossy(&st.stderr)
            .lines()
            .filter(|l| !l.contains(STDERR_NOISE) && !l.trim().is_empty())
            .map(str::to_owned)
            .collect();
        if !log.is_empty() && !log.ends_with('\n') {
            log.push('\n');
        }
        if !stderr.is_empty() {
            log.push_str("----- QEMU stderr -----\n");
            for l in stderr {
                log.push_str(&l);
                log.push('\n');
            }
        }
        log.push_str(&format!("----- QEMU command -----\n{}\n", self.command));
        log
    }

    /// The waiting loop behind every `expect*`: `finder` gets the unread serial bytes and
    /// returns the (start, end) of a match in them.
    fn wait_for(
        &mut self,
        desc: &str,
        timeout: Duration,
        mut finder: impl FnMut(&[u8]) -> Option<(usize, usize)>,
    ) -> Result<(usize, String)> {
        let deadline = Instant::now() + timeout;
        let mut st = self.shared.lock();
        loop {
            let from = self.cursor.min(st.serial.len());
            if let Some((start, end)) = finder(&st.serial[from..]) {
                let text = String::from_utf8_lossy(&st.serial[from..from + end]).into_owned();
                self.cursor = from + end;
                return Ok((from + start, text));
            }
            if st.watchdog_fired {
                drop(st);
                return Err(self.overall_timeout(desc));
            }
            if !st.serial_open {
                // stdout closed: QEMU has exited (or is about to). Collect its status.
                drop(st);
                let mut status = None;
                for _ in 0..100 {
                    status = self.try_status();
                    if status.is_some() {
                        break;
                    }
                    thread::sleep(Duration::from_millis(10));
                }
                // Let the stderr reader catch QEMU's last words.
                let stderr_deadline = Instant::now() + Duration::from_millis(500);
                while self.shared.lock().stderr_open && Instant::now() < stderr_deadline {
                    thread::sleep(Duration::from_millis(10));
                }
                let status = status.map(|s| s.to_string()).unwrap_or_else(|| "closed its output".into());
                return Err(Error::Exited { pattern: desc.into(), status, log: self.full_log() });
            }
            let now = Instant::now();
            if now >= deadline {
                drop(st);
                return Err(Error::Timeout { pattern: desc.into(), waited: timeout, log: self.full_log() });
            }
            let wait = (deadline - now).min(POLL);
            st = self
                .shared
                .changed
                .wait_timeout(st, wait)
                .map(|(g, _)| g)
                .unwrap_or_else(|poisoned| poisoned.into_inner().0);
        }
    }
}

impl Drop for Qemu {
    fn drop(&mut self) {
        // Stop the watchdog first so it never signals a reaped (and possibly reused) pid.
        self.stop_watchdog.take();
        self.kill();
        if let Some(sock) = &self.qmp_path {
            let _ = std::fs::remove_file(sock);
        }
    }
}

impl std::fmt::Debug for Qemu {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Qemu").field("pid", &self.pid).field("command", &self.command).finish()
    }
}

/// Spawns `cmd` from one harness thread that lives as long as the process. `PR_SET_PDEATHSIG`
/// fires when the *thread* that forked the child exits, so forking from a test's own thread
/// would kill QEMU when that thread ends, even if the `Qemu` was handed to another thread.
fn spawn_from_keeper(mut cmd: Command) -> io::Result<Child> {
    type Request = (Command, mpsc::Sender<io::Result<Child>>);
    static KEEPER: OnceLock<Option<Mutex<mpsc::Sender<Request>>>> = OnceLock::new();
    let keeper = KEEPER.get_or_init(|| {
        let (tx, rx) = mpsc::channel::<Request>();
        thread::Builder::new()
            .name("qemu-spawner".into())
            .spawn(move || {
                for (mut cmd, reply) in rx {
                    let _ = reply.send(cmd.spawn());
                }
            })
            .ok()
            .map(|_| Mutex::new(tx))
    });
    let Some(keeper) = keeper else {
        // No spawner thread could be started: fork from this thread instead.
        return cmd.spawn();
    };
    let (reply_tx, reply_rx) = mpsc::channel();
    let sent = keeper.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).send((cmd, reply_tx));
    match sent {
        Ok(()) => {
            reply_rx.recv().unwrap_or_else(|_| Err(io::Error::other("the harness's QEMU spawner thread stopped")))
        }
        Err(mpsc::SendError((mut cmd, _))) => cmd.spawn(),
    }
}

fn spawn_named(name: &str, f: impl FnOnce() + Send + 'static) -> Result<()> {
    thread::Builder::new()
        .name(name.into())
        .spawn(f)
        .map(|_| ())
        .map_err(|source| Error::Io { context: format!("could not start the harness thread {name}"), source })
}

fn read_serial(mut out: ChildStdout, mut log: Option<File>, shared: &Shared) {
    let mut buf = [0u8; 4096];
    loop {
        match out.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => {
                if let Some(f) = log.as_mut() {
                    // The log file is a convenience; a full disk must not stop the test.
                    if f.write_all(&buf[..n]).is_err() {
                        log = None;
                    }
                }
                shared.lock().serial.extend_from_slice(&buf[..n]);
                shared.changed.notify_all();
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(_) => break,
        }
    }
    shared.lock().serial_open = false;
    shared.changed.notify_all();
}

fn read_stderr(mut err: ChildStderr, shared: &Shared) {
    let mut buf = [0u8; 4096];
    loop {
        match err.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => shared.lock().stderr.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(_) => break,
        }
    }
    shared.lock().stderr_open = false;
    shared.changed.notify_all();
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    if needle.is_empty() {
        return Some(0);
    }
    hay.windows(needle.len()).position(|w| w == needle)
}
