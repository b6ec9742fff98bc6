/*
 * Our seL4 5.0.0 kernel configuration for x86_64 / pc99 (the default, non-IOMMU build).
 *
 * Why this file exists: seL4 5.0's stand-alone Makefile build has no Kconfig step and the
 * source tree only carries a stale include/plat/pc99/autoconf.h (from an unrelated 2016
 * sel4test project). support/kernel/build.sh puts this directory FIRST on the include path
 * (CONFIG_KERNEL_EXTRA_CPPFLAGS=-I<here>), so `#include <autoconf.h>` finds this file.
 *
 * Values are the Kconfig defaults of the seL4 5.0.0 tree for ARCH_X86_64 + PLAT_PC99
 * (Kconfig, src/plat/pc99/Kconfig, libsel4/Kconfig), EXCEPT the deviations marked
 * "DEVIATION" below. Kconfig choices that differ from the x86_64 defaults on purpose (APIC
 * mode, FS/GS base method, IOMMU off in this variant) are also marked and explained.
 * The IOMMU variant (config/iommu/autoconf.h) includes this file and adds CONFIG_IOMMU.
 */
#ifndef AUTOCONF_INCLUDED
#define AUTOCONF_INCLUDED

/* ---- Architecture and platform ---- */
#define CONFIG_KERNEL_MASTER 1
#define CONFIG_ARCH_X86 1
#define CONFIG_ARCH_X86_64 1
#define CONFIG_WORD_SIZE 64
#define CONFIG_HAVE_FPU 1
#define CONFIG_PLAT_PC99 1
/* Not a Kconfig option of this tree (the later build system's "generic" microarchitecture):
 * without any CONFIG_ARCH_X86_<uarch> the boot code warns on CPU models it does not know
 * (e.g. -cpu qemu64 or newer hardware). It only silences that warning. */
#define CONFIG_ARCH_X86_GENERIC 1

/* ---- Interrupts (src/plat/pc99/Kconfig) ---- */
#define CONFIG_IRQ_IOAPIC 1
#define CONFIG_MAX_NUM_IOAPIC 1
/* Kconfig's x86_64 default is X2APIC. We choose XAPIC: QEMU 7.2's TCG does not emulate
 * x2APIC ("TCG doesn't support requested feature: CPUID.01H:ECX.x2apic"), and xAPIC works
 * on every x86 machine. */
#define CONFIG_XAPIC 1

/* ---- CPU features ---- */
/* DEVIATION: Kconfig defaults HUGE_PAGE=y and SUPPORT_PCID=y. Both are off: with them the
 * kernel halts at boot unless the CPU has 1 GiB pages (pdpe1gb: QEMU's Haswell model lacks it,
 * "Huge page not supported by the processor") and PCID + INVPCID (QEMU 7.2 TCG emulates
 * neither). Cost: no 1 GiB user mappings, and a full TLB flush on address-space switch. */
/* #undef CONFIG_HUGE_PAGE */
/* #undef CONFIG_SUPPORT_PCID */
#define CONFIG_SYSCALL 1              /* syscall/sysret (the x86_64 default) */
#define CONFIG_FXSAVE 1               /* legacy 512-byte FPU save area */
#define CONFIG_XSAVE_SIZE 512
/* Kconfig's x86_64 default is FSGSBASE_INST (wrfsbase/wrgsbase), which needs CR4.FSGSBASE
 * support; the MSR method works on every x86_64 CPU and under TCG. */
#define CONFIG_FSGSBASE_MSR 1
#define CONFIG_CACHE_LN_SZ 64
#define CONFIG_FPU_MAX_RESTORES_SINCE_SWITCH 64
/* CONFIG_IOMMU: off here (Kconfig default is y); see config/iommu/autoconf.h. */
/* CONFIG_VTX: off (Kconfig default n). */

/* ---- Multiboot ---- */
#define CONFIG_MULTIBOOT_GRAPHICS_MODE_NONE 1

/* ---- System parameters (Kconfig "seL4 System Parameters") ---- */
/* DEVIATION: Kconfig default is 12 (4096 slots). The initialiser (our root task) needs many
 * slots for the frame caps it hands out to protection domains, so we use 16 (65536 slots,
 * a 2 MiB root CNode). */
#define CONFIG_ROOT_CNODE_SIZE_BITS 16
#define CONFIG_TIMER_TICK_MS 2
#define CONFIG_TIME_SLICE 5
#define CONFIG_RETYPE_FAN_OUT_LIMIT 256
#define CONFIG_MAX_NUM_WORK_UNITS_PER_PREEMPTION 100
/* Length of bootinfo's untypedList (libsel4 must agree: it sizes seL4_BootInfo). */
#define CONFIG_MAX_NUM_BOOTINFO_UNTYPED_CAPS 167
#define CONFIG_FASTPATH 1
#define CONFIG_NUM_DOMAINS 1
#define CONFIG_NUM_PRIORITIES 256
#define CONFIG_MAX_NUM_NODES 1
#define CONFIG_KERNEL_STACK_BITS 12

/* ---- Build options (Kconfig "Build Options") ---- */
#define CONFIG_OPTIMISATION_O2 1
/* The Makefile's DEBUG=1 also passes -DCONFIG_DEBUG_BUILD and
 * -DCONFIG_USER_STACK_TRACE_LENGTH=1 on the command line, hence the guards. */
#ifndef CONFIG_DEBUG_BUILD
#define CONFIG_DEBUG_BUILD 1
#endif
#ifndef CONFIG_PRINTING
#define CONFIG_PRINTING 1
#endif
#ifndef CONFIG_USER_STACK_TRACE_LENGTH
#define CONFIG_USER_STACK_TRACE_LENGTH 16
#endif
#define CONFIG_IRQ_REPORTING 1
/* DEVIATION: Kconfig default is y. Kernel error messages are read from a pipe by our test
 * harness and written to logs, where ANSI colour codes only get in the way (the Kconfig help
 * text recommends turning it off when serial output is redirected to a file or pipe). */
/* #undef CONFIG_COLOUR_PRINTING */
/* CONFIG_HARDWARE_DEBUG_API, CONFIG_DANGEROUS_CODE_INJECTION, CONFIG_VERIFICATION_BUILD: off. */
/* Benchmarks: CONFIG_NO_BENCHMARKS (Kconfig default). CONFIG_BENCHMARK_TRACK_UTILISATION
 * (per-thread utilisation counters) is a candidate for the evaluation build, not set now. */
#define CONFIG_NO_BENCHMARKS 1

#endif /* AUTOCONF_INCLUDED */
