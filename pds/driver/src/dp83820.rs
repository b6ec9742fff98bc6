//! Backend for the National Semiconductor DP83820 (the paper's gigabit NIC): its documented
//! programming model — reset via CR.RST, EEPROM reload via PTSCR.EELOAD_EN, MAC address from the
//! receive filter's perfect-match memory (RFCR/RFDR), linked descriptor lists with the OWN bit
//! (whose meaning differs between receive and transmit), ISR read-to-clear, IMR/IER masking
//! and IHR interrupt hold-off in 100 us units.
//!
//! Facts from the DP83820 datasheet (register map §4.2, descriptors §5) as used by Linux's
//! `drivers/net/ethernet/natsemi/ns83820.c`, and cross-checked against gem5's `ns_gige_reg.h`.
//!
//! Descriptor formats (CFG.M64ADDR selects): 32-bit = link(4) bufptr(4) cmdsts(4) extsts(4),
//! 16 bytes; 64-bit = link(8) bufptr(8) cmdsts(4) extsts(4), 24 bytes (we stride 32).
//!
//! OWN: for **transmit** the driver sets OWN to hand a descriptor to the device, which clears
//! it when done. For **receive** it is the other way round: the driver gives the device a
//! descriptor with OWN *clear*; the device sets OWN when it has filled it. A receive
//! descriptor holding just OWN (no status, no length) is an empty slot the driver owns, where
//! the receiver stops (goes idle) until the driver re-enables it with CR.RXE.
//!
//! Receive filter: one exact station address (the perfect-match memory, RFCR.APM) plus a
//! 2048-bit hash table (filter memory 0x100..=0x1fe, RFCR.UHEN for unicast). The hash index
//! is the top 11 bits of the Ethernet CRC-32 of the 6 destination bytes; the top 7 of those
//! pick the 16-bit word, the low 4 the bit in it. (The DP83815/6 has a 512-bit table at 0x200
//! indexed by 9 bits; the DP83820's is four times larger.) Sources: FreeBSD's
//! `sys/dev/nge/if_ngereg.h` (`NGE_FILTADDR_MCAST_LO` 0x100, `NGE_MCAST_FILTER_LEN` 256,
//! `NGE_RXFILTCTL_UCHASH` bit 20, `MCHASH` bit 21) and `if_nge.c` (`ether_crc32_be(..) >> 21`,
//! word `h >> 4`, bit `h & 0xf`); gem5's `ns_gige.hh` (`FHASH_ADDR` 0x100, `FHASH_SIZE`
//! 0x100); the DP83815 datasheet's "Accept on Multicast or Unicast Hash" for the semantics.

use crate::backend::{check_filter, Cause, FilterError, HwCounters, InitError, MacAddr, NicBackend, RxDone, TxDone};
use crate::hw::{DmaMem, Regs};

/// Register offsets and bits (DP83820 datasheet §4.2).
pub mod regs {
    pub const CR: usize = 0x00;
    pub const CFG: usize = 0x04;
    pub const MEAR: usize = 0x08;
    pub const PTSCR: usize = 0x0c;
    pub const ISR: usize = 0x10;
    pub const IMR: usize = 0x14;
    pub const IER: usize = 0x18;
    pub const IHR: usize = 0x1c;
    pub const TXDP: usize = 0x20;
    pub const TXDP_HI: usize = 0x24;
    pub const TXCFG: usize = 0x28;
    pub const GPIOR: usize = 0x2c;
    pub const RXDP: usize = 0x30;
    pub const RXDP_HI: usize = 0x34;
    pub const RXCFG: usize = 0x38;
    pub const PQCR: usize = 0x3c;
    pub const WCSR: usize = 0x40;
    pub const PCR: usize = 0x44;
    pub const RFCR: usize = 0x48;
    pub const RFDR: usize = 0x4c;
    pub const SRR: usize = 0x58;
    pub const MIBC: usize = 0x5c;
    /// MIB counters (16 bits used): errored rx packets, CRC errors, missed rx packets.
    pub const MIB_RX_ERRORED: usize = 0x60;
    pub const MIB_RX_CRC: usize = 0x64;
    pub const MIB_RX_MISSED: usize = 0x68;

