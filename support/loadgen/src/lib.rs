//! The project's load generator, in the spirit of ipbench: a UDP echo load of fixed-size
//! probes at a precise offered rate (open loop, per level, sent in short bursts on a schedule),
//! every echo checked byte for byte and counted against the level it was sent in, and round
//! trips from a closed-loop phase in an hdrhistogram. It speaks plain UDP to an address (so it
//! drives a real machine over a real network, or QEMU's user networking) or raw Ethernet over
//! QEMU's `dgram` netdev (as the guest's gateway). Rates are megabits per second of UDP
//! payload: a 1024-byte probe is 8192 bits, whatever the headers.
//!
//! `loadgen --help` for the command line; `Generator` for the library (the evaluation and the
//! tests drive it in-process).

pub mod frame;
pub mod link;
pub mod payload;
pub mod run;

pub use link::Link;
pub use run::{Generator, Latency, LevelResult};
