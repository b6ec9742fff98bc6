//! Behavioural model of the DP83820 written from its documented programming model (datasheet
//! §4.2 registers, §5 descriptors; as used by Linux's ns83820.c and modelled by gem5's
//! ns_gige): CR enable/disable/reset bits, reset values, PTSCR.EELOAD_EN reloading the
//! perfect-match address from the EEPROM, RFCR/RFDR access to it and to the 2048-bit receive
//! hash table (filter memory 0x100..=0x1fe) with RFCR.UHEN/MHEN hash filtering of unicast /
//! multicast destinations (index: top 11 bits of the Ethernet CRC-32 of the destination, as
//! FreeBSD's nge driver and gem5's ns_gige lay it out), ISR read-to-clear with
//! IMR/IER gating, IHR hold-off in 100 us units, linked descriptor lists in 32- or 64-bit
//! format (CFG.M64ADDR) walked from RXDP/TXDP with OWN hand-over, RXIDLE/TXIDLE when the engine
//! meets a descriptor it does not own, read-to-clear MIB counters.
//!
//! Simplifications: no receive FIFO (a frame arriving while the receiver is idle or disabled
//! is dropped and counted as missed with ISR.RXORN), transmission completes when the engine is
//! kicked, IHR is a minimum interval between interrupt assertions, no PHY/TBI, no VLAN/IP
//! checksum offload, no pattern-match memory (RFDR reads 0 outside the perfect-match and hash
//! addresses, writes there are ignored), RFDR's byte-mask bits are ignored. The hash RAM starts
//! zeroed and is kept across CR.RST (nothing documents that a reset clears it), so a driver
//! must rewrite all of it.

extern crate std;

use super::{Clock, IrqGate, MmioDevice, NicModel, Phys};
use crate::dp83820::regs::*;
use std::vec::Vec;

/// Bytes of receive hash-table memory.
pub const HASH_BYTES: usize = 2 * HASH_WORDS;

/// The hash-table bit of destination `dst`, computed here independently of the backend's
/// bitwise CRC: the register of the common reflected CRC-32 (polynomial 0xedb88320, zlib's)
/// before its final inversion, bit-reversed, is the MSB-first Ethernet CRC whose top 11 bits
/// index the table.
pub fn hash_index(dst: &[u8]) -> u16 {
    let mut crc = u32::MAX;
    for &b in dst {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = if crc & 1 != 0 { (crc >> 1) ^ 0xedb8_8320 } else { crc >> 1 };
        }
    }
    (crc.reverse_bits() >> 21) as u16
}

/// Reset value of CFG: link up (LNKSTS), as gem5 models a linked port.
pub const CFG_RESET: u32 = CFG_LNKSTS;
/// Reset value of ISR: transmit and receive reset complete.
pub const ISR_RESET: u32 = ISR_TXRCMP | ISR_RXRCMP;
/// Reset values of the other documented registers.
pub const MEAR_RESET: u32 = 0x12;
pub const TXCFG_RESET: u32 = 0x120;
pub const RXCFG_RESET: u32 = 0x4;
pub const SRR_RESET: u32 = 0x0103;
pub const MIBC_RESET: u32 = 0x2;

/// The model's state.
pub struct Dp83820Model {
    phys: Phys,
    clock: Clock,
    /// The MAC address held in the EEPROM.
    pub eeprom_mac: [u8; 6],
    /// Reads for which CR.RST / PTSCR.EELOAD_EN stay busy.
    pub busy_reads: u32,
    rst_busy: u32,
    eeload_busy: u32,
    perfect: [u8; 6],
    /// The receive hash table, byte `i` = filter memory `0x100 + i` (RFDR low byte at even
    /// addresses, high byte at the odd one after it).
    hash: [u8; HASH_BYTES],
    rx_en: bool,
    tx_en: bool,
    rx_idle: bool,
    tx_idle: bool,
    cfg: u32,
    mear: u32,
    ptscr: u32,
    isr: u32,
    imr: u32,
    ier: u32,
    ihr: u32,
    txdp: u64,
    rxdp: u64,
    txcfg: u32,
    rxcfg: u32,
    rfcr: u32,
    pqcr: u32,
    wcsr: u32,
    mibc: u32,
    mib_missed: u32,
    mib_rx_err: u32,
    gate: IrqGate,
    sent: Vec<Vec<u8>>,
    overruns: u64,
    /// Frames refused by the receive filter.
    pub filtered: u64,
}

