//! PCI configuration space through the legacy mechanism #1: write an address to port 0xCF8,
//! read the dword at port 0xCFC. Only the initialiser touches these ports.
//!
//! On top of that: the bus scan (bus 0, then every PCI-PCI bridge's secondary bus), finding
//! the n-th function with a vendor:device id, memory BAR decoding (32/64-bit, size by the
//! write-ones probe) and the PCI INTx -> IOAPIC pin rule of the chipset ([`IntxRule`]).

use crate::PortIo;
use sel4::InvocationError;

pub const CONFIG_ADDRESS: u16 = 0xcf8;
pub const CONFIG_DATA: u16 = 0xcfc;

/// A PCI function address.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct Bdf {
    pub bus: u8,
    pub dev: u8,
    pub func: u8,
}

/// The identification of a present function.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct Id {
    pub vendor: u16,
    pub device: u16,
    /// Class code, subclass, programming interface (24 bits).
    pub class: u32,
}

/// The CONFIG_ADDRESS value for a dword-aligned register `offset` of `f`.
pub const fn config_address(f: Bdf, offset: u8) -> u32 {
    0x8000_0000
        | (f.bus as u32) << 16
        | ((f.dev & 0x1f) as u32) << 11
        | ((f.func & 0x7) as u32) << 8
        | (offset & 0xfc) as u32
}

/// Reads the configuration dword at `offset`.
pub fn read32<P: PortIo>(io: &P, f: Bdf, offset: u8) -> Result<u32, InvocationError> {
    io.out32(CONFIG_ADDRESS, config_address(f, offset))?;
    io.in32(CONFIG_DATA)
}

/// Writes the configuration dword at `offset`.
pub fn write32<P: PortIo>(io: &P, f: Bdf, offset: u8, value: u32) -> Result<(), InvocationError> {
    io.out32(CONFIG_ADDRESS, config_address(f, offset))?;
    io.out32(CONFIG_DATA, value)
}

/// Vendor, device and class of `f`; `None` if no function answers (vendor 0xFFFF).
pub fn read_id<P: PortIo>(io: &P, f: Bdf) -> Result<Option<Id>, InvocationError> {
    let v = read32(io, f, 0)?;
    if v & 0xffff == 0xffff {
        return Ok(None);
    }
    let class = read32(io, f, 8)? >> 8;
    Ok(Some(Id { vendor: v as u16, device: (v >> 16) as u16, class }))
}

/// Command register bits.
pub const CMD_IO: u16 = 1;
pub const CMD_MEMORY: u16 = 2;
pub const CMD_BUS_MASTER: u16 = 4;

/// A function found by [`scan`], with what INTx routing needs: the bus-0 slot its interrupt
/// lines reach the chipset through (its own slot on bus 0, or the slot of the bridge above it)
/// and the number to add to its pin for the bridge swizzle on the way there.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct Found {
    pub bdf: Bdf,
    pub id: Id,
    pub root_slot: u8,
    pub swizzle: u8,
}

/// Most bridges [`scan`] follows (guards against a looping topology).
const MAX_BRIDGES: usize = 32;

/// Visits every present function: bus 0 in device/function order, descending into each
/// PCI-PCI bridge's secondary bus where the bridge is found (depth first). `visit` returns
/// `false` to stop the scan early.
pub fn scan<P: PortIo>(io: &P, visit: &mut dyn FnMut(&Found) -> bool) -> Result<(), InvocationError> {
    let mut bridges = 0usize;
    scan_bus(io, 0, None, &mut bridges, visit).map(|_| ())
}

