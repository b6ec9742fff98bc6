//! Opening a spec: [`Spec::parse`] views the tables in place and checks every offset, count
//! and cross-reference, so a corrupt image gives a [`SpecError`], never a panic; then the
//! accessors the initialiser builds the system with.

use core::fmt;
use zerocopy::{FromBytes, Immutable, KnownLayout};

use crate::records::*;
use crate::{cspace, MAGIC, MAX_IDS, MAX_PDS, VERSION};

/// Why a spec could not be opened.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SpecError {
    TooShort,
    BadMagic,
    BadVersion(u32),
    /// A table or string lies outside the spec or is misaligned in size.
    BadTable(&'static str),
    /// A record refers to something that does not exist.
    BadReference(&'static str),
}

impl fmt::Display for SpecError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SpecError::TooShort => write!(f, "system spec is shorter than its header"),
            SpecError::BadMagic => write!(f, "system spec has a bad magic number (not built by the image tool?)"),
            SpecError::BadVersion(v) => {
                write!(f, "system spec version {v}, this build reads version {VERSION}: rebuild the image")
            }
            SpecError::BadTable(t) => write!(f, "system spec table `{t}` lies outside the spec"),
            SpecError::BadReference(t) => write!(f, "system spec `{t}` refers to a missing record"),
        }
    }
}

/// A validated view of a system spec.
#[derive(Clone, Copy, Debug)]
pub struct Spec<'a> {
    pub pds: &'a [PdRec],
    pub regions: &'a [RegionRec],
    pub maps: &'a [MapRec],
    pub segments: &'a [SegmentRec],
    pub channels: &'a [ChannelRec],
    pub irqs: &'a [IrqRec],
    pub ioports: &'a [IoPortRec],
    pub patches: &'a [PatchRec],
    pub blob: &'a [u8],
    pub fault_notifies: &'a [FaultNotifyRec],
    /// System-wide flags (`SYS_*`).
    pub flags: u32,
}

fn table<'a, T: FromBytes + KnownLayout + Immutable>(
    bytes: &'a [u8],
    t: &Table,
    name: &'static str,
) -> Result<&'a [T], SpecError> {
    let start = usize::try_from(t.offset.get()).map_err(|_| SpecError::BadTable(name))?;
    let count = usize::try_from(t.count.get()).map_err(|_| SpecError::BadTable(name))?;
    let len = count.checked_mul(core::mem::size_of::<T>()).ok_or(SpecError::BadTable(name))?;
    let end = start.checked_add(len).ok_or(SpecError::BadTable(name))?;
    let raw = bytes.get(start..end).ok_or(SpecError::BadTable(name))?;
    <[T]>::ref_from_bytes(raw).map_err(|_| SpecError::BadTable(name))
}

impl<'a> Spec<'a> {
    /// Opens and fully checks a spec: tables in bounds, every range and index pointing at
    /// existing records, every string and segment inside the blob.
    pub fn parse(bytes: &'a [u8]) -> Result<Self, SpecError> {
        let (header, _) = Header::ref_from_prefix(bytes).map_err(|_| SpecError::TooShort)?;
        if header.magic != MAGIC {
            return Err(SpecError::BadMagic);
        }
        if header.version.get() != VERSION {
            return Err(SpecError::BadVersion(header.version.get()));
        }
        let total = usize::try_from(header.total_len.get()).map_err(|_| SpecError::TooShort)?;
        let bytes = bytes.get(..total).ok_or(SpecError::TooShort)?;
        let spec = Spec {
            pds: table(bytes, &header.pds, "pds")?,
            regions: table(bytes, &header.regions, "regions")?,
            maps: table(bytes, &header.maps, "maps")?,
            segments: table(bytes, &header.segments, "segments")?,
            channels: table(bytes, &header.channels, "channels")?,
            irqs: table(bytes, &header.irqs, "irqs")?,
            ioports: table(bytes, &header.ioports, "ioports")?,
            patches: table(bytes, &header.patches, "patches")?,
            blob: table(bytes, &header.blob, "blob")?,
            fault_notifies: table(bytes, &header.fault_notifies, "fault_notifies")?,
            flags: header.flags.get(),
        };
        spec.check()?;
        Ok(spec)
    }

