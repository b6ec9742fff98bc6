//! What the system tests share: the Ethernet frames the loopback tests (`driver.rs`,
//! `restart.rs`) send to the loopback client PD and how its replies look, and a UDP echo
//! through QEMU's user networking (`systems.rs`, `pxe.rs`). A `mod common;` of each test file
//! (cargo does not build `tests/common/` as a test of its own).

#![allow(dead_code)] // each test file uses its own subset

/// EtherType of test data frames (IEEE local experimental 2).
pub const DATA_TYPE: [u8; 2] = [0x88, 0xb6];
/// EtherType of commands to the loopback client (IEEE local experimental 1).
pub const CONTROL_TYPE: [u8; 2] = [0x88, 0xb5];

/// The guest and host ends of one test link.
#[derive(Clone, Copy)]
pub struct Macs {
    pub guest: [u8; 6],
    pub host: [u8; 6],
}

impl Macs {
    /// The guest MAC as QEMU and the PDs print it (`52:54:00:...`).
    pub fn guest_str(&self) -> String {
        self.guest.map(|b| format!("{b:02x}")).join(":")
    }

    /// A data frame of `len` bytes to the guest carrying `seq` and a payload derived from it.
    pub fn frame(&self, len: usize, seq: u32) -> Vec<u8> {
        let mut f = Vec::with_capacity(len);
        f.extend_from_slice(&self.guest);
        f.extend_from_slice(&self.host);
        f.extend_from_slice(&DATA_TYPE);
        f.extend_from_slice(&seq.to_be_bytes());
        f.extend((f.len()..len).map(|i| (i as u32 * 7 + seq) as u8));
        f.truncate(len);
        f
    }

    /// A minimum-size frame to the guest with `ethertype` and `payload` (commands, test hooks).
    pub fn special(&self, ethertype: [u8; 2], payload: &[u8]) -> Vec<u8> {
        let mut f = Vec::new();
        f.extend_from_slice(&self.guest);
        f.extend_from_slice(&self.host);
        f.extend_from_slice(&ethertype);
        f.extend_from_slice(payload);
        f.resize(f.len().max(60), 0);
        f
    }
}

/// The sequence number of a data frame, if `f` is one.
pub fn seq_of(f: &[u8]) -> Option<u32> {
    (f.len() >= 18 && f[12..14] == DATA_TYPE).then(|| u32::from_be_bytes([f[14], f[15], f[16], f[17]]))
}

/// What the loopback must send back for `sent`: the same bytes with the MACs swapped.
pub fn looped(sent: &[u8]) -> Vec<u8> {
    let mut r = sent.to_vec();
    r[..6].copy_from_slice(&sent[6..12]);
    r[6..12].copy_from_slice(&sent[..6]);
    r
}

/// Sends `payload` to 127.0.0.1:`port` (QEMU's user-network forward to the guest's echo) until
/// it comes back unchanged, at most 40 times 500 ms; whether it did. A reply that differs fails.
pub fn udp_echo_answers(port: u16, payload: &[u8]) -> bool {
    let sock = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    sock.set_read_timeout(Some(std::time::Duration::from_millis(500))).unwrap();
    for _ in 0..40 {
        sock.send_to(payload, ("127.0.0.1", port)).unwrap();
        let mut buf = [0u8; 2048];
        if let Ok((n, _)) = sock.recv_from(&mut buf) {
            assert_eq!(&buf[..n], payload, "the echo changed the datagram");
            return true;
        }
    }
    false
}

/// support/qemu/run.sh (what `make run` runs) with `args` and `--dry-run`, `NETDEV=user,id=net0`
/// and `env`: the command line it would start QEMU with, or what it refused.
pub fn run_sh_dry(args: &[&std::ffi::OsStr], env: &[(&str, &str)]) -> std::process::Output {
    let mut cmd = std::process::Command::new(qemu_harness::repo_root().join("support/qemu/run.sh"));
    cmd.args(args).arg("--dry-run").env("NETDEV", "user,id=net0").stdin(std::process::Stdio::null());
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().expect("run.sh runs")
}

/// The words of a successful dry run's command line (its shell quoting undone).
pub fn dry_run_words(out: &std::process::Output) -> Vec<String> {
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).split_whitespace().map(|s| s.replace('\\', "")).collect()
}

/// The harness's QEMU command line for `cfg`, as words.
pub fn harness_words(cfg: qemu_harness::QemuConfig) -> Vec<String> {
    cfg.args().unwrap_or_else(|e| panic!("{e}")).into_iter().map(|a| a.to_string_lossy().into_owned()).collect()
}

/// Whether `flag value` appear next to each other in a command line.
pub fn has_pair(words: &[String], flag: &str, value: &str) -> bool {
    words.windows(2).any(|w| w[0] == flag && w[1] == value)
}
