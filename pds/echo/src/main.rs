//! The UDP echo PD (`echo.elf` in `system.xml`): wires [`echo::Echo`] to the PD runtime. It
//! binds port 7 with a protected call to the network stack (channel 1), then on every
//! notification echoes what the stack delivered, signalling the stack only when the
//! suppressed-notification protocol says it waits for it. One statistics line at most every
//! `stats_interval_ms`, after activity.
#![no_std]
#![no_main]

use echo::{Echo, EchoStats, ECHO_PORT};
use pd::{debug_println, Channel, ChannelSet, Handler, Message};
use socket_api::Region;

pd::setvar!(echo_queues: u64 = 0);
pd::setvar!(echo_queues_size: u64 = 0);
pd::setvar!(echo_data: u64 = 0);
pd::setvar!(echo_data_size: u64 = 0);
pd::setvar!(stats_interval_ms: u64 = 1000);

const NETSTACK: Channel = Channel::new(1);

struct Up {
    echo: Echo<'static>,
    wakeups: u64,
    repolls: u64,
    last_print: Option<u64>,
    printed_at: u64,
    interval_tsc: u64,
}

// One value for the PD's life, so the variants' size difference costs nothing.
#[allow(clippy::large_enum_variant)]
enum EchoPd {
    Up(Up),
    /// Start-up failed (the reason was printed).
    Down,
}

fn start() -> Result<Echo<'static>, &'static str> {
    let (q, qn, d, dn) = (echo_queues.get(), echo_queues_size.get(), echo_data.get(), echo_data_size.get());
    if q == 0 || qn == 0 || d == 0 || dn == 0 {
        return Err("echo_queues / echo_data are not mapped: map both with setvar_vaddr and setvar_size (see system.xml)");
    }
    // SAFETY: system.xml maps both regions read-write into this PD at these addresses and sizes
    // (the image tool wrote the setvars); this is the only view of them in this PD.
    let (end, data) = unsafe {
        (
            socket_api::client_from_raw(q as *mut u8, qn as usize).map_err(|_| "echo_queues is too small for the session's queue pairs")?,
            Region::from_raw(d as *mut u8, dn as usize),
        )
    };
    let echo = Echo::new(end, data, ECHO_PORT).map_err(|_| "echo_data is too small for the session's slots")?;
    let req = echo.bind_request();
    let msg = Message::new(req.label, req.mrs()).map_err(|_| "bind request does not fit a message")?;
    match NETSTACK.pp_call(&msg) {
        Ok(reply) => {
            if let Err(e) = echo.bind_reply(reply.label(), reply.words()) {
                debug_println!("{}: {e}", pd::name());
                return Err("binding the echo port failed");
            }
        }
        Err(e) => {
            debug_println!("{}: calling the network stack on {NETSTACK}: {e}", pd::name());
            return Err("the network stack did not take the bind call (is it up?)");
        }
    }
    Ok(echo)
}

fn init() -> EchoPd {
    match start() {
        Ok(echo) => {
            debug_println!("{}: up: UDP echo on port {ECHO_PORT}, {} reply slots", pd::name(), echo.free_slots());
            let interval_tsc = pd::tsc_hz() / 1000 * stats_interval_ms.get();
            let mut up = Up { echo, wakeups: 0, repolls: 0, last_print: None, printed_at: 0, interval_tsc };
            // Datagrams may have arrived between the bind and now; the first poll also asks
            // the stack for its signal.
            up.run();
            EchoPd::Up(up)
        }
        Err(e) => {
            debug_println!("{}: cannot start: {e}", pd::name());
            EchoPd::Down
        }
    }
}

impl Up {
    fn run(&mut self) {
        loop {
            let a = self.echo.poll();
            if a.notify_netstack {
                if let Err(e) = NETSTACK.notify() {
                    debug_println!("{}: cannot signal the network stack: {e}", pd::name());
                }
            }
            if !a.more_work {
                break;
            }
            self.repolls += 1;
        }
    }

    fn maybe_report(&mut self) {
        let now = pd::tsc();
        if self.wakeups == self.printed_at {
            return;
        }
        if let Some(t) = self.last_print {
            if now.wrapping_sub(t) < self.interval_tsc {
                return;
            }
        }
        self.last_print = Some(now);
        self.printed_at = self.wakeups;
        let s: EchoStats = self.echo.stats();
        debug_println!(
            "{}: stats wakeups={} repolls={} received={} echoed={} to_netstack={} drop_no_buffer={} drop_queue_full={} bad_records={} queue_corrupt={} bytes_copied={}",
            pd::name(),
            self.wakeups,
            self.repolls,
            s.received,
            s.echoed,
            s.notify_netstack,
            s.drop_no_buffer,
            s.drop_queue_full,
            s.bad_records,
            s.queue_corrupt,
            s.bytes_copied
        );
    }
}

impl Handler for EchoPd {
    fn notified(&mut self, _channels: ChannelSet) {
        if let EchoPd::Up(up) = self {
            up.wakeups += 1;
            up.run();
            up.maybe_report();
        }
    }
}

pd::protection_domain!(init);
