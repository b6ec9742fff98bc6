#!/usr/bin/env python3
# Applies OUR small fixes to a build copy of the seL4 5.0.0 source (never to the cargo
# registry copy) so it builds with a current Debian toolchain (gcc 12, python3 only).
# Each fix names the file, the exact text it expects and why; if the text is not found
# exactly once the script stops with an error instead of building a half-patched kernel.
# Usage: patch-source.py <build copy of seL4/>   (idempotent: already-applied fixes are skipped)
import os
import sys

# (file, old text, new text, why)
FIXES = [
    (
        "include/arch/x86/arch/benchmark.h",
        """    asm volatile (
        "movl $0, %%eax \\n"
        "movl $0, %%ecx \\n"
        "cpuid          \\n"
        "rdtsc          \\n"
        "movl %%edx, %0 \\n"
        "movl %%eax, %1 \\n"
        "movl $0, %%eax \\n"
        "movl $0, %%ecx \\n"
        "cpuid          \\n"
        : "=r" (high), "=r" (low)
        : /* no inputs */
        : "eax", "ebx", "ecx", "edx"
    );""",
        """    asm volatile (
        "rdtsc          \\n"
        "movl %%edx, %0 \\n"
        "movl %%eax, %1 \\n"
        : "=r" (high), "=r" (low)
        : /* no inputs */
        : "eax", "edx"
    );""",
        "the benchmark kernel stamps the TSC at every kernel entry; the two serialising cpuids "
        "around rdtsc cost far more than the entry itself under TCG (and lowered the measured "
        "throughput), while utilisation accounting needs no instruction-exact stamps",
    ),
    (
        "include/arch/x86/arch/kernel/multiboot.h",
        """    void *drives_addr;
    void *config_table;
    void *boot_loader_name;
    void *apm_table;
    /* The bootinfo types are declared to be precisely the VBE layout, so
     * we can reuse those types here */
    seL4_VBEInfoBlock_t *vbe_control_info;
    seL4_VBEModeInfoBlock_t *vbe_mode_info;""",
        """    uint32_t drives_addr;
    uint32_t config_table;
    uint32_t boot_loader_name;
    uint32_t apm_table;
    /* Physical addresses of the VBE blocks (32-bit in the multiboot spec; a pointer here
     * would be 8 bytes on x86_64 and shift every later field). */
    uint32_t vbe_control_info;
    uint32_t vbe_mode_info;""",
        "the multiboot info's address fields are 32-bit, but seL4 5.0 declares them as pointers, "
        "which are 8 bytes on x86_64: every field from drives_addr on is misread, and with a "
        "display adapter (GRUB then passes VBE information) the kernel dereferences a garbage "
        "VBE pointer right after parsing the memory map and never gets further",
    ),
    (
        "src/arch/x86/kernel/boot_sys.c",
        """        boot_state.vbe_info.vbeInfoBlock = *mbi->vbe_control_info;
        boot_state.vbe_info.vbeModeInfoBlock = *mbi->vbe_mode_info;""",
        """        boot_state.vbe_info.vbeInfoBlock = *(seL4_VBEInfoBlock_t *)(word_t)mbi->vbe_control_info;
        boot_state.vbe_info.vbeModeInfoBlock = *(seL4_VBEModeInfoBlock_t *)(word_t)mbi->vbe_mode_info;""",
        "read the VBE blocks through the 32-bit physical addresses the fixed struct holds",
    ),
    (
        "include/arch/x86/arch/64/mode/machine.h",
        "static inline void invalidateLocalPageStructureCacheASID(paddr_t root, asid_t asid)\n",
        "/* SysBenchmarkFlushCaches (benchmark builds) calls this; seL4 5.0 defines it for ia32 only. */\n"
        "static inline void arch_clean_invalidate_caches(void)\n"
        "{\n"
        "    asm volatile(\"wbinvd\" ::: \"memory\");\n"
        "}\n\n"
        "static inline void invalidateLocalPageStructureCacheASID(paddr_t root, asid_t asid)\n",
        "benchmark builds (the bench variant) call arch_clean_invalidate_caches, which x86_64 lacks",
    ),
    (
        "include/arch/x86/arch/64/mode/fastpath/fastpath.h",
        "#include <plat/machine/hardware.h>\n",
        "#include <plat/machine/hardware.h>\n#include <benchmark/benchmark_utilisation.h>\n",
        "the fastpath's utilisation accounting (below) needs benchmark_utilisation_switch",
    ),
    (
        "include/arch/x86/arch/64/mode/fastpath/fastpath.h",
        """#endif

    NODE_STATE(ksCurThread) = thread;
}""",
        """#endif

#ifdef CONFIG_BENCHMARK_TRACK_UTILISATION
    benchmark_utilisation_switch(NODE_STATE(ksCurThread), thread);
#endif
    NODE_STATE(ksCurThread) = thread;
}""",
        "utilisation accounting (CONFIG_BENCHMARK_TRACK_UTILISATION, the bench variant) in the "
        "x86_64 IPC fastpath, as ia32's fastpath has it; a no-op in the other variants",
    ),
    (
        "include/benchmark/benchmark_utilisation_.h",
        """    uint64_t    utilisation;
} benchmark_util_t;""",
        """    uint64_t    utilisation;
    uint64_t    kernel;         /* ours: cycles of kernel entries that resumed this thread */
} benchmark_util_t;""",
        "the bench variant also counts, per thread, the kernel time that seL4's utilisation "
        "accounting charges to it (entries that returned to it), so the evaluation's profile can "
        "split a PD's share into its own code and the kernel's work for it",
    ),
    (
        "include/kernel/traps.h",
        """static inline void c_exit_hook(void)
{
#ifdef CONFIG_BENCHMARK_TRACK_KERNEL_ENTRIES""",
        """#ifdef CONFIG_BENCHMARK_TRACK_UTILISATION
void benchmark_kernel_exit(void); /* ours: src/benchmark/benchmark_utilisation.c */
#endif
static inline void c_exit_hook(void)
{
#ifdef CONFIG_BENCHMARK_TRACK_UTILISATION
    benchmark_kernel_exit();
#endif
#ifdef CONFIG_BENCHMARK_TRACK_KERNEL_ENTRIES""",
        "the bench variant accounts each kernel entry's time (entry stamp to exit) by entry class "
        "at the one exit hook every path (fastpath included) goes through",
    ),
    (
        "src/benchmark/benchmark_utilisation.c",
        """    tcb->benchmark.utilisation = 0;
    tcb->benchmark.schedule_start_time = 0;
}
#endif /* CONFIG_BENCHMARK_TRACK_UTILISATION */""",
        """    tcb->benchmark.utilisation = 0;
    tcb->benchmark.schedule_start_time = 0;
    tcb->benchmark.kernel = 0;
}

/* Ours (support/kernel/patch-source.py): kernel time by entry class, for the evaluation's
 * profile. Classes, in order: 0 interrupt entry, 1 IRQ handler invocation (ack), 2 signal (send
 * on a notification), 3 wait on a notification, 4 IPC (any API syscall on an endpoint or reply
 * cap), 5 other syscalls (debug, benchmark, invocations of other objects, yield), 6 FPU traps
 * (the lazy FPU switch: the first FPU use after a switch), 7 other faults. The debug build
 * fills ksKernelEntry at every entry (TRACK_KERNEL_ENTRIES). */
#define BENCHMARK_ENTRY_CLASSES 8
static uint64_t benchmark_entry_cycles[BENCHMARK_ENTRY_CLASSES];
static uint64_t benchmark_entry_count[BENCHMARK_ENTRY_CLASSES];

static word_t benchmark_entry_class(void)
{
#ifdef TRACK_KERNEL_ENTRIES
    word_t sys;
    switch (ksKernelEntry.path) {
    case Entry_Interrupt:
        return 0;
    case Entry_Syscall:
        /* syscall_no holds the low 4 bits of -syscall: 1..8 are the API syscalls (Call ..
         * NBRecv); the debug and benchmark syscalls land on 0 and 9..15. */
        sys = ksKernelEntry.syscall_no;
        if (sys < 1 || sys > 8) {
            return 5;
        }
        switch (ksKernelEntry.cap_type) {
        case cap_irq_handler_cap:
            return 1;
        case cap_notification_cap:
            return (sys == (word_t) -SysSend || sys == (word_t) -SysNBSend) ? 2 : 3;
        case cap_endpoint_cap:
        case cap_reply_cap:
            return 4;
        default:
            return 5;
        }
    case Entry_UnknownSyscall:
        return 5;
    case Entry_UnimplementedDevice:
        return 6;
    default:
        return 7;
    }
#else
    return 5;
#endif
}

void benchmark_kernel_exit(void)
{
    if (likely(benchmark_log_utilisation_enabled)) {
        timestamp_t cycles = timestamp() - ksEnter;
        word_t class = benchmark_entry_class();
        benchmark_entry_cycles[class] += cycles;
        benchmark_entry_count[class]++;
        NODE_STATE(ksCurThread)->benchmark.kernel += cycles;
    }
}

void benchmark_kernel_reset(void)
{
    for (word_t i = 0; i < BENCHMARK_ENTRY_CLASSES; i++) {
        benchmark_entry_cycles[i] = 0;
        benchmark_entry_count[i] = 0;
    }
    NODE_STATE(ksIdleThread)->benchmark.kernel = 0;
}

/* After the kernel's three words: 3 = "KENT" (this report is present), 4 = the thread's kernel
 * cycles, 5 = the idle thread's, then (cycles, count) per class. */
static void benchmark_kernel_dump(uint64_t *buffer, tcb_t *tcb)
{
    buffer[3] = 0x4b454e54;
    buffer[4] = tcb->benchmark.kernel;
    buffer[5] = NODE_STATE(ksIdleThread)->benchmark.kernel;
    for (word_t i = 0; i < BENCHMARK_ENTRY_CLASSES; i++) {
        buffer[6 + 2 * i] = benchmark_entry_cycles[i];
        buffer[7 + 2 * i] = benchmark_entry_count[i];
    }
}
#endif /* CONFIG_BENCHMARK_TRACK_UTILISATION */""",
        "the bench variant's kernel-time accounting by entry class (the profile's Interrupt, "
        "Notification and IPC categories) and per thread",
    ),
    (
        "src/benchmark/benchmark_utilisation.c",
        """#include <benchmark/benchmark_utilisation.h>

#ifdef CONFIG_BENCHMARK_TRACK_UTILISATION
""",
        """#include <benchmark/benchmark_utilisation.h>
#include <benchmark/benchmark_track.h>
#include <arch/api/syscall.h>

#ifdef CONFIG_BENCHMARK_TRACK_UTILISATION
static void benchmark_kernel_dump(uint64_t *buffer, tcb_t *tcb);
""",
        "the entry classes read ksKernelEntry and the syscall numbers",
    ),
    (
        "src/benchmark/benchmark_utilisation.c",
        """    buffer[BENCHMARK_TOTAL_UTILISATION] = benchmark_end_time - benchmark_start_time; /* Overall time */
#endif /* CONFIG_ARM_ENABLE_PMU_OVERFLOW_INTERRUPT */
""",
        """    buffer[BENCHMARK_TOTAL_UTILISATION] = benchmark_end_time - benchmark_start_time; /* Overall time */
#endif /* CONFIG_ARM_ENABLE_PMU_OVERFLOW_INTERRUPT */
    benchmark_kernel_dump(buffer, tcb);
""",
        "report the kernel-time accounting with each thread's utilisation",
    ),
    (
        "src/api/syscall.c",
        """        benchmark_arch_utilisation_reset();
#endif /* CONFIG_BENCHMARK_TRACK_UTILISATION */""",
        """        benchmark_arch_utilisation_reset();
        benchmark_kernel_reset();
#endif /* CONFIG_BENCHMARK_TRACK_UTILISATION */""",
        "a new window starts the kernel-time accounting afresh",
    ),
    (
        "include/benchmark/benchmark_utilisation.h",
        """void benchmark_track_reset_utilisation(void);""",
        """void benchmark_track_reset_utilisation(void);
void benchmark_kernel_reset(void); /* ours */""",
        "declare the reset of our kernel-time accounting",
    ),
    (
        "tools/circular_includes.py",
        """kernel_all_re = re.compile(r'^# 1 "kernel_all\\.c"')""",
        """kernel_all_re = re.compile(r'^# [01] "kernel_all\\.c"')""",
        "gcc >= 9 emits a `# 0 \"kernel_all.c\"` line marker first; the check treated it as a "
        "return to an enclosing header and popped an empty stack (IndexError)",
    ),
    (
        "tools/circular_includes.py",
        "            while file_stack[-1] != header:",
        "            while file_stack and file_stack[-1] != header:",
        "never pop past the bottom of the include stack on an unexpected line marker",
    ),
    (
        "Makefile",
        "DEFINE  += -DCONFIG_PRINTING",
        "DEFINES += -DCONFIG_PRINTING",
        "typo: DEFINE is never used, so DEBUG=1 builds did not get CONFIG_PRINTING",
    ),
    (
        "Makefile",
        "CFLAGS += ${DEFINES}\nCPPFLAGS += ${DEFINES} ${INCLUDES}",
        "# Extensible from the command line (patched in by support/kernel/patch-source.py).\n"
        "CFLAGS += ${EXTRA_CFLAGS}\n"
        "CFLAGS += ${DEFINES}\nCPPFLAGS += ${DEFINES} ${INCLUDES}",
        "CFLAGS cannot be extended from the command line (setting it there replaces all of it); "
        "gcc 12 with -Werror needs a few extra flags",
    ),
    (
        "Makefile",
        "$(Q)${CIRCULAR_INCLUDES} < $<",
        "$(Q)${PYTHON} ${CIRCULAR_INCLUDES} < $<",
        "the tool's shebang asks for `python`, which a python3-only machine lacks",
    ),
    (
        "Makefile",
        "$(Q)${INVOCATION_ID_GEN_PATH} --arch --xml $<",
        "$(Q)${PYTHON} ${INVOCATION_ID_GEN_PATH} --arch --xml $<",
        "run with ${PYTHON}, not the `python` shebang",
    ),
    (
        "Makefile",
        "$(Q)${INVOCATION_ID_GEN_PATH} --sel4_arch --xml $<",
        "$(Q)${PYTHON} ${INVOCATION_ID_GEN_PATH} --sel4_arch --xml $<",
        "run with ${PYTHON}, not the `python` shebang",
    ),
    (
        "Makefile",
        "$(Q)${INVOCATION_ID_GEN_PATH} --xml $<",
        "$(Q)${PYTHON} ${INVOCATION_ID_GEN_PATH} --xml $<",
        "run with ${PYTHON}, not the `python` shebang",
    ),
    (
        "Makefile",
        "$(Q)${SYSCALL_ID_GEN_PATH} --xml $(word 2, $^)",
        "$(Q)${PYTHON} ${SYSCALL_ID_GEN_PATH} --xml $(word 2, $^)",
        "run with ${PYTHON}, not the `python` shebang",
    ),
    (
        "Makefile",
        "$(Q)${XMLLINT_PATH} --noout --schema $^",
        "$(Q)$(if ${XMLLINT_PATH},${XMLLINT_PATH} --noout --schema $^,true)",
        "with SKIP_PATH_CHECKS=1 XMLLINT_PATH is empty and the rule ran `--noout ...` as a "
        "command; the schema check of syscall.xml is optional, so skip it without xmllint",
    ),
]


def main(argv):
    if len(argv) != 2 or not os.path.isfile(os.path.join(argv[1], "Makefile")):
        print("usage: patch-source.py <build copy of the seL4 source (holding its Makefile)>",
              file=sys.stderr)
        return 2
    root = argv[1]
    for rel, old, new, why in FIXES:
        path = os.path.join(root, rel)
        try:
            with open(path, encoding="utf-8") as f:
                text = f.read()
        except OSError as e:
            print(f"patch-source: error: cannot read {path}: {e}", file=sys.stderr)
            return 1
        if old not in text and new in text:
            continue  # already applied
        count = text.count(old)
        if count != 1:
            print(f"patch-source: error: {rel}: expected exactly one occurrence of\n  {old!r}\n"
                  f"found {count}. Is this the seL4 5.0.0 source from sel4-sys 0.0.28?\n"
                  f"(fix: {why})", file=sys.stderr)
            return 1
        text = text.replace(old, new)
        with open(path, "w", encoding="utf-8") as f:
            f.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