impl Dp83820Model {
    /// A powered-up DP83820 with `mac` in its EEPROM (loaded at power-up).
    pub fn new(phys: Phys, clock: Clock, mac: [u8; 6]) -> Self {
        let mut m = Self {
            phys,
            clock,
            eeprom_mac: mac,
            busy_reads: 2,
            rst_busy: 0,
            eeload_busy: 0,
            perfect: mac,
            hash: [0; HASH_BYTES],
            rx_en: false,
            tx_en: false,
            rx_idle: true,
            tx_idle: true,
            cfg: 0,
            mear: 0,
            ptscr: 0,
            isr: 0,
            imr: 0,
            ier: 0,
            ihr: 0,
            txdp: 0,
            rxdp: 0,
            txcfg: 0,
            rxcfg: 0,
            rfcr: 0,
            pqcr: 0,
            wcsr: 0,
            mibc: 0,
            mib_missed: 0,
            mib_rx_err: 0,
            gate: IrqGate::default(),
            sent: Vec::new(),
            overruns: 0,
            filtered: 0,
        };
        m.regs_reset();
        m.perfect = mac; // power-up autoload
        m.rst_busy = 0;
        m
    }

    /// CR.RST: registers to reset values; the perfect-match memory is cleared until the
    /// EEPROM is reloaded (PTSCR.EELOAD_EN), which is why drivers reload after a reset.
    fn regs_reset(&mut self) {
        self.rx_en = false;
        self.tx_en = false;
        self.rx_idle = true;
        self.tx_idle = true;
        self.cfg = CFG_RESET;
        self.mear = MEAR_RESET;
        self.ptscr = 0;
        self.isr = ISR_RESET;
        self.imr = 0;
        self.ier = 0;
        self.ihr = 0;
        self.txdp = 0;
        self.rxdp = 0;
        self.txcfg = TXCFG_RESET;
        self.rxcfg = RXCFG_RESET;
        self.rfcr = 0;
        self.pqcr = 0;
        self.wcsr = 0;
        self.mibc = MIBC_RESET;
        self.perfect = [0; 6];
        self.gate.reset();
        self.rst_busy = self.busy_reads;
    }

    /// The hold-off the driver programmed, in ns.
    pub fn holdoff_ns(&self) -> u64 {
        u64::from(self.ihr & 0xff) * u64::from(IHR_UNIT_US) * 1000
    }

    /// The perfect-match (station) address currently in the filter.
    pub fn perfect_match(&self) -> [u8; 6] {
        self.perfect
    }

    /// The receive hash table as 128 16-bit words (word `w` at filter memory `0x100 + 2w`).
    pub fn hash_words(&self) -> [u16; HASH_WORDS] {
        core::array::from_fn(|w| u16::from_le_bytes([self.hash[2 * w], self.hash[2 * w + 1]]))
    }

    fn hash_hit(&self, dst: &[u8]) -> bool {
        let i = usize::from(hash_index(dst));
        self.hash[i / 8] & (1 << (i % 8)) != 0
    }

    /// The hash-table byte offset for filter-memory address `a`, if `a` is a word of the table.
    fn hash_at(a: u32) -> Option<usize> {
        let off = a.checked_sub(RFADDR_HASH)? as usize;
        (off < HASH_BYTES && off.is_multiple_of(2)).then_some(off)
    }

    /// Whether the receive engine is idle (stopped at a descriptor it does not own).
    pub fn rx_idle(&self) -> bool {
        self.rx_idle
    }

    /// Whether the transmit engine is idle.
    pub fn tx_idle(&self) -> bool {
        self.tx_idle
    }

    fn wide(&self) -> bool {
        self.cfg & CFG_M64ADDR != 0
    }

