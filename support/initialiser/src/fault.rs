//! Fault messages of seL4 5.0 x86_64, decoded for the monitor, and the one-line report with a
//! hint at the likely cause (pure, host-tested).
//!
//! The kernel sends a fault as an IPC on the thread's fault endpoint whose label is the fault
//! type (`seL4_FaultType` in `arch/x86/arch/api/shared_types.bf`) and whose message registers
//! are (`libsel4` `shared_types.h`, `sel4_arch/constants.h`, `src/api/faults.c`):
//!
//! | label | fault | MRs |
//! |---|---|---|
//! | 1 | CapFault | 0 IP, 1 cptr, 2 in-receive-phase, 3 lookup failure type, 4.. details |
//! | 2 | UnknownSyscall | 0..14 RAX RBX RCX RDX RSI RDI RBP R8..R15, 15 IP, 16 SP, 17 FLAGS, 18 number |
//! | 3 | UserException | 0 IP, 1 SP, 2 FLAGS, 3 exception number, 4 error code |
//! | 5 | VMFault | 0 IP, 1 address, 2 instruction fault, 3 FSR (the #PF error code) |
//!
//! A PD holds its own fault endpoint capability (seL4 5.0 non-MCS looks the handler cptr up
//! in the faulting thread's CSpace), so it could send a fault message itself; [`authenticate`]
//! tells a kernel fault from such a forgery.
//!
//! seL4 5.0's x86 `handleVMFault` keeps the fault address in a `uint32_t`, so a VM fault
//! reports only the **low 32 bits** of the address. The hints allow for that: a stack guard page
//! above 4 GiB is recognised by its low 32 bits too.

use core::fmt;

pub const LABEL_CAP_FAULT: u64 = 1;
pub const LABEL_UNKNOWN_SYSCALL: u64 = 2;
pub const LABEL_USER_EXCEPTION: u64 = 3;
pub const LABEL_VM_FAULT: u64 = 5;

/// Message registers the decoder may read (the longest fault message is 19 words).
pub const MAX_FAULT_MRS: usize = 19;

/// A decoded fault.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Fault {
    Cap {
        ip: u64,
        cptr: u64,
        in_receive: bool,
        lookup_failure: u64,
    },
    UnknownSyscall {
        ip: u64,
        sp: u64,
        number: u64,
    },
    UserException {
        ip: u64,
        sp: u64,
        number: u64,
        code: u64,
    },
    Vm {
        ip: u64,
        addr: u64,
        instruction: bool,
        fsr: u64,
    },
    /// A label the kernel does not send for faults (e.g. a PD sending to its fault endpoint).
    Unknown {
        label: u64,
    },
}

/// x86 #PF error code bits (the FSR of a VM fault).
const PF_PRESENT: u64 = 1;
const PF_WRITE: u64 = 2;
const PF_FETCH: u64 = 16;

/// x86 exception numbers the hints know.
const EXC_DIVIDE: u64 = 0;
const EXC_BREAKPOINT: u64 = 3;
const EXC_INVALID_OPCODE: u64 = 6;
const EXC_GP: u64 = 13;
const EXC_ALIGNMENT: u64 = 17;

impl Fault {
    /// Decodes a fault message: `label` from the message info, `mrs` its message registers
    /// (missing ones read as 0, so a short message never panics).
    pub fn decode(label: u64, mrs: &[u64]) -> Fault {
        let mr = |i: usize| mrs.get(i).copied().unwrap_or(0);
        match label {
            LABEL_CAP_FAULT => Fault::Cap { ip: mr(0), cptr: mr(1), in_receive: mr(2) != 0, lookup_failure: mr(3) },
            LABEL_UNKNOWN_SYSCALL => Fault::UnknownSyscall { ip: mr(15), sp: mr(16), number: mr(18) },
            LABEL_USER_EXCEPTION => Fault::UserException { ip: mr(0), sp: mr(1), number: mr(3), code: mr(4) },
            LABEL_VM_FAULT => Fault::Vm { ip: mr(0), addr: mr(1), instruction: mr(2) != 0, fsr: mr(3) },
            label => Fault::Unknown { label },
        }
    }

    /// Number of message registers the kernel sends with a fault of this `label`.
    pub const fn length(label: u64) -> usize {
        match label {
            LABEL_CAP_FAULT => 7,
            LABEL_UNKNOWN_SYSCALL => 19,
            LABEL_USER_EXCEPTION => 5,
            LABEL_VM_FAULT => 4,
            _ => 0,
        }
    }

