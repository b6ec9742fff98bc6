//! The PD's receive pool ([`RxPool`]) for a multi-session driver: the part of `driver_dma`
//! after the descriptor rings ([`super::POOL_OFFSET`]), into which the device receives, and the
//! driver's read-write mapping of each client's buffer region (`client_buffers<k>`, with its
//! physical base), through which each frame is copied once into the buffer its destination
//! posted. A copy lands only where a window covers the whole destination, so a translation
//! naming memory the driver does not map writes nothing.

use region::DmaRegion;

use super::MAX_SESSIONS;
use crate::engine::RxPool;

/// One client's buffers as the driver maps them, with their physical base.
pub type Window = DmaRegion;

/// The receive pool and the client windows (no pool: a direct-mode, single-session driver).
#[derive(Default)]
pub struct PdPool {
    pool: Option<DmaRegion>,
    windows: [Option<Window>; MAX_SESSIONS],
}

impl PdPool {
    /// No pool: the driver receives straight into its one client's buffers.
    pub fn none() -> Self {
        Self::default()
    }

    /// A pool over `pool` copying through `windows`.
    pub fn new(pool: DmaRegion, windows: [Option<Window>; MAX_SESSIONS]) -> Self {
        Self { pool: Some(pool), windows }
    }
}

impl RxPool for PdPool {
    fn phys_base(&self) -> u64 {
        self.pool.as_ref().map_or(0, DmaRegion::phys_base)
    }
    fn len(&self) -> usize {
        self.pool.as_ref().map_or(0, DmaRegion::len)
    }
    fn read(&self, offset: usize, buf: &mut [u8]) -> bool {
        self.pool.as_ref().is_some_and(|p| p.read(offset, buf).is_ok())
    }
    fn copy_to_client(&mut self, offset: usize, len: usize, phys: u64) -> bool {
        let Some(pool) = &self.pool else { return false };
        let end = phys.checked_add(len as u64);
        self.windows.iter().flatten().any(|w| {
            let base = w.phys_base();
            let fits = phys >= base && end.is_some_and(|e| e <= base + w.len() as u64);
            fits && pool.copy_to(offset, w, (phys - base) as usize, len).is_ok()
        })
    }
}
