//! Pure planning for DMA confinement with Intel VT-d (issue 12; see docs/iommu.md): the
//! IOSpace mint badge of a PCI function, which IO page tables a set of granted pages needs,
//! and the boot line that says whether DMA is confined. Host-tested; the system calls that
//! use these plans belong in [`crate::boot`].

use crate::pci::Bdf;

/// The PCI request id VT-d uses for a function (and the kernel prints in its fault line
/// `IOMMU: DMA ... from bus/dev/fun 0x..`): `bus << 8 | dev << 3 | func`.
pub fn request_id(bdf: Bdf) -> u16 {
    (u16::from(bdf.bus) << 8) | (u16::from(bdf.dev & 0x1f) << 3) | u16::from(bdf.func & 0x7)
}

/// Why an IOSpace badge cannot be built.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum BadgeError {
    /// Domain id 0 is refused by the kernel (and below its first valid id after RMRRs).
    ZeroDomain,
}

/// The mint badge of an IOSpace cap for one device (seL4 `io_space_capdata`, 32-bit kernel):
/// domain id in bits 31..16, request id in bits 15..0. The kernel also refuses domain ids
/// below its first valid id (one per firmware RMRR) or above its domain-id width; such a
/// mint yields a null cap, which the caller must report.
pub fn iospace_badge(domain: u16, bdf: Bdf) -> Result<u32, BadgeError> {
    if domain == 0 {
        return Err(BadgeError::ZeroDomain);
    }
    Ok((u32::from(domain) << 16) | u32::from(request_id(bdf)))
}

/// What the boot line says about DMA, from bootinfo `numIOPTLevels`: a positive count means
/// VT-d units were found and the kernel uses that many IO page-table levels; 0 means an
/// IOMMU kernel found none; the kernel without CONFIG_IOMMU writes -1 (`usize::MAX`).
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Confinement {
    Confined {
        levels: usize,
    },
    /// An IOMMU kernel on a machine without VT-d (or with it off in the firmware).
    NoIommu,
    /// A kernel built without CONFIG_IOMMU (`make run IOMMU=0`).
    NoKernelSupport,
}

impl Confinement {
    pub fn from_bootinfo(num_iopt_levels: usize) -> Confinement {
        match num_iopt_levels {
            0 => Confinement::NoIommu,
            usize::MAX => Confinement::NoKernelSupport,
            levels => Confinement::Confined { levels },
        }
    }
}

impl core::fmt::Display for Confinement {
    /// The boot line (an interface: tests and users read it).
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Confinement::Confined { levels } => write!(f, "DMA: confined by VT-d ({levels}-level IO page tables)"),
            Confinement::NoIommu => write!(f, "DMA: NOT confined (no IOMMU found)"),
            Confinement::NoKernelSupport => write!(f, "DMA: NOT confined (kernel built without IOMMU support)"),
        }
    }
}

/// Page size of IO mappings (the kernel's `X86PageMapIO` takes 4 KiB frames only).
pub const PAGE_BITS: u32 = 12;
/// Index bits per IO page-table level (`VTD_PT_INDEX_BITS`).
pub const LEVEL_BITS: u32 = 9;

/// One IO page table to map: its level (0 = context root) and the IO address it is mapped
/// at (`X86IOPageTableMap` argument; the kernel masks the low bits itself).
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct TableMap {
    pub level: usize,
    pub io_addr: u64,
}

