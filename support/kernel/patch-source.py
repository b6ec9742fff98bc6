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
