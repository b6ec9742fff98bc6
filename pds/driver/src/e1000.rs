//! Backend for the Intel 82540EM (e1000) and 82574L (e1000e), the NICs QEMU emulates: reset,
//! MAC from RAL/RAH with the EEPROM (EERD) as fallback, legacy descriptor rings, link up, ICR
//! cause, IMS/IMC masking, ITR hold-off, statistics registers.
//!
//! Register offsets and bits: Intel "PCI/PCI-X Family of Gigabit Ethernet Controllers
//! Software Developer's Manual" (8254x SDM) §13 (registers) and §3.2.3/§3.3.3 (legacy
//! descriptors), as also used by QEMU's `hw/net/e1000_regs.h` and Linux's `e1000_hw.h`.
//! The 82574L (82574 datasheet §10) keeps every register and bit this driver uses at the same
//! place and keeps the legacy descriptor formats (used while RFCTL.EXSTEN is clear, its reset
//! value); it differs here only in EERD's layout ([`Intel::eerd`]). Without MSI-X (this
//! driver never enables it) reading ICR clears it, as on the 82540.

use crate::backend::{check_filter, Cause, FilterError, HwCounters, InitError, MacAddr, NicBackend, RxDone, TxDone};
use crate::hw::{DmaMem, Regs};

/// Register offsets and bits (8254x SDM §13.4).
pub mod regs {
    pub const CTRL: usize = 0x0000;
    pub const STATUS: usize = 0x0008;
    pub const EECD: usize = 0x0010;
    pub const EERD: usize = 0x0014;
    pub const ICR: usize = 0x00c0;
    pub const ITR: usize = 0x00c4;
    pub const ICS: usize = 0x00c8;
    pub const IMS: usize = 0x00d0;
    pub const IMC: usize = 0x00d8;
    pub const RCTL: usize = 0x0100;
    pub const TCTL: usize = 0x0400;
    pub const TIPG: usize = 0x0410;
    pub const RDBAL: usize = 0x2800;
    pub const RDBAH: usize = 0x2804;
    pub const RDLEN: usize = 0x2808;
    pub const RDH: usize = 0x2810;
    pub const RDT: usize = 0x2818;
    pub const RDTR: usize = 0x2820;
    pub const TDBAL: usize = 0x3800;
    pub const TDBAH: usize = 0x3804;
    pub const TDLEN: usize = 0x3808;
    pub const TDH: usize = 0x3810;
    pub const TDT: usize = 0x3818;
    pub const TIDV: usize = 0x3820;
    pub const RXCSUM: usize = 0x5000;
    pub const MTA: usize = 0x5200;
    pub const RAL0: usize = 0x5400;
    pub const RAH0: usize = 0x5404;
    /// Receive-address filter entries (RAL(n) = RAL0 + 8n, RAH(n) = RAH0 + 8n).
    pub const RA_ENTRIES: usize = 16;
    /// Statistics (read-to-clear): CRC errors, missed packets, good packets rx/tx.
    pub const CRCERRS: usize = 0x4000;
    pub const MPC: usize = 0x4010;
    pub const GPRC: usize = 0x4074;
    pub const GPTC: usize = 0x4080;
    pub const TPR: usize = 0x40d0;
    pub const TPT: usize = 0x40d4;

    pub const CTRL_ASDE: u32 = 1 << 5;
    pub const CTRL_SLU: u32 = 1 << 6;
    pub const CTRL_RST: u32 = 1 << 26;
    pub const CTRL_PHY_RST: u32 = 1 << 31;
    pub const STATUS_LU: u32 = 1 << 1;

    /// EERD (82540): START bit 0, DONE bit 4, word address at bit 8, data at bit 16.
    pub const EERD_START: u32 = 1 << 0;
    pub const EERD_DONE: u32 = 1 << 4;
    pub const EERD_ADDR_SHIFT: u32 = 8;
    pub const EERD_DATA_SHIFT: u32 = 16;
    /// EERD (82574): START bit 0, DONE bit 1, word address at bit 2, data at bit 16.
    pub const EERD_82574_DONE: u32 = 1 << 1;
    pub const EERD_82574_ADDR_SHIFT: u32 = 2;

