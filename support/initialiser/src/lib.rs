//! The initialiser (seL4 root task) as a library, kept free of kernel entry code so it builds
//! and tests on the host. With a system spec (patched in by the image tool) it builds the
//! system ([`boot`]) and becomes the fault [`monitor`]; without one (the bare ELF) it reports
//! the bootinfo and PCI bus and runs the ABI self-check ([`run`], [`abi_check`]).
//!
//! Pure, host-tested parts: [`alloc`] (untyped and slot allocators), [`vspace`] (page-table
//! planning), [`pci`] (scan, BARs, INTx routing), [`fault`] (fault decoding and reports), [`iommu`] (VT-d plans),
//! [`report`]. [`boot`] and [`monitor`] make system calls and are tested under QEMU.
#![no_std]

pub mod abi_check;
pub mod alloc;
pub mod boot;
pub mod console;
pub mod fault;
pub mod iommu;
pub mod monitor;
pub mod pci;
pub mod report;
pub mod vspace;

use core::fmt::{self, Write};
use sel4::{BootInfo, InvocationError};

/// 32-bit x86 port I/O, as the initialiser needs it (a fake backs it in tests).
pub trait PortIo {
    fn out32(&self, port: u16, value: u32) -> Result<(), InvocationError>;
    fn in32(&self, port: u16) -> Result<u32, InvocationError>;
}

impl PortIo for sel4::IoPort {
    fn out32(&self, port: u16, value: u32) -> Result<(), InvocationError> {
        sel4::IoPort::out32(*self, port, value)
    }
    fn in32(&self, port: u16) -> Result<u32, InvocationError> {
        sel4::IoPort::in32(*self, port)
    }
}

/// Why the boot sequence stopped.
#[derive(Debug)]
pub enum RunError {
    /// A kernel invocation failed.
    Invocation(InvocationError),
    /// The console refused output.
    Output,
}

impl From<InvocationError> for RunError {
    fn from(e: InvocationError) -> Self {
        RunError::Invocation(e)
    }
}

impl From<fmt::Error> for RunError {
    fn from(_: fmt::Error) -> Self {
        RunError::Output
    }
}

impl fmt::Display for RunError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RunError::Invocation(e) => write!(f, "{e}"),
            RunError::Output => write!(f, "console output failed"),
        }
    }
}

/// The bare initialiser's report (no system spec): the bootinfo, then every PCI function
/// found through the I/O port capability (00:00.0 is the host bridge).
pub fn run<W: Write, P: PortIo>(bi: &BootInfo<'_>, out: &mut W, ports: &P) -> Result<(), RunError> {
    report::summary(bi, out)?;
    report::untypeds(bi, out)?;
    let mut found = 0;
    let mut res = Ok(());
    pci::scan(ports, &mut |f| {
        let (b, id) = (f.bdf, f.id);
        res = writeln!(
            out,
            "initialiser: PCI {:02x}:{:02x}.{} vendor {:#06x} device {:#06x} class {:#08x}",
            b.bus, b.dev, b.func, id.vendor, id.device, id.class
        );
        found += 1;
        res.is_ok()
    })?;
    res?;
    writeln!(out, "initialiser: {found} PCI functions")?;
    Ok(())
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::*;
    use std::string::String;

    #[test]
    fn run_reports_bootinfo_and_pci() {
        let bytes = report::tests::sample_bootinfo();
        let bi = BootInfo::parse(&bytes).unwrap();
        let ports = pci::tests::FakePci::q35();
        let mut out = String::new();
        run(&bi, &mut out, &ports).unwrap();
        assert!(out.contains("initialiser: seL4 5.0.0 booted: 3 untypeds (129 MiB RAM), TSC 2993 MHz"), "{out}");
        assert!(out.contains("PCI 00:00.0 vendor 0x8086 device 0x29c0"), "{out}");
        assert!(out.contains("PCI 00:02.0 vendor 0x8086 device 0x100e"), "{out}");
        assert!(out.contains("PCI 01:03.0 vendor 0x8086 device 0x100e"), "{out}");
        assert!(out.contains("6 PCI functions"), "{out}");
    }
}