    /// (link, bufptr, cmdsts offset) of the descriptor at `a`.
    fn desc(&self, a: u64) -> (u64, u64, u64) {
        let mut p = self.phys.borrow_mut();
        if self.wide() {
            let link = u64::from(p.read32(a)) | u64::from(p.read32(a + 4)) << 32;
            let buf = u64::from(p.read32(a + 8)) | u64::from(p.read32(a + 12)) << 32;
            (link, buf, a + 16)
        } else {
            (u64::from(p.read32(a)), u64::from(p.read32(a + 4)), a + 8)
        }
    }

    fn accepts(&self, frame: &[u8]) -> bool {
        let r = self.rfcr;
        if r & RFCR_RFEN == 0 {
            return false; // filter disabled: nothing is accepted
        }
        let dst = &frame[0..6];
        if dst == [0xff; 6] {
            return r & RFCR_AAB != 0;
        }
        if dst[0] & 1 != 0 {
            return r & RFCR_AAM != 0 || (r & RFCR_MHEN != 0 && self.hash_hit(dst));
        }
        r & RFCR_AAU != 0 || (r & RFCR_APM != 0 && dst == self.perfect) || (r & RFCR_UHEN != 0 && self.hash_hit(dst))
    }

    fn miss(&mut self) {
        self.mib_missed = self.mib_missed.saturating_add(1);
        self.overruns += 1;
        self.isr |= ISR_RXORN;
    }

    fn run_tx(&mut self) {
        if !self.tx_en {
            return;
        }
        self.tx_idle = false;
        let mut frame = Vec::new();
        for _ in 0..4096 {
            if self.txdp == 0 {
                self.tx_idle = true;
                self.isr |= ISR_TXIDLE;
                return;
            }
            let (link, buf, cs_at) = self.desc(self.txdp);
            let cs = self.phys.borrow_mut().read32(cs_at);
            if cs & CMDSTS_OWN == 0 {
                // Transmit OWN clear: the driver's descriptor; stop here.
                self.tx_idle = true;
                self.isr |= ISR_TXIDLE;
                return;
            }
            let len = (cs & CMDSTS_LEN_MASK) as usize;
            let mut b = std::vec![0u8; len];
            let ok = self.phys.borrow_mut().read(buf, &mut b);
            frame.extend_from_slice(&b);
            let status = if ok { CMDSTS_OK } else { CMDSTS_ERR };
            // Done: clear OWN (hand back to the driver), report status.
            self.phys.borrow_mut().write32(cs_at, (cs & !CMDSTS_OWN) | status);
            self.isr |= ISR_TXOK;
            if cs & CMDSTS_INTR != 0 {
                self.isr |= ISR_TXDESC;
            }
            if cs & CMDSTS_MORE == 0 {
                let mut f = core::mem::take(&mut frame);
                if self.txcfg & TXCFG_ATP != 0 && f.len() < 60 {
                    f.resize(60, 0);
                }
                self.sent.push(f);
            }
            self.txdp = link;
        }
    }
}

impl Dp83820Model {
    fn reg_read(&mut self, offset: usize) -> u32 {
        match offset {
            CR => {
                let mut v = 0;
                if self.tx_en {
                    v |= CR_TXE;
                }
                if self.rx_en {
                    v |= CR_RXE;
                }
                if self.rst_busy > 0 {
                    self.rst_busy -= 1;
                    v |= CR_RST;
                }
                v
            }
            CFG => self.cfg,
            MEAR => self.mear,
            PTSCR => {
                if self.eeload_busy > 0 {
                    self.eeload_busy -= 1;
                    if self.eeload_busy == 0 {
                        self.perfect = self.eeprom_mac;
                        self.ptscr &= !PTSCR_EELOAD_EN;
                    }
                }
                self.ptscr
            }
            ISR => core::mem::take(&mut self.isr),
            IMR => self.imr,
            IER => self.ier,
            IHR => self.ihr,
            TXDP => self.txdp as u32,
            TXDP_HI => (self.txdp >> 32) as u32,
            TXCFG => self.txcfg,
            RXDP => self.rxdp as u32,
            RXDP_HI => (self.rxdp >> 32) as u32,
            RXCFG => self.rxcfg,
            PQCR => self.pqcr,
            WCSR => self.wcsr,
            RFCR => self.rfcr,
            RFDR => match self.rfcr & RFCR_ADDR_MASK {
                a @ (0 | 2 | 4) => {
                    let i = a as usize;
                    u32::from(u16::from_le_bytes([self.perfect[i], self.perfect[i + 1]]))
                }
                a => match Self::hash_at(a) {
                    Some(o) => u32::from(u16::from_le_bytes([self.hash[o], self.hash[o + 1]])),
                    None => 0,
                },
            },
            SRR => SRR_RESET,
            MIBC => self.mibc,
            MIB_RX_MISSED => core::mem::take(&mut self.mib_missed),
            MIB_RX_ERRORED => core::mem::take(&mut self.mib_rx_err),
            _ => 0,
        }
    }