    fn check(&self) -> Result<(), SpecError> {
        if self.pds.len() > MAX_PDS {
            return Err(SpecError::BadTable("pds"));
        }
        for pd in self.pds {
            self.try_str(&pd.name).ok_or(SpecError::BadReference("pd name"))?;
            if pd.fault > FAULT_RESTART {
                return Err(SpecError::BadReference("pd fault policy"));
            }
            fits(&pd.maps, self.maps.len(), "pd maps")?;
            fits(&pd.segments, self.segments.len(), "pd segments")?;
            fits(&pd.irqs, self.irqs.len(), "pd irqs")?;
            fits(&pd.ioports, self.ioports.len(), "pd ioports")?;
        }
        for r in self.regions {
            self.try_str(&r.name).ok_or(SpecError::BadReference("region name"))?;
            let dev_ok = r
                .dma_device()
                .is_none_or(|dev| r.kind == REGION_RAM && self.regions.get(dev).is_some_and(|d| d.kind == REGION_PCI));
            if !dev_ok {
                return Err(SpecError::BadReference("region dma device"));
            }
        }
        for m in self.maps {
            if m.region.get() as usize >= self.regions.len() {
                return Err(SpecError::BadReference("map region"));
            }
        }
        for s in self.segments {
            let start = s.data_offset.get();
            let end = start.checked_add(s.file_size.get());
            if end.is_none_or(|e| e > self.blob.len() as u64) || s.file_size.get() > s.mem_size.get() {
                return Err(SpecError::BadReference("segment data"));
            }
        }
        for p in self.patches {
            let region = self.regions.get(p.region.get() as usize);
            let region_ok = match p.kind.get() {
                PATCH_PADDR => p.region.get() == PATCH_TSC_HZ || region.is_some(),
                PATCH_PCI_ID => region.is_some_and(|r| r.kind == REGION_PCI),
                _ => false,
            };
            if p.pd.get() as usize >= self.pds.len() || !region_ok {
                return Err(SpecError::BadReference("patch"));
            }
        }
        for f in self.fault_notifies {
            let (pd, target) = (f.pd.get() as usize, f.target.get() as usize);
            if pd >= self.pds.len() || target >= self.pds.len() || pd == target || f.id >= cspace::NOTIFY_ID_LIMIT {
                return Err(SpecError::BadReference("fault notice"));
            }
        }
        for c in self.channels {
            for e in &c.ends {
                if e.pd.get() as usize >= self.pds.len() || e.id as usize >= MAX_IDS {
                    return Err(SpecError::BadReference("channel end"));
                }
            }
        }
        Ok(())
    }

    fn try_str(&self, s: &StrRef) -> Option<&'a str> {
        let start = s.offset.get() as usize;
        let raw = self.blob.get(start..start.checked_add(s.len.get() as usize)?)?;
        core::str::from_utf8(raw).ok()
    }

    /// A string of the spec (all were checked by `parse`; a foreign `StrRef` gives `"?"`).
    pub fn str(&self, s: &StrRef) -> &'a str {
        self.try_str(s).unwrap_or("?")
    }

    /// The file bytes of a segment (checked by `parse`).
    pub fn segment_data(&self, s: &SegmentRec) -> &'a [u8] {
        let start = s.data_offset.get() as usize;
        self.blob.get(start..start + s.file_size.get() as usize).unwrap_or(&[])
    }

    /// The maps of a PD.
    pub fn pd_maps(&self, pd: &PdRec) -> &'a [MapRec] {
        pd.maps.span().and_then(|r| self.maps.get(r)).unwrap_or(&[])
    }

    /// The segments of a PD.
    pub fn pd_segments(&self, pd: &PdRec) -> &'a [SegmentRec] {
        pd.segments.span().and_then(|r| self.segments.get(r)).unwrap_or(&[])
    }

    /// The IRQs of a PD.
    pub fn pd_irqs(&self, pd: &PdRec) -> &'a [IrqRec] {
        pd.irqs.span().and_then(|r| self.irqs.get(r)).unwrap_or(&[])
    }

    /// The fault notices of PD `index`: whom the monitor signals when it faults.
    pub fn pd_fault_notifies(&self, index: usize) -> impl Iterator<Item = &'a FaultNotifyRec> + 'a {
        self.fault_notifies.iter().filter(move |f| f.pd.get() as usize == index)
    }

    /// The I/O port ranges of a PD.
    pub fn pd_ioports(&self, pd: &PdRec) -> &'a [IoPortRec] {
        pd.ioports.span().and_then(|r| self.ioports.get(r)).unwrap_or(&[])
    }
}

fn fits(r: &Range, len: usize, what: &'static str) -> Result<(), SpecError> {
    match r.span() {
        Some(span) if span.end <= len => Ok(()),
        _ => Err(SpecError::BadReference(what)),
    }
}
