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
        "src/plat/pc99/machine/io.c",
        """#ifdef CONFIG_PRINTING
void
putConsoleChar(unsigned char a)
{
    while (x86KSconsolePort && !(in8(x86KSconsolePort + 5) & 0x20));
    out8(x86KSconsolePort, a);
}
#endif /* CONFIG_PRINTING */""",
        """#ifdef CONFIG_PRINTING
#include <machine.h>

/* Ours (support/kernel/patch-source.py): every character the kernel prints -- its boot log,
 * and through seL4_DebugPutChar every line of the initialiser (the monitor) and of the PDs --
 * also goes to the VGA text screen, so a machine without a serial port shows what happened.
 *
 * Facts this relies on (seL4 5.0.0, x86_64, pc99; read in this source):
 * - ptrFromPAddr(p) is p + PPTR_BASE (0xffffff8000000000): the kernel window, PML4 slot 511.
 * - Before map_kernel_window the boot page tables of src/arch/x86/64/head.S are live: their
 *   PML4[511] (and PML4[0], the identity map) point at boot_pdpt, whose entries 0..3 map
 *   physical 0..4 GiB (2 MiB pages in _boot_pd; 1 GiB pages with CONFIG_HUGE_PAGE, which our
 *   config leaves off). So PPTR_BASE + 0xb8000 is mapped from the first printf on (in
 *   cmdline_parse, right after the console port is set).
 * - map_kernel_window (src/arch/x86/64/kernel/vspace.c) maps physical 0..PADDR_TOP (510 GiB)
 *   at PPTR_BASE again, 2 MiB pages, supervisor only, and copyGlobalMappings copies PML4 slots
 *   from PPTR_USER_TOP up (slot 511 included) into every new VSpace, so the window is present
 *   whichever thread is current when a PD prints. 5.0 has no kernel page-table isolation.
 * - The window is mapped write-back (PAT 0, no PCD/PWT); PC firmware sets the fixed-range
 *   MTRRs of 0xa0000-0xbffff to uncacheable, which takes precedence, so stores reach the
 *   adapter at once (QEMU TCG ignores cache types).
 * - Whether an 80-column colour text screen exists is read once, at the first character, from
 *   the BIOS data area (physical 0x400, still as the BIOS and the boot loader left it: the
 *   kernel reads its serial port list there too): the current video mode (byte 0x449) must be
 *   2 or 3, the colour text modes at 0xb8000 that the VGA BIOS sets at POST and GRUB's text
 *   console keeps (our multiboot header asks for no graphics mode). Rows: byte 0x484 + 1
 *   (25, or 43/50 with a smaller font), 25 if that is implausible. Without a VGA BIOS (QEMU
 *   -vga none, headless boards), on a mono adapter or in a graphics mode nothing is ever
 *   written to the screen. Should a stale BDA claim a text mode where no adapter decodes
 *   0xa0000-0xbffff (UEFI without CSM; we boot BIOS only), the chipset forwards those stores to
 *   PCI, where nothing claims them and they are dropped.
 * - The screen is cleared at the first character (it held the BIOS's and GRUB's text) and the
 *   hardware cursor hidden (it would blink where GRUB left it). Lines longer than 80 columns
 *   wrap. Non-ASCII (UTF-8) shows as one '?' per character; other control characters are not
 *   shown.
 * - Cost: per character one 16-bit store to the screen (before the serial port's, so a line
 *   seen on COM1 is already on the screen) and one to a copy in kernel memory. At the bottom
 *   the copy scrolls up a row in RAM and only the 8-byte words that changed are stored to the
 *   screen: the adapter's memory is only ever written, never read (uncached reads are a
 *   round trip to the device each). Measured under QEMU TCG with -vga std, 2000 lines of
 *   boot-log-like text (four different lines in turn) from a root task: 0.32 s against 0.07 s
 *   for the serial port alone, about 125 us more a line, nearly all of it the scroll's stores,
 *   each of which QEMU emulates; with -vga none (make run, the tests, make eval) no extra
 *   time. On hardware COM1 at 115200 baud takes 87 us a character, 5 ms for such a line,
 *   against at most 500 posted stores for the scroll. */
#define VGA_TEXT_PADDR 0xb8000ul
#define VGA_COLS 80
#define VGA_MAX_ROWS 50
#define VGA_BLANK 0x0720u /* a space, light grey on black */
#define VGA_BLANK4 ((uint64_t)VGA_BLANK * 0x0001000100010001ull)
#define VGA_WORDS_PER_ROW (VGA_COLS * 2 / 8)

static int vga_state;                 /* 0: not probed yet, 1: in use, -1: no text screen */
static word_t vga_rows, vga_row, vga_col;
static uint64_t vga_copy[VGA_MAX_ROWS * VGA_WORDS_PER_ROW]; /* what the screen shows */

static volatile uint16_t *vga_screen(void)
{
    return (volatile uint16_t *)ptrFromPAddr(VGA_TEXT_PADDR);
}

static void vga_probe(void)
{
    volatile uint8_t *bda = (volatile uint8_t *)ptrFromPAddr(0x400);
    uint8_t mode = bda[0x49];
    word_t rows = (word_t)bda[0x84] + 1;
    volatile uint64_t *screen = (volatile uint64_t *)vga_screen();
    word_t i;

    if (mode != 2 && mode != 3) {
        vga_state = -1;
        return;
    }
    vga_rows = (rows >= 25 && rows <= VGA_MAX_ROWS) ? rows : 25;
    for (i = 0; i < vga_rows * VGA_WORDS_PER_ROW; i++) {
        vga_copy[i] = VGA_BLANK4;
        screen[i] = VGA_BLANK4;
    }
    out8(0x3d4, 0x0a); /* CRTC cursor start register: bit 5 turns the cursor off */
    out8(0x3d5, 0x20);
    vga_row = 0;
    vga_col = 0;
    vga_state = 1;
}

static void vga_newline(void)
{
    volatile uint64_t *screen = (volatile uint64_t *)vga_screen();
    word_t i;

    vga_col = 0;
    if (vga_row + 1 < vga_rows) {
        vga_row++;
        return;
    }
    /* Scroll the copy up a row; store to the screen only the words that change (the
     * blanks after short lines, and the prefixes consecutive lines share, stay). */
    for (i = 0; i < vga_rows * VGA_WORDS_PER_ROW; i++) {
        uint64_t w = i < (vga_rows - 1) * VGA_WORDS_PER_ROW ? vga_copy[i + VGA_WORDS_PER_ROW] : VGA_BLANK4;
        if (w != vga_copy[i]) {
            vga_copy[i] = w;
            screen[i] = w;
        }
    }
}

static void vga_putchar(unsigned char c)
{
    if (unlikely(vga_state == 0)) {
        vga_probe();
    }
    if (vga_state < 0) {
        return;
    }
    switch (c) {
    case '\\n':
        vga_newline();
        return;
    case '\\r':
        vga_col = 0;
        return;
    case '\\t':
        vga_col = (vga_col | 7) + 1;
        if (vga_col > VGA_COLS) {
            vga_col = VGA_COLS;
        }
        return;
    case '\\b':
        if (vga_col > 0) {
            vga_col--;
        }
        return;
    default:
        break;
    }
    if (c >= 0x80 && c < 0xc0) {
        return; /* a UTF-8 continuation byte: its lead byte showed as '?' */
    }
    if (c >= 0xc0) {
        c = '?';
    }
    if (c < 0x20 || c == 0x7f) {
        return;
    }
    if (vga_col >= VGA_COLS) {
        vga_newline();
    }
    ((uint16_t *)vga_copy)[vga_row * VGA_COLS + vga_col] = 0x0700u | c;
    vga_screen()[vga_row * VGA_COLS + vga_col] = 0x0700u | c;
    vga_col++;
}

void
putConsoleChar(unsigned char a)
{
    vga_putchar(a);
    while (x86KSconsolePort && !(in8(x86KSconsolePort + 5) & 0x20));
    out8(x86KSconsolePort, a);
}
#endif /* CONFIG_PRINTING */""",
        "everything printed (kernel boot log, monitor reports, PD output) also appears on the VGA "
        "text screen, for machines without a serial port (issue 13 item 2); written only when "
        "the BIOS data area says an 80-column colour text mode is set",
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
        "include/machine/fpu.h",
        """static inline void FORCE_INLINE lazyFPURestore(tcb_t *thread)
{
    if (unlikely(NODE_STATE(ksActiveFPUState))) {""",
        """static inline void FORCE_INLINE lazyFPURestore(tcb_t *thread)
{
    /* Ours (support/kernel/patch-source.py): eager FPU switching unless the kernel command
     * line says lazy_fpu. Every PD of this system uses SSE (Rust's x86_64 code moves and
     * copies with it), so with seL4's lazy switching nearly every switch between two PDs
     * cost an FPU trap (#NM) on the new thread's first SSE instruction, on top of the same
     * save and restore: 0.2 traps per echoed datagram, the largest class of kernel entries
     * in the evaluation's profile. Eager: the state is switched on the way out of the kernel,
     * when the thread to run is not the owner; the idle thread (kernel code, no FPU) leaves
     * the owner as it is. lazy_fpu keeps seL4's own scheme, for comparison (make eval's
     * sel4-lazyfpu). */
    if (likely(!x86KSlazyFPU)) {
        if (unlikely(thread == NODE_STATE(ksIdleThread))) {
            return;
        }
        if (likely(nativeThreadUsingFPU(thread))) {
            enableFpu();
        } else {
            switchLocalFpuOwner(&thread->tcbArch.tcbContext.fpuState);
        }
        return;
    }
    if (unlikely(NODE_STATE(ksActiveFPUState))) {""",
        "eager FPU switching (lazy_fpu on the command line keeps seL4's): the lazy scheme traps once per switch between the (all SSE-using) "
        "PDs; switching on kernel exit saves the trap (issue 15's profile)",
    ),
    (
        "include/machine/fpu.h",
        """/* Switch the current owner of the FPU state on the core specified by 'cpu'. */
void switchFpuOwner(user_fpu_state_t *new_owner, word_t cpu);""",
        """/* Switch the current owner of the FPU state on the core specified by 'cpu'. */
void switchFpuOwner(user_fpu_state_t *new_owner, word_t cpu);

/* Ours: the kernel command line's lazy_fpu (seL4's lazy FPU switching; default eager). */
extern bool_t x86KSlazyFPU;""",
        "declare the lazy_fpu switch",
    ),
    (
        "src/machine/fpu.c",
        """/* Handle a FPU fault.""",
        """/* Ours: set from the kernel command line (lazy_fpu) at boot. */
bool_t x86KSlazyFPU;

/* Handle a FPU fault.""",
        "define the lazy_fpu switch",
    ),
    (
        "src/arch/x86/kernel/cmdline.c",
        """    cmdline_opt->disable_iommu = parse_bool(cmdline, cmdline_str_disable_iommu);
    printf("Boot config: disable_iommu = %s\\n", cmdline_opt->disable_iommu ? "true" : "false");""",
        """    cmdline_opt->disable_iommu = parse_bool(cmdline, cmdline_str_disable_iommu);
    printf("Boot config: disable_iommu = %s\\n", cmdline_opt->disable_iommu ? "true" : "false");
    {
        /* Ours: lazy_fpu keeps seL4's lazy FPU switching (see include/machine/fpu.h). */
        const char cmdline_str_lazy_fpu[] = {'l', 'a', 'z', 'y', '_', 'f', 'p', 'u', 0};
        x86KSlazyFPU = parse_bool(cmdline, cmdline_str_lazy_fpu);
        printf("Boot config: lazy_fpu = %s\\n", x86KSlazyFPU ? "true" : "false");
    }""",
        "the lazy_fpu kernel command-line option, so one kernel measures both FPU schemes",
    ),
    (
        "include/arch/x86/arch/64/mode/kernel/stack.h",
        """#define KERNEL_STACK_ALIGNMENT 16""",
        """/* Ours (support/kernel/patch-source.py): aligned to its size, 16 before. When an
 * interrupt is pending on the way out of the kernel, restore_user_context (c_traps.c) resets
 * the stack with `rsp & ~MASK(CONFIG_KERNEL_STACK_BITS)` + BIT(CONFIG_KERNEL_STACK_BITS),
 * which assumes exactly this alignment; with 16 the "top" could land up to a stack's size
 * above the real one, inside the IDT that follows it in .bss, and the nested handler then
 * overwrote IDT entries (a #GP with error code 0x302, IDT entry 0x60, on the next interrupt:
 * seen after VT-d fault interrupts, which arrive in bursts). */
#define KERNEL_STACK_ALIGNMENT BIT(CONFIG_KERNEL_STACK_BITS)""",
        "seL4 5.0's x86_64 kernel stack was 16-byte aligned while the pending-interrupt path of "
        "restore_user_context rounds the stack pointer to the stack's size: the kernel could "
        "run on a stack inside the IDT and corrupt it (the IOMMU test's sporadic KERNEL "
        "EXCEPTION, GP 0x302)",
    ),
    (
        "tools/bitfield_gen.py",
        """    yacc.yacc(debug=0)""",
        """    yacc.yacc(debug=0, write_tables=False)""",
        "make -j runs several bitfield_gen.py at once in a fresh build copy; each had ply write "
        "its parser table to tools/parsetab.py while another imported the half-written file "
        "(AttributeError: module 'parsetab' has no attribute '_tabversion'); without the table "
        "file each run builds its parser in memory, a fraction of a second",
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
