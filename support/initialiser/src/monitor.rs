//! The monitor: after boot the initialiser receives on the fault endpoint forever. Every PD's
//! fault endpoint cap is the monitor's endpoint badged with the PD's index, so a fault message
//! names its PD. For each fault the monitor
//!
//! 1. prints one report line (see [`crate::fault::Report`]) ending in what it will do;
//! 2. signals every PD the faulting one names in `<fault_notify>` (a notification cap badged
//!    `1 << id` to the target's notification, minted at boot), e.g. the dataspace manager when
//!    the driver faults, and says so;
//! 3. applies the PD's policy: `stop` suspends it; `restart` suspends it, restores its writable
//!    segments from the spec (file bytes re-copied, the rest zeroed, boot-time patches
//!    re-applied), resets its registers to the entry point and stack top and resumes it. Its
//!    caps, maps, endpoint and notification stay as built. Restarts are bounded
//!    ([`crate::fault::Restarts`]): a PD that keeps faulting right after its restarts is stopped.
//!
//! It also serves the serial console (`console.rs`: `help`, `status`, `inject <pd>`): COM1's
//! receive interrupt arrives on the notification bound to the monitor's TCB, so the same
//! `Recv` wakes for it (badge `CONSOLE_BADGE`); each wake-up takes at most a FIFO's worth of
//! bytes, so typing never keeps a fault waiting. `inject` moves the PD's program counter to an
//! unmapped address and restarts it there: its next instruction faults, and that fault is
//! handled like any other (reported as injected).
//!
//! Every other PD keeps running throughout. The signals go out before the restart, and the
//! monitor runs at the highest priority, so a target of higher priority than the restarted PD
//! (the dataspace manager is above the driver: the driver calls it) handles the notice before
//! the restarted PD runs again.
//!
//! Runs only on seL4 (it makes system calls); the decoding, wording and restart bound are
//! host-tested in `fault.rs`, the behaviour by the QEMU tests (tests/systems/tests/restart.rs).

use core::fmt::Write;

use sel4::{
    init, ipc, syscall, CNode, CPtr, CapRights, InvocationError, IrqHandler, Notification, Page, Tcb, UserContext,
    VmAttributes,
};

use crate::boot::{fill_page, patch_value, System, COM1, CONSOLE_BADGE, SCRATCH};
use crate::console::{self, Command, CpuLine, EntriesLine, Input, KernelLine, LineBuffer, PdHealth, StatusLine};
use crate::fault::{Fault, Outcome, Policy, Report, Restarts, MAX_FAULT_MRS, RESTART_WINDOW_MS};

const ROOT: CNode = init::CNODE;
// The kernel reports as many entry classes as spec names.
const _: () = assert!(spec::bench::ENTRY_CLASSES.len() == sel4::bench::ENTRY_CLASS_COUNT);
const PAGE: u64 = 4096;
/// RFLAGS of a fresh thread: IF and the always-one bit 1 (the kernel sanitises it anyway).
const RFLAGS_USER_DEFAULT: u64 = 0x202;

fn now() -> u64 {
    // SAFETY: rdtsc has no memory effects; user-mode TSC reads are allowed by seL4 (CR4.TSD clear).
    unsafe { core::arch::x86_64::_rdtsc() }
}

/// Milliseconds since boot, for the lines that time injections and restarts.
fn ms(sys: &System<'_>) -> u64 {
    now() / (sys.tsc_hz / 1000).max(1)
}

/// What the monitor keeps between events.
struct Monitor {
    restarts: [Restarts; spec::MAX_PDS],
    health: [PdHealth; spec::MAX_PDS],
    line: LineBuffer,
}

