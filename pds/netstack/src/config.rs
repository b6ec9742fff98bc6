//! The stack's configuration, built from the system file's setvars (`ip_addr`, `prefix_len`,
//! `gateway`, dotted addresses already packed into a u64 by the image tool) plus what the PD
//! learns at boot (the NIC's MAC, the TSC frequency), and the TSC -> smoltcp time conversion.

use core::fmt;
use smoltcp::time::Instant;

/// Bytes per packet buffer slot: 2 KiB-aligned slots never cross a 4 KiB page, so each is
/// physically contiguous, and hold the driver's receive minimum (`nic_api::RX_BUF_LEN`).
pub const SLOT: u32 = 2048;
const _: () = assert!(SLOT >= nic_api::RX_BUF_LEN);
/// Most slots the pool tracks (a 2 MiB dataspace).
pub const MAX_SLOTS: usize = 1024;
/// Largest Ethernet frame without FCS (the driver contract's limit).
pub const MAX_FRAME: usize = nic_api::MAX_FRAME as usize;

/// How the packet-buffer dataspace (`net_buffers`) is divided: receive slots first (posted to
/// the driver), then transmit slots (the stack's pool).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PoolConfig {
    /// The dataspace id of the packet buffers in the stack's session with the driver.
    pub dataspace: u32,
    /// Receive buffers (offsets `0, SLOT, ...`).
    pub rx_slots: u32,
    /// Transmit buffers (after the receive ones).
    pub tx_slots: u32,
}

impl Default for PoolConfig {
    /// 256 + 256 slots (1 MiB), matching ring capacity 256 on the driver queues.
    fn default() -> Self {
        Self { dataspace: 0, rx_slots: 256, tx_slots: 256 }
    }
}

/// Everything the stack needs to start.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Config {
    /// The NIC's station address (from the driver).
    pub mac: [u8; 6],
    /// Our IPv4 address.
    pub ip: [u8; 4],
    /// Prefix length of our subnet (0..=32).
    pub prefix_len: u8,
    /// Default gateway, if any (must be inside our subnet).
    pub gateway: Option<[u8; 4]>,
    /// TSC ticks per second (from bootinfo: MHz * 1_000_000).
    pub tsc_hz: u64,
    /// Packet-buffer layout.
    pub pool: PoolConfig,
}

/// A configuration value the stack cannot use.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[allow(missing_docs)]
pub enum ConfigError {
    /// A setvar meant to hold an IPv4 address is wider than 32 bits.
    NotAnAddress { setvar: &'static str, value: u64 },
    /// `prefix_len` above 32.
    BadPrefix(u64),
    /// Our address is 0.0.0.0, broadcast, multicast, or the subnet's broadcast address.
    BadAddress([u8; 4]),
    /// The gateway is not in our subnet (or is our own address).
    GatewayOffLink([u8; 4]),
    /// A MAC that is multicast/broadcast or all zero.
    BadMac([u8; 6]),
    /// TSC frequency 0.
    NoClock,
    /// The pool does not fit the packet-buffer region.
    PoolTooBig { rx_slots: u32, tx_slots: u32, region: usize },
    /// A pool with no receive or no transmit slot.
    PoolEmpty,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Self::NotAnAddress { setvar, value } => write!(
                f,
                "setvar `{setvar}` = {value:#x} is not an IPv4 address: write it dotted, e.g. \
                 value=\"10.0.2.15\""
            ),
            Self::BadPrefix(p) => write!(f, "setvar `prefix_len` = {p}: expected 0..=32"),
            Self::BadAddress([a, b, c, d]) => {
                write!(f, "address {a}.{b}.{c}.{d} cannot be the stack's own: use a unicast host address")
            }
            Self::GatewayOffLink([a, b, c, d]) => write!(
                f,
                "gateway {a}.{b}.{c}.{d} is not a host in the stack's subnet: check `gateway` \
                 and `prefix_len`, or set gateway to 0 for none"
            ),
            Self::BadMac(m) => write!(
                f,
                "MAC {:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x} is not a unicast station address",
                m[0], m[1], m[2], m[3], m[4], m[5]
            ),
            Self::NoClock => f.write_str("TSC frequency is 0: pass bootinfo's TSC MHz * 1e6"),
            Self::PoolTooBig { rx_slots, tx_slots, region } => write!(
                f,
                "{rx_slots} receive + {tx_slots} transmit slots of {SLOT} bytes do not fit the \
                 {region:#x}-byte packet-buffer region (at most {MAX_SLOTS} slots in all)"
            ),
            Self::PoolEmpty => f.write_str("the pool needs at least one receive and one transmit slot"),
        }
    }
}

