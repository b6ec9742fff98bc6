# The project's front door. Thin on purpose: real work lives in cargo and support/.
#   make test                 host tests (+ QEMU system tests once boot lands)
#   make check SYSTEM=file    validate a system file, nothing booted
#   make bench                host benchmarks (shared rings vs crossbeam ArrayQueue)
#   make run                  boot SYSTEM under QEMU (not available yet: see README)
SYSTEM ?= system.xml
CARGO  ?= cargo

.PHONY: all deps test test-host test-loom check bench run clean

all: test

deps:
	@support/deps.sh

test: deps test-host test-loom

test-host:
	$(CARGO) test --workspace

test-loom:
	$(CARGO) test --release -p ring --features loom --test loom

check:
	@$(CARGO) run -q -p sdf --bin sdf-check -- $(SYSTEM)

# seL4 kernel -> build/kernel/{default,iommu}/kernel32.elf (cached: rebuilt only when inputs change)
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

bench:
	$(CARGO) run --release -p ring --bin ring-bench

run:
	@echo "make run: not available yet. Booting needs the kernel, initialiser and image tool (issue 3)." >&2
	@echo "Until then: 'make test' and 'make check SYSTEM=system.xml' work." >&2
	@exit 2

clean:
	$(CARGO) clean
	rm -rf build
