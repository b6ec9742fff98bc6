//! The one trait both device backends implement: the device-specific half of the driver
//! (reset, MAC, descriptor formats, interrupt cause/mask, hold-off). The device-neutral core
//! (`engine.rs`) owns ring indices, slot bookkeeping and the client side, and calls these.
//!
//! Slots are numbered `0..n` in ring order; the core posts and reaps them strictly in order,
//! which both chips guarantee for completions.

use core::fmt;

/// The NIC's station address (the driver contract's type, with its one printed form).
pub use nic_api::MacAddr;

/// The decoded interrupt cause (the raw register was read, and thereby cleared, once).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Cause {
    /// Receive completions (or receive-idle) to look at.
    pub rx: bool,
    /// Transmit completions to reap.
    pub tx: bool,
    /// The device dropped frames for lack of a free receive descriptor (or FIFO overrun).
    pub rx_overrun: bool,
    /// Link state changed.
    pub link: bool,
    /// The raw cause register, for diagnostics.
    pub raw: u32,
}

/// A completed receive descriptor.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RxDone {
    /// Bytes the device wrote (frame without FCS).
    pub len: u32,
    /// The device reports a good frame.
    pub ok: bool,
}

/// A completed transmit descriptor.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TxDone {
    /// The device reports the frame was sent.
    pub ok: bool,
}

/// Device counters the core accumulates (read-to-clear on both chips).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct HwCounters {
    /// Frames the device dropped because no receive descriptor was free (or the FIFO overran).
    pub rx_missed: u64,
}

/// Why the device could not be brought up. Fatal for the driver PD: the message says what to
/// check.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum InitError {
    /// A self-clearing reset/load bit never cleared.
    Timeout { chip: &'static str, what: &'static str, register: usize },
    /// Neither the receive-address registers nor the EEPROM gave a usable station address.
    NoMacAddress { chip: &'static str },
    /// The descriptor memory is too small for the configured ring.
    RingMemTooSmall { ring: &'static str, need: usize, have: usize },
    /// Ring sizes must be 8..=256 and, for e1000, a multiple of 8.
    BadRingSize { ring: &'static str, slots: u16 },
    /// The hold-off the system file asks for is beyond what the chip can express.
    HoldoffTooLong { chip: &'static str, requested_us: u32, max_us: u32 },
    /// The descriptor memory is not where the chip can reach it (alignment or address width).
    BadRingAddress { ring: &'static str, phys: u64, why: &'static str },
    /// The receive pool (a multi-session driver's own receive buffers) cannot hold one buffer
    /// per receive slot.
    PoolTooSmall { need: usize, have: usize },
    /// The receive pool lies beyond what the device can address.
    PoolUnreachable { phys: u64, limit: u64 },
    /// The device's receive filter refused the driver's addresses.
    Filter(FilterError),
}

impl fmt::Display for InitError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Self::Timeout { chip, what, register } => write!(
                f,
                "{chip}: {what} did not complete (register {register:#x} stayed busy): is the \
                 BAR mapped to the right device and the device powered (PCI D0)?"
            ),
            Self::NoMacAddress { chip } => write!(
                f,
                "{chip}: no valid MAC address in the receive-address registers or the EEPROM; \
                 configure one in the system file"
            ),
            Self::RingMemTooSmall { ring, need, have } => write!(
                f,
                "{ring} descriptor ring needs {need} bytes of DMA memory but the region has \
                 {have}; enlarge the memory region or use fewer slots"
            ),
            Self::BadRingSize { ring, slots } => {
                write!(f, "{ring} ring of {slots} slots: use 8..=256 slots, a multiple of 8")
            }
            Self::HoldoffTooLong { chip, requested_us, max_us } => write!(
                f,
                "{chip}: interrupt hold-off of {requested_us} us exceeds the chip's maximum of \
                 {max_us} us"
            ),
            Self::BadRingAddress { ring, phys, why } => {
                write!(f, "{ring} descriptor ring at physical {phys:#x}: {why}")
            }
            Self::PoolTooSmall { need, have } => write!(
                f,
                "the receive pool needs {need:#x} bytes (one buffer per receive slot) but has \
                 {have:#x}; enlarge driver_dma"
            ),
            Self::PoolUnreachable { phys, limit } => {
                write!(f, "the receive pool at physical {phys:#x} is beyond the device's reach ({limit:#x})")
            }
            Self::Filter(e) => write!(f, "receive filter: {e}"),
        }
    }
}

/// The device-specific half of the driver.
pub trait NicBackend {
    /// Chip name for messages.
    const NAME: &'static str;