    fn reg_write(&mut self, offset: usize, v: u32) {
        match offset {
            CR => {
                if v & CR_RST != 0 {
                    self.regs_reset();
                    return;
                }
                if v & CR_TXR != 0 {
                    self.tx_en = false;
                    self.tx_idle = true;
                }
                if v & CR_RXR != 0 {
                    self.rx_en = false;
                    self.rx_idle = true;
                }
                if v & CR_TXD != 0 {
                    self.tx_en = false;
                } else if v & CR_TXE != 0 {
                    self.tx_en = true;
                    self.run_tx();
                }
                if v & CR_RXD != 0 {
                    self.rx_en = false;
                } else if v & CR_RXE != 0 {
                    self.rx_en = true;
                    // (Re)start at RXDP: the descriptor there is read again on the next frame.
                    self.rx_idle = false;
                }
                if v & CR_SWI != 0 {
                    self.isr |= ISR_SWI;
                }
            }
            CFG => {
                // LNKSTS/SPDSTS/DUPSTS and PCI64_DET are status bits.
                let ro = CFG_LNKSTS | 0x7000_0000 | CFG_PCI64_DET;
                self.cfg = (self.cfg & ro) | (v & !ro);
            }
            MEAR => self.mear = v,
            PTSCR => {
                self.ptscr = v & !PTSCR_EEBIST_EN;
                if v & PTSCR_EELOAD_EN != 0 {
                    self.eeload_busy = self.busy_reads.max(1);
                }
            }
            ISR => {} // read-only
            IMR => self.imr = v,
            IER => self.ier = v & IER_IE,
            IHR => self.ihr = v,
            TXDP => self.txdp = (self.txdp & !0xffff_ffff) | u64::from(v & !0x3),
            TXDP_HI => self.txdp = (self.txdp & 0xffff_ffff) | u64::from(v) << 32,
            TXCFG => self.txcfg = v,
            RXDP => self.rxdp = (self.rxdp & !0xffff_ffff) | u64::from(v & !0x3),
            RXDP_HI => self.rxdp = (self.rxdp & 0xffff_ffff) | u64::from(v) << 32,
            RXCFG => self.rxcfg = v,
            PQCR => self.pqcr = v,
            WCSR => self.wcsr = v,
            RFCR => self.rfcr = v,
            RFDR => {
                let b = (v as u16).to_le_bytes();
                match self.rfcr & RFCR_ADDR_MASK {
                    a @ (0 | 2 | 4) => {
                        self.perfect[a as usize] = b[0];
                        self.perfect[a as usize + 1] = b[1];
                    }
                    a => {
                        if let Some(o) = Self::hash_at(a) {
                            self.hash[o] = b[0];
                            self.hash[o + 1] = b[1];
                        }
                    }
                }
            }
            MIBC => self.mibc = v,
            _ => {}
        }
    }
}

impl MmioDevice for Dp83820Model {
    fn mmio_read(&mut self, offset: usize) -> u32 {
        let v = self.reg_read(offset);
        let _ = self.irq_line(); // the line follows the registers (e.g. deasserts on a cause read)
        v
    }

    fn mmio_write(&mut self, offset: usize, v: u32) {
        self.reg_write(offset, v);
        let _ = self.irq_line();
    }
}

