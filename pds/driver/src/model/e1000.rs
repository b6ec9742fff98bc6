//! Behavioural model of the 82540EM (e1000) as the driver uses it, written from the 8254x SDM
//! (and matching what QEMU's `hw/net/e1000.c` does): CTRL.RST, EEPROM read through EERD, RAL/RAH
//! loaded from the EEPROM at reset, legacy rx/tx rings with head/tail registers and DD
//! write-back, ICR read-to-clear, IMS/IMC, ITR as a minimum inter-interrupt interval in 256 ns
//! units, and read-to-clear statistics (MPC counts frames dropped with no free descriptor).
//! Simplifications: no FIFO (a frame with no free descriptor is dropped at once), transmission
//! completes when TDT is written, no PHY/MDIC.
//!
//! [`E1000Model::new_82574`] is the 82574L (QEMU's `hw/net/e1000e_core.c`) as far as this driver
//! reaches it: the same registers, legacy descriptors (RFCTL.EXSTEN clear) and ICR read-to-clear
//! (without MSI-X), but the 82574's EERD layout (DONE bit 1, word address from bit 2), so a
//! driver that reads the EEPROM the 82540 way gets the wrong words.

extern crate std;

use super::{Clock, IrqGate, MmioDevice, NicModel, Phys};
use crate::e1000::regs::*;
use crate::e1000::{EerdLayout, Intel};
use std::vec::Vec;

/// The model's state.
pub struct E1000Model {
    /// Which family member it models.
    pub model: Intel,
    phys: Phys,
    clock: Clock,
    /// EEPROM words (0..3 = MAC).
    pub eeprom: [u16; 64],
    /// Whether a reset loads RAL0/RAH0 from the EEPROM (real parts do; clear it to exercise
    /// the driver's EERD fallback).
    pub autoload_mac: bool,
    /// Reads of CTRL for which RST still shows busy after a reset.
    pub reset_busy_reads: u32,
    busy: u32,
    ctrl: u32,
    status: u32,
    eerd: u32,
    icr: u32,
    ims: u32,
    itr: u32,
    rctl: u32,
    tctl: u32,
    rdba: u64,
    rdlen: u32,
    rdh: u32,
    rdt: u32,
    tdba: u64,
    tdlen: u32,
    tdh: u32,
    tdt: u32,
    /// The receive-address filter: (RAL(n), RAH(n)) for its 16 entries.
    ra: [(u32, u32); 16],
    mta: [u32; 128],
    mpc: u32,
    gprc: u32,
    gptc: u32,
    gate: IrqGate,
    sent: Vec<Vec<u8>>,
    pending_tx: Vec<u8>,
    overruns: u64,
    /// Frames refused by the receive filter.
    pub filtered: u64,
}

impl E1000Model {
    /// A powered-up 82540EM with `mac` in its EEPROM.
    pub fn new(phys: Phys, clock: Clock, mac: [u8; 6]) -> Self {
        Self::for_model(Intel::I82540, phys, clock, mac)
    }

    /// A powered-up 82574L with `mac` in its EEPROM.
    pub fn new_82574(phys: Phys, clock: Clock, mac: [u8; 6]) -> Self {
        Self::for_model(Intel::I82574, phys, clock, mac)
    }

    fn for_model(model: Intel, phys: Phys, clock: Clock, mac: [u8; 6]) -> Self {
        let mut eeprom = [0u16; 64];
        for i in 0..3 {
            eeprom[i] = u16::from_le_bytes([mac[2 * i], mac[2 * i + 1]]);
        }
        let mut m = Self {
            model,
            phys,
            clock,
            eeprom,
            autoload_mac: true,
            reset_busy_reads: 2,
            busy: 0,
            ctrl: 0,
            status: 0,
            eerd: 0,
            icr: 0,
            ims: 0,
            itr: 0,
            rctl: 0,
            tctl: 0,
            rdba: 0,
            rdlen: 0,
            rdh: 0,
            rdt: 0,
            tdba: 0,
            tdlen: 0,
            tdh: 0,
            tdt: 0,
            ra: [(0, 0); 16],
            mta: [0; 128],
            mpc: 0,
            gprc: 0,
            gptc: 0,
            gate: IrqGate::default(),
            sent: Vec::new(),
            pending_tx: Vec::new(),
            overruns: 0,
            filtered: 0,
        };
        m.reset();
        m.busy = 0;
        m
    }