impl core::error::Error for ConfigError {}

/// An IPv4 address from a setvar (`a<<24 | b<<16 | c<<8 | d`).
pub fn ipv4_from_setvar(setvar: &'static str, value: u64) -> Result<[u8; 4], ConfigError> {
    u32::try_from(value).map(u32::to_be_bytes).map_err(|_| ConfigError::NotAnAddress { setvar, value })
}

fn mask(prefix: u8) -> u32 {
    if prefix == 0 {
        0
    } else {
        u32::MAX << (32 - u32::from(prefix))
    }
}

impl Config {
    /// The configuration from the netstack PD's setvars (`gateway` 0 = none) and boot facts,
    /// with the default pool.
    pub fn from_setvars(
        mac: [u8; 6],
        ip_addr: u64,
        prefix_len: u64,
        gateway: u64,
        tsc_hz: u64,
    ) -> Result<Self, ConfigError> {
        let prefix_len =
            u8::try_from(prefix_len).ok().filter(|p| *p <= 32).ok_or(ConfigError::BadPrefix(prefix_len))?;
        let ip = ipv4_from_setvar("ip_addr", ip_addr)?;
        let gateway = match ipv4_from_setvar("gateway", gateway)? {
            [0, 0, 0, 0] => None,
            g => Some(g),
        };
        let cfg = Self { mac, ip, prefix_len, gateway, tsc_hz, pool: PoolConfig::default() };
        cfg.validate(2 << 20)?;
        Ok(cfg)
    }

    /// Whether `addr` is in our subnet.
    pub fn on_link(&self, addr: [u8; 4]) -> bool {
        let m = mask(self.prefix_len);
        u32::from_be_bytes(addr) & m == u32::from_be_bytes(self.ip) & m
    }

    /// The subnet's directed broadcast address.
    pub fn broadcast(&self) -> [u8; 4] {
        (u32::from_be_bytes(self.ip) | !mask(self.prefix_len)).to_be_bytes()
    }

    /// Checks every field; `region` is the packet-buffer region's size in bytes.
    pub fn validate(&self, region: usize) -> Result<(), ConfigError> {
        if self.prefix_len > 32 {
            return Err(ConfigError::BadPrefix(u64::from(self.prefix_len)));
        }
        let unusable = |a: [u8; 4]| {
            a == [0; 4]
                || a == [255; 4]
                || a[0] >= 224
                || a[0] == 127
                || (self.prefix_len < 31 && a == self.broadcast())
        };
        if unusable(self.ip) {
            return Err(ConfigError::BadAddress(self.ip));
        }
        if let Some(g) = self.gateway {
            if unusable(g) || g == self.ip || !self.on_link(g) {
                return Err(ConfigError::GatewayOffLink(g));
            }
        }
        if self.mac[0] & 1 != 0 || self.mac == [0; 6] {
            return Err(ConfigError::BadMac(self.mac));
        }
        if self.tsc_hz == 0 {
            return Err(ConfigError::NoClock);
        }
        let PoolConfig { rx_slots, tx_slots, .. } = self.pool;
        if rx_slots == 0 || tx_slots == 0 {
            return Err(ConfigError::PoolEmpty);
        }
        let total = u64::from(rx_slots) + u64::from(tx_slots);
        if total > MAX_SLOTS as u64 || total * u64::from(SLOT) > region as u64 {
            return Err(ConfigError::PoolTooBig { rx_slots, tx_slots, region });
        }
        Ok(())
    }
}

/// Converts TSC readings to smoltcp time and back.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Clock {
    hz: u64,
}

impl Clock {
    /// A clock ticking at `hz` (nonzero; `Config::validate` checks it).
    pub fn new(hz: u64) -> Self {
        Self { hz: hz.max(1) }
    }

    /// The smoltcp instant of a TSC reading.
    pub fn instant(&self, tsc: u64) -> Instant {
        let us = u128::from(tsc) * 1_000_000 / u128::from(self.hz);
        Instant::from_micros(i64::try_from(us).unwrap_or(i64::MAX))
    }

    /// The TSC reading at a smoltcp instant (negative instants clamp to 0).
    pub fn tsc(&self, at: Instant) -> u64 {
        let us = u128::try_from(at.total_micros()).unwrap_or(0);
        u64::try_from(us * u128::from(self.hz) / 1_000_000).unwrap_or(u64::MAX)
    }
}