/// Returns Ok(false) when the visitor stopped the scan.
fn scan_bus<P: PortIo>(
    io: &P,
    bus: u8,
    upstream: Option<(u8, u8)>,
    bridges: &mut usize,
    visit: &mut dyn FnMut(&Found) -> bool,
) -> Result<bool, InvocationError> {
    for dev in 0..32u8 {
        let mut funcs = 1;
        let mut func = 0;
        while func < funcs {
            let bdf = Bdf { bus, dev, func };
            func += 1;
            let Some(id) = read_id(io, bdf)? else {
                continue;
            };
            let header = (read32(io, bdf, 0x0c)? >> 16) as u8;
            if bdf.func == 0 && header & 0x80 != 0 {
                funcs = 8;
            }
            let (root_slot, swizzle) = match upstream {
                None => (dev, 0),
                Some((slot, sw)) => (slot, sw.wrapping_add(dev) % 4),
            };
            if !visit(&Found { bdf, id, root_slot, swizzle }) {
                return Ok(false);
            }
            if header & 0x7f == 1 && *bridges < MAX_BRIDGES {
                *bridges += 1;
                let secondary = (read32(io, bdf, 0x18)? >> 8) as u8;
                if secondary > bus {
                    // Below this bridge, devices swizzle by their own device number plus ours
                    // (when we are not on bus 0 ourselves).
                    let next = match upstream {
                        None => (dev, 0),
                        Some((slot, sw)) => (slot, sw.wrapping_add(dev) % 4),
                    };
                    if !scan_bus(io, secondary, Some(next), bridges, visit)? {
                        return Ok(false);
                    }
                }
            }
        }
    }
    Ok(true)
}

/// The `index`-th function (in scan order) with this vendor:device id.
pub fn find<P: PortIo>(io: &P, vendor: u16, device: u16, index: u16) -> Result<Option<Found>, InvocationError> {
    let mut seen = 0u16;
    let mut hit = None;
    scan(io, &mut |f| {
        if f.id.vendor == vendor && f.id.device == device {
            if seen == index {
                hit = Some(*f);
                return false;
            }
            seen += 1;
        }
        true
    })?;
    Ok(hit)
}

/// A decoded base address register.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Bar {
    /// Memory space: physical address and size; `wide` = 64-bit BAR (uses the next BAR too).
    Memory { addr: u64, size: u64, wide: bool, prefetchable: bool },
    /// I/O space.
    Io { port: u32, size: u32 },
    /// Not implemented by the device (reads back as zero).
    Absent,
}

/// Decodes a BAR from its original value(s) and what it read back after writing all ones
/// (`hi`/`hi_mask` are the next BAR's, used only for a 64-bit memory BAR).
pub fn decode_bar(lo: u32, hi: u32, lo_mask: u32, hi_mask: u32) -> Bar {
    if lo & 1 == 1 {
        let mask = lo_mask & !0x3;
        if mask == 0 {
            return Bar::Absent;
        }
        // I/O BARs decode 16 address bits on x86; the upper bits may read back as zero.
        let size = (!(mask | 0xffff_0000)).wrapping_add(1) & 0xffff;
        return Bar::Io { port: lo & !0x3, size };
    }
    let wide = (lo >> 1) & 3 == 2;
    let prefetchable = lo & 8 != 0;
    let addr = (lo & !0xf) as u64 | if wide { (hi as u64) << 32 } else { 0 };
    let mask = (lo_mask & !0xf) as u64 | if wide { (hi_mask as u64) << 32 } else { 0xffff_ffff_0000_0000 };
    if mask & 0xffff_ffff == 0 && (!wide || hi_mask == 0) {
        return Bar::Absent;
    }
    let size = (!mask).wrapping_add(1);
    Bar::Memory { addr, size, wide, prefetchable }
}

/// Reads BAR `bar` (0..=5) of `f` with the write-ones size probe. Memory and I/O decoding are
/// switched off during the probe (so the device never answers at the probe address) and the
/// BAR and command register are restored afterwards.
pub fn probe_bar<P: PortIo>(io: &P, f: Bdf, bar: u8) -> Result<Bar, InvocationError> {
    if bar > 5 {
        return Ok(Bar::Absent);
    }
    let off = 0x10 + 4 * bar;
    let cmd = read32(io, f, 0x04)?;
    write32(io, f, 0x04, cmd & !((CMD_IO | CMD_MEMORY) as u32) & 0xffff)?;
    let lo = read32(io, f, off)?;
    write32(io, f, off, 0xffff_ffff)?;
    let lo_mask = read32(io, f, off)?;
    write32(io, f, off, lo)?;
    let (mut hi, mut hi_mask) = (0, 0);
    if lo & 1 == 0 && (lo >> 1) & 3 == 2 && bar < 5 {
        hi = read32(io, f, off + 4)?;
        write32(io, f, off + 4, 0xffff_ffff)?;
        hi_mask = read32(io, f, off + 4)?;
        write32(io, f, off + 4, hi)?;
    }
    write32(io, f, 0x04, cmd & 0xffff)?;
    Ok(decode_bar(lo, hi, lo_mask, hi_mask))
}