impl NicModel for Dp83820Model {
    fn deliver(&mut self, frame: &[u8]) {
        if frame.len() < 14 {
            return;
        }
        if !self.accepts(frame) {
            self.filtered += 1;
            return;
        }
        if !self.rx_en || self.rx_idle || self.rxdp == 0 {
            self.miss();
            return;
        }
        let (link, buf, cs_at) = self.desc(self.rxdp);
        let cs = self.phys.borrow_mut().read32(cs_at);
        if cs & CMDSTS_OWN != 0 {
            // Receive OWN set: the driver's (empty or unreaped) descriptor; go idle.
            self.rx_idle = true;
            self.isr |= ISR_RXIDLE;
            self.miss();
            return;
        }
        let size = (cs & CMDSTS_LEN_MASK) as usize;
        let dest = if frame[0] & 1 != 0 { CMDSTS_DEST_MULTI } else { CMDSTS_DEST_SELF };
        let status = if frame.len() <= size {
            let ok = self.phys.borrow_mut().write(buf, frame);
            if ok {
                CMDSTS_OK | dest | frame.len() as u32
            } else {
                CMDSTS_ERR
            }
        } else {
            self.mib_rx_err = self.mib_rx_err.saturating_add(1);
            self.isr |= ISR_RXERR;
            CMDSTS_ERR | size as u32
        };
        // Filled: set OWN (hand to the driver) with status and length.
        self.phys.borrow_mut().write32(cs_at, CMDSTS_OWN | status);
        self.isr |= ISR_RXOK;
        if cs & CMDSTS_INTR != 0 {
            self.isr |= ISR_RXDESC;
        }
        self.rxdp = link;
        if link == 0 {
            self.rx_idle = true;
            self.isr |= ISR_RXIDLE;
        }
    }

    fn take_sent(&mut self) -> Vec<Vec<u8>> {
        core::mem::take(&mut self.sent)
    }

    fn irq_line(&mut self) -> bool {
        let now = self.clock.now();
        let h = self.holdoff_ns();
        self.gate.level(self.ier & IER_IE != 0 && self.isr & self.imr != 0, now, h)
    }

    fn cause_pending(&self) -> bool {
        self.ier & IER_IE != 0 && self.isr & self.imr != 0
    }

    fn irq_edges(&self) -> u64 {
        self.gate.edges
    }

    fn rx_overruns(&self) -> u64 {
        self.overruns
    }

    fn programmed_holdoff_ns(&self) -> u64 {
        self.holdoff_ns()
    }

    fn eeprom_mac(&self) -> [u8; 6] {
        self.eeprom_mac
    }
}

#[cfg(test)]
mod tests {
    //! The model's own register behaviour, independent of the driver.
    use super::*;
    use crate::model::PhysMem;

    const MAC: [u8; 6] = [0x00, 0x40, 0xf4, 0x12, 0x34, 0x56];
    const BASE: u64 = 0x10_0000;

    fn model() -> (Dp83820Model, Phys, Clock) {
        let phys = PhysMem::new(BASE, 64 * 1024);
        let clock = Clock::default();
        (Dp83820Model::new(phys.clone(), clock.clone(), MAC), phys, clock)
    }

    fn frame(dst: [u8; 6], len: usize) -> Vec<u8> {
        crate::model::test_frame(dst, [2, 0, 0, 0, 0, 1], len, 7)
    }

    /// Writes a 32-bit descriptor at `a`.
    fn desc32(p: &Phys, a: u64, link: u64, buf: u64, cmdsts: u32) {
        let mut p = p.borrow_mut();
        p.write32(a, link as u32);
        p.write32(a + 4, buf as u32);
        p.write32(a + 8, cmdsts);
        p.write32(a + 12, 0);
    }

    #[test]
    fn reset_values_and_self_clearing_reset() {
        let (mut m, _, _) = model();
        m.mmio_write(IMR, 0xffff);
        m.mmio_write(CR, CR_RST);
        assert_ne!(m.mmio_read(CR) & CR_RST, 0, "reset is busy for a while");
        assert_ne!(m.mmio_read(CR) & CR_RST, 0);
        assert_eq!(m.mmio_read(CR) & CR_RST, 0, "then self-clears");
        assert_eq!(m.mmio_read(IMR), 0);
        assert_eq!(m.mmio_read(CFG), CFG_RESET);
        assert_eq!(m.mmio_read(MEAR), MEAR_RESET);
        assert_eq!(m.mmio_read(TXCFG), TXCFG_RESET);
        assert_eq!(m.mmio_read(RXCFG), RXCFG_RESET);
        assert_eq!(m.mmio_read(SRR), SRR_RESET);
        assert_eq!(m.mmio_read(MIBC), MIBC_RESET);
        assert_eq!(m.mmio_read(ISR), ISR_RESET, "reset-complete bits");
    }

