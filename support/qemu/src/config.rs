//! What QEMU to start and with which arguments: a builder whose command line can be inspected
//! (and unit-tested) before anything is started.

use std::ffi::OsString;
use std::net::SocketAddrV4;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::error::{Error, Result};

/// The QEMU binary used unless the `QEMU` environment variable names another.
pub const DEFAULT_QEMU: &str = "qemu-system-x86_64";

/// The netdev id the harness gives the NIC's backend (`-netdev ...,id=net0`).
pub const NETDEV_ID: &str = "net0";

/// The e1000's boot ROM as Debian's `ipxe-qemu` package ships it (iPXE, BIOS and UEFI in one
/// ROM; the one QEMU itself picks for an e1000 when `romfile` is not given).
pub const IPXE_E1000_ROM: &str = "/usr/lib/ipxe/qemu/efi-e1000.rom";

/// The host side of the guest NIC (a QEMU `-netdev`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Netdev {
    /// User-mode networking (no root needed); each `(host, guest)` pair forwards host UDP port
    /// `host` on 127.0.0.1 to guest UDP port `guest`.
    User { udp_forwards: Vec<(u16, u16)> },
    /// User-mode networking as [`Netdev::User`] whose DHCP server names `bootfile` as the boot
    /// file and whose built-in TFTP server serves the directory `tftp` (read-only): what a
    /// network boot ([`Nic::boot_rom`]) fetches its files from.
    UserTftp { udp_forwards: Vec<(u16, u16)>, tftp: PathBuf, bootfile: String },
    /// One raw Ethernet frame per UDP datagram: QEMU listens on `local` and sends to `remote`
    /// (see [`crate::DgramLink`], which sets both up).
    Dgram { local: SocketAddrV4, remote: SocketAddrV4 },
    /// A netdev spec passed to QEMU as given (e.g. from `make run NETDEV=...`); it must carry
    /// `id=net0`.
    Spec(String),
}

impl Netdev {
    /// The `-netdev` argument.
    pub fn arg(&self) -> Result<String> {
        Ok(match self {
            Netdev::User { udp_forwards } => format!("user,id={NETDEV_ID}{}", hostfwds(udp_forwards)),
            Netdev::UserTftp { udp_forwards, tftp, bootfile } => {
                if bootfile.is_empty() || bootfile.contains(',') {
                    return Err(Error::InvalidConfig(format!(
                        "boot file {bootfile:?} must be a non-empty name without ','"
                    )));
                }
                format!(
                    "user,id={NETDEV_ID},tftp={},bootfile={bootfile}{}",
                    qemu_opt_path(tftp)?,
                    hostfwds(udp_forwards)
                )
            }
            Netdev::Dgram { local, remote } => format!(
                "dgram,id={NETDEV_ID},local.type=inet,local.host={},local.port={},\
                 remote.type=inet,remote.host={},remote.port={}",
                local.ip(),
                local.port(),
                remote.ip(),
                remote.port()
            ),
            Netdev::Spec(spec) => {
                let has_id = spec.split(',').any(|part| part.trim() == format!("id={NETDEV_ID}"));
                if !has_id {
                    return Err(Error::InvalidConfig(format!(
                        "netdev spec {spec:?} must name its backend id={NETDEV_ID} \
                         (e.g. \"user,id={NETDEV_ID}\")"
                    )));
                }
                spec.clone()
            }
        })
    }
}

fn hostfwds(udp_forwards: &[(u16, u16)]) -> String {
    udp_forwards.iter().map(|(host, guest)| format!(",hostfwd=udp:127.0.0.1:{host}-:{guest}")).collect()
}

