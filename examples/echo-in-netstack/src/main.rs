//! The network stack PD with the UDP echo compiled in (`netstack-echo.elf` in
//! `echo-in-netstack.xml`): the stack hands [`echo::EchoApp`] each datagram for port 7 in the
//! receive buffer and the reply area of a transmit frame, so the echo's copy is the only one.
//! The echo's counters are printed after the stack's statistics line ([`HostedStatsLine`]).
#![no_std]
#![no_main]

use echo::{EchoApp, EchoCounters, HostedStatsLine, ECHO_PORT};
use netstack_pd::{Mode, NetstackHandler};
use static_cell::StaticCell;

static COUNTERS: StaticCell<EchoCounters> = StaticCell::new();
static APP: StaticCell<EchoApp<'static>> = StaticCell::new();
static REPORT: StaticCell<HostedStatsLine<'static>> = StaticCell::new();

fn init() -> NetstackHandler {
    let counters: &'static EchoCounters = COUNTERS.init(EchoCounters::default());
    let app = APP.init(EchoApp::new(ECHO_PORT, counters));
    let report = REPORT.init(HostedStatsLine(counters));
    netstack_pd::init(Mode::Hosted { app, report })
}

pd::protection_domain!(init);