/// The IO page tables needed so that every page of `ranges` (IO address ranges
/// `start..end`, 4 KiB aligned, non-empty, any order, possibly sharing tables) has a leaf
/// table, in the order they must be mapped (parents first, each once). Calls `out` per table;
/// returns how many. `levels` is bootinfo `numIOPTLevels`.
pub fn plan_tables(levels: usize, ranges: &[(u64, u64)], mut out: impl FnMut(TableMap)) -> usize {
    let ranges = || ranges.iter().filter(|r| r.0 < r.1);
    if levels == 0 || ranges().next().is_none() {
        return 0;
    }
    out(TableMap { level: 0, io_addr: 0 });
    let mut count = 1;
    for level in 1..levels {
        // A table at `level` covers the span of one entry of the level above it.
        let span_bits = PAGE_BITS + LEVEL_BITS * (levels - level) as u32;
        for (i, &(start, end)) in ranges().enumerate() {
            for index in start >> span_bits..=(end - 1) >> span_bits {
                let covered_before =
                    ranges().take(i).any(|&(s, e)| (s >> span_bits..=(e - 1) >> span_bits).contains(&index));
                if !covered_before {
                    out(TableMap { level, io_addr: index << span_bits });
                    count += 1;
                }
            }
        }
    }
    count
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::*;
    use std::{format, vec::Vec};

    const E1000: Bdf = Bdf { bus: 0, dev: 2, func: 0 };

    #[test]
    fn request_id_is_bus_dev_fn() {
        assert_eq!(request_id(E1000), 0x10);
        assert_eq!(request_id(Bdf { bus: 1, dev: 0x1f, func: 7 }), 0x1ff);
    }

    #[test]
    fn badge_puts_domain_high_and_request_id_low() {
        assert_eq!(iospace_badge(1, E1000), Ok(0x0001_0010));
        assert_eq!(iospace_badge(0, E1000), Err(BadgeError::ZeroDomain));
    }

    #[test]
    fn boot_line_from_bootinfo() {
        assert_eq!(format!("{}", Confinement::from_bootinfo(3)), "DMA: confined by VT-d (3-level IO page tables)");
        assert_eq!(format!("{}", Confinement::from_bootinfo(0)), "DMA: NOT confined (no IOMMU found)");
        assert_eq!(
            format!("{}", Confinement::from_bootinfo(usize::MAX)),
            "DMA: NOT confined (kernel built without IOMMU support)"
        );
    }

    #[test]
    fn tables_for_pages_in_one_leaf_share_it() {
        let mut v = Vec::new();
        let n = plan_tables(3, &[(0x1234_5000, 0x1234_7000)], |t| v.push(t));
        assert_eq!(n, 3);
        assert_eq!(v[0], TableMap { level: 0, io_addr: 0 });
        assert_eq!(v[1], TableMap { level: 1, io_addr: 0 });
        assert_eq!(v[2], TableMap { level: 2, io_addr: 0x1220_0000 });
    }

    #[test]
    fn tables_for_distant_pages_are_separate_and_parents_come_first() {
        let mut v = Vec::new();
        // 2 MiB apart -> two leaves; 1 GiB apart -> two level-1 tables.
        let n = plan_tables(
            3,
            &[(0x0000_1000, 0x0000_2000), (0x0020_1000, 0x0020_2000), (0x4000_0000, 0x4000_1000)],
            |t| v.push(t),
        );
        assert_eq!(n, 1 + 2 + 3);
        let levels: Vec<usize> = v.iter().map(|t| t.level).collect();
        assert_eq!(levels, [0, 1, 1, 2, 2, 2]);
        assert_eq!(plan_tables(3, &[], |_| ()), 0);
        assert_eq!(plan_tables(3, &[(0x1000, 0x1000)], |_| ()), 0);
        assert_eq!(plan_tables(0, &[(0x1000, 0x2000)], |_| ()), 0);
    }

    #[test]
    fn a_range_across_leaves_and_shared_tables_are_mapped_once() {
        let mut v = Vec::new();
        // 0x1f_f000..0x40_1000 spans three 2 MiB leaves; the second range reuses the first
        // range's last leaf and adds none.
        let n = plan_tables(3, &[(0x1f_f000, 0x40_1000), (0x40_0000, 0x40_2000)], |t| v.push(t));
        assert_eq!(n, 1 + 1 + 3);
        let leaves: Vec<u64> = v.iter().filter(|t| t.level == 2).map(|t| t.io_addr).collect();
        assert_eq!(leaves, [0, 0x20_0000, 0x40_0000]);
        // Every page of every range is under exactly one planned leaf.
        for page in (0x1f_f000..0x40_2000).step_by(0x1000) {
            assert_eq!(leaves.iter().filter(|&&l| l == page >> 21 << 21).count(), 1, "{page:#x}");
        }
    }
}