/// Serves faults and console input forever.
pub fn run<W: Write>(sys: &System<'_>, out: &mut W) -> ! {
    let mut m = Monitor {
        restarts: [Restarts::default(); spec::MAX_PDS],
        health: [PdHealth::default(); spec::MAX_PDS],
        line: LineBuffer::new(),
    };
    if sys.console.is_some() {
        let _ = writeln!(out, "monitor: console ready on COM1 (type help)");
    }
    loop {
        let msg = syscall::recv(CPtr(sys.fault_ep));
        if msg.badge.0 & CONSOLE_BADGE != 0 {
            m.console(sys, out);
            continue;
        }
        let label = msg.info.label();
        let len = (msg.info.length() as usize).min(MAX_FAULT_MRS);
        let mut mrs = [0u64; MAX_FAULT_MRS];
        mrs[..4].copy_from_slice(&msg.mrs);
        for (i, mr) in mrs.iter_mut().enumerate().take(len).skip(4) {
            *mr = ipc::get_mr(i).unwrap_or(0);
        }
        let index = msg.badge.0 as usize;
        if index >= sys.spec.pds.len() {
            let _ = writeln!(out, "monitor: message with unknown badge {:#x} (label {label}) ignored", msg.badge.0);
            continue;
        }
        match authentic(sys, index, msg.info.0, &mrs[..len]) {
            Ok(fault) => m.fault(sys, index, fault, out),
            Err(why) => {
                // Not the kernel's fault IPC: the PD itself sent it through its fault endpoint
                // capability. Nothing is restarted or told; the sender is stopped (a server in
                // its refuse-forever mode, so its own callers still get an answer).
                let name = sys.pd_name(index);
                let _ = writeln!(
                    out,
                    "monitor: PD '{name}' sent a forged fault report ({why}); ignored, the PD is stopped"
                );
                m.health[index].stopped = true;
                stop(sys, index, name, out);
            }
        }
    }
}

/// Whether a message on PD `index`'s fault endpoint really is the kernel's report of its fault
/// (`fault::authenticate`): a kernel fault IPC leaves a reply capability, and the faulting
/// thread (suspended here, so it cannot move on) stands at the IP the report names and is not
/// in a `seL4_Call` of its own. The reply capability is saved, probed and dropped.
fn authentic(sys: &System<'_>, index: usize, info: u64, mrs: &[u64]) -> Result<Fault, crate::fault::Forgery> {
    let reply = ROOT.save_caller(sys.reply_slot, 64).is_ok()
        && ROOT.move_(sys.scratch_slot, 64, ROOT.slot(sys.reply_slot)).is_ok()
        && ROOT.delete(sys.scratch_slot, 64).is_ok();
    let tcb = Tcb(CPtr(sys.pds[index].tcb));
    let regs = tcb.read_registers(true, UserContext::WORDS as u64).unwrap_or_default();
    crate::fault::authenticate(
        info,
        mrs,
        reply,
        &crate::fault::SenderRegs { fault_ip: regs.rip, rdx: regs.rdx, rsi: regs.rsi },
    )
}

impl Monitor {
    /// Reports and handles a fault of PD `index` by its policy.
    fn fault<W: Write>(&mut self, sys: &System<'_>, index: usize, fault: Fault, out: &mut W) {
        let rec = sys.spec.pds[index];
        let name = sys.pd_name(index);
        let window = sys.tsc_hz.saturating_mul(RESTART_WINDOW_MS) / 1000;
        let outcome = self.restarts[index].on_fault(Policy::from_spec(rec.fault), now(), window);
        let health = &mut self.health[index];
        let injected = core::mem::take(&mut health.injected);
        health.faults += 1;
        let _ = writeln!(out, "{}", Report { pd: name, fault, layout: sys.pds[index].layout, outcome, injected });
        let faults = health.faults;
        tell(sys, index, faults, out);
        let tcb = Tcb(CPtr(sys.pds[index].tcb));
        match outcome {
            Outcome::Stop | Outcome::RestartLimit => {
                health.stopped = true;
                stop(sys, index, name, out);
            }
            Outcome::Restart { n } => match restart(sys, index, faults) {
                Ok(()) => {
                    health.restarts = n;
                    let _ = writeln!(out, "monitor: PD '{name}' restarted (restart #{n}) at t={} ms", ms(sys));
                }
                Err((step, e)) => {
                    health.stopped = true;
                    let _ = writeln!(out, "monitor: could not restart PD '{name}' ({step}: {e}); PD stopped");
                    let _ = tcb.suspend();
                }
            },
        }
    }

    /// Takes what COM1 has received (the receive interrupt fired) and carries out complete
    /// lines, re-arming the interrupt. COM1's interrupt is edge-triggered: bytes that arrive
    /// while it is masked raise no new edge, so after the ack the UART is checked once more
    /// and drained again if it holds data (a byte after that check raises a fresh edge).
    fn console<W: Write>(&mut self, sys: &System<'_>, out: &mut W) {
        // A bounded number of rounds per wake-up, so faults are never kept waiting long.
        for _ in 0..8 {
            self.drain(sys, out);
            if let Some(c) = sys.console {
                let _ = IrqHandler(CPtr(c.irq)).ack();
            }
            if !matches!(init::IO_PORT.in8(COM1 + 5), Ok(lsr) if lsr & 1 != 0) {
                return;
            }
        }
    }