    pub const CR_TXE: u32 = 1 << 0;
    pub const CR_TXD: u32 = 1 << 1;
    pub const CR_RXE: u32 = 1 << 2;
    pub const CR_RXD: u32 = 1 << 3;
    pub const CR_TXR: u32 = 1 << 4;
    pub const CR_RXR: u32 = 1 << 5;
    pub const CR_SWI: u32 = 1 << 7;
    pub const CR_RST: u32 = 1 << 8;

    pub const CFG_LNKSTS: u32 = 1 << 31;
    pub const CFG_TBI_EN: u32 = 1 << 24;
    pub const CFG_PINT_DUPSTS: u32 = 1 << 20;
    pub const CFG_PINT_LNKSTS: u32 = 1 << 19;
    pub const CFG_PINT_SPDSTS: u32 = 1 << 18;
    pub const CFG_MRM_DIS: u32 = 1 << 16;
    pub const CFG_MWI_DIS: u32 = 1 << 15;
    pub const CFG_T64ADDR: u32 = 1 << 14;
    pub const CFG_PCI64_DET: u32 = 1 << 13;
    pub const CFG_DATA64_EN: u32 = 1 << 12;
    pub const CFG_M64ADDR: u32 = 1 << 11;
    pub const CFG_EXTSTS_EN: u32 = 1 << 8;
    pub const CFG_REQALG: u32 = 1 << 7;
    pub const CFG_POW: u32 = 1 << 5;
    pub const CFG_EXD: u32 = 1 << 4;
    pub const CFG_PESEL: u32 = 1 << 3;
    pub const CFG_EXT_125: u32 = 1 << 1;

    pub const PTSCR_EEBIST_EN: u32 = 1 << 1;
    pub const PTSCR_EELOAD_EN: u32 = 1 << 2;

    pub const ISR_RXOK: u32 = 1 << 0;
    pub const ISR_RXDESC: u32 = 1 << 1;
    pub const ISR_RXERR: u32 = 1 << 2;
    pub const ISR_RXEARLY: u32 = 1 << 3;
    pub const ISR_RXIDLE: u32 = 1 << 4;
    pub const ISR_RXORN: u32 = 1 << 5;
    pub const ISR_TXOK: u32 = 1 << 6;
    pub const ISR_TXDESC: u32 = 1 << 7;
    pub const ISR_TXERR: u32 = 1 << 8;
    pub const ISR_TXIDLE: u32 = 1 << 9;
    pub const ISR_TXURN: u32 = 1 << 10;
    pub const ISR_MIB: u32 = 1 << 11;
    pub const ISR_SWI: u32 = 1 << 12;
    pub const ISR_PHY: u32 = 1 << 14;
    pub const ISR_RXSOVR: u32 = 1 << 16;
    pub const ISR_RXRCMP: u32 = 1 << 21;
    pub const ISR_TXRCMP: u32 = 1 << 22;

    pub const IER_IE: u32 = 1 << 0;
    /// IHR: hold-off time in 100 us units in the low bits (0..=127 per ns83820.c's parameter).
    pub const IHR_UNIT_US: u32 = 100;
    pub const IHR_MAX: u32 = 127;

    pub const TXCFG_CSI: u32 = 1 << 31;
    pub const TXCFG_HBI: u32 = 1 << 30;
    pub const TXCFG_ATP: u32 = 1 << 28;
    pub const TXCFG_MXDMA512: u32 = 0x7 << 20;
    pub const TXCFG_FLTH_SHIFT: u32 = 8;

    pub const RXCFG_STRIPCRC: u32 = 1 << 29;
    pub const RXCFG_RX_FD: u32 = 1 << 28;
    pub const RXCFG_MXDMA512: u32 = 0x7 << 20;
    pub const RXCFG_DRTH_SHIFT: u32 = 1;

