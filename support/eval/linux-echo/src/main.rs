//! `linux-echo`: the UDP echo service of the Linux baseline guest (support/eval/linux). It
//! binds UDP port 7 (or the port given as the first argument) on every address and sends every
//! datagram back to its sender unchanged, in a plain receive/send loop: the same service the
//! seL4 system's echo PD offers, so the evaluation compares the two systems and not two
//! programs. std only, so it links statically (`+crt-static`) into the guest's initramfs.

use std::net::UdpSocket;
use std::process::ExitCode;

fn main() -> ExitCode {
    let port = match std::env::args().nth(1).map(|a| a.parse::<u16>()) {
        None => 7,
        Some(Ok(p)) => p,
        Some(Err(e)) => {
            eprintln!("linux-echo: error: the port must be a number 0-65535 ({e})");
            return ExitCode::from(2);
        }
    };
    let sock = match UdpSocket::bind(("0.0.0.0", port)) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("linux-echo: error: cannot bind UDP port {port}: {e}");
            return ExitCode::FAILURE;
        }
    };
    // The largest UDP payload: a datagram is never truncated, so every echo is byte-exact.
    let mut buf = vec![0u8; 65536];
    loop {
        let (n, from) = match sock.recv_from(&mut buf) {
            Ok(r) => r,
            Err(e) => {
                eprintln!("linux-echo: recv: {e}");
                continue;
            }
        };
        // A full socket buffer or an unreachable sender drops this echo, as a real echo would.
        let _ = sock.send_to(&buf[..n], from);
    }
}