    pub const fn ip(&self) -> u64 {
        match *self {
            Fault::Cap { ip, .. }
            | Fault::UnknownSyscall { ip, .. }
            | Fault::UserException { ip, .. }
            | Fault::Vm { ip, .. } => ip,
            Fault::Unknown { .. } => 0,
        }
    }

    /// The likely cause, given where the PD's stack is.
    pub fn hint(&self, pd: &PdLayout) -> &'static str {
        match *self {
            Fault::Vm { addr, instruction, fsr, .. } => {
                if in_guard_page(addr, pd.stack_bottom) {
                    "stack overflow (hit the guard page below the stack; raise stack_size in the system file)"
                } else if addr < 4096 {
                    "null pointer dereference"
                } else if instruction || fsr & PF_FETCH != 0 {
                    "jump to an address that is not mapped executable"
                } else if fsr & PF_PRESENT != 0 && fsr & PF_WRITE != 0 {
                    "write to read-only memory"
                } else {
                    "access to an unmapped address (not in the program image or any map of the system file)"
                }
            }
            Fault::UserException { number, .. } => match number {
                EXC_INVALID_OPCODE => "invalid instruction (ud2): panic (see the PD's message above)",
                EXC_DIVIDE => "division by zero",
                EXC_BREAKPOINT => "breakpoint (int3)",
                EXC_GP => "general protection fault (privileged instruction, or non-canonical address)",
                EXC_ALIGNMENT => "misaligned access",
                _ => "CPU exception",
            },
            Fault::Cap { .. } => "system call on a capability slot the PD was not granted (ungranted channel?)",
            Fault::UnknownSyscall { .. } => "unknown system call number",
            Fault::Unknown { .. } => "not a kernel fault message (did the PD send to its fault endpoint?)",
        }
    }
}

/// Whether a (possibly 32-bit truncated) fault address lies in the guard page below the stack.
fn in_guard_page(addr: u64, stack_bottom: u64) -> bool {
    let lo = stack_bottom.saturating_sub(4096);
    if (lo..stack_bottom).contains(&addr) {
        return true;
    }
    let lo32 = lo & 0xffff_ffff;
    addr >> 32 == 0 && stack_bottom >> 32 != 0 && (lo32..lo32 + 4096).contains(&addr)
}

/// What the monitor knows of a PD's address space for the hints.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq)]
pub struct PdLayout {
    pub stack_bottom: u64,
}

/// `VM fault (write) at address 0x10 ip 0x401234` and so on.
impl fmt::Display for Fault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Fault::Vm { ip, addr, instruction, fsr } => {
                let kind = if instruction || fsr & PF_FETCH != 0 {
                    "instruction fetch"
                } else if fsr & PF_WRITE != 0 {
                    "write"
                } else {
                    "read"
                };
                write!(f, "VM fault ({kind}) at address {addr:#x} ip {ip:#x}")
            }
            Fault::UserException { ip, sp, number, code } => {
                write!(f, "user exception {number} ({}) code {code:#x} ip {ip:#x} sp {sp:#x}", exception_name(number))
            }
            Fault::Cap { ip, cptr, in_receive, lookup_failure } => write!(
                f,
                "cap fault on cptr {cptr:#x} ({} phase, lookup failure {lookup_failure}) ip {ip:#x}",
                if in_receive { "receive" } else { "send" }
            ),
            Fault::UnknownSyscall { ip, sp, number } => {
                write!(f, "unknown syscall {} ip {ip:#x} sp {sp:#x}", number as i64)
            }
            Fault::Unknown { label } => write!(f, "unknown fault label {label}"),
        }
    }
}

fn exception_name(n: u64) -> &'static str {
    match n {
        0 => "#DE divide error",
        1 => "#DB debug",
        3 => "#BP breakpoint",
        4 => "#OF overflow",
        5 => "#BR bound range",
        6 => "#UD invalid opcode",
        7 => "#NM no FPU",
        12 => "#SS stack segment",
        13 => "#GP general protection",
        16 => "#MF x87 error",
        17 => "#AC alignment check",
        19 => "#XM SIMD error",
        _ => "exception",
    }
}