/// Sets bits in the command register (e.g. memory decoding and bus mastering for a device
/// handed to a driver PD, which has no access to configuration space itself).
pub fn enable<P: PortIo>(io: &P, f: Bdf, bits: u16) -> Result<(), InvocationError> {
    let cmd = read32(io, f, 0x04)?;
    write32(io, f, 0x04, (cmd | bits as u32) & 0xffff)
}

/// PCI capability id of MSI (PCI Local Bus spec 3.0 §6.8.1).
pub const CAP_MSI: u8 = 0x05;
/// Command register bit 10: INTx emulation disabled.
pub const CMD_INTX_DISABLE: u16 = 1 << 10;

/// The configuration-space offset of capability `id`, if the function lists it (status bit 4
/// says there is a list; its head is at 0x34). The walk is bounded: a malformed list (a loop,
/// a pointer into the header) ends it.
pub fn find_capability<P: PortIo>(io: &P, f: Bdf, id: u8) -> Result<Option<u8>, InvocationError> {
    if read32(io, f, 0x04)? >> 16 & 1 << 4 == 0 {
        return Ok(None);
    }
    let mut at = (read32(io, f, 0x34)? & 0xfc) as u8;
    for _ in 0..48 {
        if at < 0x40 {
            return Ok(None);
        }
        let head = read32(io, f, at)?;
        if head as u8 == id {
            return Ok(Some(at));
        }
        at = (head >> 8) as u8 & 0xfc;
    }
    Ok(None)
}

/// Points the function's MSI capability at `cap` to the local APIC `apic_id` with CPU
/// `vector` (fixed delivery, edge), one message, enables it and disables INTx, so the device
/// signals only by message. Message address 0xfee0_0000 | apic_id << 12 (Intel SDM vol. 3
/// §11.11.1), data = vector.
pub fn enable_msi<P: PortIo>(io: &P, f: Bdf, cap: u8, apic_id: u8, vector: u8) -> Result<(), InvocationError> {
    let head = read32(io, f, cap)?;
    let control = (head >> 16) as u16;
    let is64 = control & 1 << 7 != 0;
    write32(io, f, cap + 4, 0xfee0_0000 | (apic_id as u32) << 12)?;
    let data_at = if is64 {
        write32(io, f, cap + 8, 0)?;
        cap + 12
    } else {
        cap + 8
    };
    // The data register is 16 bits; the dword's upper half is reserved (or the mask bits of a
    // per-vector-masking capability, which start later): keep it.
    let old = read32(io, f, data_at)?;
    write32(io, f, data_at, (old & 0xffff_0000) | vector as u32)?;
    // Enable, one message (Multiple Message Enable = 0).
    let control = (control & !(7 << 4)) | 1;
    write32(io, f, cap, (head & 0xffff) | (control as u32) << 16)?;
    let cmd = read32(io, f, 0x04)?;
    write32(io, f, 0x04, (cmd | CMD_INTX_DISABLE as u32) & 0xffff)
}

/// The Interrupt Pin register: 0 = none, 1..=4 = INTA..INTD.
pub fn interrupt_pin<P: PortIo>(io: &P, f: Bdf) -> Result<u8, InvocationError> {
    Ok((read32(io, f, 0x3c)? >> 8) as u8)
}

/// The Interrupt Line register (what the firmware routed the pin to on the legacy PIC).
pub fn interrupt_line<P: PortIo>(io: &P, f: Bdf) -> Result<u8, InvocationError> {
    Ok(read32(io, f, 0x3c)? as u8)
}

