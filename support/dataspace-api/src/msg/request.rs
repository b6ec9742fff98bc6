//! Requests to the dataspace manager (ATTACH .. DEVICE_RESET): encode to and decode from a
//! [`Message`], with every field range-checked on decode.

use super::{count_field, expect_len, label, msg, pd_field, u32_field, DecodeError, Message, Op};
use crate::{DsId, PdId};

/// A request to the dataspace manager.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MgrRequest {
    /// Confirm `client` shares `ds` and attach `ds` to the calling driver's cache.
    Attach {
        /// The client that opened the session.
        client: PdId,
        /// The dataspace it named.
        ds: DsId,
    },
    /// `client` no longer uses `ds` (session closed); refused while a page is pinned.
    Detach {
        /// The client whose session closed.
        client: PdId,
        /// The dataspace.
        ds: DsId,
    },
    /// Fill the cache entry of `page` of `ds` (reply carries the translation too).
    Refill {
        /// The dataspace.
        ds: DsId,
        /// The page.
        page: u32,
    },
    /// Pin `count` pages from `first` (and fill their entries) until unpinned, or until
    /// `expiry` (TSC ticks, absolute) if it is non-zero.
    Pin {
        /// The dataspace.
        ds: DsId,
        /// First page.
        first: u32,
        /// Pages (at least 1).
        count: u32,
        /// Deadline in TSC ticks, or 0 for none.
        expiry: u64,
    },
    /// Drop one pin of each of `count` pages from `first`.
    Unpin {
        /// The dataspace.
        ds: DsId,
        /// First page.
        first: u32,
        /// Pages (at least 1).
        count: u32,
    },
    /// Take page `page` of `ds` back: invalidates every cached translation of it; refused
    /// while any driver's pin on it holds.
    Reclaim {
        /// The dataspace.
        ds: DsId,
        /// The page.
        page: u32,
    },
    /// The manager's counters.
    Stats,
    /// `driver` faulted: refuse its requests, keep its pins (its device may still DMA).
    DriverFaulted {
        /// The faulted driver.
        driver: PdId,
        /// How many faults of it the monitor has seen in all (the notice's count): a notice
        /// about an instance older than the live one is stale and changes nothing.
        faults: u32,
    },
    /// `driver`'s device has been reset by a new instance: drop all pins and attachments of
    /// the instances before it.
    DeviceReset {
        /// The driver.
        driver: PdId,
        /// The instance's generation: the faults of this driver before it started (0 at the
        /// first start; `pd::generation()`).
        generation: u32,
    },
}

impl MgrRequest {
    /// The operation.
    pub const fn op(&self) -> Op {
        match self {
            Self::Attach { .. } => Op::Attach,
            Self::Detach { .. } => Op::Detach,
            Self::Refill { .. } => Op::Refill,
            Self::Pin { .. } => Op::Pin,
            Self::Unpin { .. } => Op::Unpin,
            Self::Reclaim { .. } => Op::Reclaim,
            Self::Stats => Op::Stats,
            Self::DriverFaulted { .. } => Op::DriverFaulted,
            Self::DeviceReset { .. } => Op::DeviceReset,
        }
    }

    /// The message for this request.
    pub fn encode(&self) -> Message {
        let l = self.op().label();
        match *self {
            Self::Attach { client, ds } | Self::Detach { client, ds } => {
                msg(l, [u64::from(client.index()), u64::from(ds.0)])
            }
            Self::Refill { ds, page } | Self::Reclaim { ds, page } => msg(l, [u64::from(ds.0), u64::from(page)]),
            Self::Pin { ds, first, count, expiry } => {
                msg(l, [u64::from(ds.0), u64::from(first), u64::from(count), expiry])
            }
            Self::Unpin { ds, first, count } => msg(l, [u64::from(ds.0), u64::from(first), u64::from(count)]),
            Self::Stats => msg(l, []),
            Self::DriverFaulted { driver, faults: n } | Self::DeviceReset { driver, generation: n } => {
                msg(l, [u64::from(driver.index()), u64::from(n)])
            }
        }
    }

    /// The request in a message.
    pub fn decode(m: &Message) -> Result<Self, DecodeError> {
        let (label, mrs) = (m.label(), m.words());
        let ds = |v| u32_field("dataspace", v).map(DsId);
        Ok(match label {
            label::ATTACH | label::DETACH => {
                expect_len(label, mrs, 2)?;
                let client = pd_field("client", mrs[0])?;
                let ds = ds(mrs[1])?;
                if label == label::ATTACH {
                    Self::Attach { client, ds }
                } else {
                    Self::Detach { client, ds }
                }
            }
            label::REFILL | label::RECLAIM => {
                expect_len(label, mrs, 2)?;
                let ds = ds(mrs[0])?;
                let page = u32_field("page", mrs[1])?;
                if label == label::REFILL {
                    Self::Refill { ds, page }
                } else {
                    Self::Reclaim { ds, page }
                }
            }
            label::PIN => {
                expect_len(label, mrs, 4)?;
                Self::Pin {
                    ds: ds(mrs[0])?,
                    first: u32_field("first page", mrs[1])?,
                    count: count_field(mrs[2])?,
                    expiry: mrs[3],
                }
            }
            label::UNPIN => {
                expect_len(label, mrs, 3)?;
                Self::Unpin { ds: ds(mrs[0])?, first: u32_field("first page", mrs[1])?, count: count_field(mrs[2])? }
            }
            label::STATS => {
                expect_len(label, mrs, 0)?;
                Self::Stats
            }
            label::DRIVER_FAULTED | label::DEVICE_RESET => {
                expect_len(label, mrs, 2)?;
                let driver = pd_field("driver", mrs[0])?;
                if label == label::DRIVER_FAULTED {
                    Self::DriverFaulted { driver, faults: u32_field("faults", mrs[1])? }
                } else {
                    Self::DeviceReset { driver, generation: u32_field("generation", mrs[1])? }
                }
            }
            other => return Err(DecodeError::UnknownLabel(other)),
        })
    }
}