/// What the system file asks the monitor to do with a faulting PD (`fault="stop|restart"`).
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Policy {
    /// Suspend the PD's thread; every other PD keeps running.
    Stop,
    /// Restart the PD from a clean copy of its program image, within the [`Restarts`] bound.
    Restart,
}

impl Policy {
    /// The policy recorded in the spec (`spec::PdRec::fault`); unknown values stop the PD
    /// (the spec parser rejects them anyway).
    pub const fn from_spec(fault: u8) -> Policy {
        match fault {
            spec::FAULT_RESTART => Policy::Restart,
            _ => Policy::Stop,
        }
    }
}

/// Restarts in a row after which a PD that faults again within [`RESTART_WINDOW_MS`] of its
/// last restart is stopped instead.
pub const MAX_RESTARTS_IN_A_ROW: u32 = 5;
/// A fault this soon after the previous restart continues a run of restarts.
pub const RESTART_WINDOW_MS: u64 = 2000;

/// What the monitor does with this fault.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Suspend the PD (its policy is `stop`).
    Stop,
    /// Restart the PD; this is restart number `n` (counted over the PD's life).
    Restart { n: u32 },
    /// The PD faulted again soon after [`MAX_RESTARTS_IN_A_ROW`] quick restarts: stop it.
    RestartLimit,
}

impl Outcome {
    /// The tail of the report line.
    pub const fn describe(self) -> &'static str {
        match self {
            Outcome::Stop => "PD stopped, others keep running",
            Outcome::Restart { .. } => "restarting it from a clean image, others keep running",
            Outcome::RestartLimit => {
                "restart limit reached (it faulted again within 2 s of each of its last 5 restarts): PD stopped, others keep running"
            }
        }
    }
}

/// One PD's restart history, which bounds restarts: a fault within `window` ticks of the
/// previous restart continues a run; a run longer than [`MAX_RESTARTS_IN_A_ROW`] stops the PD.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq)]
pub struct Restarts {
    /// Restarts over the PD's life.
    pub total: u32,
    /// Restarts in the current run.
    pub in_a_row: u32,
    /// When the last restart happened (TSC ticks).
    pub last: u64,
}

impl Restarts {
    /// Decides what to do with a fault of a PD whose policy is `policy`, at time `now`, with
    /// the run window `window` (ticks), and records a restart when that is the decision.
    pub fn on_fault(&mut self, policy: Policy, now: u64, window: u64) -> Outcome {
        if policy == Policy::Stop {
            return Outcome::Stop;
        }
        let soon = self.total > 0 && now.wrapping_sub(self.last) < window;
        let run = if soon { self.in_a_row + 1 } else { 1 };
        if run > MAX_RESTARTS_IN_A_ROW {
            return Outcome::RestartLimit;
        }
        self.in_a_row = run;
        self.total += 1;
        self.last = now;
        Outcome::Restart { n: self.total }
    }
}

/// The monitor's report line: `monitor: PD 'name' faulted: <fault>: <hint>; <outcome>`.
pub struct Report<'a> {
    pub pd: &'a str,
    pub fault: Fault,
    pub layout: PdLayout,
    pub outcome: Outcome,
    /// The fault was injected from the console (`inject <pd>`): said instead of a guess.
    pub injected: bool,
}

impl fmt::Display for Report<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Undo seL4 5.0's 32-bit truncation of the address where the stack guard explains it.
        let mut fault = self.fault;
        if let Fault::Vm { ref mut addr, .. } = fault {
            let bottom = self.layout.stack_bottom;
            if *addr >> 32 == 0 && bottom >> 32 != 0 && in_guard_page(*addr, bottom) {
                let high = bottom.saturating_sub(4096) & !0xffff_ffff;
                *addr |= high;
            }
        }
        let hint = if self.injected { "injected from the console (inject)" } else { self.fault.hint(&self.layout) };
        write!(f, "monitor: PD '{}' faulted: {}: {}; {}", self.pd, fault, hint, self.outcome.describe())
    }
}

/// `seL4_SysCall` (RDX at the `syscall` instruction, seL4 5.0 x86_64): the only system call
/// that leaves its caller blocked on a reply, as a genuine fault leaves the faulting thread.
pub const SYS_CALL: u64 = -1i64 as u64;

