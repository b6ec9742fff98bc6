//! x86 port I/O for the ranges the system file grants (`<ioport id addr size>`). Every access
//! is checked against the granted range before the kernel is asked, so a driver bug that
//! strays outside its device's ports is an error value naming the port and the range.

use crate::error::{Error, GrantKind};
use crate::grants::Grants;
use sel4::CPtr;
use spec::cspace;

/// A granted I/O port range. Ports are named by their absolute number (e.g. `0x3f8`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct IoPort {
    id: u8,
    first: u16,
    size: u32,
}

impl IoPort {
    /// The PD's I/O port range `id`, if the system file grants it.
    pub fn new(id: u8) -> Result<IoPort, Error> {
        IoPort::from_grants(crate::grants(), id)
    }

    /// As [`IoPort::new`], against explicit grants (for tests and tools).
    pub fn from_grants(grants: &Grants, id: u8) -> Result<IoPort, Error> {
        let (first, size) = grants.ioport_range(id)?;
        if size == 0 {
            return Err(Error::NotGranted { kind: GrantKind::IoPort, id });
        }
        Ok(IoPort { id, first, size })
    }

    pub fn id(&self) -> u8 {
        self.id
    }

    /// First port of the range.
    pub fn first(&self) -> u16 {
        self.first
    }

    /// Number of ports in the range.
    pub fn size(&self) -> u32 {
        self.size
    }

    /// Checks that a `width`-byte access at `port` lies wholly inside the range.
    pub fn check(&self, port: u16, width: u8) -> Result<(), Error> {
        let (p, first) = (port as u32, self.first as u32);
        if p >= first && p + width as u32 <= first + self.size {
            Ok(())
        } else {
            Err(Error::PortOutOfRange { id: self.id, port, width, first: self.first, size: self.size })
        }
    }

    fn cap(&self) -> sel4::IoPort {
        sel4::IoPort(CPtr(cspace::IOPORT_BASE + self.id as u64))
    }

    pub fn in8(&self, port: u16) -> Result<u8, Error> {
        self.check(port, 1)?;
        self.cap().in8(port).map_err(Error::Kernel)
    }

    pub fn in16(&self, port: u16) -> Result<u16, Error> {
        self.check(port, 2)?;
        self.cap().in16(port).map_err(Error::Kernel)
    }

    pub fn in32(&self, port: u16) -> Result<u32, Error> {
        self.check(port, 4)?;
        self.cap().in32(port).map_err(Error::Kernel)
    }

    pub fn out8(&self, port: u16, value: u8) -> Result<(), Error> {
        self.check(port, 1)?;
        self.cap().out8(port, value).map_err(Error::Kernel)
    }

    pub fn out16(&self, port: u16, value: u16) -> Result<(), Error> {
        self.check(port, 2)?;
        self.cap().out16(port, value).map_err(Error::Kernel)
    }

    pub fn out32(&self, port: u16, value: u32) -> Result<(), Error> {
        self.check(port, 4)?;
        self.cap().out32(port, value).map_err(Error::Kernel)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn grants() -> Grants {
        let mut g = Grants::NONE;
        g.ioports = 1 << 1;
        g.ioport_first[1] = 0xc000;
        g.ioport_size[1] = 0x40;
        g
    }

    #[test]
    fn accesses_are_checked_against_the_granted_range() {
        let io = IoPort::from_grants(&grants(), 1).unwrap();
        assert_eq!((io.first(), io.size()), (0xc000, 0x40));
        assert_eq!(io.check(0xc000, 4), Ok(()));
        assert_eq!(io.check(0xc03c, 4), Ok(()));
        assert_eq!(io.check(0xc03f, 1), Ok(()));
        assert!(io.check(0xc03e, 4).is_err(), "straddles the end");
        assert!(io.check(0xbfff, 1).is_err(), "below the range");
        assert!(io.check(0xc040, 1).is_err(), "just past the end");
        let e = io.check(0xffff, 2).unwrap_err();
        assert!(format!("{e}").contains("0xc000..0xc040"), "{e}");
    }

    #[test]
    fn out_of_range_access_fails_before_any_kernel_call() {
        // On the host a kernel call would crash the test: reaching the error proves the
        // check comes first.
        let io = IoPort::from_grants(&grants(), 1).unwrap();
        assert!(matches!(io.in8(0x3f8), Err(Error::PortOutOfRange { port: 0x3f8, width: 1, .. })));
        assert!(matches!(io.out32(0xc03d, 0), Err(Error::PortOutOfRange { .. })));
    }

    #[test]
    fn ungranted_ranges_are_errors() {
        assert_eq!(IoPort::from_grants(&grants(), 0), Err(Error::NotGranted { kind: GrantKind::IoPort, id: 0 }));
        assert!(IoPort::from_grants(&grants(), 99).is_err());
        // And the live runtime (nothing granted on the host) refuses too.
        assert!(IoPort::new(1).is_err());
    }
}
