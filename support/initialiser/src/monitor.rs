//! The monitor: after boot the initialiser receives on the fault endpoint forever. Every PD's
//! fault endpoint cap is the monitor's endpoint badged with the PD's index, so a fault message
//! names its PD; the monitor prints one report line (see [`crate::fault::Report`]) and applies
//! the PD's [`Policy`] (today: suspend the PD; every other PD keeps running).
//!
//! Runs only on seL4 (it makes system calls); the decoding and wording are host-tested in
//! `fault.rs`, the behaviour by the QEMU tests.

use core::fmt::Write;

use sel4::{ipc, syscall, CPtr, Tcb};

use crate::boot::System;
use crate::fault::{Fault, Policy, Report, MAX_FAULT_MRS};

/// Serves faults forever.
pub fn run<W: Write>(sys: &System<'_>, out: &mut W) -> ! {
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
        let policy = Policy::for_pd(index);
        let pd = sys.pds[index];
        let _ = writeln!(out, "{}", Report { pd: sys.pd_name(index), fault, layout: pd.layout, policy });
        match policy {
            Policy::Stop => {
                if let Err(e) = Tcb(CPtr(pd.tcb)).suspend() {
                    let _ = writeln!(out, "monitor: could not stop PD '{}': {e}", sys.pd_name(index));
                }
            }
        }
    }
}