    #[test]
    fn isr_is_read_to_clear_and_read_only() {
        let (mut m, _, _) = model();
        let _ = m.mmio_read(ISR);
        m.mmio_write(CR, CR_SWI);
        assert_eq!(m.mmio_read(ISR), ISR_SWI);
        assert_eq!(m.mmio_read(ISR), 0, "second read sees it cleared");
        m.mmio_write(ISR, 0xffff_ffff);
        assert_eq!(m.mmio_read(ISR), 0, "writes are ignored");
    }

    #[test]
    fn interrupt_needs_imr_and_ier() {
        let (mut m, _, _) = model();
        let _ = m.mmio_read(ISR);
        m.mmio_write(CR, CR_SWI);
        assert!(!m.irq_line(), "IMR clear");
        m.mmio_write(IMR, ISR_SWI);
        assert!(!m.irq_line(), "IER clear");
        m.mmio_write(IER, IER_IE);
        assert!(m.irq_line());
        let _ = m.mmio_read(ISR);
        assert!(!m.irq_line(), "reading ISR deasserts");
    }

    #[test]
    fn ihr_delays_interrupts_in_100us_units() {
        let (mut m, _, clock) = model();
        let _ = m.mmio_read(ISR);
        m.mmio_write(IMR, ISR_SWI);
        m.mmio_write(IER, IER_IE);
        m.mmio_write(IHR, 2); // 200 us
        m.mmio_write(CR, CR_SWI);
        assert!(m.irq_line(), "first interrupt is immediate");
        let _ = m.mmio_read(ISR);
        clock.advance(10_000);
        m.mmio_write(CR, CR_SWI);
        assert!(!m.irq_line(), "held off");
        clock.advance(189_000);
        assert!(!m.irq_line(), "still held off at 199 us");
        clock.advance(1_000);
        assert!(m.irq_line(), "delivered at 200 us");
        assert_eq!(m.irq_edges(), 2);
        // IHR = 0: back-to-back interrupts.
        let _ = m.mmio_read(ISR);
        m.mmio_write(IHR, 0);
        m.mmio_write(CR, CR_SWI);
        assert!(m.irq_line());
    }

    #[test]
    fn rfcr_rfdr_mac_programming_and_eeprom_reload() {
        let (mut m, _, _) = model();
        let read_mac = |m: &mut Dp83820Model| {
            let mut mac = [0u8; 6];
            for i in 0..3 {
                m.mmio_write(RFCR, (i * 2) as u32);
                let w = (m.mmio_read(RFDR) as u16).to_le_bytes();
                mac[2 * i] = w[0];
                mac[2 * i + 1] = w[1];
            }
            mac
        };
        assert_eq!(read_mac(&mut m), MAC, "loaded at power-up");
        m.mmio_write(CR, CR_RST);
        assert_eq!(read_mac(&mut m), [0; 6], "reset clears the perfect-match memory");
        m.mmio_write(PTSCR, PTSCR_EELOAD_EN);
        while m.mmio_read(PTSCR) & PTSCR_EELOAD_EN != 0 {}
        assert_eq!(read_mac(&mut m), MAC, "EEPROM reload restores it");
        // Program a new address word by word.
        let new = [0x02, 0x11, 0x22, 0x33, 0x44, 0x55];
        for i in 0..3 {
            m.mmio_write(RFCR, (i * 2) as u32);
            m.mmio_write(RFDR, u32::from(u16::from_le_bytes([new[2 * i], new[2 * i + 1]])));
        }
        assert_eq!(read_mac(&mut m), new);
        // Filter: with RFEN|APM only frames to the new address are accepted.
        m.mmio_write(RFCR, RFCR_RFEN | RFCR_APM);
        m.mmio_write(CR, CR_RXE);
        m.deliver(&frame(MAC, 60));
        assert_eq!(m.filtered, 1, "old address refused");
        m.mmio_write(RFCR, 0);
        m.deliver(&frame(new, 60));
        assert_eq!(m.filtered, 2, "RFEN clear refuses everything");
    }