    pub const ICR_TXDW: u32 = 1 << 0;
    pub const ICR_TXQE: u32 = 1 << 1;
    pub const ICR_LSC: u32 = 1 << 2;
    pub const ICR_RXSEQ: u32 = 1 << 3;
    pub const ICR_RXDMT0: u32 = 1 << 4;
    pub const ICR_RXO: u32 = 1 << 6;
    pub const ICR_RXT0: u32 = 1 << 7;

    pub const RCTL_EN: u32 = 1 << 1;
    pub const RCTL_SBP: u32 = 1 << 2;
    pub const RCTL_UPE: u32 = 1 << 3;
    pub const RCTL_MPE: u32 = 1 << 4;
    pub const RCTL_LPE: u32 = 1 << 5;
    pub const RCTL_RDMTS_HALF: u32 = 0 << 8;
    pub const RCTL_BAM: u32 = 1 << 15;
    /// BSIZE = 00 with BSEX = 0: 2048-byte receive buffers.
    pub const RCTL_BSIZE_2048: u32 = 0 << 16;
    pub const RCTL_SECRC: u32 = 1 << 26;

    pub const TCTL_EN: u32 = 1 << 1;
    pub const TCTL_PSP: u32 = 1 << 3;
    pub const TCTL_CT_SHIFT: u32 = 4;
    pub const TCTL_COLD_SHIFT: u32 = 12;

    pub const RAH_AV: u32 = 1 << 31;

    /// Legacy receive descriptor (16 bytes): buffer address (8), length (2), checksum (2),
    /// status (1), errors (1), special (2).
    pub const RXD_STAT_DD: u8 = 1 << 0;
    pub const RXD_STAT_EOP: u8 = 1 << 1;
    /// Receive errors that mean the frame itself is bad: CRC/alignment (CE), symbol (SE),
    /// sequence (SEQ), carrier extension (CXE), data (RXE). Not the checksum-offload results
    /// TCPE (bit 5) and IPE (bit 6): offload is off (RXCSUM = 0) and the stack checks sums.
    pub const RXD_ERR_FRAME: u8 = 1 << 0 | 1 << 1 | 1 << 2 | 1 << 4 | 1 << 7;
    /// Legacy transmit descriptor (16 bytes): buffer address (8), length (2), CSO (1),
    /// CMD (1), STA (1), CSS (1), special (2).
    pub const TXD_CMD_EOP: u8 = 1 << 0;
    pub const TXD_CMD_IFCS: u8 = 1 << 1;
    pub const TXD_CMD_RS: u8 = 1 << 3;
    pub const TXD_STAT_DD: u8 = 1 << 0;

    /// Descriptor size for both legacy formats.
    pub const DESC_SIZE: usize = 16;
    /// ITR counts in 256 ns units (SDM §13.4.18).
    pub const ITR_UNIT_NS: u32 = 256;
    /// ITR is a 16-bit field.
    pub const ITR_MAX: u32 = 0xffff;
}
use regs::*;

/// Interrupts the driver uses. Not RXO: under overload the device raises it for every frame it
/// drops, and an interrupt per dropped frame is the receive livelock this driver avoids; drops
/// are counted from MPC instead (and RXO is still seen in ICR with the next useful cause).
const IMS_USED: u32 = ICR_RXT0 | ICR_RXDMT0 | ICR_TXDW | ICR_LSC;
/// Polls of a self-clearing bit before giving up (each poll is one MMIO read, ~1 us on PCI).
const SPIN_LIMIT: u32 = 100_000;

/// ITR register value for a hold-off in microseconds: 256 ns units, so 100 us -> 390.
pub fn itr_for_us(us: u32) -> Option<u32> {
    let v = u64::from(us) * 1000 / u64::from(ITR_UNIT_NS);
    (v <= u64::from(ITR_MAX)).then_some(v as u32)
}

/// Which member of the family: what differs between them for this driver.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Intel {
    /// 82540EM (QEMU `e1000`, PCI 8086:100e).
    I82540,
    /// 82574L (QEMU `e1000e`, PCI 8086:10d3).
    I82574,
}

/// EERD's layout: DONE bit, word-address shift (START is bit 0 and data bits 16..31 on both).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EerdLayout {
    /// The DONE bit.
    pub done: u32,
    /// Where the word address goes.
    pub addr_shift: u32,
}