    /// Reads at most a FIFO's worth and a little more from COM1, carrying out complete lines.
    fn drain<W: Write>(&mut self, sys: &System<'_>, out: &mut W) {
        let port = init::IO_PORT;
        for _ in 0..64 {
            match port.in8(COM1 + 5) {
                Ok(lsr) if lsr & 1 != 0 => {}
                _ => break,
            }
            let Ok(byte) = port.in8(COM1) else { break };
            match self.line.push(byte) {
                Input::Pending => {}
                Input::Line(l) => {
                    // Copy out: the command may print, and the buffer is reused.
                    let mut text = [0u8; console::MAX_LINE];
                    let n = l.len();
                    text[..n].copy_from_slice(l.as_bytes());
                    let line = core::str::from_utf8(&text[..n]).unwrap_or("");
                    self.command(sys, line, out);
                }
                Input::TooLong => {
                    let _ = writeln!(out, "monitor: error: line longer than {} bytes ignored", console::MAX_LINE);
                }
                Input::NotText => {
                    let _ = writeln!(out, "monitor: error: line is not text (UTF-8); ignored");
                }
            }
        }
    }

    fn command<W: Write>(&mut self, sys: &System<'_>, line: &str, out: &mut W) {
        match console::parse(line) {
            Err(e) => {
                let _ = writeln!(out, "monitor: error: {e}");
            }
            Ok(Command::Help) => {
                let _ = writeln!(out, "monitor: {}", console::HELP);
            }
            Ok(Command::Status) => {
                for i in 0..sys.spec.pds.len() {
                    let mut area = [0u8; spec::pools::AREA];
                    let pools = read_pools(sys, i, &mut area).ok().map(|()| &area[..]);
                    let _ = writeln!(out, "{}", StatusLine { pd: sys.pd_name(i), health: self.health[i], pools });
                }
            }
            Ok(Command::Inject(name)) => self.inject(sys, name, out),
            Ok(Command::CpuStart | Command::CpuStop) if sys.spec.flags & spec::SYS_BENCH_KERNEL == 0 => {
                let _ = writeln!(
                    out,
                    "monitor: error: cpu needs the benchmark kernel (make run BENCH=1, or make eval, builds it and this image for it)"
                );
            }
            Ok(Command::CpuStart) => {
                sel4::bench::reset_log();
                for pd in &sys.pds[..sys.spec.pds.len()] {
                    sel4::bench::reset_thread(CPtr(pd.tcb));
                }
                let _ = writeln!(out, "monitor: cpu started");
            }
            Ok(Command::CpuStop) => {
                sel4::bench::finalize_log();
                let mut pds = [("", 0u64); spec::MAX_PDS];
                let mut kernel_pds = [("", 0u64); spec::MAX_PDS];
                let mut window = sel4::bench::Utilisation::default();
                let mut kernel = None;
                for i in 0..sys.spec.pds.len() {
                    let (util, k) = sel4::bench::thread(CPtr(sys.pds[i].tcb));
                    window = util;
                    pds[i] = (sys.pd_name(i), util.thread);
                    kernel = k;
                    kernel_pds[i] = (sys.pd_name(i), k.map_or(0, |k| k.thread));
                }
                let n = sys.spec.pds.len();
                let _ = writeln!(out, "{}", CpuLine { total: window.total, idle: window.idle, pds: &pds[..n] });
                // Only a kernel patched by support/kernel/patch-source.py reports kernel time.
                if let Some(k) = kernel {
                    let _ = writeln!(out, "{}", KernelLine { idle: k.idle, pds: &kernel_pds[..n] });
                    let mut classes = [("", 0u64, 0u64); sel4::bench::ENTRY_CLASS_COUNT];
                    for (slot, (name, (cycles, entries))) in
                        classes.iter_mut().zip(spec::bench::ENTRY_CLASSES.iter().zip(k.classes))
                    {
                        *slot = (name, cycles, entries);
                    }
                    let _ = writeln!(out, "{}", EntriesLine { classes: &classes });
                }
            }
        }
    }

