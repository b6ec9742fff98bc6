//! Page-table planning for an x86_64 address space (pure, host-tested): which paging
//! structures (PDPT, page directory, page table) a mapping needs that the address space does
//! not have yet. The boot code creates exactly those before mapping the frame, so every
//! structure is made once, on demand, and none is made for nothing.

use core::fmt;

/// The three levels below the PML4, from the top.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Level {
    /// Page-directory-pointer table: covers 512 GiB (one PML4 entry).
    Pdpt,
    /// Page directory: covers 1 GiB (one PDPT entry).
    Pd,
    /// Page table: covers 2 MiB (one PD entry).
    Pt,
}

impl Level {
    /// log2 of the span one structure of this level covers.
    pub const fn span_bits(self) -> u32 {
        match self {
            Level::Pdpt => 39,
            Level::Pd => 30,
            Level::Pt => 21,
        }
    }
    const fn tag(self) -> u64 {
        match self {
            Level::Pdpt => 1,
            Level::Pd => 2,
            Level::Pt => 3,
        }
    }
}

/// Lowest address past user space on seL4 x86_64 (canonical lower half, minus the top page).
pub const USER_TOP: u64 = 0x0000_7fff_ffff_f000;

/// Most paging structures one address space may get (4 KiB each; 1024 page tables map 2 GiB).
pub const MAX_STRUCTURES: usize = 1536;

/// Why a mapping cannot be planned.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum PlanError {
    /// The address is not aligned to the page size, or outside user space.
    BadAddress { vaddr: u64, page_bits: u8 },
    /// More paging structures than [`MAX_STRUCTURES`].
    TooManyStructures,
}

impl fmt::Display for PlanError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            PlanError::BadAddress { vaddr, page_bits } => write!(
                f,
                "cannot map a {}-KiB page at {vaddr:#x}: it must be aligned to the page size and below {USER_TOP:#x}",
                (1u64 << page_bits) >> 10
            ),
            PlanError::TooManyStructures => {
                write!(f, "address space needs more than {MAX_STRUCTURES} paging structures (spread-out mappings?)")
            }
        }
    }
}

/// The paging structures an address space already has.
pub struct PagingPlan {
    keys: [u64; MAX_STRUCTURES],
    n: usize,
}

impl Default for PagingPlan {
    fn default() -> Self {
        Self::new()
    }
}

/// A structure to create: its level and the (span-aligned) address it is mapped at.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct Needed {
    pub level: Level,
    pub vaddr: u64,
}

impl PagingPlan {
    pub const fn new() -> Self {
        PagingPlan { keys: [0; MAX_STRUCTURES], n: 0 }
    }

    /// Forgets everything (for the next address space).
    pub fn clear(&mut self) {
        self.n = 0;
    }

    /// Number of structures recorded.
    pub fn len(&self) -> usize {
        self.n
    }

    pub fn is_empty(&self) -> bool {
        self.n == 0
    }

    fn has(&self, key: u64) -> bool {
        self.keys[..self.n].contains(&key)
    }

    /// The structures (top level first, at most three) that a page of 2^`page_bits` bytes at
    /// `vaddr` needs and that are not there yet; they are recorded as present.
    pub fn plan(&mut self, vaddr: u64, page_bits: u8) -> Result<([Option<Needed>; 3], usize), PlanError> {
        let bad = PlanError::BadAddress { vaddr, page_bits };
        if !(page_bits == 12 || page_bits == 21) || vaddr & ((1u64 << page_bits) - 1) != 0 {
            return Err(bad);
        }
        if vaddr.checked_add(1u64 << page_bits).is_none_or(|end| end > USER_TOP) {
            return Err(bad);
        }
        let levels: &[Level] =
            if page_bits == 12 { &[Level::Pdpt, Level::Pd, Level::Pt] } else { &[Level::Pdpt, Level::Pd] };
        let mut out = [None; 3];
        let mut k = 0;
        for &level in levels {
            let base = vaddr >> level.span_bits() << level.span_bits();
            let key = (level.tag() << 60) | (base >> 12);
            if !self.has(key) {
                if self.n == MAX_STRUCTURES {
                    return Err(PlanError::TooManyStructures);
                }
                self.keys[self.n] = key;
                self.n += 1;
                out[k] = Some(Needed { level, vaddr: base });
                k += 1;
            }
        }
        Ok((out, k))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn needed(p: &mut PagingPlan, vaddr: u64, bits: u8) -> ([Option<Needed>; 3], usize) {
        p.plan(vaddr, bits).unwrap()
    }

    #[test]
    fn first_page_needs_all_levels_then_nothing_within_the_same_table() {
        let mut p = PagingPlan::new();
        let (n, k) = needed(&mut p, 0x40_1000, 12);
        assert_eq!(k, 3);
        assert_eq!(n[0], Some(Needed { level: Level::Pdpt, vaddr: 0 }));
        assert_eq!(n[1], Some(Needed { level: Level::Pd, vaddr: 0 }));
        assert_eq!(n[2], Some(Needed { level: Level::Pt, vaddr: 0x40_0000 }));
        assert_eq!(needed(&mut p, 0x40_2000, 12).1, 0);
        assert_eq!(needed(&mut p, 0x5f_f000, 12).1, 0);
        // The next 2 MiB: one more page table only.
        let (n, k) = needed(&mut p, 0x60_0000, 12);
        assert_eq!((k, n[0]), (1, Some(Needed { level: Level::Pt, vaddr: 0x60_0000 })));
        assert_eq!(p.len(), 4);
    }

    #[test]
    fn large_pages_need_no_page_table_and_the_stack_gets_its_own_pdpt() {
        let mut p = PagingPlan::new();
        needed(&mut p, 0x40_0000, 12);
        let (n, k) = needed(&mut p, 0x3000_0000, 21);
        assert_eq!(k, 0, "{n:?}"); // same PDPT and PD (first GiB)
        let (n, k) = needed(&mut p, 0x4000_0000, 21);
        assert_eq!((k, n[0]), (1, Some(Needed { level: Level::Pd, vaddr: 0x4000_0000 })));
        // The stack top near the end of user space: a new PDPT, PD and PT.
        assert_eq!(needed(&mut p, 0x7fff_efff_f000, 12).1, 3);
        assert_eq!(needed(&mut p, 0x7fff_f000_0000, 12).1, 1); // IPC buffer: new PT, same PD
    }

    #[test]
    fn bad_addresses_are_errors() {
        let mut p = PagingPlan::new();
        assert!(p.plan(0x40_0800, 12).is_err());
        assert!(p.plan(0x40_1000, 21).is_err());
        assert!(p.plan(USER_TOP, 12).is_err());
        assert!(p.plan(!0xfff, 12).is_err());
        assert!(p.plan(0x1000, 13).is_err());
        assert!(p.is_empty());
    }

    #[test]
    fn capacity_is_an_error_not_a_panic() {
        let mut p = PagingPlan::new();
        let mut err = None;
        for i in 0..(MAX_STRUCTURES as u64 + 10) {
            if let Err(e) = p.plan(i << 21, 12) {
                err = Some(e);
                break;
            }
        }
        assert_eq!(err, Some(PlanError::TooManyStructures));
    }
}
