//! `<memory_region>`: its name, size and page size, and its backing: allocated RAM,
//! fixed physical memory (`phys_addr`) or a PCI device's BAR (`pci` + `bar`); and its DMA
//! attributes (our extension): `dma` on a RAM region names the PCI device region whose device
//! may DMA into it, `iommu` on a PCI region says whether the device may run unconfined.

use roxmltree::Node;

use crate::model::*;
use crate::value;
use crate::PHYS_ADDR_LIMIT;

use super::{no_children, show, Reader};

pub(super) fn read_region(node: Node, r: &mut Reader) -> Option<MemoryRegion> {
    let attrs_ok = r.check_attrs(node, &["name", "size", "page_size", "phys_addr", "pci", "bar", "dma", "iommu"], &[]);
    r.check_no_text(node);
    no_children(node, r);
    let name = r.name(node, "the region's name, used by maps");
    let size = r.required(node, "size", "the region's size in bytes").and_then(|a| r.number(node, &a, 1, u64::MAX));
    let page_size = match r.attr(node, "page_size") {
        None => Some(PageSize::Small),
        Some(a) => {
            match value::parse_u64(a.value()) {
                Ok(0x1000) => Some(PageSize::Small),
                Ok(0x20_0000) => Some(PageSize::Large),
                Ok(_) => {
                    let pos = r.attr_pos(&a);
                    r.err(pos, format!("<memory_region> page_size={} is not supported: expected 0x1000 (4 KiB) or 0x200000 (2 MiB)", show(a.value())));
                    None
                }
                Err(e) => {
                    let pos = r.attr_pos(&a);
                    r.err(
                        pos,
                        format!(
                            "<memory_region> page_size={}: {}; expected 0x1000 or 0x200000",
                            show(a.value()),
                            e.describe()
                        ),
                    );
                    None
                }
            }
        }
    };
    if let (Some(size), Some(ps)) = (size, page_size) {
        if size % ps.bytes() != 0 {
            let pos = r.attr_pos_of(node, "size");
            r.err(
                pos,
                format!("<memory_region> size=0x{size:x} is not a multiple of its page size 0x{:x}", ps.bytes()),
            );
        }
    }
    let phys = r.attr(node, "phys_addr");
    let pci = r.attr(node, "pci");
    let bar = r.attr(node, "bar");
    let backing = match (phys, pci, bar) {
        (Some(p), Some(c), _) => {
            let later = if p.range().start > c.range().start { p } else { c };
            let pos = r.attr_pos(&later);
            r.err(pos, "<memory_region> has both phys_addr= and pci=: a region is either fixed physical memory or a PCI BAR, not both");
            None
        }
        (Some(_), None, Some(b)) => {
            let pos = r.attr_pos(&b);
            r.err(pos, "<memory_region> bar= only goes with pci=\"vvvv:dddd\", not with phys_addr=");
            None
        }
        (Some(p), None, None) => {
            let addr = r.number(node, &p, 0, u64::MAX);
            match (addr, size, page_size) {
                (Some(addr), Some(size), Some(ps)) => {
                    let pos = r.attr_pos(&p);
                    if addr % ps.bytes() != 0 {
                        r.err(
                            pos,
                            format!(
                                "<memory_region> phys_addr=0x{addr:x} is not aligned to the region's page size 0x{:x}",
                                ps.bytes()
                            ),
                        );
                        None
                    } else if addr.checked_add(size).is_none_or(|end| end > PHYS_ADDR_LIMIT) {
                        r.err(pos, format!("<memory_region> phys_addr=0x{addr:x} with size 0x{size:x} ends beyond the 52-bit physical address space"));
                        None
                    } else {
                        Some(Backing::Fixed { phys_addr: addr })
                    }
                }
                _ => None,
            }
        }
        (None, Some(c), b) => {
            let device = match value::parse_pci_match(c.value()) {
                Ok(d) => Some(d),
                Err(why) => {
                    let pos = r.attr_pos(&c);
                    r.err(pos, format!("<memory_region> pci={}: {why}", show(c.value())));
                    None
                }
            };
            let bar = match b {
                Some(b) if b.value().contains('|') => {
                    // One BAR per alternative, in the same order.
                    let parts: Vec<&str> = b.value().split('|').collect();
                    let nums: Vec<Option<u8>> =
                        parts.iter().map(|p| p.trim().parse::<u8>().ok().filter(|n| *n <= 5)).collect();
                    let pos = r.attr_pos(&b);
                    match device {
                        _ if nums.iter().any(Option::is_none) => {
                            r.err(pos, format!("<memory_region> bar={}: expected BAR numbers 0..5 separated by '|', one per pci= alternative", show(b.value())));
                            None
                        }
                        Some(d) if d.ids().len() != nums.len() => {
                            r.err(pos, format!("<memory_region> bar={}: {} BARs for {} pci= alternatives; give one BAR for all or one per alternative", show(b.value()), nums.len(), d.ids().len()));
                            None
                        }
                        _ => {
                            let mut bars = [0u8; MAX_PCI_ALTERNATIVES];
                            for (slot, n) in bars.iter_mut().zip(&nums) {
                                *slot = n.unwrap_or(0);
                            }
                            Some(bars)
                        }
                    }
                }
                Some(b) => r.number(node, &b, 0, 5).map(|n| [n as u8; MAX_PCI_ALTERNATIVES]),
                None => {
                    let pos = r.node_pos(node);
                    r.err(
                        pos,
                        "<memory_region> with pci= is missing the required attribute 'bar' (the BAR number, 0..5)",
                    );
                    None
                }
            };
            match (device, bar) {
                (Some(device), Some(bars)) => Some(Backing::Pci(PciBar { device, bars })),
                _ => None,
            }
        }
        (None, None, Some(b)) => {
            let pos = r.attr_pos(&b);
            r.err(pos, "<memory_region> bar= needs pci=\"vvvv:dddd\" to say whose BAR it is");
            None
        }
        (None, None, None) => Some(Backing::Allocated),
    };
    let dma = r.attr(node, "dma").and_then(|a| {
        let pos = r.attr_pos(&a);
        match backing {
            Some(Backing::Allocated) if a.value().is_empty() => {
                r.err(pos, "<memory_region> dma=\"\": expected the name of a pci= memory region (the device that may DMA here)");
                None
            }
            Some(Backing::Allocated) => Some(a.value().to_string()),
            Some(_) => {
                r.err(pos, "<memory_region> dma= goes on RAM regions only (no phys_addr= or pci=): it names the PCI device that may DMA into the region");
                None
            }
            None => None,
        }
    });
    let iommu_required = match r.attr(node, "iommu") {
        None => false,
        Some(a) => {
            let pos = r.attr_pos(&a);
            match (a.value(), &backing) {
                (_, Some(b)) if !matches!(b, Backing::Pci(_)) => {
                    r.err(pos, "<memory_region> iommu= goes on pci= regions only: it says whether that device may run without DMA confinement");
                    false
                }
                ("required", _) => true,
                ("optional", _) => false,
                (v, _) => {
                    r.err(pos, format!("<memory_region> iommu={}: expected \"required\" or \"optional\"", show(v)));
                    false
                }
            }
        }
    };
    if !attrs_ok {
        return None;
    }
    let (size, page_size) = (size?, page_size?);
    if size % page_size.bytes() != 0 {
        return None;
    }
    Some(MemoryRegion { name: name?, size, page_size, backing: backing?, dma, iommu_required, pos: r.node_pos(node) })
}
