//! A boot-time self-check of the `sel4` ABI crate on the real kernel: invocations whose
//! arguments travel through the IPC buffer (message registers 4+ and extra caps, reached via
//! the GS segment), badge and port-range cap data, notification signalling, and the decoding
//! of kernel errors. It leaves the CSpace and the untyped it used as it found them.
//!
//! Runs only on seL4 (it makes system calls); the QEMU boot test checks its report line.

use core::fmt::Write;
use sel4::{
    init, Badge, BootInfo, CNode, CPtr, CapData, CapRights, Error, InvocationError, IoPort, Notification, ObjectType,
    Untyped,
};

/// What went wrong, for the report.
#[derive(Debug)]
pub enum CheckError {
    /// An invocation that should have worked failed.
    Failed(InvocationError),
    /// The kernel answered, but not as the ABI says it must.
    Unexpected(&'static str),
    /// No free slots or no RAM untyped to work with.
    NoResources(&'static str),
}

impl core::fmt::Display for CheckError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            CheckError::Failed(e) => write!(f, "{e}"),
            CheckError::Unexpected(what) => write!(f, "unexpected kernel behaviour: {what}"),
            CheckError::NoResources(what) => write!(f, "cannot run: {what}"),
        }
    }
}

impl From<InvocationError> for CheckError {
    fn from(e: InvocationError) -> Self {
        CheckError::Failed(e)
    }
}

fn expect(cond: bool, what: &'static str) -> Result<(), CheckError> {
    if cond {
        Ok(())
    } else {
        Err(CheckError::Unexpected(what))
    }
}

fn expect_err<T>(
    r: Result<T, InvocationError>,
    want: Error,
    what: &'static str,
) -> Result<InvocationError, CheckError> {
    match r {
        Err(e) if e.error == want => Ok(e),
        _ => Err(CheckError::Unexpected(what)),
    }
}

/// Runs the checks; returns how many invocations were made.
pub fn run<W: Write>(bi: &BootInfo<'_>, out: &mut W) -> Result<u32, CheckError> {
    let cn: CNode = init::CNODE;
    let free = bi.empty();
    if free.len() < 4 {
        return Err(CheckError::NoResources("fewer than 4 free root CNode slots"));
    }
    let [s_copy, s_ports, s_ntfn, s_badged] = [free.start, free.start + 1, free.start + 2, free.start + 3];
    let ut = bi
        .untypeds()
        .find(|u| !u.is_device && u.size_bits >= 12)
        .ok_or(CheckError::NoResources("no RAM untyped of 4 KiB or more"))?;
    let mut n = 0u32;

    // CNode_Copy: 5 message words (MR4 in the IPC buffer) and 1 extra cap.
    cn.copy(s_copy, 64, cn.slot(init::IO_PORT.0 .0), CapRights::ALL)?;
    n += 1;
    // Copying onto an occupied slot is refused with DeleteFirst.
    expect_err(
        cn.copy(s_copy, 64, cn.slot(init::IO_PORT.0 .0), CapRights::ALL),
        Error::DeleteFirst,
        "CNode_Copy onto a full slot must fail with DeleteFirst",
    )?;
    n += 1;
    // Copying from an empty slot: FailedLookup, detail word 0 = 1 (the source).
    let e = expect_err(
        cn.copy(s_ports, 64, cn.slot(s_badged), CapRights::ALL),
        Error::FailedLookup,
        "CNode_Copy from an empty slot must fail with FailedLookup",
    )?;
    expect(e.detail[0] == 1, "FailedLookup must name the source")?;
    n += 1;

    // CNode_Mint (6 words + 1 cap) with port-range data: only the PCI configuration ports.
    let range = CapData::io_ports(crate::pci::CONFIG_ADDRESS, crate::pci::CONFIG_DATA + 3)
        .map_err(|_| CheckError::Unexpected("port range"))?;
    cn.mint(s_ports, 64, cn.slot(s_copy), CapRights::ALL, range)?;
    n += 1;
    let ranged = IoPort(CPtr(s_ports));
    let id = crate::pci::read32(&ranged, crate::pci::Bdf { bus: 0, dev: 0, func: 0 }, 0)?;
    let id_full = crate::pci::read32(&init::IO_PORT, crate::pci::Bdf { bus: 0, dev: 0, func: 0 }, 0)?;
    n += 4;
    expect(id == id_full && id != 0xffff_ffff, "the minted port cap must read the same config space")?;
    // Outside the minted range: IllegalOperation.
    expect_err(ranged.in8(0x3f8), Error::IllegalOperation, "a port outside the minted range must be refused")?;
    n += 1;

    // Untyped_Retype (6 words + 1 cap): one notification into s_ntfn.
    let untyped = Untyped(ut.cap);
    untyped.retype(ObjectType::Notification, 0, cn, 0, 0, s_ntfn, 1)?;
    n += 1;
    // A badged copy, signalled: polling the original returns the badge, then nothing.
    cn.mint(s_badged, 64, cn.slot(s_ntfn), CapRights::ALL, CapData::badge(0x5a5).unwrap_or(CapData::NONE))?;
    n += 1;
    Notification(CPtr(s_badged)).signal();
    let got = Notification(CPtr(s_ntfn)).poll();
    let again = Notification(CPtr(s_ntfn)).poll();
    n += 3;
    expect(got == Badge(0x5a5), "polling a signalled notification must return the minted badge")?;
    expect(again == Badge(0), "a notification must be clear after a poll")?;

    // X86_Page_GetAddress on our IPC buffer frame: a page-aligned physical address.
    let paddr = init::IPC_BUFFER.get_address()?;
    n += 1;
    expect(paddr != 0 && paddr % 4096 == 0, "the IPC buffer frame's address must be page aligned")?;

    // Clean up: delete the caps, revoke the untyped (frees the notification's memory).
    for s in [s_badged, s_ntfn, s_ports, s_copy] {
        cn.delete(s, 64)?;
        n += 1;
    }
    cn.revoke(ut.cap.0, 64)?;
    n += 1;
    expect_err(
        cn.copy(s_copy, 64, cn.slot(s_ntfn), CapRights::ALL),
        Error::FailedLookup,
        "deleted slots must be empty",
    )?;
    n += 1;

    let _ =
        writeln!(out, "initialiser: IPC buffer frame at physical {paddr:#x}; untyped {} used and revoked", ut.cap.0);
    Ok(n)
}
