//! Boot errors as values: what failed ([`Cause`]), for which PD or region and in which
//! step ([`BootError`]), and the `ctx` helpers that attach the step to any kernel,
//! allocator, planner or cap-data error.

use core::fmt;

use sel4::InvocationError;
use spec::SpecError;

use crate::alloc::AllocError;
use crate::vspace::PlanError;

/// What failed, in terms a system-file author can act on.
#[derive(Debug)]
pub enum Cause {
    Spec(SpecError),
    Kernel(InvocationError),
    Alloc(AllocError),
    Plan(PlanError),
    /// A `pci=` device that the scan did not find.
    PciAbsent {
        vendor: u16,
        device: u16,
        index: u16,
    },
    /// None of a `pci="a|b|.."`'s alternatives was found (the first `n` of `ids`).
    PciNoneOf {
        ids: [spec::PciId; spec::PCI_ALTERNATIVES],
        n: usize,
    },
    /// A BAR that cannot back the region.
    BadBar {
        bar: u8,
        what: &'static str,
        addr: u64,
        size: u64,
    },
    /// Something else, explained.
    Msg(&'static str),
    /// Something else, with a number.
    MsgNum(&'static str, u64),
}

impl fmt::Display for Cause {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Cause::Spec(e) => write!(f, "{e}"),
            Cause::Kernel(e) => write!(f, "{e}"),
            Cause::Alloc(e) => write!(f, "{e}"),
            Cause::Plan(e) => write!(f, "{e}"),
            Cause::PciAbsent { vendor, device, index } => write!(
                f,
                "no PCI device {vendor:04x}:{device:04x} (index {index}) in PCI configuration space \
                 (attach it, e.g. QEMU -device e1000, or fix the pci= attribute)"
            ),
            Cause::PciNoneOf { ids, n } => {
                f.write_str("none of the PCI devices ")?;
                for (i, id) in ids.iter().take(*n).enumerate() {
                    let sep = if i == 0 { "" } else { ", " };
                    write!(f, "{sep}{:04x}:{:04x} (index {})", id.vendor.get(), id.device.get(), id.index.get())?;
                }
                f.write_str(
                    " is in PCI configuration space (attach one, e.g. QEMU -device e1000, or fix the pci= attribute)",
                )
            }
            Cause::BadBar { bar, what, addr, size } => write!(f, "BAR {bar} (at {addr:#x}, {size:#x} bytes) {what}"),
            Cause::Msg(m) => write!(f, "{m}"),
            Cause::MsgNum(m, n) => write!(f, "{m} {n:#x}"),
        }
    }
}

impl From<InvocationError> for Cause {
    fn from(e: InvocationError) -> Self {
        Cause::Kernel(e)
    }
}
impl From<AllocError> for Cause {
    fn from(e: AllocError) -> Self {
        Cause::Alloc(e)
    }
}
impl From<PlanError> for Cause {
    fn from(e: PlanError) -> Self {
        Cause::Plan(e)
    }
}

/// A boot failure: the PD or region concerned, the step and the cause.
#[derive(Debug)]
pub struct BootError<'a> {
    pub pd: Option<&'a str>,
    pub region: Option<&'a str>,
    pub step: &'static str,
    pub cause: Cause,
}

impl fmt::Display for BootError<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(pd) = self.pd {
            write!(f, "protection_domain '{pd}': ")?;
        }
        if let Some(r) = self.region {
            write!(f, "memory_region '{r}': ")?;
        }
        write!(f, "{}: {}", self.step, self.cause)
    }
}

pub(super) type R<'a, T = ()> = Result<T, BootError<'a>>;

/// Attaches a step name to any error that converts into a [`Cause`].
pub(super) trait Ctx<T> {
    fn ctx<'a>(self, step: &'static str) -> R<'a, T>;
}

impl<T, E: Into<Cause>> Ctx<T> for Result<T, E> {
    fn ctx<'a>(self, step: &'static str) -> R<'a, T> {
        self.map_err(|e| BootError { pd: None, region: None, step, cause: e.into() })
    }
}

pub(super) fn fail<'a, T>(step: &'static str, cause: Cause) -> R<'a, T> {
    Err(BootError { pd: None, region: None, step, cause })
}

/// `CapDataError` into a step error.
pub(super) trait CtxData<T> {
    fn ctx_data<'a>(self, step: &'static str) -> R<'a, T>;
}

impl<T> CtxData<T> for Result<T, sel4::CapDataError> {
    fn ctx_data<'a>(self, step: &'static str) -> R<'a, T> {
        self.map_err(|_| BootError {
            pd: None,
            region: None,
            step,
            cause: Cause::Msg("value does not fit the seL4 cap data encoding"),
        })
    }
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::*;

    #[test]
    fn errors_name_pd_region_step_and_cause() {
        let e = BootError {
            pd: Some("driver"),
            region: Some("e1000_regs"),
            step: "finding the PCI device",
            cause: Cause::PciAbsent { vendor: 0x8086, device: 0x100e, index: 0 },
        };
        let s = std::format!("{e}");
        assert!(s.starts_with("protection_domain 'driver': memory_region 'e1000_regs': finding the PCI device: no PCI device 8086:100e (index 0)"), "{s}");
        let id = |vendor: u16, device: u16| spec::PciId {
            vendor: vendor.into(),
            device: device.into(),
            index: 0.into(),
            _pad: 0.into(),
        };
        let none = Cause::PciNoneOf { ids: [id(0x8086, 0x100e), id(0x8086, 0x10d3), id(0, 0), id(0, 0)], n: 2 };
        assert_eq!(
            std::format!("{none}"),
            "none of the PCI devices 8086:100e (index 0), 8086:10d3 (index 0) is in PCI configuration space \
             (attach one, e.g. QEMU -device e1000, or fix the pci= attribute)"
        );
    }
}
