//! Test harness for booting our seL4 images under QEMU (TCG only, never KVM).
//!
//! Tests use it to:
//! - build the QEMU command line ([`QemuConfig`]: q35, Haswell, 512 MiB, serial captured,
//!   `-no-reboot`, `-kernel kernel32.elf -initrd <image>`, optional e1000 NIC, `-cdrom`, VT-d);
//! - start QEMU and wait for serial output ([`Qemu::expect`], [`Qemu::expect_regex`],
//!   [`Qemu::expect_any`]) with a per-call timeout and a hard overall timeout, getting an
//!   [`Error`] that carries the whole log so far when the output never comes;
//! - never leak a QEMU: it is killed on drop, by a watchdog at the overall timeout, and by the
//!   kernel (`PR_SET_PDEATHSIG`) if the test process dies;
//! - exchange raw Ethernet frames with the guest NIC over QEMU's `dgram` netdev
//!   ([`DgramLink`]), and pick free host ports ([`free_udp_port`]);
//! - read guest memory and the VGA text screen through QEMU's monitor (QMP), when the run
//!   asked for one ([`QemuConfig::monitor`], [`Qemu::vga_text`]);
//! - find or build the seL4 kernel image ([`kernel_image`], [`build_kernel`]).
//!
//! ```no_run
//! use qemu_harness::{build_kernel, KernelVariant, Qemu, QemuConfig};
//! use std::time::Duration;
//! let kernel = build_kernel(KernelVariant::Default)?;
//! let mut qemu = Qemu::spawn(QemuConfig::new().kernel(kernel).initrd("build/image.elf"))?;
//! qemu.expect("Booting all finished", Duration::from_secs(30))?;
//! # Ok::<(), qemu_harness::Error>(())
//! ```

mod config;
mod error;
mod image;
mod kernel;
mod monitor;
mod net;
mod process;

pub use config::{Netdev, Nic, QemuConfig, DEFAULT_QEMU, IPXE_E1000_ROM, NETDEV_ID};
pub use error::{Error, Result};
pub use image::{build_bench_image, build_image, build_lock};
pub use kernel::{build_kernel, kernel_image, repo_root, KernelVariant};
pub use monitor::{decode_vga_text, VGA_COLS, VGA_ROWS, VGA_TEXT_ADDR};
pub use net::{free_udp_port, DgramLink, MAX_FRAME};
pub use process::{Qemu, RegexMatch};
