//! The image tool: turns a validated system file and the PD ELFs into one bootable root-task
//! ELF — the initialiser's own segments plus one more segment holding the packed system
//! spec (`support/spec`), whose address and length are patched into the initialiser.
//!
//! Per PD it reads the program image, patches every setvar and the PD info block
//! ([`spec::PdInfo`]), places the stack (with an unmapped guard page below it) and the IPC
//! buffer, and refuses images that collide with the PD's maps. Errors point at the system
//! file's line and column where one is to blame.

pub mod elf;
pub mod specwriter;

use std::fmt;
use std::path::{Path, PathBuf};

use sdf::{Backing, Diagnostic, FaultPolicy, IrqKind, Polarity, Pos, SetVarValue, System, Trigger};
use spec::PdInfo;
use specwriter::SpecWriter;
use zerocopy::little_endian::{U16, U32, U64};
use zerocopy::{FromZeros, IntoBytes};

pub use elf::{ElfImage, Segment, PAGE};

/// Top of every PD's stack; the stack grows down from here and the page below its lowest
/// page is never mapped (the guard).
pub const STACK_TOP: u64 = 0x7FFF_F000_0000;
/// Every PD's IPC buffer page (one unmapped page above the stack top).
pub const IPC_BUFFER: u64 = STACK_TOP + PAGE;
/// Highest kernel IRQ vector a PCI interrupt may be given.
const MAX_VECTOR: u8 = 107;

/// What went wrong, in the `file:line:col: error:` form where the system file is to blame.
#[derive(Debug)]
pub enum Error {
    /// The system file is unreadable or invalid.
    System(sdf::LoadError),
    /// A problem with something the system file names, at its position.
    At(Diagnostic),
    /// A file could not be read or written.
    Io { path: PathBuf, error: std::io::Error },
    /// The initialiser ELF is unusable.
    Initialiser { path: PathBuf, message: String },
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::System(e) => e.fmt(f),
            Error::At(d) => d.fmt(f),
            Error::Io { path, error } => write!(f, "{}: error: {error}", path.display()),
            Error::Initialiser { path, message } => write!(f, "{}: error: initialiser {message}", path.display()),
        }
    }
}

impl std::error::Error for Error {}

/// Inputs of one image build.
pub struct Inputs<'a> {
    /// The system file's name, for diagnostics.
    pub system_file: &'a str,
    pub system: &'a System,
    /// Directories searched, in order, for each `program_image path`.
    pub search: &'a [PathBuf],
    /// The initialiser ELF's bytes and path.
    pub initialiser: &'a [u8],
    pub initialiser_path: &'a Path,
    /// For the benchmark kernel (sets `spec::SYS_BENCH_KERNEL`).
    pub bench_kernel: bool,
}

/// The result: the bootable ELF and a few facts for the report.
pub struct Image {
    pub elf: Vec<u8>,
    pub spec_len: usize,
    /// One line per PD: name, priority, image bytes, maps, channels.
    pub report: Vec<String>,
}

fn at(file: &str, pos: Pos, msg: impl Into<String>) -> Error {
    Error::At(Diagnostic::error(file, pos, msg))
}

/// Finds `path` in the search directories (an absolute path is taken as is).
pub fn find_program(path: &str, search: &[PathBuf]) -> Option<PathBuf> {
    let p = Path::new(path);
    if p.is_absolute() {
        return p.is_file().then(|| p.to_path_buf());
    }
    search.iter().map(|dir| dir.join(p)).find(|c| c.is_file())
}

