//! ELF in and out: reads a static x86_64 executable into its loadable segments and symbol
//! table (with the `object` crate), patches symbols in the loaded bytes, and writes the
//! final root-task ELF (program headers only, which is all seL4's loader reads).

use std::collections::HashMap;

use object::elf;
use object::read::{Object, ObjectSegment, ObjectSymbol, SegmentFlags};
use object::write::elf::{FileHeader, ProgramHeader, Writer};
use object::{Architecture, BinaryFormat, Endianness, ObjectKind};

pub const PAGE: u64 = 0x1000;

/// A loadable segment with its bytes (file part; zero-filled up to `mem_size`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Segment {
    pub vaddr: u64,
    pub mem_size: u64,
    pub data: Vec<u8>,
    /// `spec::PERM_*` bits.
    pub perms: u8,
}

impl Segment {
    /// First page and one past the last page the segment touches.
    pub fn pages(&self) -> (u64, u64) {
        (self.vaddr & !(PAGE - 1), (self.vaddr + self.mem_size).div_ceil(PAGE) * PAGE)
    }
}

/// A defined symbol.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Symbol {
    pub addr: u64,
    pub size: u64,
}

/// A static executable as the tools see it.
#[derive(Debug, Clone)]
pub struct ElfImage {
    pub entry: u64,
    pub segments: Vec<Segment>,
    symbols: HashMap<String, Symbol>,
}

impl ElfImage {
    /// Parses `bytes`; the error says what is wrong with the file (the caller adds its name).
    pub fn parse(bytes: &[u8]) -> Result<Self, String> {
        let file = object::File::parse(bytes).map_err(|e| format!("not a readable ELF file: {e}"))?;
        if file.format() != BinaryFormat::Elf || !file.is_64() {
            return Err("not a 64-bit ELF file".into());
        }
        if file.architecture() != Architecture::X86_64 {
            return Err(format!("built for {:?}, expected x86_64", file.architecture()));
        }
        if file.kind() != ObjectKind::Executable {
            return Err(format!(
                "is a {:?} object, expected a static executable (link with -static -no-pie)",
                file.kind()
            ));
        }
        let mut segments = Vec::new();
        for seg in file.segments() {
            let SegmentFlags::Elf { p_flags } = seg.flags() else { continue };
            let data = seg.data().map_err(|e| format!("segment at {:#x} cannot be read: {e}", seg.address()))?;
            if seg.size() == 0 {
                continue;
            }
            if (data.len() as u64) > seg.size() {
                return Err(format!("segment at {:#x} has more file bytes than memory", seg.address()));
            }
            let mut perms = 0;
            if p_flags & elf::PF_R != 0 {
                perms |= spec::PERM_R;
            }
            if p_flags & elf::PF_W != 0 {
                perms |= spec::PERM_W;
            }
            if p_flags & elf::PF_X != 0 {
                perms |= spec::PERM_X;
            }
            seg.address()
                .checked_add(seg.size())
                .ok_or_else(|| format!("segment at {:#x} wraps the address space", seg.address()))?;
            segments.push(Segment { vaddr: seg.address(), mem_size: seg.size(), data: data.to_vec(), perms });
        }
        if segments.is_empty() {
            return Err("has no loadable segments".into());
        }
        segments.sort_by_key(|s| s.vaddr);
        for pair in segments.windows(2) {
            if pair[0].pages().1 > pair[1].pages().0 {
                return Err(format!(
                    "segments at {:#x} and {:#x} share a page; link with the runtime's linker script \
                     (page-aligned segments)",
                    pair[0].vaddr, pair[1].vaddr
                ));
            }
        }
        // No page is shared, so each segment can start on its page boundary (zeros before the
        // first byte): every later step then works in whole pages.
        for seg in &mut segments {
            let lead = (seg.vaddr % PAGE) as usize;
            if lead != 0 {
                seg.data.splice(0..0, std::iter::repeat_n(0, lead));
                seg.vaddr -= lead as u64;
                seg.mem_size += lead as u64;
            }
        }
        let mut symbols = HashMap::new();
        for sym in file.symbols() {
            if sym.is_definition() {
                if let Ok(name) = sym.name() {
                    symbols.insert(name.to_string(), Symbol { addr: sym.address(), size: sym.size() });
                }
            }
        }
        Ok(ElfImage { entry: file.entry(), segments, symbols })
    }

