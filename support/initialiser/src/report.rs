//! The boot report: one summary line (kernel, untypeds, RAM, TSC) and one line per untyped.

use core::fmt::{self, Write};
use sel4::BootInfo;

/// `initialiser: seL4 5.0.0 booted: N untypeds (M MiB RAM), TSC X MHz` and the CSpace facts.
pub fn summary<W: Write>(bi: &BootInfo<'_>, out: &mut W) -> fmt::Result {
    let (mut n, mut ram) = (0u64, 0u64);
    for u in bi.untypeds() {
        n += 1;
        if !u.is_device {
            ram = ram.saturating_add(u.size());
        }
    }
    writeln!(out, "initialiser: seL4 5.0.0 booted: {n} untypeds ({} MiB RAM), TSC {} MHz", ram >> 20, bi.tsc_mhz())?;
    let e = bi.empty();
    writeln!(
        out,
        "initialiser: root CNode 2^{} slots, free slots {}..{}, image frames {}, IPC buffer {:#x}, IOMMU: {}",
        bi.init_thread_cnode_size_bits(),
        e.start,
        e.end,
        bi.user_image_frames().len(),
        bi.ipc_buffer(),
        Levels(bi.iommu_levels())
    )
}

struct Levels(Option<u64>);

impl fmt::Display for Levels {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Some(n) => write!(f, "{n}-level IO page tables"),
            None => write!(f, "none"),
        }
    }
}

/// One line per untyped: slot, physical range, size, RAM or device.
pub fn untypeds<W: Write>(bi: &BootInfo<'_>, out: &mut W) -> fmt::Result {
    for u in bi.untypeds() {
        let end = u.paddr.saturating_add(u.size());
        write!(out, "initialiser:   untyped {:>4} {:#012x}..{:#012x} 2^{:<2} ", u.cap.0, u.paddr, end, u.size_bits)?;
        let s = u.size();
        if s >= 1 << 20 {
            write!(out, "{:>5} MiB", s >> 20)?;
        } else if s >= 1 << 10 {
            write!(out, "{:>5} KiB", s >> 10)?;
        } else {
            write!(out, "{s:>5} B  ")?;
        }
        writeln!(out, " {}", if u.is_device { "device" } else { "RAM" })?;
    }
    Ok(())
}

#[cfg(test)]
pub(crate) mod tests {
    extern crate std;
    use super::*;
    use sel4::bootinfo::offset;
    use std::string::String;
    use std::vec;
    use std::vec::Vec;

    fn put(b: &mut [u8], at: usize, v: u64) {
        b[at..at + 8].copy_from_slice(&v.to_le_bytes());
    }

    /// 1 MiB + 128 MiB of RAM and a 128 KiB device untyped, TSC 2993 MHz.
    pub(crate) fn sample_bootinfo() -> Vec<u8> {
        let mut b = vec![0u8; 4096];
        put(&mut b, offset::NUM_NODES, 1);
        put(&mut b, offset::ARCH_INFO, 2993);
        put(&mut b, offset::EMPTY, 300);
        put(&mut b, offset::EMPTY + 8, 65536);
        b[offset::INIT_THREAD_CNODE_SIZE_BITS] = 16;
        put(&mut b, offset::UNTYPED, 20);
        put(&mut b, offset::UNTYPED + 8, 23);
        for (i, (paddr, bits, dev)) in
            [(0x10_0000u64, 20u8, 0u8), (0x800_0000, 27, 0), (0xfebc_0000, 17, 1)].into_iter().enumerate()
        {
            let at = offset::UNTYPED_LIST + i * offset::UNTYPED_DESC_SIZE;
            put(&mut b, at, paddr);
            b[at + 10] = bits;
            b[at + 11] = dev;
        }
        b
    }

    #[test]
    fn lists_untypeds() {
        let b = sample_bootinfo();
        let bi = BootInfo::parse(&b).unwrap();
        let mut out = String::new();
        untypeds(&bi, &mut out).unwrap();
        let lines: Vec<_> = out.lines().collect();
        assert_eq!(lines.len(), 3);
        assert!(lines[1].contains("0x0008000000..0x0010000000") && lines[1].contains("128 MiB RAM"), "{out}");
        assert!(lines[2].contains("128 KiB device"), "{out}");
    }
}