    fn reset(&mut self) {
        self.ctrl = 0;
        self.status = 0; // link down until SLU
        self.icr = 0;
        self.ims = 0;
        self.itr = 0;
        self.rctl = 0;
        self.tctl = 0;
        self.rdba = 0;
        self.rdlen = 0;
        self.rdh = 0;
        self.rdt = 0;
        self.tdba = 0;
        self.tdlen = 0;
        self.tdh = 0;
        self.tdt = 0;
        self.mta = [0; 128];
        self.pending_tx.clear();
        self.gate.reset();
        // Entries 1..15 come out of reset invalid; entry 0 is loaded from the EEPROM.
        self.ra = [(0, 0); 16];
        if self.autoload_mac {
            let e = &self.eeprom;
            self.ra[0] = (u32::from(e[0]) | u32::from(e[1]) << 16, u32::from(e[2]) | RAH_AV);
        }
        self.busy = self.reset_busy_reads;
    }

    /// The hold-off the driver programmed, in ns.
    pub fn holdoff_ns(&self) -> u64 {
        u64::from(self.itr & 0xffff) * u64::from(ITR_UNIT_NS)
    }

    /// Interrupt mask as programmed.
    pub fn ims(&self) -> u32 {
        self.ims
    }

    fn ring_len(len_bytes: u32) -> u32 {
        len_bytes / DESC_SIZE as u32
    }

    fn accepts(&self, frame: &[u8]) -> bool {
        let dst = &frame[0..6];
        if dst == [0xff; 6] {
            return self.rctl & RCTL_BAM != 0;
        }
        if dst[0] & 1 != 0 {
            return self.rctl & RCTL_MPE != 0;
        }
        if self.rctl & RCTL_UPE != 0 {
            return true;
        }
        self.ra.iter().any(|&(ral, rah)| {
            let (l, h) = (ral.to_le_bytes(), rah.to_le_bytes());
            rah & RAH_AV != 0 && dst == [l[0], l[1], l[2], l[3], h[0], h[1]]
        })
    }

    fn process_tx(&mut self) {
        if self.tctl & TCTL_EN == 0 {
            return;
        }
        let n = Self::ring_len(self.tdlen);
        if n == 0 {
            return;
        }
        let mut raised = 0;
        let mut guard = 0;
        while self.tdh != self.tdt && guard < n {
            guard += 1;
            let a = self.tdba + u64::from(self.tdh) * DESC_SIZE as u64;
            let mut p = self.phys.borrow_mut();
            let addr = u64::from(p.read32(a)) | u64::from(p.read32(a + 4)) << 32;
            let w2 = p.read32(a + 8);
            let len = (w2 & 0xffff) as usize;
            let cmd = (w2 >> 24) as u8;
            let mut buf = std::vec![0u8; len];
            if p.read(addr, &mut buf) {
                self.pending_tx.extend_from_slice(&buf);
            }
            if cmd & TXD_CMD_RS != 0 {
                let w3 = p.read32(a + 12);
                p.write32(a + 12, w3 | u32::from(TXD_STAT_DD));
                raised |= ICR_TXDW;
            }
            drop(p);
            if cmd & TXD_CMD_EOP != 0 {
                let mut f = core::mem::take(&mut self.pending_tx);
                if self.tctl & TCTL_PSP != 0 && f.len() < 60 {
                    f.resize(60, 0);
                }
                self.sent.push(f);
                self.gptc += 1;
            }
            self.tdh = (self.tdh + 1) % n;
        }
        self.icr |= raised | ICR_TXQE;
    }
}

impl E1000Model {
    fn reg_read(&mut self, offset: usize) -> u32 {
        match offset {
            CTRL => {
                if self.busy > 0 {
                    self.busy -= 1;
                    self.ctrl | CTRL_RST
                } else {
                    self.ctrl
                }
            }
            STATUS => self.status,
            EERD => self.eerd,
            ICR => core::mem::take(&mut self.icr),
            IMS => self.ims,
            ITR => self.itr,
            RCTL => self.rctl,
            TCTL => self.tctl,
            RDBAL => self.rdba as u32,
            RDBAH => (self.rdba >> 32) as u32,
            RDLEN => self.rdlen,
            RDH => self.rdh,
            RDT => self.rdt,
            TDBAL => self.tdba as u32,
            TDBAH => (self.tdba >> 32) as u32,
            TDLEN => self.tdlen,
            TDH => self.tdh,
            TDT => self.tdt,
            o if (RAL0..RAL0 + 8 * 16).contains(&o) && o % 4 == 0 => {
                let (ral, rah) = self.ra[(o - RAL0) / 8];
                if o % 8 == 0 {
                    ral
                } else {
                    rah
                }
            }
            MPC => core::mem::take(&mut self.mpc),
            GPRC | TPR => core::mem::take(&mut self.gprc),
            GPTC | TPT => core::mem::take(&mut self.gptc),
            o if (MTA..MTA + 512).contains(&o) => self.mta[(o - MTA) / 4],
            _ => 0,
        }
    }