    pub const RFCR_RFEN: u32 = 1 << 31;
    pub const RFCR_AAB: u32 = 1 << 30;
    pub const RFCR_AAM: u32 = 1 << 29;
    pub const RFCR_AAU: u32 = 1 << 28;
    pub const RFCR_APM: u32 = 1 << 27;
    /// Multicast hash enable: multicast frames whose hash bit is set pass.
    pub const RFCR_MHEN: u32 = 1 << 21;
    /// Unicast hash enable: unicast frames whose hash bit is set pass.
    pub const RFCR_UHEN: u32 = 1 << 20;
    pub const RFCR_ADDR_MASK: u32 = 0x3ff;
    /// Receive-filter memory address of the hash table: 2048 bits as 128 16-bit words at
    /// 0x100, 0x102, .. 0x1fe (read and written through RFDR's low 16 bits).
    pub const RFADDR_HASH: u32 = 0x100;
    /// 16-bit words in the hash table.
    pub const HASH_WORDS: usize = 128;

    pub const CMDSTS_OWN: u32 = 1 << 31;
    pub const CMDSTS_MORE: u32 = 1 << 30;
    pub const CMDSTS_INTR: u32 = 1 << 29;
    pub const CMDSTS_ERR: u32 = 1 << 28;
    pub const CMDSTS_OK: u32 = 1 << 27;
    pub const CMDSTS_LEN_MASK: u32 = 0xffff;
    pub const CMDSTS_DEST_SELF: u32 = 1 << 23;
    pub const CMDSTS_DEST_MULTI: u32 = 1 << 24;
}
use regs::*;

const SPIN_LIMIT: u32 = 100_000;
/// Interrupts the driver uses. Not RXORN/RXSOVR: an interrupt per dropped frame under overload
/// is the receive livelock this driver avoids; drops are counted from the MIB instead.
const IMR_USED: u32 = ISR_RXDESC | ISR_RXERR | ISR_RXIDLE | ISR_TXDESC | ISR_TXERR | ISR_TXIDLE | ISR_TXURN | ISR_PHY;

/// Descriptor address width (CFG.M64ADDR).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Addressing {
    /// 16-byte descriptors, 32-bit link and buffer pointers: all DMA below 4 GiB.
    Bits32,
    /// 64-bit link and buffer pointers.
    Bits64,
}

/// Where the fields of a descriptor sit for one addressing mode.
#[derive(Clone, Copy, Debug)]
pub struct Layout {
    /// Bytes from one descriptor to the next.
    pub stride: usize,
    /// Offset of `bufptr`.
    pub bufptr: usize,
    /// Offset of `cmdsts`.
    pub cmdsts: usize,
    /// Offset of `extsts`.
    pub extsts: usize,
    /// Whether link and bufptr are 64 bits.
    pub wide: bool,
}

impl Addressing {
    /// The descriptor layout for this mode.
    pub const fn layout(self) -> Layout {
        match self {
            Self::Bits32 => Layout { stride: 16, bufptr: 4, cmdsts: 8, extsts: 12, wide: false },
            Self::Bits64 => Layout { stride: 32, bufptr: 8, cmdsts: 16, extsts: 20, wide: true },
        }
    }
}

/// Unicast addresses [`NicBackend::set_unicast_filter`] takes: the first in the perfect-match
/// memory, the other 15 in the hash table (as many as the e1000's 16 receive-address
/// registers, so the multiplexer sees one limit). The hash could take any number; more entries
/// only mean more false positives.
pub const MAX_UNICAST: usize = 16;

