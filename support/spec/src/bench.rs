//! The benchmark kernel's kernel-time report (our patch, `support/kernel/patch-source.py`):
//! the names of its kernel-entry classes, in the order the kernel reports them. The monitor
//! prints them in its `monitor: cpu-entries` line and the evaluation reads that line back, so
//! both take the names from here.

/// Kernel-entry classes, in the kernel's order: interrupt entry, IRQ handler invocation (ack),
/// send on a notification, receive on a notification, any API syscall on an endpoint or reply
/// cap, other syscalls, FPU trap (the lazy FPU switch), other faults.
pub const ENTRY_CLASSES: [&str; 8] = ["interrupt", "irq_ack", "signal", "wait", "ipc", "other", "fpu", "fault"];