/// Builds the image.
pub fn build(inp: &Inputs) -> Result<Image, Error> {
    let sys = inp.system;
    let file = inp.system_file;
    let mut w = SpecWriter::new();
    let mut report = Vec::new();
    if !sys.fault_injection {
        w.flags |= spec::SYS_NO_FAULT_INJECTION;
    }
    if inp.bench_kernel {
        w.flags |= spec::SYS_BENCH_KERNEL;
    }

    for mr in &sys.regions {
        let mut r = spec::RegionRec::new_zeroed();
        r.name = w.string(&mr.name);
        r.size = U64::new(mr.size);
        r.page_bits = if mr.page_size.bytes() == 0x1000 { 12 } else { 21 };
        if let Some(dev) = &mr.dma {
            // sdf's check resolved the name to a pci= region.
            let i = sys
                .regions
                .iter()
                .position(|d| &d.name == dev && d.pci().is_some())
                .ok_or_else(|| at(file, mr.pos, format!("dma=\"{dev}\" names no pci= memory region")))?;
            r.dma_to = U32::new(i as u32 + 1);
        }
        if mr.iommu_required {
            r.flags |= spec::REGION_IOMMU_REQUIRED;
        }
        match mr.backing {
            Backing::Allocated => r.kind = spec::REGION_RAM,
            Backing::Fixed { phys_addr } => {
                r.kind = spec::REGION_PHYS;
                r.phys_addr = U64::new(phys_addr);
            }
            Backing::Pci(bar) => {
                r.kind = spec::REGION_PCI;
                r.bar = bar.bar();
                (r.pci, r.pci_alt) = pci_ids(&bar.device, file, mr.pos)?;
                for (slot, b) in r.pci_alt_bar.iter_mut().zip(&bar.bars[1..]) {
                    *slot = *b;
                }
            }
        }
        w.regions.push(r);
    }

    for ch in &sys.channels {
        let mut c = spec::ChannelRec::new_zeroed();
        for (rec, end) in c.ends.iter_mut().zip(&ch.ends) {
            rec.pd = U32::new(end.pd_index as u32);
            rec.id = end.id;
            rec.notify = end.notify as u8;
            rec.pp = end.pp as u8;
        }
        w.channels.push(c);
    }

    let mut vectors = VectorPool::new(sys);

    for (index, pd) in sys.pds.iter().enumerate() {
        let path = find_program(&pd.program_image.path, inp.search).ok_or_else(|| {
            let dirs: Vec<String> = inp.search.iter().map(|d| d.display().to_string()).collect();
            at(
                file,
                pd.program_image.pos,
                format!(
                    "program_image `{}` of protection_domain `{}` not found (searched: {})",
                    pd.program_image.path,
                    pd.name,
                    dirs.join(", ")
                ),
            )
        })?;
        let bytes = std::fs::read(&path).map_err(|error| Error::Io { path: path.clone(), error })?;
        let shown = path.display().to_string();
        let mut img = ElfImage::parse(&bytes).map_err(|m| {
            at(file, pd.program_image.pos, format!("program_image `{shown}` of protection_domain `{}` {m}", pd.name))
        })?;

        // Value setvars now; region physical addresses at boot.
        let mut patches = Vec::new();
        for sv in &pd.setvars {
            let err = |m: String| {
                at(file, sv.pos, format!("setvar `{}` in protection_domain `{}`: `{shown}` {m}", sv.symbol, pd.name))
            };
            match &sv.value {
                SetVarValue::Number(v) => {
                    img.set_symbol(&sv.symbol, &v.to_le_bytes()).map_err(err)?;
                }
                SetVarValue::RegionPaddr(mr) | SetVarValue::RegionPciId(mr) => {
                    let region = sys.regions.iter().position(|r| &r.name == mr).ok_or_else(|| {
                        at(file, sv.pos, format!("setvar `{}`: unknown memory_region `{mr}`", sv.symbol))
                    })?;
                    let sym = img.symbol(&sv.symbol).ok_or_else(|| err(format!("has no symbol `{}`", sv.symbol)))?;
                    if sym.size != 8 {
                        return Err(err(format!("symbol `{}` is {} bytes, expected 8", sv.symbol, sym.size)));
                    }
                    // Make sure the bytes exist in the file image, so the initialiser can
                    // write into a loaded page.
                    img.write_at(sym.addr, &[0; 8]).map_err(err)?;
                    let kind = match sv.value {
                        SetVarValue::RegionPciId(_) => spec::PATCH_PCI_ID,
                        _ => spec::PATCH_PADDR,
                    };
                    patches.push(spec::PatchRec {
                        pd: U32::new(index as u32),
                        region: U32::new(region as u32),
                        vaddr: U64::new(sym.addr),
                        kind: U32::new(kind),
                        _pad: U32::new(0),
                    });
                }
            }
        }

        // The PD info block.
        let mut info = PdInfo::new_zeroed();
        info.magic = spec::PD_INFO_MAGIC;
        let name = pd.name.as_bytes();
        let n = name.len().min(spec::PD_NAME_MAX);
        info.name[..n].copy_from_slice(&name[..n]);
        info.ipc_buffer = U64::new(IPC_BUFFER);
        let (mut notify, mut pp, mut has_endpoint) = (0u64, 0u64, false);
        let mut channels = 0;
        for ch in &sys.channels {
            for (me, other) in [(&ch.ends[0], &ch.ends[1]), (&ch.ends[1], &ch.ends[0])] {
                if me.pd_index == index {
                    channels += 1;
                    if me.notify {
                        notify |= 1 << me.id;
                    }
                    if me.pp {
                        pp |= 1 << me.id;
                    }
                    if other.pp {
                        has_endpoint = true;
                    }
                }
            }
        }
        info.notify = U64::new(notify);
        info.pp = U64::new(pp);
        info.has_endpoint = U64::new(has_endpoint as u64);
        let mut irq_mask = 0u64;
        for irq in &pd.irqs {
            irq_mask |= 1 << irq.id;
        }
        info.irqs = U64::new(irq_mask);
        let mut io_mask = 0u64;
        for io in &pd.ioports {
            io_mask |= 1 << io.id;
            info.ioport_addr[io.id as usize] = U16::new(io.addr);
            info.ioport_size[io.id as usize] = U32::new(io.size);
        }
        info.ioport_mask = U64::new(io_mask);
        let info_sym = img.set_symbol(spec::PD_INFO_SYMBOL, info.as_bytes()).map_err(|m| {
            at(
                file,
                pd.program_image.pos,
                format!(
                    "program_image `{shown}` of protection_domain `{}`: {m} (PDs must link the PD runtime, \
                     support/pd, built against the same support/spec)",
                    pd.name
                ),
            )
        })?;
        // The TSC frequency is known only at boot: the initialiser writes it into the block.
        patches.push(spec::PatchRec {
            pd: U32::new(index as u32),
            region: U32::new(spec::PATCH_TSC_HZ),
            vaddr: U64::new(info_sym.addr + core::mem::offset_of!(PdInfo, tsc_hz) as u64),
            kind: U32::new(spec::PATCH_PADDR),
            _pad: U32::new(0),
        });

        // Stack, guard and IPC buffer must not collide with the image or the maps.
        let stack_bottom = STACK_TOP - pd.stack_size;
        let reserved = [
            (stack_bottom - PAGE, STACK_TOP, "stack and its guard page"),
            (IPC_BUFFER, IPC_BUFFER + PAGE, "IPC buffer"),
        ];
        for seg in &img.segments {
            let (lo, hi) = seg.pages();
            for &(rlo, rhi, what) in &reserved {
                if lo < rhi && rlo < hi {
                    return Err(at(
                        file,
                        pd.program_image.pos,
                        format!("program_image `{shown}` of protection_domain `{}` overlaps the {what} at {rlo:#x}..{rhi:#x}", pd.name),
                    ));
                }
            }
            for map in &pd.maps {
                let size = sys.region(&map.mr).map_or(0, |r| r.size);
                if lo < map.vaddr + size && map.vaddr < hi {
                    return Err(at(
                        file,
                        map.pos,
                        format!(
                            "map of `{}` at {:#x}..{:#x} overlaps the program image `{shown}` (segment {lo:#x}..{hi:#x}) of protection_domain `{}`",
                            map.mr,
                            map.vaddr,
                            map.vaddr + size,
                            pd.name
                        ),
                    ));
                }
            }
        }
        for map in &pd.maps {
            let size = sys.region(&map.mr).map_or(0, |r| r.size);
            for &(rlo, rhi, what) in &reserved {
                if map.vaddr < rhi && rlo < map.vaddr + size {
                    return Err(at(
                        file,
                        map.pos,
                        format!(
                            "map of `{}` overlaps the {what} of protection_domain `{}` at {rlo:#x}..{rhi:#x}",
                            map.mr, pd.name
                        ),
                    ));
                }
            }
        }

        // Records.
        let first_map = w.maps.len();
        for map in &pd.maps {
            let mut m = spec::MapRec::new_zeroed();
            m.region = U32::new(sys.regions.iter().position(|r| r.name == map.mr).unwrap_or(0) as u32);
            m.perms =
                [(map.perms.read, spec::PERM_R), (map.perms.write, spec::PERM_W), (map.perms.execute, spec::PERM_X)]
                    .iter()
                    .filter(|(on, _)| *on)
                    .fold(0, |acc, (_, bit)| acc | bit);
            m.cached = map.cached as u8;
            m.vaddr = U64::new(map.vaddr);
            w.maps.push(m);
        }
        let first_seg = w.segments.len();
        let mut image_bytes = 0;
        for seg in &img.segments {
            let off = w.data(&seg.data);
            image_bytes += seg.mem_size;
            let mut s = spec::SegmentRec::new_zeroed();
            s.vaddr = U64::new(seg.vaddr);
            s.mem_size = U64::new(seg.mem_size);
            s.data_offset = U64::new(off);
            s.file_size = U64::new(seg.data.len() as u64);
            s.perms = seg.perms;
            w.segments.push(s);
        }
        let first_irq = w.irqs.len();
        for irq in &pd.irqs {
            let mut r = spec::IrqRec::new_zeroed();
            r.id = irq.id;
            match irq.kind {
                IrqKind::Ioapic { ioapic, pin, vector, trigger, polarity } => {
                    r.kind = spec::IRQ_IOAPIC;
                    r.ioapic = ioapic;
                    r.pin = pin;
                    r.vector = vector;
                    r.level = (trigger == Trigger::Level) as u8;
                    r.active_low = (polarity == Polarity::Low) as u8;
                }
                IrqKind::Pci { device, msi } => {
                    // PCI INTx: level triggered, active low; the pin is read at boot.
                    r.kind = spec::IRQ_PCI;
                    r.level = 1;
                    r.active_low = 1;
                    (r.pci, r.pci_alt) = pci_ids(&device, file, irq.pos)?;
                    r.msi = msi as u8;
                    r.vector = vectors
                        .take()
                        .ok_or_else(|| at(file, irq.pos, "irq: no free interrupt vector left (0..=107 all used)"))?;
                }
            }
            w.irqs.push(r);
        }
        let first_io = w.ioports.len();
        for io in &pd.ioports {
            let mut r = spec::IoPortRec::new_zeroed();
            r.id = io.id;
            r.addr = U16::new(io.addr);
            r.size = U32::new(io.size);
            w.ioports.push(r);
        }
        w.patches.extend(patches);

        let mut rec = spec::PdRec::new_zeroed();
        rec.name = w.string(&pd.name);
        rec.priority = pd.priority;
        rec.flags = if has_endpoint { spec::PD_HAS_ENDPOINT } else { 0 };
        rec.fault = match pd.fault {
            FaultPolicy::Stop => spec::FAULT_STOP,
            FaultPolicy::Restart => spec::FAULT_RESTART,
        };
        for f in &pd.fault_notifies {
            let mut r = spec::FaultNotifyRec::new_zeroed();
            r.pd = U32::new(index as u32);
            r.target = U32::new(f.pd_index as u32);
            r.id = f.id;
            w.fault_notifies.push(r);
        }
        rec.entry = U64::new(img.entry);
        rec.stack_bottom = U64::new(stack_bottom);
        rec.stack_size = U64::new(pd.stack_size);
        rec.ipc_buffer = U64::new(IPC_BUFFER);
        rec.maps = SpecWriter::range_since(first_map, w.maps.len());
        rec.segments = SpecWriter::range_since(first_seg, w.segments.len());
        rec.irqs = SpecWriter::range_since(first_irq, w.irqs.len());
        rec.ioports = SpecWriter::range_since(first_io, w.ioports.len());
        w.pds.push(rec);
        report.push(format!(
            "{:<16} priority {:>3}  image {:>7} bytes  {} maps  {} channels  {} irqs  {} ioports{}{}",
            pd.name,
            pd.priority,
            image_bytes,
            pd.maps.len(),
            channels,
            pd.irqs.len(),
            pd.ioports.len(),
            if has_endpoint { "  (serves PPCs)" } else { "" },
            if pd.fault == FaultPolicy::Restart { "  (restarted on a fault)" } else { "" }
        ));
    }
    let spec_bytes = w.finish();
    let spec_len = spec_bytes.len();
    // Check our own output the way the initialiser will.
    spec::Spec::parse(&spec_bytes).map_err(|e| Error::Initialiser {
        path: inp.initialiser_path.to_path_buf(),
        message: format!("image tool produced an unreadable spec ({e}): this is a bug"),
    })?;

    let init_err = |message: String| Error::Initialiser { path: inp.initialiser_path.to_path_buf(), message };
    let mut init = ElfImage::parse(inp.initialiser).map_err(init_err)?;
    let spec_vaddr = init.end_page() + PAGE;
    init.set_symbol(spec::SPEC_VADDR_SYMBOL, &spec_vaddr.to_le_bytes()).map_err(init_err)?;
    init.set_symbol(spec::SPEC_LEN_SYMBOL, &(spec_len as u64).to_le_bytes()).map_err(init_err)?;
    let mut segments = init.segments.clone();
    segments.push(Segment { vaddr: spec_vaddr, mem_size: spec_len as u64, data: spec_bytes, perms: spec::PERM_R });
    let elf = elf::write_executable(init.entry, &segments).map_err(init_err)?;
    Ok(Image { elf, spec_len, report })
}