/// What the monitor reads of a fault report's sender after suspending it (`TCB_Suspend`, then
/// `TCB_ReadRegisters`): the saved FaultIP (seL4's restart PC: the faulting instruction, or
/// the `syscall` instruction for a thread that entered the kernel by a system call), and RDX
/// and RSI (the system call number and the message info word of a thread blocked in one).
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct SenderRegs {
    pub fault_ip: u64,
    pub rdx: u64,
    pub rsi: u64,
}

/// Why a message on a PD's fault endpoint is not a fault the kernel reported.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Forgery {
    /// A label the kernel never sends for a fault.
    UnknownLabel { label: u64 },
    /// The right label with the wrong number of message registers.
    WrongLength { label: u64, length: u64, expected: u64 },
    /// Capabilities were transferred or unwrapped (a kernel fault message carries none).
    Caps,
    /// No reply capability came with it: it was sent with `seL4_Send`/`seL4_NBSend` (the
    /// kernel's fault IPC always leaves the faulting thread waiting on a reply).
    NoReply,
    /// The sender is blocked in `seL4_Call` sending exactly this label and length: it called
    /// its own fault endpoint.
    SenderInCall,
    /// The IP the message reports is not where the (suspended, never resumed) sender stands.
    IpMismatch { reported: u64, actual: u64 },
}

impl fmt::Display for Forgery {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Forgery::UnknownLabel { label } => write!(f, "label {label} is no seL4 fault type"),
            Forgery::WrongLength { label, length, expected } => {
                write!(f, "label {label} with {length} message registers (a kernel fault has {expected})")
            }
            Forgery::Caps => f.write_str("it carries capabilities"),
            Forgery::NoReply => f.write_str("it came without a reply capability (seL4_Send)"),
            Forgery::SenderInCall => f.write_str("the sender is blocked in seL4_Call on its fault endpoint"),
            Forgery::IpMismatch { reported, actual } => {
                write!(f, "it reports ip {reported:#x} but the sender stands at {actual:#x}")
            }
        }
    }
}

/// The message-info word's fields (seL4 64-bit: label 63..12, caps unwrapped 11..9, extra caps
/// 8..7, length 6..0).
const fn info_fields(word: u64) -> (u64, u64, u64, u64) {
    (word >> 12, (word >> 9) & 7, (word >> 7) & 3, word & 0x7f)
}

/// The IP register a fault message of this kind reports (None for an unknown label).
fn reported_ip(label: u64, mrs: &[u64]) -> Option<u64> {
    let at = match label {
        LABEL_UNKNOWN_SYSCALL => 15,
        LABEL_CAP_FAULT | LABEL_USER_EXCEPTION | LABEL_VM_FAULT => 0,
        _ => return None,
    };
    Some(mrs.get(at).copied().unwrap_or(0))
}

/// Decides whether a message on a PD's fault endpoint is a fault the kernel reported, or a
/// report the PD forged by invoking its own fault endpoint capability (which it must hold:
/// seL4 5.0 non-MCS looks the fault handler cptr up in the faulting thread's own CSpace).
///
/// `info` is the message-info word as received, `mrs` its message registers, `reply` whether
/// the receive left a reply capability (`CNode_SaveCaller` into an empty slot, then a probe
/// of that slot), `regs` the sender's registers read after suspending it, before replying.
///
/// Sound against a forged `seL4_Send`/`seL4_NBSend` (no reply cap) and a forged `seL4_Call`
/// (a caller blocked on its reply cannot change its registers, and they show the call).
/// A PD could make a *real* fault look forged (by faulting with RDX = -1 and RSI = the fault's
/// info word), which only harms itself: it is not restarted.
pub fn authenticate(info: u64, mrs: &[u64], reply: bool, regs: &SenderRegs) -> Result<Fault, Forgery> {
    let (label, unwrapped, extra, length) = info_fields(info);
    let expected = Fault::length(label) as u64;
    if expected == 0 {
        return Err(Forgery::UnknownLabel { label });
    }
    // A cap fault's length depends on its lookup failure: 4 words, plus 1 (missing capability,
    // BitsLeft), 2 (depth mismatch) or 3 (guard mismatch); the other faults have one length.
    let fits = if label == LABEL_CAP_FAULT { (4..=expected).contains(&length) } else { length == expected };
    if !fits {
        return Err(Forgery::WrongLength { label, length, expected });
    }
    if unwrapped != 0 || extra != 0 {
        return Err(Forgery::Caps);
    }
    if !reply {
        return Err(Forgery::NoReply);
    }
    let (sent_label, _, _, sent_length) = info_fields(regs.rsi);
    if regs.rdx == SYS_CALL && sent_label == label && sent_length == length {
        return Err(Forgery::SenderInCall);
    }
    let reported = reported_ip(label, mrs).unwrap_or(0);
    if reported != regs.fault_ip {
        return Err(Forgery::IpMismatch { reported, actual: regs.fault_ip });
    }
    Ok(Fault::decode(label, mrs))
}