/// The CRC-32 Ethernet MACs hash addresses with ("big-endian" form, FreeBSD's
/// `ether_crc32_be`): polynomial 0x04c11db7, register preset to all ones, each byte fed least
/// significant bit first into an MSB-first shift register, no final inversion. It is the
/// bit-reversed complement of the common (zlib) CRC-32, e.g. `crc32_be(b"123456789")` is
/// `!0xcbf4_3926` reversed, 0x9b63_d02c.
pub fn crc32_be(data: &[u8]) -> u32 {
    let mut crc = u32::MAX;
    for &byte in data {
        let mut b = byte;
        for _ in 0..8 {
            let feedback = (crc >> 31) ^ u32::from(b & 1);
            crc <<= 1;
            if feedback != 0 {
                crc ^= 0x04c1_1db7;
            }
            b >>= 1;
        }
    }
    crc
}

/// The DP83820 receive hash-table bit (0..2048) of destination address `mac`: the top 11 bits
/// of [`crc32_be`] over its 6 bytes.
pub fn hash_index(mac: &[u8; 6]) -> u16 {
    (crc32_be(mac) >> 21) as u16
}

/// Where hash bit `index` lives: (receive-filter memory address of its 16-bit word, the bit's
/// mask in that word).
pub fn hash_slot(index: u16) -> (u32, u16) {
    (RFADDR_HASH + 2 * u32::from(index >> 4), 1 << (index & 0xf))
}

/// IHR value for a hold-off in microseconds (rounded up to the 100 us unit).
pub fn ihr_for_us(us: u32) -> Option<u32> {
    let v = us.div_ceil(IHR_UNIT_US);
    (v <= IHR_MAX).then_some(v)
}

/// The DP83820 backend over a register window and two descriptor regions.
pub struct Dp83820<R: Regs, M: DmaMem> {
    regs: R,
    rx_mem: M,
    tx_mem: M,
    mode: Addressing,
    lay: Layout,
}

impl<R: Regs, M: DmaMem> Dp83820<R, M> {
    /// `rx_mem`/`tx_mem` hold the descriptor lists (8-byte aligned).
    pub fn new(regs: R, rx_mem: M, tx_mem: M, mode: Addressing) -> Self {
        Self { regs, rx_mem, tx_mem, mode, lay: mode.layout() }
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
        Err(InitError::Timeout { chip: Self::NAME, what, register: reg })
    }

    /// The MAC address from the perfect-match memory (RFCR address 0, 2, 4 -> RFDR low 16
    /// bits, low byte first), which the EEPROM load fills.
    pub fn read_perfect_match(&self) -> MacAddr {
        let mut m = [0u8; 6];
        for i in 0..3 {
            self.regs.write32(RFCR, (i * 2) as u32);
            let w = (self.regs.read32(RFDR) as u16).to_le_bytes();
            m[2 * i] = w[0];
            m[2 * i + 1] = w[1];
        }
        MacAddr(m)
    }

    fn check_mem(&self, ring: &'static str, mem: &M, slots: u16) -> Result<(), InitError> {
        let need = usize::from(slots) * self.lay.stride;
        if mem.len() < need {
            return Err(InitError::RingMemTooSmall { ring, need, have: mem.len() });
        }
        let base = mem.phys_base();
        if base & 7 != 0 {
            return Err(InitError::BadRingAddress { ring, phys: base, why: "descriptors must be 8-byte aligned" });
        }
        if self.mode == Addressing::Bits32 && base + need as u64 > 1 << 32 {
            return Err(InitError::BadRingAddress {
                ring,
                phys: base,
                why: "above 4 GiB with 32-bit descriptors: use Addressing::Bits64",
            });
        }
        Ok(())
    }

    fn write_ptr(mem: &mut M, lay: &Layout, off: usize, v: u64) {
        if lay.wide {
            mem.write64(off, v);
        } else {
            mem.write32(off, v as u32);
        }
    }

    fn build_list(mem: &mut M, lay: &Layout, slots: u16, cmdsts: u32) {
        let base = mem.phys_base();
        for s in 0..usize::from(slots) {
            let o = s * lay.stride;
            let next = base + (((s + 1) % usize::from(slots)) * lay.stride) as u64;
            Self::write_ptr(mem, lay, o, next);
            Self::write_ptr(mem, lay, o + lay.bufptr, 0);
            mem.write32(o + lay.extsts, 0);
            mem.write32(o + lay.cmdsts, cmdsts);
        }
    }
}

