//! Phase 2: rules that relate elements to each other (names resolve, nothing is claimed
//! twice, address ranges do not overlap, calls go up in priority). Runs on a model that
//! phase 1 found locally valid; resolves channel ends to PD indices and fills in the
//! setvars that depend on other elements.

use std::collections::{BTreeMap, HashMap};

use roxmltree::Node;

use crate::model::*;
use crate::parse::{show, Found, Reader, Sources};
use crate::{Diagnostic, MAX_NOTIFY_ID, USER_TOP};

/// Disjoint half-open ranges added in document order; finds the range a new one overlaps
/// in O(log n), so huge files stay fast.
struct Ranges<T> {
    by_start: BTreeMap<u64, (u64, T)>,
}

impl<T: Copy> Ranges<T> {
    fn new() -> Self {
        Ranges { by_start: BTreeMap::new() }
    }

    /// Adds `[start, end)` unless it overlaps a range already present; returns that one.
    fn insert(&mut self, start: u64, end: u64, info: T) -> Option<(u64, u64, T)> {
        if let Some((&s, &(e, t))) = self.by_start.range(..end).next_back() {
            if e > start {
                return Some((s, e, t));
            }
        }
        self.by_start.insert(start, (end, info));
        None
    }
}

/// Where something was claimed first, for "already used by ... at line N" messages.
fn at(pos: Pos) -> String {
    format!("line {}", pos.line)
}

