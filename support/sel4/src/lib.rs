//! The seL4 5.0.0 ABI for x86_64 (non-MCS, `CONFIG_SYSCALL`): system calls, typed
//! capability invocations, the IPC buffer and the root task's bootinfo.
//!
//! This is the only crate in the project with inline assembly for kernel entry (see
//! [`syscall`]) and IPC-buffer access (see [`ipc`]). Everything else is plain Rust that builds
//! and tests on the host: invocation messages are built by pure functions ([`invocation::msg`])
//! and checked against the kernel's own interface description by `tests/interface_xml.rs`.
#![no_std]

pub mod bootinfo;
pub mod cap;
pub mod error;
pub mod invocation;
pub mod ipc;
pub mod label;
pub mod syscall;
pub mod types;

pub use bootinfo::{BootInfo, BootInfoError, SlotRegion, UntypedDesc};
pub use cap::*;
pub use error::{Error, InvocationError};
pub use invocation::{invoke, Invocation, MethodSpec, METHODS};
pub use label::{config, Label, LABELS};
pub use syscall::{bench, debug_put_char, debug_puts, DebugWriter};
pub use types::*;