impl<R: Regs, M: DmaMem> NicBackend for Dp83820<R, M> {
    const NAME: &'static str = "DP83820";

    fn init(&mut self, rx_slots: u16, tx_slots: u16, holdoff_us: u32) -> Result<MacAddr, InitError> {
        self.check_mem("receive", &self.rx_mem, rx_slots)?;
        self.check_mem("transmit", &self.tx_mem, tx_slots)?;
        let ihr = ihr_for_us(holdoff_us).ok_or(InitError::HoldoffTooLong {
            chip: Self::NAME,
            requested_us: holdoff_us,
            max_us: IHR_MAX * IHR_UNIT_US,
        })?;

        // Quiet, then full reset: CR.RST self-clears when the chip is done.
        self.regs.write32(IMR, 0);
        self.regs.write32(IER, 0);
        self.regs.write32(CR, CR_RST);
        self.spin_clear(CR, CR_RST, "chip reset (CR.RST)")?;
        // Reload configuration and the perfect-match address from the EEPROM.
        self.regs.write32(PTSCR, PTSCR_EELOAD_EN);
        self.spin_clear(PTSCR, PTSCR_EELOAD_EN, "EEPROM load (PTSCR.EELOAD_EN)")?;
        let _ = self.regs.read32(ISR); // clear the reset-complete bits

        let mac = self.read_perfect_match();
        if !mac.is_valid_station() {
            return Err(InitError::NoMacAddress { chip: Self::NAME });
        }

        let keep = CFG_TBI_EN | CFG_MRM_DIS | CFG_MWI_DIS | CFG_T64ADDR | CFG_DATA64_EN | CFG_EXT_125;
        let mut cfg = self.regs.read32(CFG) & keep;
        cfg |= CFG_PINT_DUPSTS | CFG_PINT_LNKSTS | CFG_PINT_SPDSTS | CFG_EXD | CFG_PESEL | CFG_REQALG | CFG_POW;
        if self.mode == Addressing::Bits64 {
            cfg |= CFG_M64ADDR;
        }
        self.regs.write32(CFG, cfg);

        // Full duplex, auto-pad short frames, 512-byte DMA bursts; fill threshold 512 bytes,
        // drain threshold 1536 bytes (a whole frame in the FIFO before it goes out).
        self.regs
            .write32(TXCFG, TXCFG_CSI | TXCFG_HBI | TXCFG_ATP | TXCFG_MXDMA512 | (0x10 << TXCFG_FLTH_SHIFT) | 0x30);
        // Strip the CRC, full duplex, 512-byte bursts; do not accept errored/runt frames.
        self.regs.write32(RXCFG, RXCFG_STRIPCRC | RXCFG_RX_FD | RXCFG_MXDMA512 | (8 << RXCFG_DRTH_SHIFT));
        self.regs.write32(PQCR, 0);
        self.regs.write32(WCSR, 0);

        // Descriptor lists closed into rings. Receive slots start empty and driver-owned (OWN
        // set); transmit slots start driver-owned (OWN clear).
        let lay = self.lay;
        Self::build_list(&mut self.rx_mem, &lay, rx_slots, CMDSTS_OWN);
        Self::build_list(&mut self.tx_mem, &lay, tx_slots, 0);
        let rb = self.rx_mem.phys_base();
        let tb = self.tx_mem.phys_base();
        self.regs.write32(RXDP_HI, (rb >> 32) as u32);
        self.regs.write32(RXDP, rb as u32);
        self.regs.write32(TXDP_HI, (tb >> 32) as u32);
        self.regs.write32(TXDP, tb as u32);

        self.regs.write32(IHR, ihr);

        // Receive filter: RFEN must be clear while changing the other bits; accept broadcast
        // and frames matching the perfect-match address.
        self.regs.write32(RFCR, 0);
        self.regs.write32(RFCR, RFCR_RFEN | RFCR_AAB | RFCR_APM);

        self.regs.write32(IMR, IMR_USED);
        // IER stays 0 (masked) until the core unmasks; enable both engines.
        self.regs.write32(CR, CR_TXE | CR_RXE);
        Ok(mac)
    }