pub(crate) fn check(system: &mut System, src: &Sources, r: &mut Reader, file: &str) {
    let mut errs: Vec<Found> = Vec::new();
    let attr = |r: &Reader, node: Node, name: &str| r.attr_pos_of(node, name);

    // Unique PD and region names.
    let mut pd_names: HashMap<&str, Pos> = HashMap::new();
    for (pd, s) in system.pds.iter().zip(&src.pds) {
        if let Some(first) = pd_names.insert(&pd.name, pd.pos) {
            pd_names.insert(&pd.name, first);
            errs.push((
                attr(r, s.node, "name"),
                format!(
                    "<protection_domain> name={}: a protection domain of that name already exists ({})",
                    show(&pd.name),
                    at(first)
                ),
            ));
        }
    }
    let mut regions: HashMap<&str, (usize, Pos)> = HashMap::new();
    for (i, (mr, node)) in system.regions.iter().zip(&src.regions).enumerate() {
        if let Some(first) = regions.get(mr.name.as_str()) {
            errs.push((
                attr(r, *node, "name"),
                format!(
                    "<memory_region> name={}: a memory region of that name already exists ({})",
                    show(&mr.name),
                    at(first.1)
                ),
            ));
        } else {
            regions.insert(&mr.name, (i, mr.pos));
        }
    }

    // Physical memory: fixed ranges must not overlap; a BAR is one region's.
    let mut fixed: Ranges<(&str, Pos)> = Ranges::new();
    let mut bars: Vec<(PciBar, &str, Pos)> = Vec::new();
    for (mr, node) in system.regions.iter().zip(&src.regions) {
        match mr.backing {
            Backing::Fixed { phys_addr } => {
                let end = phys_addr + mr.size; // phase 1 checked it does not overflow
                if let Some((s, e, (other, pos))) = fixed.insert(phys_addr, end, (&mr.name, mr.pos)) {
                    errs.push((attr(r, *node, "phys_addr"), format!(
                        "<memory_region> {} phys_addr range [0x{phys_addr:x}..0x{end:x}) overlaps memory region {} [0x{s:x}..0x{e:x}) ({})",
                        show(&mr.name), show(other), at(pos)
                    )));
                }
            }
            Backing::Pci(bar) => {
                // Alternatives that share an entry may bind the same function at boot.
                // Alternatives that share an entry and its BAR may bind the same BAR at boot.
                let shared = |b: &PciBar| bar.choices().find(|c| b.choices().any(|o| o == *c));
                let claimed = bars.iter().find_map(|(b, other, pos)| shared(b).map(|c| (c, other, pos)));
                if let Some(((dev, n), other, pos)) = claimed {
                    errs.push((
                        attr(r, *node, "bar"),
                        format!(
                            "<memory_region> {}: BAR {n} of PCI device {dev} is already claimed by memory region {} ({})",
                            show(&mr.name),
                            show(other),
                            at(*pos)
                        ),
                    ));
                } else {
                    bars.push((bar, &mr.name, mr.pos));
                }
            }
            Backing::Allocated => {}
        }
    }

    // DMA grants: `dma=` names a pci= region (the device), and the granted region has 4 KiB
    // pages (VT-d maps only 4 KiB frames into an IO space).
    for (mr, node) in system.regions.iter().zip(&src.regions) {
        let Some(dev) = &mr.dma else { continue };
        let pos = attr(r, *node, "dma");
        match regions.get(dev.as_str()).map(|&(i, _)| &system.regions[i]) {
            None => errs.push((
                pos,
                format!(
                    "<memory_region> {} dma={}: no memory region of that name; expected the pci= region of the device that may DMA here{}",
                    show(&mr.name),
                    show(dev),
                    suggest(dev, system.regions.iter().filter(|m| m.pci().is_some()).map(|m| m.name.as_str()))
                ),
            )),
            Some(d) if d.pci().is_none() => errs.push((
                pos,
                format!(
                    "<memory_region> {} dma={}: that region is not a PCI device's BAR (pci=\"vvvv:dddd\"); only a PCI device can be granted DMA",
                    show(&mr.name),
                    show(dev)
                ),
            )),
            Some(_) if mr.page_size != PageSize::Small => errs.push((
                attr(r, *node, "page_size"),
                format!(
                    "<memory_region> {}: a region granted to DMA (dma=) must use 4 KiB pages (page_size=\"0x1000\", the default): the IOMMU maps only 4 KiB frames",
                    show(&mr.name)
                ),
            )),
            Some(_) => {}
        }
    }

    // Maps: the region exists, the address is aligned, inside user space, and no two maps
    // of one PD overlap. Also resolve setvar_size.
    let mut mapped = vec![false; system.regions.len()];
    for (pd, s) in system.pds.iter_mut().zip(&src.pds) {
        let mut ranges: Ranges<(&str, Pos)> = Ranges::new();
        for (map, node) in pd.maps.iter().zip(&s.maps) {
            let Some(&(ri, _)) = regions.get(map.mr.as_str()) else {
                errs.push((
                    attr(r, *node, "mr"),
                    format!(
                        "<map> mr={}: no memory region of that name; expected one of the <memory_region> names{}",
                        show(&map.mr),
                        suggest(&map.mr, system.regions.iter().map(|m| m.name.as_str()))
                    ),
                ));
                continue;
            };
            let mr = &system.regions[ri];
            mapped[ri] = true;
            let vpos = attr(r, *node, "vaddr");
            let ps = mr.page_size.bytes();
            if map.vaddr % ps != 0 {
                errs.push((
                    vpos,
                    format!(
                        "<map> vaddr=0x{:x} is not aligned to the page size 0x{ps:x} of memory region {}",
                        map.vaddr,
                        show(&mr.name)
                    ),
                ));
                continue;
            }
            if map.vaddr < 0x1000 {
                errs.push((vpos, format!(
                    "<map> vaddr=0x{:x} maps page 0, which stays unmapped to catch null pointers; expected an address from 0x1000 up",
                    map.vaddr
                )));
                continue;
            }
            let end = map.vaddr.checked_add(mr.size);
            if end.is_none_or(|e| e > USER_TOP) {
                errs.push((vpos, format!(
                    "<map> vaddr=0x{:x} with region {} of size 0x{:x} goes past the end of x86_64 user space (0x{:x}); expected the mapping to end at or below it",
                    map.vaddr, show(&mr.name), mr.size, USER_TOP - 1
                )));
                continue;
            }
            let end = end.unwrap_or(USER_TOP);
            if let Some((s0, e0, (other, pos))) = ranges.insert(map.vaddr, end, (&map.mr, map.pos)) {
                errs.push((vpos, format!(
                    "<map> of {} at [0x{:x}..0x{end:x}) overlaps the map of {} at [0x{s0:x}..0x{e0:x}) ({}) in protection domain {}",
                    show(&map.mr), map.vaddr, show(other), at(pos), show(&pd.name)
                )));
            }
            if mr.backing != Backing::Allocated && map.cached {
                system.warnings.push(Diagnostic::warning(
                    file,
                    map.pos,
                    format!(
                        "device memory region {} is mapped cached; device registers usually want cached=\"false\"",
                        show(&mr.name)
                    ),
                ));
            }
        }
        for setvar in pd.setvars.iter_mut().filter(|v| v.source == SetVarSource::MapSize) {
            if let Some(map) = pd.maps.iter().find(|m| m.setvar_size.as_deref() == Some(setvar.symbol.as_str())) {
                if let Some(&(ri, _)) = regions.get(map.mr.as_str()) {
                    setvar.value = SetVarValue::Number(system.regions[ri].size);
                }
            }
        }
    }

    // Setvars that name a region or a PD: the name must exist; pd_index and region_sharers
    // get their values now that every PD and map is known.
    let pd_names: Vec<&str> = system.pds.iter().map(|p| p.name.as_str()).collect();
    let mut resolved: Vec<(usize, usize, u64)> = Vec::new();
    for (p, s) in src.pds.iter().enumerate() {
        for &(k, node) in &s.ref_setvars {
            let (form, known): (&str, Vec<&str>) = if node.has_attribute("pd_index") {
                ("pd_index", pd_names.clone())
            } else {
                let form = ["region_paddr", "region_pci_id", "region_size"]
                    .into_iter()
                    .find(|f| node.has_attribute(*f))
                    .unwrap_or("region_sharers");
                (form, system.regions.iter().map(|m| m.name.as_str()).collect())
            };
            let name = node.attribute(form).unwrap_or("");
            let Some(target) = known.iter().position(|n| *n == name) else {
                errs.push((
                    attr(r, node, form),
                    format!(
                        "<setvar> {form}={}: no {} of that name{}",
                        show(name),
                        if form == "pd_index" { "protection domain" } else { "memory region" },
                        suggest(name, known.iter().copied())
                    ),
                ));
                continue;
            };
            if form == "region_pci_id" && system.regions[target].pci().is_none() {
                errs.push((
                    attr(r, node, form),
                    format!(
                        "<setvar> region_pci_id={}: that memory region is not a PCI device's BAR (pci=\"vvvv:dddd\"); expected one of{}",
                        show(name),
                        {
                            let pci: Vec<&str> =
                                system.regions.iter().filter(|m| m.pci().is_some()).map(|m| m.name.as_str()).collect();
                            if pci.is_empty() { " (none in this file)".to_string() } else { format!(" {}", pci.join(", ")) }
                        }
                    ),
                ));
                continue;
            }
            match form {
                "pd_index" => resolved.push((p, k, target as u64)),
                "region_size" => resolved.push((p, k, system.regions[target].size)),
                "region_sharers" => {
                    let mask = system
                        .pds
                        .iter()
                        .enumerate()
                        .filter(|(_, pd)| pd.maps.iter().any(|m| m.mr == name))
                        .fold(0u64, |acc, (i, _)| acc | 1 << i);
                    resolved.push((p, k, mask));
                }
                _ => {}
            }
        }
    }
    for (p, k, v) in resolved {
        system.pds[p].setvars[k].value = SetVarValue::Number(v);
    }

    // Channels: ends name existing, distinct PDs; calls go to strictly higher priority.
    let mut pd_index: HashMap<&str, usize> = HashMap::new();
    for (i, pd) in system.pds.iter().enumerate() {
        pd_index.entry(&pd.name).or_insert(i);
    }
    for (ch, nodes) in system.channels.iter_mut().zip(&src.channels) {
        let mut resolved = true;
        for (end, node) in ch.ends.iter_mut().zip(nodes) {
            match pd_index.get(end.pd.as_str()) {
                Some(&i) => end.pd_index = i,
                None => {
                    resolved = false;
                    errs.push((
                        attr(r, *node, "pd"),
                        format!(
                            "<end> pd={}: no protection domain of that name{}",
                            show(&end.pd),
                            suggest(&end.pd, system.pds.iter().map(|p| p.name.as_str()))
                        ),
                    ));
                }
            }
        }
        if !resolved {
            continue;
        }
        if ch.ends[0].pd_index == ch.ends[1].pd_index {
            errs.push((attr(r, nodes[1], "pd"), format!(
                "<end> pd={}: both ends of the <channel> are in the same protection domain; a channel connects two different PDs",
                show(&ch.ends[1].pd)
            )));
            continue;
        }
        for (k, node) in nodes.iter().enumerate() {
            let (caller, callee) = (&ch.ends[k], &ch.ends[1 - k]);
            if !caller.pp {
                continue;
            }
            let (p_caller, p_callee) = (system.pds[caller.pd_index].priority, system.pds[callee.pd_index].priority);
            if p_callee <= p_caller {
                errs.push((attr(r, *node, "pp"), format!(
                    "<end> pp=\"true\": {} (priority {p_caller}) may only call a PD of strictly higher priority, but {} has priority {p_callee}",
                    show(&caller.pd), show(&callee.pd)
                )));
            }
        }
    }

    // Fault notices: the PD told exists and is another PD, and is told once.
    let mut notice_targets: Vec<(usize, usize, usize)> = Vec::new();
    for (i, (pd, s)) in system.pds.iter().zip(&src.pds).enumerate() {
        let mut told: HashMap<usize, Pos> = HashMap::new();
        for (k, (f, node)) in pd.fault_notifies.iter().zip(&s.fault_notifies).enumerate() {
            let Some(&target) = pd_index.get(f.pd.as_str()) else {
                errs.push((
                    attr(r, *node, "pd"),
                    format!(
                        "<fault_notify> pd={}: no protection domain of that name{}",
                        show(&f.pd),
                        suggest(&f.pd, system.pds.iter().map(|p| p.name.as_str()))
                    ),
                ));
                continue;
            };
            if target == i {
                errs.push((attr(r, *node, "pd"), format!(
                    "<fault_notify> pd={}: a protection domain cannot be told of its own fault (it is not running then); name another PD",
                    show(&f.pd)
                )));
                continue;
            }
            if let Some(first) = told.get(&target) {
                errs.push((
                    attr(r, *node, "pd"),
                    format!(
                    "<fault_notify> pd={}: protection domain {} already tells it of its faults ({}); one notice per PD",
                    show(&f.pd), show(&pd.name), at(*first)
                ),
                ));
                continue;
            }
            told.insert(target, f.pos);
            notice_targets.push((i, k, target));
        }
    }
    drop(pd_index);
    for (i, k, target) in notice_targets {
        system.pds[i].fault_notifies[k].pd_index = target;
    }

    // Ids: per PD, irqs, channel ends and the fault notices it receives share 0..62; I/O port
    // ranges have their own.
    let mut ids: Vec<HashMap<u8, (&str, Pos)>> = vec![HashMap::new(); system.pds.len()];
    let mut id_claims: Vec<(Pos, usize, u8, &'static str, Pos)> = Vec::new();
    for (i, (pd, s)) in system.pds.iter().zip(&src.pds).enumerate() {
        for (irq, node) in pd.irqs.iter().zip(&s.irqs) {
            id_claims.push((attr(r, *node, "id"), i, irq.id, "irq", irq.pos));
        }
    }
    for (ch, nodes) in system.channels.iter().zip(&src.channels) {
        for (end, node) in ch.ends.iter().zip(nodes) {
            if end.pd_index < system.pds.len() {
                id_claims.push((attr(r, *node, "id"), end.pd_index, end.id, "channel end", end.pos));
            }
        }
    }
    for (pd, s) in system.pds.iter().zip(&src.pds) {
        for (f, node) in pd.fault_notifies.iter().zip(&s.fault_notifies) {
            if f.pd_index < system.pds.len() {
                id_claims.push((attr(r, *node, "id"), f.pd_index, f.id, "fault notice", f.pos));
            }
        }
    }
    id_claims.sort_by_key(|c| c.0);
    for (pos, pd_index, id, what, elem_pos) in id_claims {
        let (element, article) = match what {
            "irq" => ("irq", "an irq"),
            "fault notice" => ("fault_notify", "a fault notice"),
            _ => ("end", "a channel end"),
        };
        if let Some((other, first)) = ids[pd_index].get(&id) {
            let why = if what == "fault notice" || *other == "a fault notice" {
                "a fault notice arrives on an id of the PD it is sent to, which its irqs and channels also use"
            } else {
                "irqs and channels share one id space per PD"
            };
            errs.push((
                pos,
                format!(
                    "<{element}> id={id} is already used in protection domain {} by {other} ({}); {why}",
                    show(&system.pds[pd_index].name),
                    at(*first)
                ),
            ));
        } else {
            ids[pd_index].insert(id, (article, elem_pos));
        }
    }

    // Badge width: a notification or IRQ reaches a PD as badge bit `1 << id` of the
    // receiving end's id, and seL4 5.0 badges are 28 bits, the top one marking PPCs.
    for (pd, s) in system.pds.iter().zip(&src.pds) {
        for (irq, node) in pd.irqs.iter().zip(&s.irqs) {
            if u64::from(irq.id) > MAX_NOTIFY_ID {
                errs.push((attr(r, *node, "id"), format!(
                    "<irq> id={}: an irq is delivered as notification badge bit 1 << id, and seL4 5.0 badges are 28 bits (the top one marks PPCs): expected an irq id in 0..{MAX_NOTIFY_ID}",
                    irq.id
                )));
            }
        }
    }
    for (ch, nodes) in system.channels.iter().zip(&src.channels) {
        for k in 0..2 {
            let (sender, receiver) = (&ch.ends[k], &ch.ends[1 - k]);
            if sender.notify && u64::from(receiver.id) > MAX_NOTIFY_ID {
                errs.push((attr(r, nodes[1 - k], "id"), format!(
                    "<end> id={}: {} notifies {} on this channel, delivered as badge bit 1 << id, and seL4 5.0 badges are 28 bits (the top one marks PPCs): expected an id in 0..{MAX_NOTIFY_ID} for an end that receives notifications (or notify=\"false\" on the other end)",
                    receiver.id, show(&sender.pd), show(&receiver.pd)
                )));
            }
        }
    }

    for (pd, s) in system.pds.iter().zip(&src.pds) {
        for (f, node) in pd.fault_notifies.iter().zip(&s.fault_notifies) {
            if u64::from(f.id) > MAX_NOTIFY_ID {
                errs.push((attr(r, *node, "id"), format!(
                    "<fault_notify> id={}: the monitor signals {} as notification badge bit 1 << id, and seL4 5.0 badges are 28 bits (the top one marks PPCs): expected an id in 0..{MAX_NOTIFY_ID}",
                    f.id, show(&f.pd)
                )));
            }
        }
    }

    // A PD's pci= irq and a pci= region it maps that share a device must list the same
    // alternatives in the same order: each binds the first present, and differing lists could
    // bind the irq of one NIC and the registers of another.
    for (pd, s) in system.pds.iter().zip(&src.pds) {
        for (irq, node) in pd.irqs.iter().zip(&s.irqs) {
            let IrqKind::Pci { device, .. } = irq.kind else { continue };
            let mapped = pd.maps.iter().filter_map(|m| system.regions.iter().find(|r| r.name == m.mr));
            for mr in mapped {
                let Some(bar) = mr.pci() else { continue };
                if bar.device.overlaps(&device) && bar.device.ids() != device.ids() {
                    errs.push((attr(r, *node, "pci"), format!(
                        "<irq> pci=\"{device}\": memory region {} of this PD lists pci=\"{}\"; list the same alternatives in the same order, so both bind the same device",
                        show(&mr.name),
                        bar.device
                    )));
                }
            }
        }
    }

    // IRQ sources and I/O ports: each claimed once in the whole system.
    let mut pins: HashMap<(u8, u8), Pos> = HashMap::new();
    let mut vectors: HashMap<u8, Pos> = HashMap::new();
    let mut pci_irqs: Vec<(PciMatch, Pos)> = Vec::new();
    let mut ports: Ranges<Pos> = Ranges::new();
    for (pd, s) in system.pds.iter().zip(&src.pds) {
        for (irq, node) in pd.irqs.iter().zip(&s.irqs) {
            match irq.kind {
                IrqKind::Ioapic { ioapic, pin, vector, .. } => {
                    if let Some(first) = pins.get(&(ioapic, pin)) {
                        errs.push((attr(r, *node, "pin"), format!(
                            "<irq> pin={pin}: IOAPIC {ioapic} pin {pin} is already claimed by the irq at {}; an interrupt goes to one PD only",
                            at(*first)
                        )));
                    } else {
                        pins.insert((ioapic, pin), irq.pos);
                    }
                    if let Some(first) = vectors.get(&vector) {
                        errs.push((attr(r, *node, "vector"), format!(
                            "<irq> vector={vector} is already used by the irq at {}; expected a vector (0..107) no other irq uses",
                            at(*first)
                        )));
                    } else {
                        vectors.insert(vector, irq.pos);
                    }
                }
                IrqKind::Pci { device, .. } => {
                    if let Some((other, first)) = pci_irqs.iter().find(|(m, _)| m.overlaps(&device)) {
                        let shared = device.ids().iter().find(|d| other.ids().contains(d)).copied();
                        errs.push((attr(r, *node, "pci"), format!(
                            "<irq> pci=\"{}\": that device's interrupt is already claimed by the irq at {}; an interrupt goes to one PD only",
                            shared.unwrap_or(device.first()),
                            at(*first)
                        )));
                    } else {
                        pci_irqs.push((device, irq.pos));
                    }
                }
            }
        }
        let mut port_ids: HashMap<u8, Pos> = HashMap::new();
        for (port, node) in pd.ioports.iter().zip(&s.ioports) {
            if let Some(first) = port_ids.get(&port.id) {
                errs.push((
                    attr(r, *node, "id"),
                    format!(
                        "<ioport> id={} is already used by another <ioport> of protection domain {} ({})",
                        port.id,
                        show(&pd.name),
                        at(*first)
                    ),
                ));
            } else {
                port_ids.insert(port.id, port.pos);
            }
            let (start, end) = (u64::from(port.addr), u64::from(port.addr) + u64::from(port.size));
            if let Some((s0, e0, first)) = ports.insert(start, end, port.pos) {
                errs.push((attr(r, *node, "addr"), format!(
                    "<ioport> ports 0x{start:x}..0x{:x} overlap ports 0x{s0:x}..0x{:x} granted at {}; an I/O port belongs to one range only",
                    end - 1, e0 - 1, at(first)
                )));
            }
        }
    }

    // Setvar symbols: one namespace per PD (channel-end setvar_ids join it here).
    for (ch, nodes) in system.channels.iter().zip(&src.channels) {
        for (end, node) in ch.ends.iter().zip(nodes) {
            if let (Some(sym), Some(pd)) = (&end.setvar_id, system.pds.get_mut(end.pd_index)) {
                pd.setvars.push(SetVar {
                    symbol: sym.clone(),
                    value: SetVarValue::Number(u64::from(end.id)),
                    source: SetVarSource::ChannelId,
                    pos: r.attr_pos_of(*node, "setvar_id"),
                });
            }
        }
    }
    for pd in &mut system.pds {
        pd.setvars.sort_by_key(|v| v.pos);
        let mut seen: HashMap<&str, Pos> = HashMap::new();
        for v in &pd.setvars {
            if let Some(first) = seen.get(v.symbol.as_str()) {
                errs.push((
                    v.pos,
                    format!(
                        "symbol {} is already set in protection domain {} ({}); each symbol can be set once",
                        show(&v.symbol),
                        show(&pd.name),
                        at(*first)
                    ),
                ));
            } else {
                seen.insert(&v.symbol, v.pos);
            }
        }
    }

    // NIC drivers: session counts, clients and MACs.
    crate::sessions::check(system, src, r, &mut errs);

    // A region nobody maps is legal (it may be reserved for later) but worth a warning.
    for (mr, used) in system.regions.iter().zip(mapped) {
        if !used {
            system.warnings.push(Diagnostic::warning(
                file,
                mr.pos,
                format!("memory region {} is not mapped by any protection domain", show(&mr.name)),
            ));
        }
    }
    system.warnings.sort_by_key(|w| w.pos);
    r.errors.extend(errs);
}

/// ` (did you mean "x"?)` when a known name is close to `wanted`.
fn suggest<'a>(wanted: &str, known: impl Iterator<Item = &'a str>) -> String {
    // Bounded work: only small systems get suggestions.
    let best = known
        .take(256)
        .map(|k| (edit_distance(wanted, k), k))
        .filter(|(d, k)| *d <= 2.max(k.len() / 4))
        .min_by_key(|(d, _)| *d);
    match best {
        Some((_, k)) => format!(" (did you mean {}?)", show(k)),
        None => String::new(),
    }
}

fn edit_distance(a: &str, b: &str) -> usize {
    let (a, b): (Vec<char>, Vec<char>) = (a.chars().take(64).collect(), b.chars().take(64).collect());
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.iter().enumerate() {
        let mut cur = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            cur[j + 1] = (prev[j] + usize::from(ca != cb)).min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        prev = cur;
    }
    prev[b.len()]
}