/// A guest NIC: a QEMU device model attached to a [`Netdev`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Nic {
    /// QEMU device model, `e1000` (Intel 82540EM) by default.
    pub model: String,
    pub netdev: Netdev,
    /// Guest MAC address (`52:54:00:12:34:56` form); QEMU's default when `None`.
    pub mac: Option<String>,
    /// Write every frame through the NIC to this pcap file (`-object filter-dump`).
    pub pcap: Option<PathBuf>,
    /// The NIC's option ROM (`romfile=`). `None`: no ROM (nothing boots from the network, and
    /// it saves boot time). `Some`: the firmware runs it, and a [`QemuConfig`] with neither a
    /// kernel nor a cdrom boots from this NIC (`-boot n`).
    pub rom: Option<PathBuf>,
}

impl Nic {
    /// An Intel e1000 (82540EM), the NIC our driver supports under QEMU.
    pub fn e1000(netdev: Netdev) -> Nic {
        Nic { model: "e1000".into(), netdev, mac: None, pcap: None, rom: None }
    }

    /// An Intel 82574L (QEMU's `e1000e`), the driver's other Intel chip.
    pub fn e1000e(netdev: Netdev) -> Nic {
        Nic { model: "e1000e".into(), ..Nic::e1000(netdev) }
    }

    /// Sets the guest MAC address.
    pub fn mac(mut self, mac: impl Into<String>) -> Nic {
        self.mac = Some(mac.into());
        self
    }

    /// Dumps all traffic through the NIC to a pcap file.
    pub fn pcap(mut self, path: impl Into<PathBuf>) -> Nic {
        self.pcap = Some(path.into());
        self
    }

    /// Gives the NIC a boot ROM (e.g. [`IPXE_E1000_ROM`]), from which the machine then boots
    /// when it has no kernel and no cdrom: PXE, with a [`Netdev::UserTftp`] serving the files.
    pub fn boot_rom(mut self, path: impl Into<PathBuf>) -> Nic {
        self.rom = Some(path.into());
        self
    }
}

/// How to start QEMU. Build with [`QemuConfig::new`] and the chained setters; inspect the
/// result with [`QemuConfig::args`]; start it with [`crate::Qemu::spawn`].
#[derive(Clone, Debug)]
pub struct QemuConfig {
    /// The QEMU binary: `$QEMU` if set, else `qemu-system-x86_64` from PATH.
    pub program: PathBuf,
    /// Multiboot kernel (`-kernel`), normally `build/kernel/default/kernel32.elf`.
    pub kernel: Option<PathBuf>,
    /// First boot module (`-initrd`): the root task ELF or packed system image.
    pub initrd: Option<PathBuf>,
    /// Kernel command line (`-append`).
    pub append: Option<String>,
    /// A bootable ISO (`-cdrom`); without a kernel, QEMU boots from it.
    pub cdrom: Option<PathBuf>,
    pub machine: String,
    pub cpu: String,
    pub memory_mib: u32,
    pub nic: Option<Nic>,
    /// Add an emulated Intel VT-d unit (`-device intel-iommu`, q35 with split irqchip).
    pub iommu: bool,
    /// The display adapter (`-vga`): `none` by default; `std` is what a PC has (GRUB then
    /// hands the kernel VBE information).
    pub vga: String,
    /// A QMP socket (`-qmp unix:PATH,server=on,wait=off`) for [`crate::Qemu::read_physical`]
    /// and [`crate::Qemu::vga_text`]; set with [`QemuConfig::monitor`].
    pub qmp: Option<PathBuf>,
    /// Extra arguments appended as given.
    pub extra_args: Vec<OsString>,
    /// Hard limit on the whole run: QEMU is killed when it passes, whatever the test does.
    pub timeout: Duration,
    /// Also write the serial output to this file as it arrives (kept for CI logs).
    pub log_file: Option<PathBuf>,
}

impl Default for QemuConfig {
    fn default() -> Self {
        QemuConfig::new()
    }
}