    #[test]
    fn hash_table_memory_and_hash_filtering() {
        let (mut m, p, _) = model();
        // Words at 0x100..=0x1fe read back; odd and out-of-table addresses do not alias them.
        m.mmio_write(RFCR, RFADDR_HASH);
        m.mmio_write(RFDR, 0x0001_a55a); // byte-mask bits above 15 are ignored
        m.mmio_write(RFCR, RFADDR_HASH + 0xfe);
        m.mmio_write(RFDR, 0x8001);
        m.mmio_write(RFCR, RFADDR_HASH + 0x100);
        m.mmio_write(RFDR, 0xffff);
        m.mmio_write(RFCR, RFADDR_HASH + 1);
        m.mmio_write(RFDR, 0xffff);
        m.mmio_write(RFCR, RFADDR_HASH);
        assert_eq!(m.mmio_read(RFDR), 0xa55a);
        m.mmio_write(RFCR, RFADDR_HASH + 0xfe);
        assert_eq!(m.mmio_read(RFDR), 0x8001);
        m.mmio_write(RFCR, RFADDR_HASH + 0x100);
        assert_eq!(m.mmio_read(RFDR), 0, "0x200 is past the table");
        let w = m.hash_words();
        assert_eq!((w[0], w[127]), (0xa55a, 0x8001));
        assert!(w[1..127].iter().all(|&x| x == 0));
        // Clear it, then set exactly the bit of one unicast and one multicast address.
        for i in 0..HASH_WORDS as u32 {
            m.mmio_write(RFCR, RFADDR_HASH + 2 * i);
            m.mmio_write(RFDR, 0);
        }
        let uni = [0x02, 0x11, 0x22, 0x33, 0x44, 0x55];
        let multi = [0x01, 0x00, 0x5e, 0x00, 0x00, 0x01];
        for a in [uni, multi] {
            let i = u32::from(hash_index(&a));
            let at = RFADDR_HASH + 2 * (i >> 4);
            m.mmio_write(RFCR, at);
            let old = m.mmio_read(RFDR);
            m.mmio_write(RFDR, old | 1 << (i & 15));
        }
        let other = [0x02, 0x11, 0x22, 0x33, 0x44, 0x56];
        assert_ne!(hash_index(&other), hash_index(&uni), "test addresses must not collide");
        let (d0, b0) = (BASE, BASE + 0x1000);
        desc32(&p, d0, d0, b0, 1536);
        m.mmio_write(RXDP, d0 as u32);
        m.mmio_write(CR, CR_RXE);
        // (Only the filter verdict matters here: accepted frames after the first find the
        // one descriptor full and are counted as missed, not filtered.)
        // Without UHEN/MHEN the table is not consulted.
        m.mmio_write(RFCR, RFCR_RFEN | RFCR_APM);
        m.deliver(&frame(uni, 60));
        m.deliver(&frame(multi, 60));
        assert_eq!(m.filtered, 2);
        // UHEN: the hashed unicast passes, another unicast does not, multicast still not.
        m.mmio_write(RFCR, RFCR_RFEN | RFCR_APM | RFCR_UHEN);
        m.deliver(&frame(uni, 60));
        assert_eq!(m.filtered, 2, "hashed unicast accepted");
        m.deliver(&frame(other, 60));
        m.deliver(&frame(multi, 60));
        assert_eq!(m.filtered, 4);
        // MHEN: the hashed multicast passes.
        m.mmio_write(RFCR, RFCR_RFEN | RFCR_MHEN);
        m.deliver(&frame(multi, 60));
        assert_eq!(m.filtered, 4, "hashed multicast accepted");
        // The hash RAM survives a reset (nothing documents that it is cleared).
        let before = m.hash_words();
        m.mmio_write(CR, CR_RST);
        assert_eq!(m.hash_words(), before);
    }