    fn irq_mask(&mut self) {
        self.regs.write32(IER, 0);
    }

    fn irq_unmask(&mut self) {
        self.regs.write32(IER, IER_IE);
    }

    fn read_cause(&mut self) -> Cause {
        let isr = self.regs.read32(ISR);
        Cause {
            rx: isr & (ISR_RXOK | ISR_RXDESC | ISR_RXERR | ISR_RXIDLE | ISR_RXORN | ISR_RXEARLY) != 0,
            tx: isr & (ISR_TXOK | ISR_TXDESC | ISR_TXERR | ISR_TXIDLE | ISR_TXURN) != 0,
            rx_overrun: isr & (ISR_RXORN | ISR_RXSOVR) != 0,
            link: isr & ISR_PHY != 0,
            raw: isr,
        }
    }

    fn rx_post(&mut self, slot: u16, phys: u64, len: u32) {
        let o = usize::from(slot) * self.lay.stride;
        let lay = self.lay;
        Self::write_ptr(&mut self.rx_mem, &lay, o + lay.bufptr, phys);
        self.rx_mem.write32(o + lay.extsts, 0);
        self.rx_mem.barrier();
        // OWN clear hands a receive descriptor to the device; size = buffer capacity.
        self.rx_mem.write32(o + lay.cmdsts, CMDSTS_INTR | (len & CMDSTS_LEN_MASK));
    }

    fn rx_poll(&self, slot: u16) -> Option<RxDone> {
        let c = self.rx_mem.read32(usize::from(slot) * self.lay.stride + self.lay.cmdsts);
        // The device sets OWN when it has filled the buffer; OWN alone marks an empty slot.
        if c & CMDSTS_OWN == 0 || c == CMDSTS_OWN {
            return None;
        }
        Some(RxDone { len: c & CMDSTS_LEN_MASK, ok: c & CMDSTS_OK != 0 })
    }

    fn rx_clear(&mut self, slot: u16) {
        let o = usize::from(slot) * self.lay.stride + self.lay.cmdsts;
        self.rx_mem.write32(o, CMDSTS_OWN);
    }

    fn rx_kick(&mut self, _tail: u16) {
        self.rx_mem.barrier();
        // Restarts an idle receiver at RXDP; harmless when it is running.
        self.regs.write32(CR, CR_RXE);
    }

    fn tx_post(&mut self, slot: u16, phys: u64, len: u32, interrupt: bool) {
        let o = usize::from(slot) * self.lay.stride;
        let lay = self.lay;
        Self::write_ptr(&mut self.tx_mem, &lay, o + lay.bufptr, phys);
        self.tx_mem.write32(o + lay.extsts, 0);
        self.tx_mem.barrier();
        let intr = if interrupt { CMDSTS_INTR } else { 0 };
        // OWN set hands a transmit descriptor to the device; single fragment (no MORE).
        self.tx_mem.write32(o + lay.cmdsts, CMDSTS_OWN | intr | (len & CMDSTS_LEN_MASK));
    }

    fn tx_poll(&self, slot: u16) -> Option<TxDone> {
        let c = self.tx_mem.read32(usize::from(slot) * self.lay.stride + self.lay.cmdsts);
        (c & CMDSTS_OWN == 0).then_some(TxDone { ok: c & CMDSTS_OK != 0 })
    }

    fn tx_kick(&mut self, _tail: u16) {
        self.tx_mem.barrier();
        self.regs.write32(CR, CR_TXE);
    }