#[cfg(test)]
mod authenticity_tests {
    use super::*;

    const fn info(label: u64, length: u64) -> u64 {
        label << 12 | length
    }

    const VM: [u64; 4] = [0x40_1234, 0x10, 0, 6];
    const AT_FAULT: SenderRegs = SenderRegs { fault_ip: 0x40_1234, rdx: 7, rsi: 0 };

    #[test]
    fn cap_faults_come_in_every_lookup_failure_length() {
        let at = SenderRegs { fault_ip: 0x40_1000, ..AT_FAULT };
        for len in 4..=7u64 {
            let mrs = [0x40_1000, 0x12c, 0, 2, 1, 0, 0];
            assert!(authenticate(info(LABEL_CAP_FAULT, len), &mrs[..len as usize], true, &at).is_ok(), "length {len}");
        }
        let mrs = [0x40_1000; 8];
        assert!(authenticate(info(LABEL_CAP_FAULT, 3), &mrs[..3], true, &at).is_err());
        assert!(authenticate(info(LABEL_CAP_FAULT, 8), &mrs, true, &at).is_err());
    }

    #[test]
    fn a_kernel_fault_message_is_genuine() {
        let f = authenticate(info(LABEL_VM_FAULT, 4), &VM, true, &AT_FAULT).unwrap();
        assert_eq!(f, Fault::Vm { ip: 0x40_1234, addr: 0x10, instruction: false, fsr: 6 });
        let mut us = [0u64; 19];
        us[15] = 0x40_2000;
        let regs = SenderRegs { fault_ip: 0x40_2000, rdx: 0x1234, rsi: 0 };
        assert!(matches!(
            authenticate(info(LABEL_UNKNOWN_SYSCALL, 19), &us, true, &regs),
            Ok(Fault::UnknownSyscall { .. })
        ));
        let ue = [0x40_3000, 0x7fff_0000, 0x202, 6, 0];
        let regs = SenderRegs { fault_ip: 0x40_3000, ..AT_FAULT };
        assert!(authenticate(info(LABEL_USER_EXCEPTION, 5), &ue, true, &regs).is_ok());
        let cf = [0x40_4000, 99, 0, 1, 0, 0, 0];
        let regs = SenderRegs { fault_ip: 0x40_4000, ..AT_FAULT };
        assert!(authenticate(info(LABEL_CAP_FAULT, 7), &cf, true, &regs).is_ok());
    }

    #[test]
    fn labels_and_lengths_must_be_the_kernels_exactly() {
        for label in [0, 4, 6, 7, 42, 1 << 40] {
            assert_eq!(authenticate(info(label, 4), &VM, true, &AT_FAULT), Err(Forgery::UnknownLabel { label }));
        }
        for length in [0, 3, 5, 19, 120] {
            assert_eq!(
                authenticate(info(LABEL_VM_FAULT, length), &VM, true, &AT_FAULT),
                Err(Forgery::WrongLength { label: LABEL_VM_FAULT, length, expected: 4 })
            );
        }
        assert_eq!(authenticate(info(LABEL_VM_FAULT, 4) | 1 << 7, &VM, true, &AT_FAULT), Err(Forgery::Caps));
        assert_eq!(authenticate(info(LABEL_VM_FAULT, 4) | 1 << 9, &VM, true, &AT_FAULT), Err(Forgery::Caps));
    }

    #[test]
    fn a_forged_send_has_no_reply_capability() {
        assert_eq!(authenticate(info(LABEL_VM_FAULT, 4), &VM, false, &AT_FAULT), Err(Forgery::NoReply));
    }