/// The first of the alternatives and the rest (unused entries zero).
type PciIds = (spec::PciId, [spec::PciId; spec::PCI_ALTERNATIVES - 1]);

fn pci_ids(m: &sdf::PciMatch, file: &str, pos: Pos) -> Result<PciIds, Error> {
    let mut alt = [spec::PciId::default(); spec::PCI_ALTERNATIVES - 1];
    let (first, rest) = m.ids().split_first().ok_or_else(|| at(file, pos, "pci= lists no device"))?;
    if rest.len() > alt.len() {
        return Err(at(
            file,
            pos,
            format!("pci= lists {} alternatives; at most {}", m.ids().len(), spec::PCI_ALTERNATIVES),
        ));
    }
    for (slot, d) in alt.iter_mut().zip(rest) {
        *slot = pci_id(*d, file, pos)?;
    }
    Ok((pci_id(*first, file, pos)?, alt))
}

fn pci_id(dev: sdf::PciDevice, file: &str, pos: Pos) -> Result<spec::PciId, Error> {
    let index = u16::try_from(dev.index)
        .map_err(|_| at(file, pos, format!("pci index {} is too large (at most 65535)", dev.index)))?;
    Ok(spec::PciId {
        vendor: U16::new(dev.vendor),
        device: U16::new(dev.device),
        index: U16::new(index),
        _pad: U16::new(0),
    })
}

/// Kernel IRQ vectors not claimed by any IOAPIC `irq` of the file, handed out to PCI IRQs.
struct VectorPool {
    used: [bool; MAX_VECTOR as usize + 1],
}

impl VectorPool {
    fn new(sys: &System) -> Self {
        let mut used = [false; MAX_VECTOR as usize + 1];
        for irq in sys.pds.iter().flat_map(|pd| &pd.irqs) {
            if let IrqKind::Ioapic { vector, .. } = irq.kind {
                if let Some(u) = used.get_mut(vector as usize) {
                    *u = true;
                }
            }
        }
        VectorPool { used }
    }

    fn take(&mut self) -> Option<u8> {
        let v = self.used.iter().position(|u| !u)?;
        self.used[v] = true;
        Some(v as u8)
    }
}
