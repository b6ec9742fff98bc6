# The project's front door. Thin on purpose: real work lives in cargo and support/.
#   make test                 lint, host tests, QEMU system tests (tests/systems), loom models
#   make test-iommu           the stray-DMA test alone: blocked by VT-d, and lands without it (also in make test)
#   make lint                 clippy (all targets, warnings are errors) and rustfmt --check
#   make soak [MINUTES=10]    chaos soak: faults injected into driver, netstack, echo under load
#   make check SYSTEM=file    validate a system file, nothing booted
#   make bench                host benchmarks (shared rings vs crossbeam ArrayQueue)
#   make image [SYSTEM=file]  build kernel, initialiser and PDs -> build/<stem>/image.elf
#   make run [SYSTEM=file] [NETDEV=spec] [ECHO_PORT=7007] [BENCH=1] [IOMMU=0] [QEMU_NIC=e1000e]   image, then boot it under QEMU
#                             (BENCH=1: the benchmark kernel; the console's `cpu` measures CPU;
#                             IOMMU=0: without VT-d, NIC DMA unconfined, for comparison;
#                             QEMU_NIC=e1000e: QEMU's 82574L instead of its e1000)
#   make iso [SYSTEM=file]    GRUB bootable ISO (kernel + image) -> build/<stem>/image.iso
#   make pxe [SYSTEM=file]    network boot directory (kernel, image, iPXE script boot.ipxe, PXELINUX) -> build/<stem>/pxe/
#   make run-pxe [SYSTEM=file] boot that directory under QEMU: its TFTP server and the e1000's iPXE ROM
#   make linux-guest          evaluation's Linux baseline (Debian kernel + e1000 + static echo) -> build/linux/
#   make eval                 the evaluation (Figure 1: seL4 vs the Linux guest) -> build/eval/latest/ (docs/evaluation.md)
#   make eval QUICK=1         a reduced evaluation run (3 levels of 1 s, at most ~5 min)
SYSTEM ?= system.xml
CARGO  ?= cargo

.PHONY: all deps test test-host test-loom lint check bench clean

all: test

deps:
	@support/deps.sh

test: deps lint test-host test-loom

lint:
	@support/lint.sh

# The workspace's default members: every host-built crate (libraries, tools, the QEMU system
# tests, which build the PD images themselves). The freestanding PD crates are not among them:
# built together with host crates they would share std-enabled dependencies.
test-host:
	$(CARGO) test

# DMA confinement (docs/iommu.md): a driver's stray receive buffer aimed at another PD's page,
# with the IOMMU (blocked, reported) and without (overwritten: the negative control).
.PHONY: test-iommu
test-iommu: deps
	$(CARGO) test --release -p system-tests --test iommu

test-loom:
	$(CARGO) test --release -p ring --features loom --test loom
	$(CARGO) test --release -p dataspace-api --features loom --test loom

check:
	@$(CARGO) run -q -p sdf --bin sdf-check -- $(SYSTEM)

# seL4 kernel -> build/kernel/{default,iommu}/kernel32.elf (cached: rebuilt only when inputs change;
# `make run` builds the one it boots itself)
.PHONY: kernel kernel-iommu
kernel:
	@support/kernel/deps.sh
	@support/kernel/build.sh

kernel-iommu:
	@support/kernel/deps.sh
	@support/kernel/build.sh --iommu

# seL4 root task, a no_std static ELF -> target/release/initialiser
# (its QEMU boot tests: cargo test -p initialiser --test qemu_boot)
.PHONY: initialiser
initialiser:
	$(CARGO) build -p initialiser --release

# Not part of `make test`: 10 minutes of saturating load with a fault every 20 s.
.PHONY: soak
MINUTES ?= 10
soak: deps
	$(CARGO) run --release -p soak -- --minutes $(MINUTES)

bench:
	$(CARGO) run --release -p ring --features bench --bin ring-bench