    #[test]
    fn rx_own_semantics() {
        let (mut m, p, _) = model();
        let (d0, d1) = (BASE, BASE + 16);
        let (b0, b1) = (BASE + 0x1000, BASE + 0x1800);
        // d0: device-owned (OWN clear), d1: driver-owned (OWN set) -> receiver stops there.
        desc32(&p, d0, d1, b0, CMDSTS_INTR | 1536);
        desc32(&p, d1, d0, b1, CMDSTS_OWN);
        m.mmio_write(RXDP, d0 as u32);
        m.mmio_write(RFCR, RFCR_RFEN | RFCR_APM | RFCR_AAB);
        m.mmio_write(CR, CR_RXE);
        let _ = m.mmio_read(ISR);
        let f = frame(MAC, 100);
        m.deliver(&f);
        let cs = p.borrow_mut().read32(d0 + 8);
        assert_ne!(cs & CMDSTS_OWN, 0, "filled rx descriptor has OWN set");
        assert_ne!(cs & CMDSTS_OK, 0);
        assert_eq!(cs & CMDSTS_LEN_MASK, 100);
        let mut got = std::vec![0u8; 100];
        p.borrow_mut().read(b0, &mut got);
        assert_eq!(got, f, "frame DMAed into the buffer");
        assert_eq!(m.mmio_read(ISR), ISR_RXOK | ISR_RXDESC);
        // Next frame meets d1 (OWN set): idle, missed, RXORN.
        m.deliver(&f);
        assert!(m.rx_idle());
        assert_eq!(m.mmio_read(ISR), ISR_RXIDLE | ISR_RXORN);
        assert_eq!(m.mmio_read(MIB_RX_MISSED), 1);
        assert_eq!(m.mmio_read(MIB_RX_MISSED), 0, "MIB counters clear on read");
        // Driver gives d1 to the device (OWN clear) and re-enables: reception resumes at d1.
        desc32(&p, d1, d0, b1, 1536);
        m.mmio_write(CR, CR_RXE);
        m.deliver(&f);
        assert_ne!(p.borrow_mut().read32(d1 + 8) & CMDSTS_OWN, 0);
    }

    #[test]
    fn tx_own_semantics_and_64bit_descriptors() {
        let (mut m, p, _) = model();
        m.mmio_write(CFG, CFG_M64ADDR);
        let (d0, d1) = (BASE, BASE + 32);
        let buf = BASE + 0x2000;
        let f = frame([0xff; 6], 42);
        p.borrow_mut().write(buf, &f);
        let desc64 = |a: u64, link: u64, cs: u32| {
            let mut p = p.borrow_mut();
            p.write32(a, link as u32);
            p.write32(a + 4, (link >> 32) as u32);
            p.write32(a + 8, buf as u32);
            p.write32(a + 12, 0);
            p.write32(a + 16, cs);
        };
        // d0 owned by the device (OWN set), d1 by the driver (OWN clear).
        desc64(d0, d1, CMDSTS_OWN | CMDSTS_INTR | 42);
        desc64(d1, d0, 42);
        m.mmio_write(TXDP, d0 as u32);
        m.mmio_write(TXCFG, TXCFG_ATP);
        let _ = m.mmio_read(ISR);
        m.mmio_write(CR, CR_TXE);
        let sent = m.take_sent();
        assert_eq!(sent.len(), 1, "only the OWN descriptor is sent");
        assert_eq!(sent[0].len(), 60, "auto-padded to the minimum frame");
        assert_eq!(&sent[0][..42], &f[..]);
        let cs = p.borrow_mut().read32(d0 + 16);
        assert_eq!(cs & CMDSTS_OWN, 0, "device clears OWN when done");
        assert_ne!(cs & CMDSTS_OK, 0);
        assert!(m.tx_idle());
        assert_eq!(m.mmio_read(ISR), ISR_TXOK | ISR_TXDESC | ISR_TXIDLE);
        assert_eq!(m.mmio_read(TXDP) as u64, d1, "TXDP stops at the first non-owned descriptor");
    }
}