impl Intel {
    /// How logs name it.
    pub fn name(self) -> &'static str {
        match self {
            Intel::I82540 => nic_api::CHIP_82540EM.name,
            Intel::I82574 => nic_api::CHIP_82574L.name,
        }
    }

    /// EERD's layout (8254x SDM §13.4.4; 82574 datasheet §10.2.2.5).
    pub fn eerd(self) -> EerdLayout {
        match self {
            Intel::I82540 => EerdLayout { done: EERD_DONE, addr_shift: EERD_ADDR_SHIFT },
            Intel::I82574 => EerdLayout { done: EERD_82574_DONE, addr_shift: EERD_82574_ADDR_SHIFT },
        }
    }
}

/// The e1000 backend over a register window and two descriptor regions.
pub struct E1000<R: Regs, M: DmaMem> {
    regs: R,
    rx_mem: M,
    tx_mem: M,
    model: Intel,
}

impl<R: Regs, M: DmaMem> E1000<R, M> {
    /// An 82540EM; `rx_mem`/`tx_mem` hold the descriptor rings (16-byte aligned; 16 bytes per
    /// slot).
    pub fn new(regs: R, rx_mem: M, tx_mem: M) -> Self {
        Self::for_model(Intel::I82540, regs, rx_mem, tx_mem)
    }

    /// As [`E1000::new`], for family member `model`.
    pub fn for_model(model: Intel, regs: R, rx_mem: M, tx_mem: M) -> Self {
        Self { regs, rx_mem, tx_mem, model }
    }

    /// Which family member this drives.
    pub fn model(&self) -> Intel {
        self.model
    }

    /// The register window.
    pub fn regs(&self) -> &R {
        &self.regs
    }

    fn spin_clear(&self, reg: usize, bit: u32, what: &'static str) -> Result<(), InitError> {
        for _ in 0..SPIN_LIMIT {
            if self.regs.read32(reg) & bit == 0 {
                return Ok(());
            }
        }
        Err(InitError::Timeout { chip: self.model.name(), what, register: reg })
    }

    /// Reads one 16-bit EEPROM word through EERD.
    fn eeprom_word(&self, addr: u32) -> Result<u16, InitError> {
        let layout = self.model.eerd();
        self.regs.write32(EERD, EERD_START | (addr << layout.addr_shift));
        for _ in 0..SPIN_LIMIT {
            let v = self.regs.read32(EERD);
            if v & layout.done != 0 {
                return Ok((v >> EERD_DATA_SHIFT) as u16);
            }
        }
        Err(InitError::Timeout { chip: self.model.name(), what: "EEPROM read (EERD)", register: EERD })
    }

    /// MAC from RAL0/RAH0 (loaded from the EEPROM at power-up), else EEPROM words 0..3.
    fn read_mac(&self) -> Result<MacAddr, InitError> {
        let ral = self.regs.read32(RAL0);
        let rah = self.regs.read32(RAH0);
        let l = ral.to_le_bytes();
        let h = rah.to_le_bytes();
        let mac = MacAddr([l[0], l[1], l[2], l[3], h[0], h[1]]);
        if rah & RAH_AV != 0 && mac.is_valid_station() {
            return Ok(mac);
        }
        let mut m = [0u8; 6];
        for i in 0..3 {
            let w = self.eeprom_word(i as u32)?.to_le_bytes();
            m[2 * i] = w[0];
            m[2 * i + 1] = w[1];
        }
        let mac = MacAddr(m);
        if !mac.is_valid_station() {
            return Err(InitError::NoMacAddress { chip: self.model.name() });
        }
        // Program the filter so the device accepts unicast frames to us.
        self.regs.write32(RAL0, u32::from_le_bytes([m[0], m[1], m[2], m[3]]));
        self.regs.write32(RAH0, u32::from(m[4]) | u32::from(m[5]) << 8 | RAH_AV);
        Ok(mac)
    }

    fn check_mem(ring: &'static str, mem: &M, slots: u16) -> Result<(), InitError> {
        let need = usize::from(slots) * DESC_SIZE;
        if mem.len() < need {
            return Err(InitError::RingMemTooSmall { ring, need, have: mem.len() });
        }
        if mem.phys_base() & 15 != 0 {
            return Err(InitError::BadRingAddress {
                ring,
                phys: mem.phys_base(),
                why: "e1000 rings must be 16-byte aligned",
            });
        }
        Ok(())
    }
}

impl<R: Regs, M: DmaMem> NicBackend for E1000<R, M> {
    const NAME: &'static str = "e1000 family (82540EM, 82574L)";