    fn read_counters(&mut self) -> HwCounters {
        HwCounters { rx_missed: u64::from(self.regs.read32(MIB_RX_MISSED) & 0xffff) }
    }

    fn dma_limit(&self) -> u64 {
        match self.mode {
            Addressing::Bits32 => 1 << 32,
            Addressing::Bits64 => u64::MAX,
        }
    }

    /// Up to [`MAX_UNICAST`] addresses: `macs[0]` exactly (perfect match, RFCR.APM), the rest
    /// through the hash table with unicast hashing (RFCR.UHEN) on only when there are any.
    /// The hash is imperfect: every programmed address passes, but so does any other unicast
    /// address whose hash bit one of them set (at most `(n - 1) / 2048` of the others for `n`
    /// addresses), so whoever demultiplexes must still check the destination. The whole table
    /// (128 words) is rewritten each time, so bits of a longer earlier list are gone. An empty
    /// list leaves perfect match and hashing off (broadcast only). Refused lists change nothing.
    fn set_unicast_filter(&mut self, macs: &[MacAddr]) -> Result<(), FilterError> {
        check_filter(macs, MAX_UNICAST)?;
        let mut table = [0u16; HASH_WORDS];
        for MacAddr(m) in macs.iter().skip(1) {
            let (at, bit) = hash_slot(hash_index(m));
            table[((at - RFADDR_HASH) / 2) as usize] |= bit;
        }
        // RFEN must be clear while the filter memory is written (datasheet, RFCR).
        self.regs.write32(RFCR, 0);
        let mut ctrl = RFCR_RFEN | RFCR_AAB;
        if let Some(MacAddr(m)) = macs.first() {
            for i in 0..3 {
                self.regs.write32(RFCR, (i * 2) as u32);
                self.regs.write32(RFDR, u32::from(u16::from_le_bytes([m[2 * i], m[2 * i + 1]])));
            }
            ctrl |= RFCR_APM;
        }
        for (w, &bits) in table.iter().enumerate() {
            self.regs.write32(RFCR, RFADDR_HASH + 2 * w as u32);
            self.regs.write32(RFDR, u32::from(bits));
        }
        if macs.len() > 1 {
            ctrl |= RFCR_UHEN;
        }
        self.regs.write32(RFCR, 0);
        self.regs.write32(RFCR, ctrl);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn ihr_units() {
        assert_eq!(super::ihr_for_us(0), Some(0));
        assert_eq!(super::ihr_for_us(100), Some(1));
        assert_eq!(super::ihr_for_us(150), Some(2));
        assert_eq!(super::ihr_for_us(12_800), None);
    }

    #[test]
    fn crc32_be_known_answers() {
        // The CRC-32 check value of "123456789" is 0xcbf43926 (zlib form); the MSB-first,
        // uninverted form is its complement bit-reversed.
        assert_eq!(super::crc32_be(b"123456789"), (!0xcbf4_3926u32).reverse_bits());
        assert_eq!(super::crc32_be(b"123456789"), 0x9b63_d02c);
        assert_eq!(super::crc32_be(&[]), u32::MAX);
    }

    #[test]
    fn hash_index_known_answers() {
        // Values computed independently (Python: reverse_bits(~zlib.crc32(mac)) >> 21).
        assert_eq!(super::hash_index(&[0x52, 0x54, 0x00, 0x12, 0x34, 0x56]), 1547);
        assert_eq!(super::hash_index(&[0x52, 0x54, 0x00, 0xaa, 0xbb, 0xcc]), 1407);
        assert_eq!(super::hash_index(&[0xff; 6]), 2042);
        // 1547 = word 96 (filter memory 0x100 + 2 * 96), bit 11.
        assert_eq!(super::hash_slot(1547), (0x1c0, 1 << 11));
        assert_eq!(super::hash_slot(0), (0x100, 1));
        assert_eq!(super::hash_slot(2047), (0x1fe, 1 << 15));
    }
}