/// How the chipset connects PCI INTx lines to IOAPIC inputs.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum IntxRule {
    /// Intel Q35/ICH9 (QEMU `-machine q35`, host bridge 8086:29c0). PIRQ A-H drive IOAPIC
    /// inputs 16-23 directly. The ICH9 maps a bus-0 slot's INTA-D to a PIRQ: slots 0-24 use
    /// PIRQ E-H as `4 + (slot + pin) % 4` (QEMU's fixed table, matched by its ACPI _PRT),
    /// slots 25-29 and 31 use their D##IR chipset registers (reset value 0x3210: INTA-D ->
    /// PIRQ A-D; firmware does not change them under QEMU), slot 30 (the DMI-PCI bridge)
    /// uses PIRQ E-H. Devices behind bridges first swizzle their pin by device number.
    Q35,
    /// Intel 440FX/PIIX3 (QEMU `-machine pc`, 8086:1237): PIRQ routing registers select a
    /// legacy IRQ, which is also the IOAPIC input; the firmware wrote it to Interrupt Line.
    I440fx,
}

impl IntxRule {
    /// The rule for the host bridge at 00:00.0, if we know the chipset.
    pub fn for_host_bridge(id: Id) -> Option<IntxRule> {
        match (id.vendor, id.device) {
            (0x8086, 0x29c0) => Some(IntxRule::Q35),
            (0x8086, 0x1237) => Some(IntxRule::I440fx),
            _ => None,
        }
    }

