//! The initialiser binary (seL4 root task): wires the freestanding runtime (`rt`) to the
//! host-testable logic in the library. It finds the system spec the image tool appended (its
//! address and length are patched into two statics); with one it builds the system and becomes
//! the fault monitor, without one it runs the bare boot report and ABI self-check.
#![no_std]
#![no_main]

mod rt;

use core::fmt::Write;
use sel4::{BootInfo, DebugWriter};

/// Patched by the image tool (`spec::SPEC_VADDR_SYMBOL`): where the spec segment is loaded.
#[no_mangle]
#[used]
#[allow(non_upper_case_globals)]
static mut __system_spec_vaddr: u64 = 0;

/// Patched by the image tool (`spec::SPEC_LEN_SYMBOL`): the spec's length; 0 = bare ELF.
#[no_mangle]
#[used]
#[allow(non_upper_case_globals)]
static mut __system_spec_len: u64 = 0;

/// Microseconds since `t0` by the TSC (bootinfo gives its frequency).
fn elapsed_us(t0: u64, mhz: u64) -> u64 {
    // SAFETY: rdtsc has no memory effects; user-mode TSC reads are allowed by seL4 (CR4.TSD clear).
    let now = unsafe { core::arch::x86_64::_rdtsc() };
    now.wrapping_sub(t0) / mhz.max(1)
}

/// Called by `_start` on our own stack with the kernel's bootinfo pointer.
fn start(bootinfo: *const u8) -> ! {
    // SAFETY: as in `elapsed_us`.
    let t0 = unsafe { core::arch::x86_64::_rdtsc() };
    let mut out = DebugWriter;
    // SAFETY: the kernel passes the address of the bootinfo frame it mapped for us, followed by
    // the extra bootinfo pages when there are any.
    let bi = match unsafe { BootInfo::from_ptr(bootinfo) } {
        Ok(bi) => bi,
        Err(e) => {
            let _ = writeln!(out, "initialiser: error: cannot read bootinfo at {bootinfo:p}: {e}");
            rt::stop()
        }
    };
    // SAFETY: volatile reads of our own statics (the image tool changed their bytes after
    // compilation, so the compiler must not assume their initial values).
    let (vaddr, len) = unsafe {
        (
            core::ptr::read_volatile(core::ptr::addr_of!(__system_spec_vaddr)),
            core::ptr::read_volatile(core::ptr::addr_of!(__system_spec_len)),
        )
    };
    if len == 0 {
        bare(&bi, &mut out)
    }
    // SAFETY: the image tool appended the spec as a loadable segment at `vaddr` of `len` bytes;
    // the kernel maps every loadable segment of the root task before starting it, and nothing
    // writes to it. `Spec::parse` checks every byte it reads.
    let bytes = unsafe { core::slice::from_raw_parts(vaddr as *const u8, len as usize) };
    let _ = initialiser::report::summary(&bi, &mut out);
    let spec = match spec::Spec::parse(bytes) {
        Ok(s) => s,
        Err(e) => {
            let _ = writeln!(out, "initialiser: error: the system spec in this image is unusable: {e}");
            let _ = writeln!(out, "initialiser: boot failed, nothing started");
            rt::stop()
        }
    };
    let _ = writeln!(
        out,
        "initialiser: system spec: {} PDs, {} regions, {} channels, {} irqs",
        spec.pds.len(),
        spec.regions.len(),
        spec.channels.len(),
        spec.irqs.len()
    );
    match initialiser::boot::build(&bi, spec, &sel4::init::IO_PORT, &mut out) {
        Ok((system, stats)) => {
            let _ = writeln!(
                out,
                "initialiser: system up: {} PDs started in {} us ({} frames, {} paging structures, {} root slots, {} MiB RAM left); monitoring faults",
                spec.pds.len(), elapsed_us(t0, bi.tsc_mhz()), stats.frames, stats.paging, stats.slots, stats.free_ram >> 20
            );
            initialiser::monitor::run(&system, &mut out)
        }
        Err(e) => {
            let _ = writeln!(out, "initialiser: error: {e}");
            let _ = writeln!(out, "initialiser: boot failed; PDs already started keep running, no monitor");
            rt::stop()
        }
    }
}

/// No system spec: the boot report, the PCI scan and the ABI self-check.
fn bare(bi: &BootInfo<'_>, out: &mut DebugWriter) -> ! {
    if let Err(e) = initialiser::run(bi, out, &sel4::init::IO_PORT) {
        let _ = writeln!(out, "initialiser: error: {e}");
        rt::stop()
    }
    match initialiser::abi_check::run(bi, out) {
        Ok(n) => {
            let _ = writeln!(out, "initialiser: ABI self-check passed ({n} invocations)");
        }
        Err(e) => {
            let _ = writeln!(out, "initialiser: error: ABI self-check: {e}");
            rt::stop()
        }
    }
    let _ = writeln!(out, "initialiser: no system spec in this image (mkimage builds one)");
    let _ = writeln!(out, "initialiser: done, suspending");
    rt::stop()
}