    fn chip(&self) -> &'static str {
        self.model.name()
    }

    fn init(&mut self, rx_slots: u16, tx_slots: u16, holdoff_us: u32) -> Result<MacAddr, InitError> {
        Self::check_mem("receive", &self.rx_mem, rx_slots)?;
        Self::check_mem("transmit", &self.tx_mem, tx_slots)?;
        let itr = itr_for_us(holdoff_us).ok_or(InitError::HoldoffTooLong {
            chip: self.model.name(),
            requested_us: holdoff_us,
            max_us: ITR_MAX * ITR_UNIT_NS / 1000,
        })?;

        // Reset (SDM §14.3): mask everything, set CTRL.RST, wait for it to self-clear, mask
        // again (reset restores defaults) and clear pending causes.
        self.regs.write32(IMC, u32::MAX);
        let ctrl = self.regs.read32(CTRL);
        self.regs.write32(CTRL, ctrl | CTRL_RST);
        self.spin_clear(CTRL, CTRL_RST, "device reset (CTRL.RST)")?;
        self.regs.write32(IMC, u32::MAX);
        let _ = self.regs.read32(ICR);

        // Receive quiet before its ring moves: with RDT = RDH the device has no buffer to write.
        // A real 8254x's reset has stopped it already; QEMU's model ignores CTRL.RST and keeps
        // its registers, so without this it could write a frame through a half-set-up ring.
        let rdh = self.regs.read32(RDH);
        self.regs.write32(RDT, rdh);

        let mac = self.read_mac()?;

        // Link up: set link up, auto speed detection; no PHY reset.
        let ctrl = self.regs.read32(CTRL);
        self.regs.write32(CTRL, (ctrl | CTRL_SLU | CTRL_ASDE) & !CTRL_PHY_RST);

        // No receive checksum offload (the 82574 resets with IP/TCP/UDP offload on, and would
        // then flag frames the network stack should see and count itself).
        self.regs.write32(RXCSUM, 0);

        // Multicast table: clear (broadcast + own unicast only).
        for i in 0..128 {
            self.regs.write32(MTA + 4 * i, 0);
        }

        // Receive ring (all descriptors zeroed: no DD).
        for s in 0..rx_slots {
            self.rx_clear(s);
        }
        let rb = self.rx_mem.phys_base();
        self.regs.write32(RDBAL, rb as u32);
        self.regs.write32(RDBAH, (rb >> 32) as u32);
        self.regs.write32(RDLEN, u32::from(rx_slots) * DESC_SIZE as u32);
        self.regs.write32(RDH, 0);
        self.regs.write32(RDT, 0);
        self.regs.write32(RDTR, 0); // no extra receive delay: hold-off is ITR's job
                                    // Written only when it differs: after a real reset it is 0, so it always is on
                                    // hardware; QEMU's model, which keeps it across CTRL.RST, refuses every frame for a
                                    // second after any RCTL write (its queue-flush timer), which a restarted driver or a
                                    // reopened session would otherwise pay each time.
        let rctl = RCTL_EN | RCTL_BAM | RCTL_SECRC | RCTL_BSIZE_2048 | RCTL_RDMTS_HALF;
        if self.regs.read32(RCTL) != rctl {
            self.regs.write32(RCTL, rctl);
        }

        // Transmit ring.
        for s in 0..tx_slots {
            let o = usize::from(s) * DESC_SIZE;
            self.tx_mem.write64(o, 0);
            self.tx_mem.write32(o + 8, 0);
            self.tx_mem.write32(o + 12, 0);
        }
        let tb = self.tx_mem.phys_base();
        self.regs.write32(TDBAL, tb as u32);
        self.regs.write32(TDBAH, (tb >> 32) as u32);
        self.regs.write32(TDLEN, u32::from(tx_slots) * DESC_SIZE as u32);
        self.regs.write32(TDH, 0);
        self.regs.write32(TDT, 0);
        self.regs.write32(TIDV, 0);
        // Full duplex: CT = 0x0f, COLD = 0x40 (SDM §13.4.33); IPG for copper: 10/8/6.
        self.regs.write32(TCTL, TCTL_EN | TCTL_PSP | (0x0f << TCTL_CT_SHIFT) | (0x40 << TCTL_COLD_SHIFT));
        self.regs.write32(TIPG, 10 | (8 << 10) | (6 << 20));

        self.regs.write32(ITR, itr);
        Ok(mac)
    }

    fn irq_mask(&mut self) {
        self.regs.write32(IMC, u32::MAX);
    }

    fn irq_unmask(&mut self) {
        self.regs.write32(IMS, IMS_USED);
    }

    fn read_cause(&mut self) -> Cause {
        let icr = self.regs.read32(ICR);
        Cause {
            rx: icr & (ICR_RXT0 | ICR_RXDMT0 | ICR_RXO) != 0,
            tx: icr & (ICR_TXDW | ICR_TXQE) != 0,
            rx_overrun: icr & ICR_RXO != 0,
            link: icr & ICR_LSC != 0,
            raw: icr,
        }
    }

    fn rx_post(&mut self, slot: u16, phys: u64, _len: u32) {
        // The buffer size is global (RCTL.BSIZE = 2048); with LPE clear the device writes at
        // most 1522 bytes, within the RX_BUF_LEN the core guarantees.
        let o = usize::from(slot) * DESC_SIZE;
        self.rx_mem.write64(o, phys);
        self.rx_mem.write32(o + 8, 0);
        self.rx_mem.write32(o + 12, 0);
    }

    fn rx_poll(&self, slot: u16) -> Option<RxDone> {
        let o = usize::from(slot) * DESC_SIZE;
        let w3 = self.rx_mem.read32(o + 12);
        let status = w3 as u8;
        let errors = (w3 >> 8) as u8;
        if status & RXD_STAT_DD == 0 {
            return None;
        }
        let len = self.rx_mem.read32(o + 8) & 0xffff;
        Some(RxDone { len, ok: status & RXD_STAT_EOP != 0 && errors & RXD_ERR_FRAME == 0 })
    }

    fn rx_clear(&mut self, slot: u16) {
        let o = usize::from(slot) * DESC_SIZE;
        self.rx_mem.write32(o + 8, 0);
        self.rx_mem.write32(o + 12, 0);
    }

    fn rx_kick(&mut self, tail: u16) {
        self.rx_mem.barrier();
        self.regs.write32(RDT, u32::from(tail));
    }

    fn tx_post(&mut self, slot: u16, phys: u64, len: u32, _interrupt: bool) {
        // RS on every descriptor: the device writes DD back, which is how completions are
        // found; TXDW interrupts are coalesced by ITR.
        let o = usize::from(slot) * DESC_SIZE;
        let cmd = TXD_CMD_EOP | TXD_CMD_IFCS | TXD_CMD_RS;
        self.tx_mem.write64(o, phys);
        self.tx_mem.write32(o + 8, (len & 0xffff) | u32::from(cmd) << 24);
        self.tx_mem.write32(o + 12, 0);
    }

    fn tx_poll(&self, slot: u16) -> Option<TxDone> {
        let o = usize::from(slot) * DESC_SIZE;
        let status = self.tx_mem.read32(o + 12) as u8;
        (status & TXD_STAT_DD != 0).then_some(TxDone { ok: true })
    }

    fn tx_kick(&mut self, tail: u16) {
        self.tx_mem.barrier();
        self.regs.write32(TDT, u32::from(tail));
    }

    fn read_counters(&mut self) -> HwCounters {
        HwCounters { rx_missed: u64::from(self.regs.read32(MPC)) }
    }

    /// RAL(n)/RAH(n) for n < 16: entry n takes `macs[n]` with Address Valid set, the rest are
    /// cleared (RAH first, so no half-written entry is ever valid).
    fn set_unicast_filter(&mut self, macs: &[MacAddr]) -> Result<(), FilterError> {
        check_filter(macs, RA_ENTRIES)?;
        for n in 0..RA_ENTRIES {
            self.regs.write32(RAH0 + 8 * n, 0);
            if let Some(MacAddr(m)) = macs.get(n) {
                self.regs.write32(RAL0 + 8 * n, u32::from_le_bytes([m[0], m[1], m[2], m[3]]));
                self.regs.write32(RAH0 + 8 * n, u32::from(m[4]) | u32::from(m[5]) << 8 | RAH_AV);
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn itr_units() {
        assert_eq!(super::itr_for_us(100), Some(390));
        assert_eq!(super::itr_for_us(0), Some(0));
        assert_eq!(super::itr_for_us(20_000), None);
    }
}