    /// Makes PD `name` fault at its next instruction: its program counter moves to an
    /// unmapped address and it is restarted there, so the fault arrives like any other.
    fn inject<W: Write>(&mut self, sys: &System<'_>, name: &str, out: &mut W) {
        if sys.spec.flags & spec::SYS_NO_FAULT_INJECTION != 0 {
            let _ = writeln!(
                out,
                "monitor: error: fault injection is off in this system (<system fault_injection=\"false\">)"
            );
            return;
        }
        let Some(index) = (0..sys.spec.pds.len()).find(|&i| sys.pd_name(i) == name) else {
            let _ = write!(out, "monitor: error: no PD named '{name}'; PDs:");
            for i in 0..sys.spec.pds.len() {
                let _ = write!(out, " {}", sys.pd_name(i));
            }
            let _ = writeln!(out);
            return;
        };
        if self.health[index].stopped {
            let _ = writeln!(out, "monitor: error: PD '{name}' is stopped; nothing to inject into");
            return;
        }
        let tcb = Tcb(CPtr(sys.pds[index].tcb));
        let injected = tcb.read_registers(true, UserContext::WORDS as u64).and_then(|mut regs| {
            regs.rip = console::INJECT_IP;
            tcb.write_registers(true, UserContext::WORDS as u64, &regs)
        });
        match injected {
            Ok(()) => {
                self.health[index].injected = true;
                let _ = writeln!(
                    out,
                    "monitor: injected a fault into PD '{name}' at t={} ms (its next instruction is at {:#x})",
                    ms(sys),
                    console::INJECT_IP
                );
            }
            Err(e) => {
                let _ = tcb.resume();
                let _ = writeln!(out, "monitor: error: could not inject a fault into PD '{name}': {e}");
            }
        }
    }
}

/// Stops PD `index`. A server is not just suspended: its callers would wait for ever (the
/// reply capability of a call it was serving lives in its TCB). Instead it restarts in the
/// runtime's stopped mode, which answers that call and every later one with a refusal and
/// runs none of the PD's own code.
fn stop<W: Write>(sys: &System<'_>, index: usize, name: &str, out: &mut W) {
    let rec = sys.spec.pds[index];
    let tcb = Tcb(CPtr(sys.pds[index].tcb));
    if rec.flags & spec::PD_HAS_ENDPOINT == 0 {
        if let Err(e) = tcb.suspend() {
            let _ = writeln!(out, "monitor: could not stop PD '{name}': {e}");
        }
        return;
    }
    let regs = UserContext {
        rip: rec.entry.get(),
        rsp: rec.stack_bottom.get() + rec.stack_size.get(),
        rflags: RFLAGS_USER_DEFAULT,
        rdi: spec::START_STOPPED,
        ..UserContext::default()
    };
    let stopped = tcb.suspend().and_then(|()| tcb.write_registers(true, UserContext::WORDS as u64, &regs));
    match stopped {
        Ok(()) => {
            let _ = writeln!(out, "monitor: PD '{name}' stopped: it refuses every protected call from now on (its callers get an error, none waits for ever)");
        }
        Err(e) => {
            let _ = tcb.suspend();
            let _ = writeln!(out, "monitor: could not put PD '{name}' in its stopped mode ({e}); suspended (a caller it was serving keeps waiting)");
        }
    }
}

/// Copies PD `index`'s buffer-pool reports (the `spec::pools` area of its IPC buffer page)
/// into `area`, through a second mapping of that page in the scratch window.
fn read_pools(sys: &System<'_>, index: usize, area: &mut [u8; spec::pools::AREA]) -> Result<(), InvocationError> {
    ROOT.copy(sys.scratch_slot, 64, ROOT.slot(sys.pds[index].ipc_frame), CapRights::READ)?;
    let page = Page(CPtr(sys.scratch_slot));
    let mapped = page.map(init::VSPACE, SCRATCH, CapRights::READ, VmAttributes::WriteBack);
    if mapped.is_ok() {
        for (k, b) in area.iter_mut().enumerate() {
            // SAFETY: the PD's IPC buffer frame is mapped read-only at SCRATCH (one page) just
            // above; `spec::pools::OFFSET + AREA` lies inside that page (checked in spec), and
            // the bytes are plain data read with volatile loads.
            *b = unsafe { ((SCRATCH as usize + spec::pools::OFFSET + k) as *const u8).read_volatile() };
        }
        let _ = page.unmap();
    }
    let deleted = ROOT.delete(sys.scratch_slot, 64);
    mapped.and(deleted)
}

