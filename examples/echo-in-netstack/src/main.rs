//! The network stack PD with the UDP echo compiled in (`netstack-echo.elf` in
//! `echo-in-netstack.xml`): the stack hands [`echo::EchoApp`] each datagram for port 7 in the
//! receive buffer and the reply area of a transmit frame, so the echo's copy is the only one.
#![no_std]
#![no_main]

use echo::{EchoApp, EchoCounters, ECHO_PORT};
use netstack_pd::{HostedReport, Mode, NetstackPd};
use pd::debug_println;
use static_cell::StaticCell;

/// The echo's counters, printed after the stack's statistics line.
struct Report(&'static EchoCounters);

impl HostedReport for Report {
    fn print(&self) {
        let s = self.0.get();
        debug_println!(
            "{}: echo stats received={} echoed={} drop_no_buffer={} bytes_copied={}",
            pd::name(),
            s.received,
            s.echoed,
            s.drop_no_buffer,
            s.bytes_copied
        );
    }
}

static COUNTERS: StaticCell<EchoCounters> = StaticCell::new();
static APP: StaticCell<EchoApp<'static>> = StaticCell::new();
static REPORT: StaticCell<Report> = StaticCell::new();

fn init() -> NetstackPd {
    let counters: &'static EchoCounters = COUNTERS.init(EchoCounters::default());
    let app = APP.init(EchoApp::new(ECHO_PORT, counters));
    let report = REPORT.init(Report(counters));
    netstack_pd::init(Mode::Hosted { app, report })
}

pd::protection_domain!(init);