    fn reg_write(&mut self, offset: usize, v: u32) {
        match offset {
            CTRL => {
                if v & CTRL_RST != 0 {
                    self.reset();
                } else {
                    self.ctrl = v;
                    if v & CTRL_SLU != 0 && self.status & STATUS_LU == 0 {
                        self.status |= STATUS_LU;
                        self.icr |= ICR_LSC;
                    }
                }
            }
            EERD if v & EERD_START != 0 => {
                let EerdLayout { done, addr_shift } = self.model.eerd();
                // 82540: an 8-bit word address; 82574: 14 bits.
                let width = if self.model == Intel::I82540 { 0xff } else { 0x3fff };
                let addr = ((v >> addr_shift) & width) as usize;
                let data = self.eeprom.get(addr).copied().unwrap_or(0xffff);
                self.eerd = done | (addr as u32) << addr_shift | u32::from(data) << EERD_DATA_SHIFT;
            }
            ICS => self.icr |= v,
            IMS => self.ims |= v,
            IMC => self.ims &= !v,
            ITR => self.itr = v & 0xffff,
            RCTL => self.rctl = v,
            TCTL => {
                self.tctl = v;
                self.process_tx();
            }
            RDBAL => self.rdba = (self.rdba & !0xffff_ffff) | u64::from(v & !0xf),
            RDBAH => self.rdba = (self.rdba & 0xffff_ffff) | u64::from(v) << 32,
            RDLEN => self.rdlen = v & 0xfff80,
            RDH => self.rdh = v & 0xffff,
            RDT => self.rdt = v & 0xffff,
            TDBAL => self.tdba = (self.tdba & !0xffff_ffff) | u64::from(v & !0xf),
            TDBAH => self.tdba = (self.tdba & 0xffff_ffff) | u64::from(v) << 32,
            TDLEN => self.tdlen = v & 0xfff80,
            TDH => self.tdh = v & 0xffff,
            TDT => {
                self.tdt = v & 0xffff;
                self.process_tx();
            }
            o if (RAL0..RAL0 + 8 * 16).contains(&o) && o % 4 == 0 => {
                let e = &mut self.ra[(o - RAL0) / 8];
                if o % 8 == 0 {
                    e.0 = v;
                } else {
                    e.1 = v;
                }
            }
            o if (MTA..MTA + 512).contains(&o) => self.mta[(o - MTA) / 4] = v,
            _ => {}
        }
    }
}

impl MmioDevice for E1000Model {
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

impl NicModel for E1000Model {
    fn deliver(&mut self, frame: &[u8]) {
        if self.rctl & RCTL_EN == 0 || frame.len() < 14 {
            return;
        }
        if frame.len() > 1522 && self.rctl & RCTL_LPE == 0 {
            return; // long frame: discarded by the MAC
        }
        if !self.accepts(frame) {
            self.filtered += 1;
            return;
        }
        let n = Self::ring_len(self.rdlen);
        if n == 0 || self.rdh == self.rdt {
            // No free descriptor: the frame is missed.
            self.mpc += 1;
            self.overruns += 1;
            self.icr |= ICR_RXO;
            return;
        }
        let a = self.rdba + u64::from(self.rdh) * DESC_SIZE as u64;
        {
            let mut p = self.phys.borrow_mut();
            let addr = u64::from(p.read32(a)) | u64::from(p.read32(a + 4)) << 32;
            let len = frame.len().min(2048);
            p.write(addr, &frame[..len]);
            p.write32(a + 8, len as u32);
            p.write32(a + 12, u32::from(RXD_STAT_DD | RXD_STAT_EOP));
        }
        self.rdh = (self.rdh + 1) % n;
        self.gprc += 1;
        self.icr |= ICR_RXT0;
        let free = (self.rdt + n - self.rdh) % n;
        if free < n / 2 {
            self.icr |= ICR_RXDMT0;
        }
    }

    fn take_sent(&mut self) -> Vec<Vec<u8>> {
        core::mem::take(&mut self.sent)
    }

    fn irq_line(&mut self) -> bool {
        let now = self.clock.now();
        let h = self.holdoff_ns();
        self.gate.level(self.icr & self.ims != 0, now, h)
    }

    fn cause_pending(&self) -> bool {
        self.icr & self.ims != 0
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
        let e = &self.eeprom;
        let (a, b, c) = (e[0].to_le_bytes(), e[1].to_le_bytes(), e[2].to_le_bytes());
        [a[0], a[1], b[0], b[1], c[0], c[1]]
    }
}
