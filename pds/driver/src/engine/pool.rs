//! Pooled receive (a driver serving several sessions): the device receives into driver-owned
//! pool buffers no client can see, one per receive slot (slot `i` always uses buffer `i`), and
//! each completed frame is copied once into a buffer its destination posted: a unicast frame
//! to the open session with that destination MAC, a broadcast or multicast frame into every
//! open session's own buffer. A frame for nobody is dropped; the pool buffer goes straight
//! back to the device. Client receive buffers are never given to the device in this mode, so
//! they are translated (to find the driver's mapping of them) but never pinned.

use super::client::Client;
use super::map::translate;
use super::rx::RxRound;
use super::slots::Posted;
use super::{Driver, SessionSet, Stats};
use crate::backend::{InitError, MacAddr, NicBackend};
use crate::hw::Translate;
use crate::session::{BufError, RX_BUF_LEN};
use ring::Desc;

/// Bytes per pool buffer (one frame of up to [`RX_BUF_LEN`] bytes; 2 KiB so none crosses a page).
pub const POOL_BUF: usize = 2048;

/// Free buffers of one client tried for one frame before it is dropped (each refusal is the
/// client's error and counted).
const TRIES_PER_FRAME: usize = 4;

/// The driver-owned receive pool and the driver's mappings of its clients' buffers: what a
/// multi-session driver needs to receive into memory no client can see and copy each frame
/// into its destination's buffer. The PD implements it over `driver_dma` and its
/// `client_buffers` windows; tests over the models' fake physical memory.
pub trait RxPool {
    /// Physical (bus) address of pool byte 0.
    fn phys_base(&self) -> u64;
    /// Pool bytes (0: no pool, the driver receives directly into its one client's buffers).
    fn len(&self) -> usize;
    /// Whether there is no pool.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// Pool buffers.
    fn buffers(&self) -> usize {
        self.len() / POOL_BUF
    }
    /// Copies pool bytes at `offset` into `buf` (a frame's header, to demultiplex it); false if
    /// the range leaves the pool.
    fn read(&self, offset: usize, buf: &mut [u8]) -> bool;
    /// Copies `len` pool bytes at `offset` into client memory at physical address `phys`
    /// through the driver's mapping of that client's buffers; false (nothing written) if the
    /// range leaves the pool or no mapping covers all of `phys..phys + len`.
    fn copy_to_client(&mut self, offset: usize, len: usize, phys: u64) -> bool;
}

/// No pool: a direct-mode driver (one session at a time, zero copies).
#[derive(Clone, Copy, Debug, Default)]
pub struct NoPool;

impl RxPool for NoPool {
    fn phys_base(&self) -> u64 {
        0
    }
    fn len(&self) -> usize {
        0
    }
    fn read(&self, _: usize, _: &mut [u8]) -> bool {
        false
    }
    fn copy_to_client(&mut self, _: usize, _: usize, _: u64) -> bool {
        false
    }
}

/// Checks that a pool (if any) holds a buffer per receive slot within the device's reach.
pub(super) fn check<C: RxPool>(pool: &C, rx_slots: u16, dma_limit: u64) -> Result<(), InitError> {
    if pool.is_empty() {
        return Ok(());
    }
    let need = usize::from(rx_slots) * POOL_BUF;
    if pool.len() < need {
        return Err(InitError::PoolTooSmall { need, have: pool.len() });
    }
    let phys = pool.phys_base();
    if phys.checked_add(need as u64).is_none_or(|end| end > dma_limit) {
        return Err(InitError::PoolUnreachable { phys, limit: dma_limit });
    }
    Ok(())
}

impl<'q, B: NicBackend, T: Translate, C: RxPool> Driver<'q, B, T, C> {
    /// Gives every free receive slot its pool buffer; returns how many were posted.
    pub(super) fn post_pool(&mut self) -> u16 {
        let mut posted = 0;
        while self.rxr.space() > 0 {
            let slot = self.rxr.push(Posted::POOL);
            let phys = self.pool.phys_base() + u64::from(slot) * POOL_BUF as u64;
            self.backend.rx_post(slot, phys, RX_BUF_LEN);
            posted += 1;
        }
        posted
    }