    /// The chip this value drives (for a backend that picks its chip at run time, e.g.
    /// `pd::AnyNic`, the one it picked).
    fn chip(&self) -> &'static str {
        Self::NAME
    }

    /// Resets the chip, reads its MAC address, programs both rings (`rx_slots`, `tx_slots`
    /// descriptors in the backend's DMA memory), the receive filter, hold-off and interrupt
    /// mask (left masked: the core unmasks), and enables rx/tx. Returns the station address.
    fn init(&mut self, rx_slots: u16, tx_slots: u16, holdoff_us: u32) -> Result<MacAddr, InitError>;

    /// Masks all device interrupts (the line deasserts).
    fn irq_mask(&mut self);
    /// Unmasks the interrupts the driver uses.
    fn irq_unmask(&mut self);
    /// Reads (and thereby clears) the interrupt cause.
    fn read_cause(&mut self) -> Cause;

    /// Points receive slot `slot` at a buffer of `len` bytes at `phys` and gives it to the
    /// device (takes effect for the device after [`NicBackend::rx_kick`]).
    fn rx_post(&mut self, slot: u16, phys: u64, len: u32);
    /// The completion in receive slot `slot`, if the device has filled it.
    fn rx_poll(&self, slot: u16) -> Option<RxDone>;
    /// Marks receive slot `slot` empty and owned by the driver after reaping it.
    fn rx_clear(&mut self, slot: u16);
    /// Tells the device that slots up to (not including) `tail` hold buffers.
    fn rx_kick(&mut self, tail: u16);

    /// Points transmit slot `slot` at a frame of `len` bytes at `phys` and gives it to the
    /// device; `interrupt` asks for a completion interrupt for this descriptor.
    fn tx_post(&mut self, slot: u16, phys: u64, len: u32, interrupt: bool);
    /// The completion of transmit slot `slot` (which the core posted), if the device is done.
    fn tx_poll(&self, slot: u16) -> Option<TxDone>;
    /// Tells the device that slots up to (not including) `tail` hold frames to send.
    fn tx_kick(&mut self, tail: u16);

    /// Reads (and clears) the device's statistics counters.
    fn read_counters(&mut self) -> HwCounters;

    /// First physical address the device cannot reach with its descriptor format (buffers
    /// must end at or below it).
    fn dma_limit(&self) -> u64 {
        u64::MAX
    }

    /// Programs the receive-address filter to accept unicast frames for `macs` (in order; the
    /// first is normally the station address [`NicBackend::init`] returned) and drop unicast
    /// for other addresses in hardware: exactly on a chip with enough exact-match entries
    /// (e1000), nearly exactly where the rest go through a hash (DP83820: a few other
    /// addresses may pass, so software still checks the destination). Broadcast stays
    /// accepted. Refuses, leaving the filter as it was, when `macs` holds more entries than the
    /// chip's filter takes ([`FilterError::TooMany`]) or an entry that is not a station address.
    fn set_unicast_filter(&mut self, macs: &[MacAddr]) -> Result<(), FilterError>;
}

/// Why [`NicBackend::set_unicast_filter`] refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FilterError {
    /// More addresses than the chip's exact-match filter holds (`max`).
    TooMany {
        /// Entries the chip has.
        max: usize,
    },
    /// An entry is multicast, broadcast or all-zero.
    NotStation(MacAddr),
}

impl fmt::Display for FilterError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FilterError::TooMany { max } => write!(f, "the receive-address filter holds at most {max} addresses"),
            FilterError::NotStation(m) => write!(f, "{m} is not a station address"),
        }
    }
}

/// Checks `macs` against a filter of `max` entries (shared by the backends).
pub fn check_filter(macs: &[MacAddr], max: usize) -> Result<(), FilterError> {
    if macs.len() > max {
        return Err(FilterError::TooMany { max });
    }
    match macs.iter().find(|m| !m.is_valid_station()) {
        Some(m) => Err(FilterError::NotStation(*m)),
        None => Ok(()),
    }
}

/// Validates a ring size for both chips: 8..=256 slots, multiple of 8 (e1000 needs RDLEN/TDLEN
/// to be a multiple of 128 bytes, i.e. 8 legacy descriptors).
pub fn check_ring_size(ring: &'static str, slots: u16) -> Result<(), InitError> {
    if !(8..=crate::engine::MAX_SLOTS as u16).contains(&slots) || slots & 7 != 0 {
        return Err(InitError::BadRingSize { ring, slots });
    }
    Ok(())
}
