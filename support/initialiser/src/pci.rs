//! PCI configuration space through the legacy mechanism #1: write an address to port 0xCF8,
//! read the dword at port 0xCFC. Only the initialiser touches these ports.

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

/// Vendor, device and class of `f`; `None` if no function answers (vendor 0xFFFF).
pub fn read_id<P: PortIo>(io: &P, f: Bdf) -> Result<Option<Id>, InvocationError> {
    let v = read32(io, f, 0)?;
    if v & 0xffff == 0xffff {
        return Ok(None);
    }
    let class = read32(io, f, 8)? >> 8;
    Ok(Some(Id { vendor: v as u16, device: (v >> 16) as u16, class }))
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use core::cell::Cell;

    /// A config space with q35's host bridge at 00:00.0 and an e1000 at 00:02.0.
    pub(crate) struct FakePci {
        addr: Cell<u32>,
    }

    impl FakePci {
        pub(crate) fn q35() -> Self {
            FakePci { addr: Cell::new(0) }
        }
    }

    impl PortIo for FakePci {
        fn out32(&self, port: u16, value: u32) -> Result<(), InvocationError> {
            assert_eq!(port, CONFIG_ADDRESS);
            self.addr.set(value);
            Ok(())
        }
        fn in32(&self, port: u16) -> Result<u32, InvocationError> {
            assert_eq!(port, CONFIG_DATA);
            let a = self.addr.get();
            assert!(a & 0x8000_0000 != 0, "enable bit not set");
            let (dev, off) = ((a >> 11) & 0x1f, a & 0xfc);
            Ok(match (dev, off) {
                (0, 0) => 0x29c0_8086,
                (0, 8) => 0x0600_0000,
                (2, 0) => 0x100e_8086,
                (2, 8) => 0x0200_0003,
                _ => 0xffff_ffff,
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
        assert_eq!(read_id(&io, Bdf { bus: 0, dev: 5, func: 0 }).unwrap(), None);
    }
}