impl QemuConfig {
    /// The defaults: q35, `-cpu Haswell`, 512 MiB, TCG, no NIC, 120 s overall limit.
    pub fn new() -> QemuConfig {
        let program = std::env::var_os("QEMU")
            .filter(|p| !p.is_empty())
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from(DEFAULT_QEMU));
        QemuConfig {
            program,
            kernel: None,
            initrd: None,
            append: None,
            cdrom: None,
            machine: "q35".into(),
            cpu: "Haswell".into(),
            memory_mib: 512,
            nic: None,
            iommu: false,
            vga: "none".into(),
            qmp: None,
            extra_args: Vec::new(),
            timeout: Duration::from_secs(120),
            log_file: None,
        }
    }

    pub fn program(mut self, program: impl Into<PathBuf>) -> Self {
        self.program = program.into();
        self
    }
    pub fn kernel(mut self, path: impl Into<PathBuf>) -> Self {
        self.kernel = Some(path.into());
        self
    }
    pub fn initrd(mut self, path: impl Into<PathBuf>) -> Self {
        self.initrd = Some(path.into());
        self
    }
    pub fn append(mut self, cmdline: impl Into<String>) -> Self {
        self.append = Some(cmdline.into());
        self
    }
    pub fn cdrom(mut self, path: impl Into<PathBuf>) -> Self {
        self.cdrom = Some(path.into());
        self
    }
    pub fn machine(mut self, machine: impl Into<String>) -> Self {
        self.machine = machine.into();
        self
    }
    pub fn cpu(mut self, cpu: impl Into<String>) -> Self {
        self.cpu = cpu.into();
        self
    }
    pub fn memory_mib(mut self, mib: u32) -> Self {
        self.memory_mib = mib;
        self
    }
    pub fn nic(mut self, nic: Nic) -> Self {
        self.nic = Some(nic);
        self
    }
    pub fn iommu(mut self, on: bool) -> Self {
        self.iommu = on;
        self
    }
    /// The display adapter (`-vga std|none|...`).
    pub fn vga(mut self, vga: impl Into<String>) -> Self {
        self.vga = vga.into();
        self
    }

    /// Gives the run a machine monitor (QMP on a fresh Unix socket in the temporary
    /// directory, removed when the [`crate::Qemu`] is dropped), through which a test reads
    /// guest memory and the VGA screen. stdout still carries only the serial console.
    pub fn monitor(mut self, on: bool) -> Self {
        self.qmp = on.then(crate::monitor::fresh_socket_path);
        self
    }

    /// Appends one QEMU argument as given.
    pub fn arg(mut self, arg: impl Into<OsString>) -> Self {
        self.extra_args.push(arg.into());
        self
    }
    pub fn timeout(mut self, limit: Duration) -> Self {
        self.timeout = limit;
        self
    }
    pub fn log_file(mut self, path: impl Into<PathBuf>) -> Self {
        self.log_file = Some(path.into());
        self
    }

    /// Checks that the files the command line names exist.
    pub fn check_files(&self) -> Result<()> {
        let files: [(&'static str, &Option<PathBuf>); 3] =
            [("kernel image", &self.kernel), ("initrd", &self.initrd), ("cdrom image", &self.cdrom)];
        for (what, path) in files {
            if let Some(path) = path {
                if !path.is_file() {
                    return Err(Error::MissingFile { what, path: path.clone() });
                }
            }
        }
        if let Some(nic) = &self.nic {
            if let Some(rom) = nic.rom.as_ref().filter(|rom| !rom.is_file()) {
                return Err(Error::MissingFile { what: "NIC boot ROM", path: rom.clone() });
            }
            if let Netdev::UserTftp { tftp, .. } = &nic.netdev {
                if !tftp.is_dir() {
                    return Err(Error::MissingFile { what: "TFTP directory", path: tftp.clone() });
                }
            }
        }
        Ok(())
    }

    /// The QEMU arguments (without the program name). The serial console is QEMU's stdout;
    /// there is no display and no monitor, so stdout carries only what the guest prints.
    pub fn args(&self) -> Result<Vec<OsString>> {
        let net_boot =
            self.kernel.is_none() && self.cdrom.is_none() && self.nic.as_ref().is_some_and(|nic| nic.rom.is_some());
        if self.kernel.is_none() && self.cdrom.is_none() && !net_boot {
            return Err(Error::InvalidConfig(
                "nothing to boot: set a kernel (QemuConfig::kernel), a cdrom image or a NIC boot ROM \
                 (Nic::boot_rom)"
                    .into(),
            ));
        }
        if self.kernel.is_none() && (self.initrd.is_some() || self.append.is_some()) {
            return Err(Error::InvalidConfig(
                "an initrd or kernel command line needs a kernel (QemuConfig::kernel)".into(),
            ));
        }
        if self.memory_mib < 64 {
            return Err(Error::InvalidConfig(format!(
                "{} MiB of guest memory is too little for seL4 and its boot modules (use >= 64)",
                self.memory_mib
            )));
        }
        if self.machine.is_empty() || self.cpu.is_empty() {
            return Err(Error::InvalidConfig("machine and cpu must not be empty".into()));
        }
        let mut a: Vec<OsString> = Vec::new();
        let mut push = |s: &str| a.push(s.into());
        push("-accel");
        push("tcg");
        push("-machine");
        if self.iommu && !self.machine.contains("kernel-irqchip") {
            push(&format!("{},kernel-irqchip=split", self.machine));
        } else {
            push(&self.machine);
        }
        push("-cpu");
        push(&self.cpu);
        push("-m");
        push(&self.memory_mib.to_string());
        push("-display");
        push("none");
        push("-vga");
        push(&self.vga);
        push("-monitor");
        push("none");
        if let Some(qmp) = &self.qmp {
            push("-qmp");
            push(&format!("unix:{},server=on,wait=off", qemu_opt_path(qmp)?));
        }
        push("-serial");
        push("stdio");
        push("-no-reboot");
        if self.iommu {
            // Before any other PCI device, so every device sits behind the IOMMU.
            push("-device");
            push("intel-iommu");
        }
        match &self.nic {
            None => {
                push("-nic");
                push("none");
            }
            Some(nic) => {
                push("-netdev");
                push(&nic.netdev.arg()?);
                let mut dev = format!("{},netdev={NETDEV_ID}", nic.model);
                if let Some(mac) = &nic.mac {
                    if !valid_mac(mac) {
                        return Err(Error::InvalidConfig(format!(
                            "MAC address {mac:?} is not of the form 52:54:00:12:34:56"
                        )));
                    }
                    dev.push_str(&format!(",mac={mac}"));
                }
                match &nic.rom {
                    // No option ROM: nothing boots from the network, and it saves boot time.
                    None => dev.push_str(",romfile="),
                    Some(rom) => dev.push_str(&format!(",romfile={}", qemu_opt_path(rom)?)),
                }
                push("-device");
                push(&dev);
                if let Some(pcap) = &nic.pcap {
                    push("-object");
                    push(&format!("filter-dump,id=dump0,netdev={NETDEV_ID},file={}", qemu_opt_path(pcap)?));
                }
            }
        }
        if let Some(kernel) = &self.kernel {
            a.push("-kernel".into());
            a.push(kernel.clone().into_os_string());
            if let Some(initrd) = &self.initrd {
                a.push("-initrd".into());
                a.push(qemu_opt_path(initrd)?.into());
            }
            if let Some(cmdline) = &self.append {
                a.push("-append".into());
                a.push(cmdline.into());
            }
        }
        if let Some(cdrom) = &self.cdrom {
            a.push("-cdrom".into());
            a.push(cdrom.clone().into_os_string());
            if self.kernel.is_none() {
                a.push("-boot".into());
                a.push("d".into());
            }
        }
        if net_boot {
            a.push("-boot".into());
            a.push("n".into());
        }
        a.extend(self.extra_args.iter().cloned());
        Ok(a)
    }

    /// The whole command as one shell-like line, for logs and error messages.
    pub fn command_line(&self) -> Result<String> {
        let mut line = self.program.display().to_string();
        for arg in self.args()? {
            let arg = arg.to_string_lossy();
            if arg.is_empty() || arg.contains(char::is_whitespace) {
                line.push_str(&format!(" '{arg}'"));
            } else {
                line.push(' ');
                line.push_str(&arg);
            }
        }
        Ok(line)
    }
}

/// `-initrd` and option values split on ',' (and `-initrd` also lists several modules with
/// ','): a path containing one cannot be passed.
fn qemu_opt_path(path: &Path) -> Result<String> {
    let s = path.to_str().ok_or_else(|| Error::InvalidConfig(format!("path {} is not valid UTF-8", path.display())))?;
    if s.contains(',') {
        return Err(Error::InvalidConfig(format!(
            "path {s:?} contains ',', which QEMU would read as a separator; rename or move it"
        )));
    }
    Ok(s.to_string())
}

fn valid_mac(mac: &str) -> bool {
    let parts: Vec<&str> = mac.split(':').collect();
    parts.len() == 6 && parts.iter().all(|p| p.len() == 2 && p.chars().all(|c| c.is_ascii_hexdigit()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::Ipv4Addr;

    fn strings(cfg: &QemuConfig) -> Vec<String> {
        cfg.args().unwrap().into_iter().map(|a| a.into_string().unwrap()).collect()
    }

    fn has_pair(args: &[String], flag: &str, value: &str) -> bool {
        args.windows(2).any(|w| w[0] == flag && w[1] == value)
    }

    #[test]
    fn default_command_line_is_tcg_q35_haswell_with_serial_on_stdout() {
        let cfg = QemuConfig::new().kernel("k32.elf").initrd("root.elf");
        let a = strings(&cfg);
        assert!(has_pair(&a, "-accel", "tcg"));
        assert!(!a.iter().any(|s| s.contains("kvm")), "never KVM: {a:?}");
        assert!(has_pair(&a, "-machine", "q35"));
        assert!(has_pair(&a, "-cpu", "Haswell"));
        assert!(has_pair(&a, "-m", "512"));
        assert!(has_pair(&a, "-serial", "stdio"));
        assert!(has_pair(&a, "-monitor", "none"));
        assert!(has_pair(&a, "-display", "none"));
        assert!(a.contains(&"-no-reboot".to_string()));
        assert!(has_pair(&a, "-kernel", "k32.elf"));
        assert!(has_pair(&a, "-initrd", "root.elf"));
        assert!(has_pair(&a, "-nic", "none"), "no default NIC when none asked for");
    }

    #[test]
    fn dgram_nic_is_an_e1000_on_net0() {
        let local = SocketAddrV4::new(Ipv4Addr::LOCALHOST, 40001);
        let remote = SocketAddrV4::new(Ipv4Addr::LOCALHOST, 40002);
        let cfg =
            QemuConfig::new().kernel("k").nic(Nic::e1000(Netdev::Dgram { local, remote }).mac("52:54:00:12:34:56"));
        let a = strings(&cfg);
        assert!(has_pair(
            &a,
            "-netdev",
            "dgram,id=net0,local.type=inet,local.host=127.0.0.1,local.port=40001,\
             remote.type=inet,remote.host=127.0.0.1,remote.port=40002"
        ));
        assert!(has_pair(&a, "-device", "e1000,netdev=net0,mac=52:54:00:12:34:56,romfile="));
        assert!(!a.contains(&"-nic".to_string()));
    }

    #[test]
    fn user_netdev_forwards_udp_ports_on_loopback() {
        let nd = Netdev::User { udp_forwards: vec![(7007, 7), (7008, 8)] };
        assert_eq!(nd.arg().unwrap(), "user,id=net0,hostfwd=udp:127.0.0.1:7007-:7,hostfwd=udp:127.0.0.1:7008-:8");
    }

    #[test]
    fn network_boot_serves_tftp_and_runs_the_nic_rom() {
        let nd =
            Netdev::UserTftp { udp_forwards: vec![(7007, 7)], tftp: "/srv/pxe".into(), bootfile: "boot.ipxe".into() };
        assert_eq!(nd.arg().unwrap(), "user,id=net0,tftp=/srv/pxe,bootfile=boot.ipxe,hostfwd=udp:127.0.0.1:7007-:7");
        let a = strings(&QemuConfig::new().iommu(true).nic(Nic::e1000(nd).boot_rom(IPXE_E1000_ROM)));
        assert!(has_pair(&a, "-device", "e1000,netdev=net0,romfile=/usr/lib/ipxe/qemu/efi-e1000.rom"), "{a:?}");
        assert!(has_pair(&a, "-boot", "n"), "no kernel, no cdrom, a NIC ROM: boot from the NIC: {a:?}");
        assert!(!a.contains(&"-kernel".to_string()) && !a.contains(&"-cdrom".to_string()), "{a:?}");
        // A kernel or a cdrom is booted instead; the ROM is still there.
        let with_rom = || Nic::e1000(Netdev::User { udp_forwards: vec![] }).boot_rom("/r.rom");
        for cfg in [QemuConfig::new().kernel("k").nic(with_rom()), QemuConfig::new().cdrom("c").nic(with_rom())] {
            let a = strings(&cfg);
            assert!(!has_pair(&a, "-boot", "n"), "{a:?}");
            assert!(has_pair(&a, "-device", "e1000,netdev=net0,romfile=/r.rom"), "{a:?}");
        }
    }

    #[test]
    fn network_boot_files_are_checked() {
        let tftp = |dir: &str| Netdev::UserTftp { udp_forwards: vec![], tftp: dir.into(), bootfile: "b".into() };
        let cfg = QemuConfig::new().nic(Nic::e1000(tftp("/")).boot_rom("/nonexistent/efi-e1000.rom"));
        let err = cfg.check_files().unwrap_err().to_string();
        assert!(err.contains("NIC boot ROM") && err.contains("ipxe-qemu"), "{err}");
        let rom = concat!(env!("CARGO_MANIFEST_DIR"), "/Cargo.toml"); // any file will do
        let cfg = QemuConfig::new().nic(Nic::e1000(tftp("/nonexistent/pxe")).boot_rom(rom));
        let err = cfg.check_files().unwrap_err().to_string();
        assert!(err.contains("TFTP directory") && err.contains("/nonexistent/pxe"), "{err}");
    }

    #[test]
    fn raw_netdev_spec_must_name_net0() {
        assert_eq!(Netdev::Spec("user,id=net0".into()).arg().unwrap(), "user,id=net0");
        let err = Netdev::Spec("user,id=n1".into()).arg().unwrap_err();
        assert!(err.to_string().contains("id=net0"), "{err}");
    }

    #[test]
    fn iommu_adds_vtd_first_and_split_irqchip() {
        let cfg = QemuConfig::new().kernel("k").iommu(true).nic(Nic::e1000(Netdev::User { udp_forwards: vec![] }));
        let a = strings(&cfg);
        assert!(has_pair(&a, "-machine", "q35,kernel-irqchip=split"));
        let vtd = a.iter().position(|s| s == "intel-iommu").unwrap();
        let nic = a.iter().position(|s| s.starts_with("e1000,")).unwrap();
        assert!(vtd < nic, "intel-iommu must come before other PCI devices: {a:?}");
    }

    #[test]
    fn monitor_adds_a_qmp_socket_and_keeps_stdout_for_the_serial_console() {
        let a = strings(&QemuConfig::new().kernel("k"));
        assert!(!a.contains(&"-qmp".to_string()), "no monitor unless asked for: {a:?}");
        let cfg = QemuConfig::new().kernel("k").vga("std").monitor(true);
        let sock = cfg.qmp.clone().unwrap();
        let a = strings(&cfg);
        assert!(has_pair(&a, "-qmp", &format!("unix:{},server=on,wait=off", sock.display())), "{a:?}");
        assert!(has_pair(&a, "-monitor", "none") && has_pair(&a, "-serial", "stdio"), "{a:?}");
        assert!(has_pair(&a, "-vga", "std"), "{a:?}");
        assert!(QemuConfig::new().kernel("k").monitor(true).monitor(false).qmp.is_none());
    }

    #[test]
    fn cdrom_without_kernel_boots_from_cd() {
        let a = strings(&QemuConfig::new().cdrom("sys.iso"));
        assert!(has_pair(&a, "-cdrom", "sys.iso"));
        assert!(has_pair(&a, "-boot", "d"));
        assert!(!a.contains(&"-kernel".to_string()));
    }

    #[test]
    fn pcap_and_extra_args_and_append() {
        let cfg = QemuConfig::new()
            .kernel("k")
            .append("console_port=0x3f8")
            .nic(Nic::e1000(Netdev::User { udp_forwards: vec![] }).pcap("/tmp/x.pcap"))
            .arg("-smp")
            .arg("1");
        let a = strings(&cfg);
        assert!(has_pair(&a, "-object", "filter-dump,id=dump0,netdev=net0,file=/tmp/x.pcap"));
        assert!(has_pair(&a, "-append", "console_port=0x3f8"));
        assert_eq!(&a[a.len() - 2..], ["-smp", "1"]);
    }

    #[test]
    fn bad_configurations_are_errors_not_panics() {
        let cases: Vec<(QemuConfig, &str)> = vec![
            (QemuConfig::new(), "nothing to boot"),
            (QemuConfig::new().initrd("x").cdrom("c"), "needs a kernel"),
            (QemuConfig::new().kernel("k").memory_mib(16), "too little"),
            (QemuConfig::new().kernel("k").initrd("a,b"), "contains ','"),
            (QemuConfig::new().nic(Nic::e1000(Netdev::User { udp_forwards: vec![] })), "nothing to boot"),
            (
                QemuConfig::new().nic(
                    Nic::e1000(Netdev::UserTftp { udp_forwards: vec![], tftp: "/t".into(), bootfile: "a,b".into() })
                        .boot_rom("/r"),
                ),
                "boot file",
            ),
            (
                QemuConfig::new().nic(
                    Nic::e1000(Netdev::UserTftp { udp_forwards: vec![], tftp: "/t,u".into(), bootfile: "b".into() })
                        .boot_rom("/r"),
                ),
                "contains ','",
            ),
            (
                QemuConfig::new().kernel("k").nic(Nic::e1000(Netdev::User { udp_forwards: vec![] }).mac("nonsense")),
                "MAC address",
            ),
        ];
        for (cfg, want) in cases {
            let err = cfg.args().unwrap_err().to_string();
            assert!(err.contains(want), "expected {want:?} in {err:?}");
        }
    }

    #[test]
    fn missing_files_are_named() {
        let cfg = QemuConfig::new().kernel("/nonexistent/kernel32.elf");
        let err = cfg.check_files().unwrap_err().to_string();
        assert!(err.contains("kernel image") && err.contains("/nonexistent/kernel32.elf"), "{err}");
        assert!(err.contains("make kernel"), "{err}");
    }

    #[test]
    fn command_line_quotes_empty_and_spaced_args() {
        let line = QemuConfig::new().program("q").kernel("my kernel").command_line().unwrap();
        assert!(line.starts_with("q -accel tcg "), "{line}");
        assert!(line.contains("-kernel 'my kernel'"), "{line}");
    }
}