    #[test]
    fn a_forged_call_shows_in_the_blocked_senders_registers() {
        // The PD called its fault endpoint: RDX = seL4_SysCall, RSI = the info it sent (caps
        // bits may differ from what arrived), FaultIP at its `syscall` instruction.
        let calling = SenderRegs { fault_ip: 0x40_1234, rdx: SYS_CALL, rsi: info(LABEL_VM_FAULT, 4) | 1 << 7 };
        assert_eq!(authenticate(info(LABEL_VM_FAULT, 4), &VM, true, &calling), Err(Forgery::SenderInCall));
        // Claiming an IP other than where it stands is caught too.
        let elsewhere = SenderRegs { fault_ip: 0x40_9000, rdx: 3, rsi: 0 };
        assert_eq!(
            authenticate(info(LABEL_VM_FAULT, 4), &VM, true, &elsewhere),
            Err(Forgery::IpMismatch { reported: 0x40_1234, actual: 0x40_9000 })
        );
        // A genuine fault inside a call with another message is still a fault.
        let other_call = SenderRegs { fault_ip: 0x40_1234, rdx: SYS_CALL, rsi: info(9, 2) };
        assert!(authenticate(info(LABEL_VM_FAULT, 4), &VM, true, &other_call).is_ok());
    }

    #[test]
    fn forgeries_read_as_sentences() {
        extern crate std;
        let s = std::format!("{}", Forgery::WrongLength { label: 5, length: 3, expected: 4 });
        assert_eq!(s, "label 5 with 3 message registers (a kernel fault has 4)");
    }
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::*;
    use std::format;

    const LAYOUT: PdLayout = PdLayout { stack_bottom: 0x7fff_efff_c000 };

    fn report(label: u64, mrs: &[u64]) -> std::string::String {
        format!(
            "{}",
            Report {
                pd: "crasher",
                fault: Fault::decode(label, mrs),
                layout: LAYOUT,
                outcome: Outcome::Stop,
                injected: false
            }
        )
    }

    #[test]
    fn injected_faults_say_so_instead_of_guessing() {
        let fault = Fault::decode(5, &[0xdead000, 0xdead000, 1, PF_FETCH | 4]);
        let r = format!(
            "{}",
            Report { pd: "echo", fault, layout: LAYOUT, outcome: Outcome::Restart { n: 1 }, injected: true }
        );
        assert!(r.starts_with("monitor: PD 'echo' faulted: VM fault (instruction fetch) at address 0xdead000"), "{r}");
        assert!(r.contains(": injected from the console (inject); restarting it"), "{r}");
    }

    #[test]
    fn null_write_is_named_with_address_ip_and_hint() {
        let r = report(5, &[0x401234, 0x10, 0, PF_WRITE | 4]);
        assert_eq!(
            r,
            "monitor: PD 'crasher' faulted: VM fault (write) at address 0x10 ip 0x401234: null pointer \
             dereference; PD stopped, others keep running"
        );
    }

    #[test]
    fn guard_page_hit_is_a_stack_overflow() {
        let r = report(5, &[0x401000, LAYOUT.stack_bottom - 8, 0, PF_WRITE | 4]);
        assert!(r.contains("VM fault (write)") && r.contains("stack overflow"), "{r}");
        // As seL4 5.0 reports it: the low 32 bits only.
        let r = report(5, &[0x401000, (LAYOUT.stack_bottom - 8) & 0xffff_ffff, 0, PF_WRITE | 4]);
        assert!(r.contains("stack overflow"), "{r}");
        assert!(r.contains(&format!("at address {:#x} ", LAYOUT.stack_bottom - 8)), "{r}");
        // Just above the guard (a mapped stack page) is not an overflow: a read of unmapped memory.
        let r = report(5, &[0x401000, 0x5000_0000, 0, 4]);
        assert!(r.contains("(read)") && r.contains("unmapped address"), "{r}");
    }

    #[test]
    fn other_vm_faults() {
        assert!(report(5, &[0x9000_0000, 0x9000_0000, 1, PF_FETCH | 4]).contains("instruction fetch"));
        assert!(report(5, &[0x401000, 0x40_2000, 0, PF_PRESENT | PF_WRITE | 4]).contains("read-only"));
    }

    #[test]
    fn ud2_is_a_panic_and_exceptions_are_named() {
        let r = report(3, &[0x40_1abc, 0x7fff_f000_0000, 0x202, 6, 0]);
        assert!(r.contains("user exception 6 (#UD invalid opcode)") && r.contains("ip 0x401abc"), "{r}");
        assert!(r.contains("panic (see the PD's message above)"), "{r}");
        assert!(report(3, &[1, 2, 3, 0, 0]).contains("division by zero"));
    }