    pub fn symbol(&self, name: &str) -> Option<Symbol> {
        self.symbols.get(name).copied()
    }

    /// Writes `bytes` at vaddr `addr`, which must lie inside one segment's memory.
    pub fn write_at(&mut self, addr: u64, bytes: &[u8]) -> Result<(), String> {
        let end = addr.checked_add(bytes.len() as u64).ok_or("address overflow")?;
        let seg = self
            .segments
            .iter_mut()
            .find(|s| s.vaddr <= addr && end <= s.vaddr + s.mem_size)
            .ok_or_else(|| format!("address {addr:#x} is not inside a loadable segment"))?;
        let off = (addr - seg.vaddr) as usize;
        if seg.data.len() < off + bytes.len() {
            // The symbol is in the zero-filled (.bss) part: carry zeros up to it in the file.
            seg.data.resize(off + bytes.len(), 0);
        }
        seg.data[off..off + bytes.len()].copy_from_slice(bytes);
        Ok(())
    }

    /// Sets the symbol `name`, which must be exactly `bytes.len()` long.
    pub fn set_symbol(&mut self, name: &str, bytes: &[u8]) -> Result<Symbol, String> {
        let sym = self.symbol(name).ok_or_else(|| format!("has no symbol `{name}`"))?;
        if sym.size != bytes.len() as u64 {
            return Err(format!("symbol `{name}` is {} bytes, expected {}", sym.size, bytes.len()));
        }
        self.write_at(sym.addr, bytes).map_err(|e| format!("symbol `{name}`: {e}"))?;
        Ok(sym)
    }

    /// One past the highest page any segment touches.
    pub fn end_page(&self) -> u64 {
        self.segments.iter().map(|s| s.pages().1).max().unwrap_or(0)
    }
}

/// Writes a static executable with one PT_LOAD per segment and no sections.
pub fn write_executable(entry: u64, segments: &[Segment]) -> Result<Vec<u8>, String> {
    let mut out = Vec::new();
    let mut w = Writer::new(Endianness::Little, true, &mut out);
    w.reserve_file_header();
    w.reserve_program_headers(segments.len() as u32);
    let offsets: Vec<usize> = segments.iter().map(|s| w.reserve(s.data.len(), PAGE as usize)).collect();
    w.write_file_header(&FileHeader {
        os_abi: elf::ELFOSABI_NONE,
        abi_version: 0,
        e_type: elf::ET_EXEC,
        e_machine: elf::EM_X86_64,
        e_entry: entry,
        e_flags: 0,
    })
    .map_err(|e| e.to_string())?;
    w.write_align_program_headers();
    for (seg, &off) in segments.iter().zip(&offsets) {
        let mut flags = 0;
        if seg.perms & spec::PERM_R != 0 {
            flags |= elf::PF_R;
        }
        if seg.perms & spec::PERM_W != 0 {
            flags |= elf::PF_W;
        }
        if seg.perms & spec::PERM_X != 0 {
            flags |= elf::PF_X;
        }
        if seg.vaddr % PAGE != 0 {
            return Err(format!("segment at {:#x} is not page-aligned", seg.vaddr));
        }
        w.write_program_header(&ProgramHeader {
            p_type: elf::PT_LOAD,
            p_flags: flags,
            p_offset: off as u64,
            p_vaddr: seg.vaddr,
            p_paddr: seg.vaddr,
            p_filesz: seg.data.len() as u64,
            p_memsz: seg.mem_size,
            p_align: PAGE,
        });
    }
    for (seg, &off) in segments.iter().zip(&offsets) {
        w.pad_until(off);
        w.write(&seg.data);
    }
    Ok(out)
}