# Booting. Without SYSTEM= on the command line (or in the environment), image/run/iso boot
# BOOT_DEFAULT: the default system, system.xml (driver, dataspace manager, network stack, echo).
BOOT_DEFAULT := system.xml
BOOT_SYSTEM   = $(if $(filter command environment override,$(origin SYSTEM)),$(SYSTEM),$(BOOT_DEFAULT))
BOOT_STEM     = $(basename $(notdir $(BOOT_SYSTEM)))
# BENCH=1: the benchmark kernel (per-thread utilisation accounting, the console's `cpu`) and
# an image marked for it, in build/<stem>-bench/.
BENCH        ?=
BENCH_SUFFIX  = $(if $(filter-out 0,$(BENCH)),-bench)
# IOMMU=1 (the default): the IOMMU kernel, and QEMU's intel-iommu in front of the NIC, so NIC
# DMA reaches only the regions the system file grants it (docs/iommu.md). IOMMU=0: neither.
IOMMU        ?= 1
IOMMU_ON      = $(filter-out 0,$(IOMMU))
IMAGE         = build/$(BOOT_STEM)$(BENCH_SUFFIX)/image.elf
ISO           = build/$(BOOT_STEM)$(BENCH_SUFFIX)$(if $(IOMMU_ON),,-noiommu)/image.iso
PXE_DIR       = build/$(BOOT_STEM)$(BENCH_SUFFIX)$(if $(IOMMU_ON),,-noiommu)/pxe
KERNEL        = build/kernel/$(if $(BENCH_SUFFIX),bench$(if $(IOMMU_ON),-iommu),$(if $(IOMMU_ON),iommu,default))/kernel32.elf
QEMU_NIC     ?= e1000
export BENCH IOMMU QEMU_NIC
ECHO_PORT    ?= 7007
NETDEV       ?= user,id=net0,hostfwd=udp::$(ECHO_PORT)-:7

.PHONY: pds image iso pxe run run-iso run-pxe
# The PDs the system file names (program_image NAME.elf = cargo bin NAME) -> build/pds/
pds:
	@support/pd-build/make-image.sh --pds-only $(BOOT_SYSTEM)

# Validates the system file first (a bad one stops here), then builds and packs everything.
image:
	@support/pd-build/make-image.sh $(BOOT_SYSTEM) $(IMAGE)

iso: image
	@support/pd-build/make-iso.sh $(KERNEL) $(IMAGE) $(ISO)

# README "Deploy to hardware": serve $(PXE_DIR) over TFTP, DHCP boot file boot.ipxe (iPXE) or pxelinux.0.
pxe: image
	@support/pxe/make-pxe.sh $(KERNEL) $(IMAGE) $(PXE_DIR)

# QEMU's command line lives in support/qemu/run.sh. Leave QEMU with Ctrl-A X.
run: image
	@NETDEV="$(NETDEV)" support/qemu/run.sh --kernel $(KERNEL) --image $(IMAGE)

run-iso: iso
	@NETDEV="$(NETDEV)" support/qemu/run.sh --cdrom $(ISO)

run-pxe: pxe
	@NETDEV="$(NETDEV)" support/qemu/run.sh --pxe $(PXE_DIR)

clean:
	$(CARGO) clean
	rm -rf build

# The evaluation's Linux baseline guest -> build/linux/{vmlinuz,initramfs.cpio.gz} (Debian packages, cached)
.PHONY: linux-guest
linux-guest:
	@CARGO=$(CARGO) support/eval/linux/build.sh

# The evaluation (docs/evaluation.md): builds every image and the Linux guest itself, boots each
# configuration once, writes build/eval/<timestamp>/ and points build/eval/latest at it.
# Redraw a run's summary and figures with: cargo run --release -p eval -- report build/eval/latest
.PHONY: eval
eval: deps
	$(CARGO) run --release -p eval -- run$(if $(filter-out 0,$(QUICK)), --quick)