    /// The IOAPIC input (GSI) of INTx `pin` (1..=4) of `f`; `line` is its Interrupt Line.
    /// `None` when the pin is 0 (no interrupt) or out of range.
    pub fn gsi(self, f: &Found, pin: u8, line: u8) -> Option<u8> {
        if !(1..=4).contains(&pin) {
            return None;
        }
        match self {
            IntxRule::Q35 => {
                let p = (pin - 1 + f.swizzle) % 4;
                let slot = f.root_slot;
                let pirq = match slot {
                    0..=24 => 4 + (slot + p) % 4,
                    30 => 4 + p,
                    _ => p,
                };
                Some(16 + pirq)
            }
            IntxRule::I440fx => (line != 0 && line < 24).then_some(line),
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    extern crate std;
    use super::*;
    use core::cell::{Cell, RefCell};
    use std::vec::Vec;

    /// One emulated function: its 64 config dwords and the size of each BAR (0 = none).
    struct Func {
        bdf: Bdf,
        cfg: [u32; 64],
        bar_size: [u64; 6],
    }

    /// A config space: q35's host bridge at 00:00.0, an e1000 at 00:02.0 (BAR 0 128 KiB at
    /// 0xfebc0000, BAR 1 I/O 64 ports, INTA), a bridge at 00:1e.0 to bus 1 with a second e1000
    /// at 01:03.0 (64-bit BAR 0 above 4 GiB, INTB), and a multi-function device at 00:05.
    pub(crate) struct FakePci {
        addr: Cell<u32>,
        funcs: RefCell<Vec<Func>>,
        pub(crate) writes: Cell<usize>,
    }

    fn func(bus: u8, dev: u8, fnum: u8, vendor: u16, device: u16, class: u32) -> Func {
        let mut cfg = [0u32; 64];
        cfg[0] = (device as u32) << 16 | vendor as u32;
        cfg[1] = 0x0000_0003;
        cfg[2] = class << 8;
        Func { bdf: Bdf { bus, dev, func: fnum }, cfg, bar_size: [0; 6] }
    }

    impl FakePci {
        pub(crate) fn q35() -> Self {
            let host = func(0, 0, 0, 0x8086, 0x29c0, 0x060000);
            let mut nic = func(0, 2, 0, 0x8086, 0x100e, 0x020000);
            nic.cfg[4] = 0xfebc_0000;
            nic.bar_size[0] = 0x2_0000;
            nic.cfg[5] = 0xc001;
            nic.bar_size[1] = 0x40;
            nic.cfg[15] = 0x0000_010b; // INTA, line 11
            let mut bridge = func(0, 0x1e, 0, 0x8086, 0x244e, 0x060400);
            bridge.cfg[3] = 0x0001_0000; // header type 1
            bridge.cfg[6] = 0x0000_0100; // secondary bus 1
            let mut nic2 = func(1, 3, 0, 0x8086, 0x100e, 0x020000);
            nic2.cfg[4] = 0x0000_0004; // 64-bit memory BAR
            nic2.cfg[5] = 0x0000_0008; // high half: 0x8_0000_0000
            nic2.bar_size[0] = 0x4000;
            nic2.cfg[15] = 0x0000_0200; // INTB
            let mut mf0 = func(0, 5, 0, 0x1234, 0x0001, 0x010000);
            mf0.cfg[3] = 0x0080_0000; // multi-function
            let mf3 = func(0, 5, 3, 0x1234, 0x0002, 0x010000);
            FakePci {
                addr: Cell::new(0),
                funcs: RefCell::new(std::vec![host, nic, bridge, nic2, mf0, mf3]),
                writes: Cell::new(0),
            }
        }

        fn target(&self) -> (Option<usize>, usize) {
            let a = self.addr.get();
            assert!(a & 0x8000_0000 != 0, "enable bit not set");
            let bdf = Bdf { bus: (a >> 16) as u8, dev: ((a >> 11) & 0x1f) as u8, func: ((a >> 8) & 7) as u8 };
            let reg = ((a & 0xfc) / 4) as usize;
            (self.funcs.borrow().iter().position(|f| f.bdf == bdf), reg)
        }
    }

    impl PortIo for FakePci {
        fn out32(&self, port: u16, value: u32) -> Result<(), InvocationError> {
            if port == CONFIG_ADDRESS {
                self.addr.set(value);
                return Ok(());
            }
            assert_eq!(port, CONFIG_DATA);
            self.writes.set(self.writes.get() + 1);
            let (f, reg) = self.target();
            if let Some(f) = f {
                let mut funcs = self.funcs.borrow_mut();
                let func = &mut funcs[f];
                if (4..10).contains(&reg) {
                    let bar = reg - 4;
                    let flags = func.cfg[reg] & if func.cfg[reg] & 1 == 1 { 0x3 } else { 0xf };
                    // A high half of a 64-bit BAR sizes with the low BAR's size.
                    let size = if func.bar_size[bar] == 0
                        && bar > 0
                        && func.bar_size[bar - 1] != 0
                        && func.cfg[reg - 1] & 0x7 == 0x4
                    {
                        func.bar_size[bar - 1] >> 32
                    } else {
                        func.bar_size[bar]
                    };
                    let is_high = func.bar_size[bar] == 0 && bar > 0 && func.cfg[reg - 1] & 0x7 == 0x4;
                    func.cfg[reg] = if is_high {
                        // Size below 4 GiB: all high bits writable.
                        if size == 0 {
                            value
                        } else {
                            value & !((size as u32).wrapping_sub(1))
                        }
                    } else if size == 0 {
                        0
                    } else {
                        (value & !((size as u32).wrapping_sub(1)) & !0xf) | flags
                    };
                } else if reg == 1 {
                    // Command is writable; status (the upper half) is not, here.
                    func.cfg[1] = (func.cfg[1] & 0xffff_0000) | (value & 0xffff);
                } else if reg >= 16 {
                    // Device-specific space (capabilities): plain storage.
                    func.cfg[reg] = value;
                }
            }
            Ok(())
        }
        fn in32(&self, port: u16) -> Result<u32, InvocationError> {
            assert_eq!(port, CONFIG_DATA);
            let (f, reg) = self.target();
            Ok(match f {
                Some(f) => self.funcs.borrow()[f].cfg[reg],
                None => 0xffff_ffff,
            })
        }
    }

    #[test]
    fn address_encoding() {
        assert_eq!(config_address(Bdf { bus: 0, dev: 0, func: 0 }, 0), 0x8000_0000);
        assert_eq!(config_address(Bdf { bus: 1, dev: 2, func: 3 }, 0x13), 0x8001_1310);
    }

    #[test]
    fn reads_ids_and_absent_functions() {
        let io = FakePci::q35();
        let id = read_id(&io, Bdf { bus: 0, dev: 2, func: 0 }).unwrap().unwrap();
        assert_eq!((id.vendor, id.device, id.class), (0x8086, 0x100e, 0x020000));
        assert_eq!(read_id(&io, Bdf { bus: 0, dev: 7, func: 0 }).unwrap(), None);
    }

    #[test]
    fn scan_follows_bridges_and_multifunction_devices() {
        let io = FakePci::q35();
        let mut seen = Vec::new();
        scan(&io, &mut |f| {
            seen.push((f.bdf.bus, f.bdf.dev, f.bdf.func, f.root_slot, f.swizzle));
            true
        })
        .unwrap();
        assert_eq!(
            seen,
            [
                (0, 0, 0, 0, 0),
                (0, 2, 0, 2, 0),
                (0, 5, 0, 5, 0),
                (0, 5, 3, 5, 0),
                (0, 0x1e, 0, 0x1e, 0),
                (1, 3, 0, 0x1e, 3)
            ]
        );
        // n-th device of an id, in scan order.
        let a = find(&io, 0x8086, 0x100e, 0).unwrap().unwrap();
        let b = find(&io, 0x8086, 0x100e, 1).unwrap().unwrap();
        assert_eq!((a.bdf.bus, a.bdf.dev, b.bdf.bus, b.bdf.dev), (0, 2, 1, 3));
        assert_eq!(find(&io, 0x8086, 0x100e, 2).unwrap(), None);
        assert_eq!(find(&io, 0x10ec, 0x8139, 0).unwrap(), None);
    }

    #[test]
    fn bars_are_sized_by_probe_and_restored() {
        let io = FakePci::q35();
        let nic = Bdf { bus: 0, dev: 2, func: 0 };
        assert_eq!(
            probe_bar(&io, nic, 0).unwrap(),
            Bar::Memory { addr: 0xfebc_0000, size: 0x2_0000, wide: false, prefetchable: false }
        );
        assert_eq!(probe_bar(&io, nic, 1).unwrap(), Bar::Io { port: 0xc000, size: 0x40 });
        assert_eq!(probe_bar(&io, nic, 2).unwrap(), Bar::Absent);
        assert_eq!(probe_bar(&io, nic, 9).unwrap(), Bar::Absent);
        // Restored: the BAR and the command register read back as before.
        assert_eq!(read32(&io, nic, 0x10).unwrap(), 0xfebc_0000);
        assert_eq!(read32(&io, nic, 0x04).unwrap() & 0xffff, 3);
        let nic2 = Bdf { bus: 1, dev: 3, func: 0 };
        assert_eq!(
            probe_bar(&io, nic2, 0).unwrap(),
            Bar::Memory { addr: 0x8_0000_0000, size: 0x4000, wide: true, prefetchable: false }
        );
    }

    #[test]
    fn bar_decoding() {
        // 32-bit, prefetchable, 1 MiB.
        assert_eq!(
            decode_bar(0xe000_0008, 0, 0xfff0_0008, 0),
            Bar::Memory { addr: 0xe000_0000, size: 0x10_0000, wide: false, prefetchable: true }
        );
        // 64-bit, 4 GiB large.
        assert_eq!(
            decode_bar(0x0000_000c, 0x4, 0x0000_000c, 0xffff_ffff),
            Bar::Memory { addr: 0x4_0000_0000, size: 0x1_0000_0000, wide: true, prefetchable: true }
        );
        assert_eq!(decode_bar(0, 0, 0, 0), Bar::Absent);
        assert_eq!(decode_bar(1, 0, 1, 0), Bar::Absent);
    }

    #[test]
    fn enable_sets_command_bits() {
        let io = FakePci::q35();
        let nic = Bdf { bus: 0, dev: 2, func: 0 };
        enable(&io, nic, CMD_MEMORY | CMD_BUS_MASTER).unwrap();
        assert_eq!(read32(&io, nic, 0x04).unwrap() & 0xffff, 7);
        assert_eq!(interrupt_pin(&io, nic).unwrap(), 1);
        assert_eq!(interrupt_line(&io, nic).unwrap(), 11);
    }

    #[test]
    fn q35_intx_rule() {
        let q = IntxRule::Q35;
        let on0 = |slot: u8| Found {
            bdf: Bdf { bus: 0, dev: slot, func: 0 },
            id: Id { vendor: 0, device: 0, class: 0 },
            root_slot: slot,
            swizzle: 0,
        };
        // QEMU q35 without VGA puts the first -device e1000 in slot 1, with VGA in slot 2.
        assert_eq!(q.gsi(&on0(1), 1, 0), Some(21)); // PIRQF
        assert_eq!(q.gsi(&on0(2), 1, 0), Some(22)); // PIRQG
        assert_eq!(q.gsi(&on0(3), 1, 0), Some(23));
        assert_eq!(q.gsi(&on0(4), 1, 0), Some(20));
        assert_eq!(q.gsi(&on0(2), 2, 0), Some(23)); // INTB of slot 2
        assert_eq!(q.gsi(&on0(0x1f), 1, 0), Some(16)); // D31IR default: INTA -> PIRQA
        assert_eq!(q.gsi(&on0(0x1d), 4, 0), Some(19));
        assert_eq!(q.gsi(&on0(2), 0, 0), None);
        assert_eq!(q.gsi(&on0(2), 5, 0), None);
        // Behind the DMI-PCI bridge at slot 30: device 3, INTB -> swizzled to INTA+((1+3)%4)=INTA.
        let behind = Found {
            bdf: Bdf { bus: 1, dev: 3, func: 0 },
            id: Id { vendor: 0, device: 0, class: 0 },
            root_slot: 30,
            swizzle: 3,
        };
        assert_eq!(q.gsi(&behind, 2, 0), Some(16 + 4));
        // 440FX: the firmware's Interrupt Line.
        assert_eq!(IntxRule::I440fx.gsi(&on0(3), 1, 11), Some(11));
        assert_eq!(IntxRule::I440fx.gsi(&on0(3), 1, 0xff), None);
        assert_eq!(IntxRule::for_host_bridge(Id { vendor: 0x8086, device: 0x29c0, class: 0 }), Some(IntxRule::Q35));
        assert_eq!(IntxRule::for_host_bridge(Id { vendor: 0x1022, device: 0x1450, class: 0 }), None);
    }

    #[test]
    fn msi_capability_is_found_and_programmed() {
        let pci = FakePci::q35();
        let nic = Bdf { bus: 0, dev: 2, func: 0 };
        assert_eq!(find_capability(&pci, nic, CAP_MSI).unwrap(), None, "no capability list");
        {
            let mut funcs = pci.funcs.borrow_mut();
            let f = &mut funcs[1];
            f.cfg[1] |= 1 << 20; // status: capability list
            f.cfg[0x34 / 4] = 0x50;
            f.cfg[0x50 / 4] = 0xd0 << 8 | 0x01; // power management, next at 0xd0
            f.cfg[0xd0 / 4] = (1 << 7 | 3 << 1) << 16 | 0x05; // MSI, 64-bit, 8 messages capable
            f.cfg[0xdc / 4] = 0xabcd_0000;
        }
        let cap = find_capability(&pci, nic, CAP_MSI).unwrap();
        assert_eq!(cap, Some(0xd0));
        assert_eq!(find_capability(&pci, nic, 0x11).unwrap(), None, "no MSI-X");
        enable_msi(&pci, nic, 0xd0, 0, 0x30 + 5).unwrap();
        let funcs = pci.funcs.borrow();
        let f = &funcs[1];
        assert_eq!(f.cfg[0xd4 / 4], 0xfee0_0000, "message address: APIC 0");
        assert_eq!(f.cfg[0xd8 / 4], 0, "upper address");
        assert_eq!(f.cfg[0xdc / 4], 0xabcd_0035, "data: the vector, reserved bits kept");
        let control = f.cfg[0xd0 / 4] >> 16;
        assert_eq!(control & 1, 1, "enabled");
        assert_eq!(control >> 4 & 7, 0, "one message");
        assert_eq!(f.cfg[0xd0 / 4] & 0xffff, 0x0005, "id and next pointer kept");
        assert_ne!(f.cfg[1] & CMD_INTX_DISABLE as u32, 0, "INTx off");
        drop(funcs);
        // A list that loops ends the walk instead of spinning.
        pci.funcs.borrow_mut()[1].cfg[0xd0 / 4] = 0x50 << 8 | 0x09;
        assert_eq!(find_capability(&pci, nic, CAP_MSI).unwrap(), None);
    }
}
