//! Builds a system spec (the image tool's side of `support/spec`). Records are pushed in
//! table order; `finish` lays out header, tables and blob and returns the bytes
//! `spec::Spec::parse` reads. It lives here, not in `spec`, so the no_std readers of `spec`
//! (initialiser, PDs) never get an allocator-needing feature through cargo's feature merging.

use spec::*;
use zerocopy::little_endian::{U32, U64};
use zerocopy::IntoBytes;

/// Collects records and blob bytes, then packs them.
#[derive(Default)]
pub struct SpecWriter {
    pub pds: Vec<PdRec>,
    pub regions: Vec<RegionRec>,
    pub maps: Vec<MapRec>,
    pub segments: Vec<SegmentRec>,
    pub channels: Vec<ChannelRec>,
    pub irqs: Vec<IrqRec>,
    pub ioports: Vec<IoPortRec>,
    pub patches: Vec<PatchRec>,
    pub fault_notifies: Vec<FaultNotifyRec>,
    /// System-wide flags (`spec::SYS_*`).
    pub flags: u32,
    blob: Vec<u8>,
}

/// Converts a count or offset to the 32-bit field a record stores.
/// The image tool checks sizes long before this could fail.
fn u32_of(n: usize) -> U32 {
    U32::new(u32::try_from(n).expect("spec table larger than 4 GiB entries"))
}

impl SpecWriter {
    pub fn new() -> Self {
        Self::default()
    }

    /// Stores a string in the blob.
    pub fn string(&mut self, s: &str) -> StrRef {
        let offset = u32_of(self.blob.len());
        self.blob.extend_from_slice(s.as_bytes());
        StrRef { offset, len: u32_of(s.len()) }
    }

    /// Stores bytes in the blob, 8-byte aligned; returns their offset.
    pub fn data(&mut self, bytes: &[u8]) -> u64 {
        while !self.blob.len().is_multiple_of(8) {
            self.blob.push(0);
        }
        let offset = self.blob.len() as u64;
        self.blob.extend_from_slice(bytes);
        offset
    }

    /// A `Range` covering the records pushed to a table since it held `first` records.
    pub fn range_since(first: usize, now: usize) -> Range {
        Range { first: u32_of(first), count: u32_of(now - first) }
    }

