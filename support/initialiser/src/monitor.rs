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
//! Every other PD keeps running throughout. The signals go out before the restart, and the
//! monitor runs at the highest priority, so a target of higher priority than the restarted PD
//! (the dataspace manager is above the driver: the driver calls it) handles the notice before
//! the restarted PD runs again.
//!
//! Runs only on seL4 (it makes system calls); the decoding, wording and restart bound are
//! host-tested in `fault.rs`, the behaviour by the QEMU tests (tests/systems/tests/restart.rs).

use core::fmt::Write;

use sel4::{init, ipc, syscall, CNode, CPtr, CapRights, InvocationError, Notification, Page, Tcb, UserContext};

use crate::boot::{fill_page, patch_value, System};
use crate::fault::{Fault, Outcome, Policy, Report, Restarts, MAX_FAULT_MRS, RESTART_WINDOW_MS};

const ROOT: CNode = init::CNODE;
const PAGE: u64 = 4096;
/// RFLAGS of a fresh thread: IF and the always-one bit 1 (the kernel sanitises it anyway).
const RFLAGS_USER_DEFAULT: u64 = 0x202;

fn now() -> u64 {
    // SAFETY: rdtsc has no memory effects; user-mode TSC reads are allowed by seL4 (CR4.TSD clear).
    unsafe { core::arch::x86_64::_rdtsc() }
}

/// Serves faults forever.
pub fn run<W: Write>(sys: &System<'_>, out: &mut W) -> ! {
    let mut restarts = [Restarts::default(); spec::MAX_PDS];
    let window = sys.tsc_hz.saturating_mul(RESTART_WINDOW_MS) / 1000;
    loop {
        let msg = syscall::recv(CPtr(sys.fault_ep));
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
        let fault = Fault::decode(label, &mrs[..len]);
        let rec = sys.spec.pds[index];
        let name = sys.pd_name(index);
        let outcome = restarts[index].on_fault(Policy::from_spec(rec.fault), now(), window);
        let _ = writeln!(out, "{}", Report { pd: name, fault, layout: sys.pds[index].layout, outcome });
        tell(sys, index, out);
        let tcb = Tcb(CPtr(sys.pds[index].tcb));
        match outcome {
            Outcome::Stop | Outcome::RestartLimit => {
                if let Err(e) = tcb.suspend() {
                    let _ = writeln!(out, "monitor: could not stop PD '{name}': {e}");
                }
            }
            Outcome::Restart { n } => match restart(sys, index) {
                Ok(()) => {
                    let _ = writeln!(out, "monitor: PD '{name}' restarted (restart #{n})");
                }
                Err((step, e)) => {
                    let _ = writeln!(out, "monitor: could not restart PD '{name}' ({step}: {e}); PD stopped");
                    let _ = tcb.suspend();
                }
            },
        }
    }
}

/// Signals every PD that `<fault_notify>` names for PD `index`.
fn tell<W: Write>(sys: &System<'_>, index: usize, out: &mut W) {
    for (k, f) in sys.spec.fault_notifies.iter().enumerate() {
        if f.pd.get() as usize != index {
            continue;
        }
        let Some(&cap) = sys.notice_caps.get(k) else { continue };
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

/// Restarts PD `index` from a clean image: suspend, restore the writable segments, reset the
/// registers, resume. On error, the step that failed.
fn restart(sys: &System<'_>, index: usize) -> Result<(), (&'static str, InvocationError)> {
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
            let value = |r: u32| patch_value(r, sys.tsc_hz, &sys.region_paddr);
            let filled = fill_page(spec, index, Page(CPtr(sys.scratch_slot)), seg.vaddr.get() + p * PAGE, chunk, true, value)
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
        ..UserContext::default()
    };
    tcb.write_registers(false, UserContext::WORDS as u64, &regs).map_err(|e| ("resetting its registers", e))?;
    tcb.resume().map_err(|e| ("resuming it", e))
}
