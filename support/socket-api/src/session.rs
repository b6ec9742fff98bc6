//! The two ends of a session's queue region: the stack's (`ServerEnd`) and the client's
//! (`ClientEnd`), laid over shared memory (PDs) or owned memory (host tests).

use crate::{FROM_CLIENT_OFFSET, QUEUE_CAPACITY, QUEUE_REGION_SIZE, TO_CLIENT_OFFSET};
use region::MappedRegion;
use ring::{CacheLine, LayoutError, Receiver, Sender};

/// The network stack's end of a session.
pub struct ServerEnd<'a> {
    /// To-client pair: received datagrams out (active), delivery buffers back (free).
    pub to_client: Sender<'a>,
    /// From-client pair: datagrams to send in (active), client buffers back (free).
    pub from_client: Receiver<'a>,
}

/// The client's end of a session.
pub struct ClientEnd<'a> {
    /// To-client pair: received datagrams in (active), delivery buffers back (free).
    pub to_client: Receiver<'a>,
    /// From-client pair: datagrams to send out (active), its buffers back (free).
    pub from_client: Sender<'a>,
}

fn check(len: usize) -> Result<(), LayoutError> {
    if len < QUEUE_REGION_SIZE {
        return Err(LayoutError::RegionTooSmall { need: QUEUE_REGION_SIZE, have: len });
    }
    Ok(())
}

/// The stack's end over a session's mapped queue region (from the runtime's `region!`).
pub fn server_from_region(region: &MappedRegion) -> Result<ServerEnd<'static>, LayoutError> {
    check(region.size())?;
    let half = FROM_CLIENT_OFFSET - TO_CLIENT_OFFSET;
    let rest = region.size() - FROM_CLIENT_OFFSET;
    Ok(ServerEnd {
        to_client: Sender::from_region_at(region, TO_CLIENT_OFFSET, half, QUEUE_CAPACITY)?,
        from_client: Receiver::from_region_at(region, FROM_CLIENT_OFFSET, rest, QUEUE_CAPACITY)?,
    })
}

/// The client's end over a session's mapped queue region (one `ClientEnd` per region).
pub fn client_from_region(region: &MappedRegion) -> Result<ClientEnd<'static>, LayoutError> {
    check(region.size())?;
    let half = FROM_CLIENT_OFFSET - TO_CLIENT_OFFSET;
    let rest = region.size() - FROM_CLIENT_OFFSET;
    Ok(ClientEnd {
        to_client: Receiver::from_region_at(region, TO_CLIENT_OFFSET, half, QUEUE_CAPACITY)?,
        from_client: Sender::from_region_at(region, FROM_CLIENT_OFFSET, rest, QUEUE_CAPACITY)?,
    })
}

/// Both ends over owned memory (zeroed here), for host tests and single-address-space use.
pub fn split_owned(mem: &mut [CacheLine]) -> Result<(ServerEnd<'_>, ClientEnd<'_>), LayoutError> {
    let lines = FROM_CLIENT_OFFSET / ring::CACHE_LINE;
    if mem.len() * ring::CACHE_LINE < QUEUE_REGION_SIZE {
        return Err(LayoutError::RegionTooSmall { need: QUEUE_REGION_SIZE, have: mem.len() * ring::CACHE_LINE });
    }
    let (a, b) = mem.split_at_mut(lines);
    let (to_s, to_c) = ring::split(a, QUEUE_CAPACITY)?;
    let (from_c, from_s) = ring::split(b, QUEUE_CAPACITY)?;
    Ok((ServerEnd { to_client: to_s, from_client: from_s }, ClientEnd { to_client: to_c, from_client: from_c }))
}