    /// Packs everything into the spec's bytes.
    pub fn finish(self) -> Vec<u8> {
        fn align8(n: usize) -> usize {
            (n + 7) & !7
        }
        let mut out: Vec<u8> = vec![0; core::mem::size_of::<Header>()];
        let put = |out: &mut Vec<u8>, bytes: &[u8], count: usize| -> Table {
            out.resize(align8(out.len()), 0);
            let t = Table { offset: U64::new(out.len() as u64), count: U64::new(count as u64) };
            out.extend_from_slice(bytes);
            t
        };
        let pds = put(&mut out, self.pds.as_bytes(), self.pds.len());
        let regions = put(&mut out, self.regions.as_bytes(), self.regions.len());
        let maps = put(&mut out, self.maps.as_bytes(), self.maps.len());
        let segments = put(&mut out, self.segments.as_bytes(), self.segments.len());
        let channels = put(&mut out, self.channels.as_bytes(), self.channels.len());
        let irqs = put(&mut out, self.irqs.as_bytes(), self.irqs.len());
        let ioports = put(&mut out, self.ioports.as_bytes(), self.ioports.len());
        let patches = put(&mut out, self.patches.as_bytes(), self.patches.len());
        let blob = put(&mut out, &self.blob, self.blob.len());
        let fault_notifies = put(&mut out, self.fault_notifies.as_bytes(), self.fault_notifies.len());
        let header = Header {
            magic: MAGIC,
            version: U32::new(VERSION),
            flags: U32::new(self.flags),
            total_len: U64::new(out.len() as u64),
            pds,
            regions,
            maps,
            segments,
            channels,
            irqs,
            ioports,
            patches,
            blob,
            fault_notifies,
        };
        out[..core::mem::size_of::<Header>()].copy_from_slice(header.as_bytes());
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use zerocopy::{FromBytes, FromZeros};

    fn sample() -> Vec<u8> {
        let mut w = SpecWriter::new();
        let rname = w.string("buffers");
        let mut region = RegionRec::new_zeroed();
        region.name = rname;
        region.size = U64::new(0x20_0000);
        region.page_bits = 21;
        w.regions.push(region);
        let data = w.data(&[0x90; 100]);
        let mut seg = SegmentRec::new_zeroed();
        seg.vaddr = U64::new(0x40_0000);
        seg.mem_size = U64::new(0x1000);
        seg.data_offset = U64::new(data);
        seg.file_size = U64::new(100);
        seg.perms = PERM_R | PERM_X;
        w.segments.push(seg);
        let mut map = MapRec::new_zeroed();
        map.vaddr = U64::new(0x1000_0000);
        map.perms = PERM_R | PERM_W;
        w.maps.push(map);
        let mut pd = PdRec::new_zeroed();
        pd.name = w.string("driver");
        pd.priority = 150;
        pd.maps = SpecWriter::range_since(0, 1);
        pd.segments = SpecWriter::range_since(0, 1);
        w.pds.push(pd);
        let mut pd2 = PdRec::new_zeroed();
        pd2.name = w.string("netstack");
        w.pds.push(pd2);
        let mut ch = ChannelRec::new_zeroed();
        ch.ends[1].pd = U32::new(1);
        ch.ends[1].id = 3;
        w.channels.push(ch);
        let mut fnr = FaultNotifyRec::new_zeroed();
        fnr.pd = U32::new(0);
        fnr.target = U32::new(1);
        fnr.id = 5;
        w.fault_notifies.push(fnr);
        w.pds[0].fault = FAULT_RESTART;
        w.finish()
    }

    #[test]
    fn round_trip() {
        let bytes = sample();
        let spec = Spec::parse(&bytes).unwrap();
        assert_eq!(spec.pds.len(), 2);
        assert_eq!(spec.str(&spec.pds[0].name), "driver");
        assert_eq!(spec.str(&spec.pds[1].name), "netstack");
        assert_eq!(spec.pds[0].priority, 150);
        let segs = spec.pd_segments(&spec.pds[0]);
        assert_eq!(segs.len(), 1);
        assert_eq!(spec.segment_data(&segs[0]), &[0x90; 100][..]);
        assert_eq!(spec.pd_maps(&spec.pds[0])[0].vaddr.get(), 0x1000_0000);
        assert_eq!(spec.pd_maps(&spec.pds[1]).len(), 0);
        assert_eq!(spec.str(&spec.regions[0].name), "buffers");
        assert_eq!(spec.channels[0].ends[1].id, 3);
        assert_eq!(spec.pds[0].fault, FAULT_RESTART);
        assert_eq!(spec.pds[1].fault, FAULT_STOP);
        let told: Vec<(u32, u8)> = spec.pd_fault_notifies(0).map(|f| (f.target.get(), f.id)).collect();
        assert_eq!(told, [(1, 5)]);
        assert_eq!(spec.pd_fault_notifies(1).count(), 0);
    }

    #[test]
    fn bad_fault_policies_and_notices_are_rejected() {
        let bytes = sample();
        let (pds_off, fn_off) = {
            let (h, _) = Header::ref_from_prefix(&bytes[..]).unwrap();
            (h.pds.offset.get() as usize, h.fault_notifies.offset.get() as usize)
        };
        // An unknown policy value.
        let mut b = bytes.clone();
        b[pds_off + core::mem::offset_of!(PdRec, fault)] = 2;
        assert_eq!(Spec::parse(&b).unwrap_err(), SpecError::BadReference("pd fault policy"));
        // A notice to a PD that does not exist, to the faulting PD itself, and with an id whose
        // badge bit does not fit below the PPC bit.
        let target = core::mem::offset_of!(FaultNotifyRec, target);
        let id = core::mem::offset_of!(FaultNotifyRec, id);
        for (at, v) in [(target, 9u8), (target, 0), (id, cspace::NOTIFY_ID_LIMIT)] {
            let mut b = bytes.clone();
            b[fn_off + at] = v;
            assert_eq!(Spec::parse(&b).unwrap_err(), SpecError::BadReference("fault notice"), "byte {at} = {v}");
        }
    }

    #[test]
    fn every_single_byte_corruption_is_handled_without_panic() {
        let bytes = sample();
        for i in 0..bytes.len() {
            for v in [0x00, 0x01, 0x7f, 0x80, 0xff] {
                let mut b = bytes.clone();
                b[i] = v;
                // Either it still parses (a harmless change) or it is an error; accessors on
                // a parsed spec must not panic either.
                if let Ok(s) = Spec::parse(&b) {
                    for pd in s.pds {
                        let _ = s.str(&pd.name);
                        for seg in s.pd_segments(pd) {
                            let _ = s.segment_data(seg);
                        }
                        let _ = (s.pd_maps(pd), s.pd_irqs(pd), s.pd_ioports(pd));
                    }
                }
            }
        }
        // Truncations are errors.
        for n in 0..bytes.len() {
            assert!(Spec::parse(&bytes[..n]).is_err(), "truncated to {n} parsed");
        }
    }

    #[test]
    fn dangling_references_are_rejected() {
        let bytes = sample();
        assert!(Spec::parse(&bytes).is_ok());
        // Point the first map at a region that does not exist.
        let maps_off = {
            let (h, _) = Header::ref_from_prefix(&bytes[..]).unwrap();
            h.maps.offset.get() as usize
        };
        let mut b = bytes.clone();
        b[maps_off] = 7;
        assert_eq!(Spec::parse(&b).unwrap_err(), SpecError::BadReference("map region"));
    }
}