    #[test]
    fn cap_fault_and_unknown_syscall_and_garbage() {
        let r = report(1, &[0x401000, 0x55, 0, 2]);
        assert!(r.contains("cap fault on cptr 0x55 (send phase") && r.contains("not granted"), "{r}");
        let mut mrs = [0u64; 19];
        mrs[15] = 0x40_2000;
        mrs[18] = (-42i64) as u64;
        let r = report(2, &mrs);
        assert!(r.contains("unknown syscall -42 ip 0x402000"), "{r}");
        // Short or unknown messages never panic.
        assert!(report(77, &[]).contains("unknown fault label 77"));
        assert!(report(2, &[]).contains("unknown syscall 0"));
        assert_eq!(Fault::decode(5, &[]).ip(), 0);
        assert_eq!(Fault::length(LABEL_UNKNOWN_SYSCALL), MAX_FAULT_MRS);
    }

    #[test]
    fn restart_outcomes_are_worded() {
        let r = format!(
            "{}",
            Report {
                pd: "driver",
                fault: Fault::decode(3, &[0x40_1abc, 0, 0, 6, 0]),
                layout: LAYOUT,
                outcome: Outcome::Restart { n: 1 },
                injected: false
            }
        );
        assert!(r.starts_with("monitor: PD 'driver' faulted: user exception 6"), "{r}");
        assert!(r.ends_with("; restarting it from a clean image, others keep running"), "{r}");
        let r = format!(
            "{}",
            Report {
                pd: "driver",
                fault: Fault::decode(3, &[0, 0, 0, 6, 0]),
                layout: LAYOUT,
                outcome: Outcome::RestartLimit,
                injected: false
            }
        );
        assert!(r.contains("restart limit reached") && r.ends_with("PD stopped, others keep running"), "{r}");
        assert_eq!(Policy::from_spec(spec::FAULT_RESTART), Policy::Restart);
        assert_eq!(Policy::from_spec(spec::FAULT_STOP), Policy::Stop);
        assert_eq!(Policy::from_spec(7), Policy::Stop);
    }

    #[test]
    fn stop_policy_never_restarts() {
        let mut r = Restarts::default();
        for t in 0..10 {
            assert_eq!(r.on_fault(Policy::Stop, t, 100), Outcome::Stop);
        }
        assert_eq!(r, Restarts::default());
    }

    #[test]
    fn quick_faults_stop_after_five_restarts_in_a_row() {
        let window = 1000;
        let mut r = Restarts::default();
        for n in 1..=MAX_RESTARTS_IN_A_ROW {
            assert_eq!(r.on_fault(Policy::Restart, u64::from(n) * 10, window), Outcome::Restart { n });
        }
        assert_eq!(r.in_a_row, MAX_RESTARTS_IN_A_ROW);
        // The sixth quick fault: stopped, and the history is left as it was.
        assert_eq!(r.on_fault(Policy::Restart, 70, window), Outcome::RestartLimit);
        assert_eq!(r.total, MAX_RESTARTS_IN_A_ROW);
    }

    #[test]
    fn a_quiet_spell_starts_a_new_run() {
        let window = 1000;
        let mut r = Restarts::default();
        let mut t = 0;
        // Many faults, each just outside the window: restarted every time, never a long run.
        for n in 1..=20 {
            t += window;
            assert_eq!(r.on_fault(Policy::Restart, t, window), Outcome::Restart { n });
            assert_eq!(r.in_a_row, 1);
        }
        // Four quick ones after a quiet spell are fine; the run counts from the spell's end.
        for k in 2..=5 {
            t += 1;
            assert_eq!(r.on_fault(Policy::Restart, t, window), Outcome::Restart { n: 19 + k });
            assert_eq!(r.in_a_row, k);
        }
        assert_eq!(r.on_fault(Policy::Restart, t + 1, window), Outcome::RestartLimit);
        // The TSC is compared with wrapping arithmetic (no panic near u64::MAX).
        let mut r = Restarts { total: 1, in_a_row: 1, last: u64::MAX - 5 };
        assert_eq!(r.on_fault(Policy::Restart, 3, window), Outcome::Restart { n: 2 });
        assert_eq!(r.in_a_row, 2);
    }
}