/// Signals every PD that `<fault_notify>` names for PD `index`.
/// First the fault count goes into each target's IPC buffer page (`spec::notices`), so the
/// notice says which fault it is about.
fn tell<W: Write>(sys: &System<'_>, index: usize, faults: u32, out: &mut W) {
    for (k, f) in sys.spec.fault_notifies.iter().enumerate() {
        if f.pd.get() as usize != index {
            continue;
        }
        let Some(&cap) = sys.notice_caps.get(k) else { continue };
        let target = f.target.get() as usize;
        if let Err(e) = write_fault_count(sys, target, index, faults) {
            let _ = writeln!(out, "monitor: could not write the fault count for PD '{}': {e}", sys.pd_name(target));
        }
        Notification(CPtr(cap)).signal();
        let _ = writeln!(
            out,
            "monitor: told PD '{}' (its channel {}) that PD '{}' faulted",
            sys.pd_name(f.target.get() as usize),
            f.id,
            sys.pd_name(index)
        );
    }
}

/// Writes `faults`, PD `about`'s fault count, into PD `target`'s IPC buffer page
/// (`spec::notices`), through a second mapping of that page in the scratch window.
fn write_fault_count(sys: &System<'_>, target: usize, about: usize, faults: u32) -> Result<(), InvocationError> {
    let Some(at) = spec::notices::count_offset(about) else { return Ok(()) };
    ROOT.copy(sys.scratch_slot, 64, ROOT.slot(sys.pds[target].ipc_frame), CapRights::READ_WRITE)?;
    let page = Page(CPtr(sys.scratch_slot));
    let mapped = page.map(init::VSPACE, SCRATCH, CapRights::READ_WRITE, VmAttributes::WriteBack);
    if mapped.is_ok() {
        // SAFETY: the target's IPC buffer frame is mapped read-write at SCRATCH (one page) just
        // above; `at` is inside the page and 4-byte aligned (`spec::notices`), and the kernel
        // uses only the first 1024 bytes of an IPC buffer. A volatile store: the PD reads it.
        unsafe { ((SCRATCH as usize + at) as *mut u32).write_volatile(faults) };
        let _ = page.unmap();
    }
    let deleted = ROOT.delete(sys.scratch_slot, 64);
    mapped.and(deleted)
}

/// Restarts PD `index` from a clean image: suspend, restore the writable segments, reset the
/// registers (`rsi` = its generation, the `faults` it has had), resume. On error, the step
/// that failed.
fn restart(sys: &System<'_>, index: usize, faults: u32) -> Result<(), (&'static str, InvocationError)> {
    let spec = &sys.spec;
    let rec = spec.pds[index];
    let tcb = Tcb(CPtr(sys.pds[index].tcb));
    tcb.suspend().map_err(|e| ("suspending it", e))?;
    let first_seg = rec.segments.first.get() as usize;
    for (k, seg) in spec.pd_segments(&rec).iter().enumerate() {
        if seg.perms & spec::PERM_W == 0 {
            continue; // code and read-only data cannot have changed
        }
        let Some(&first) = sys.seg_frames.get(first_seg + k) else { continue };
        let data = spec.segment_data(seg);
        let pages = seg.mem_size.get().div_ceil(PAGE);
        for p in 0..pages {
            let lo = (p * PAGE) as usize;
            let chunk = data.get(lo..data.len().min(lo + PAGE as usize)).unwrap_or(&[]);
            // The frame is mapped in the PD; a copy of its cap maps it here once more.
            ROOT.copy(sys.scratch_slot, 64, ROOT.slot(first + p), CapRights::ALL)
                .map_err(|e| ("copying a program image frame cap", e))?;
            let value = |p: &spec::PatchRec| {
                patch_value(
                    p,
                    sys.tsc_hz,
                    |r| sys.region_paddr.get(r).copied().unwrap_or(0),
                    |r| sys.region_pci_id.get(r).copied().unwrap_or(0),
                )
            };
            let filled =
                fill_page(spec, index, Page(CPtr(sys.scratch_slot)), seg.vaddr.get() + p * PAGE, chunk, true, value)
                    .map_err(|e| ("restoring a program image page", e));
            let deleted = ROOT.delete(sys.scratch_slot, 64).map_err(|e| ("deleting the frame cap copy", e));
            filled?;
            deleted?;
        }
    }
    let regs = UserContext {
        rip: rec.entry.get(),
        rsp: rec.stack_bottom.get() + rec.stack_size.get(),
        rflags: RFLAGS_USER_DEFAULT,
        rdi: spec::START_RESTARTED,
        rsi: u64::from(faults),
        ..UserContext::default()
    };
    tcb.write_registers(false, UserContext::WORDS as u64, &regs).map_err(|e| ("resetting its registers", e))?;
    tcb.resume().map_err(|e| ("resuming it", e))
}