    /// Copies completed frames to their sessions, at most `budget` frames. Only the header is
    /// read to demultiplex; a frame no destination can take is never copied.
    pub(super) fn deliver_pool_completions(&mut self, budget: u64) -> RxRound {
        let mut round = RxRound { work: 0, delivered: SessionSet::EMPTY, backlog: false };
        while self.rxr.count > 0 {
            let slot = self.rxr.head;
            let Some(done) = self.backend.rx_poll(slot) else {
                break;
            };
            if round.work >= budget {
                round.backlog = true;
                break;
            }
            round.work += 1;
            self.backend.rx_clear(slot);
            let _ = self.rxr.pop();
            let len = done.len as usize;
            let at = usize::from(slot) * POOL_BUF;
            let mut dst = [0u8; 6];
            if !done.ok || len < 14 || len > RX_BUF_LEN as usize || !self.pool.read(at, &mut dst) {
                self.stats.rx_frame_errors += 1;
                continue;
            }
            let dst = MacAddr(dst);
            let frame = Frame { at, len: len as u32 };
            let Self { clients, xlate, pool, stats, .. } = self;
            if dst.0[0] & 1 != 0 {
                // Broadcast and multicast: every open session, each into its own buffer.
                for (k, c) in clients.iter_mut().enumerate() {
                    if let Some(c) = c {
                        if copy_to(c, frame, xlate, pool, stats) {
                            round.delivered = round.delivered.with(k);
                        }
                    }
                }
            } else {
                match clients.iter_mut().enumerate().find(|(_, c)| c.as_ref().is_some_and(|c| c.mac == dst)) {
                    Some((k, Some(c))) => {
                        if copy_to(c, frame, xlate, pool, stats) {
                            round.delivered = round.delivered.with(k);
                        }
                    }
                    _ => stats.rx_no_session += 1,
                }
            }
        }
        round
    }
}

/// A received frame in the pool.
#[derive(Clone, Copy)]
struct Frame {
    /// Its pool offset.
    at: usize,
    /// Its length.
    len: u32,
}

/// Copies `frame` into the next usable free buffer of `c` and publishes it on its receive
/// queue; false (counted) if the client has no room, no buffer, or only refused ones. Also
/// true when a buffer went back empty instead (the client has news either way).
fn copy_to<T: Translate, C: RxPool>(
    c: &mut Client<'_>,
    frame: Frame,
    xlate: &mut T,
    pool: &mut C,
    stats: &mut Stats,
) -> bool {
    match c.rx.active.free_slots() {
        Ok(0) => {
            c.stats.rx_dropped_client_full += 1;
            stats.rx_dropped_client_full += 1;
            return false;
        }
        Ok(_) => {}
        Err(_) => {
            c.session.errors.queue_corrupt += 1;
            return false;
        }
    }
    let len = frame.len;
    for _ in 0..TRIES_PER_FRAME {
        let d = match c.rx.free.dequeue() {
            Ok(Some(d)) => d,
            Ok(None) => break,
            Err(_) => {
                c.session.errors.queue_corrupt += 1;
                return false;
            }
        };
        if let Err(e) = c.session.check_rx(&d) {
            c.session.errors.count(&e);
            continue;
        }
        let phys = match translate(xlate, stats, &d, len) {
            Ok(phys) => phys,
            Err(BufError::Xlate(x)) if !x.is_client_fault() => {
                // Not the client's doing: hand the buffer back empty, drop this frame.
                return return_empty(c, d);
            }
            Err(e) => {
                c.session.errors.count(&e);
                continue;
            }
        };
        if !pool.copy_to_client(frame.at, len as usize, phys) {
            // The driver does not map this memory (a system-file omission, not the client's
            // fault): the buffer goes back empty.
            return return_empty(c, d);
        }
        return match c.rx.active.enqueue(Desc { len, ..d }) {
            Ok(()) => {
                c.stats.rx_packets += 1;
                c.stats.rx_bytes += u64::from(len);
                stats.rx_packets += 1;
                stats.rx_bytes += u64::from(len);
                stats.rx_copies += 1;
                stats.rx_bytes_copied += u64::from(len);
                true
            }
            Err(_) => {
                c.session.errors.queue_corrupt += 1;
                false
            }
        };
    }
    c.stats.rx_dropped_client_full += 1;
    stats.rx_dropped_client_full += 1;
    false
}

/// Hands a free buffer back unused (`len = 0`), counted in `rx_returned`; true if published.
fn return_empty(c: &mut Client<'_>, d: Desc) -> bool {
    match c.rx.active.enqueue(Desc { len: 0, ..d }) {
        Ok(()) => {
            c.session.errors.rx_returned += 1;
            true
        }
        Err(_) => {
            c.session.errors.queue_corrupt += 1;
            false
        }
    }
}
