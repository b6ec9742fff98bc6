/* Minimal freestanding runtime for the initialiser's test PDs (C, built by
 * tests/qemu_system.rs with gcc): entry, seL4 5.0 x86_64 syscalls, printing, and the
 * __pd_info block the image tool fills. Deliberately independent of support/pd, so the
 * initialiser is tested against the spec contract alone. CSpace slots: spec::cspace. */
#ifndef TEST_PD_H
#define TEST_PD_H

typedef unsigned long u64;
typedef long i64;

#define NOTIFICATION 1
#define ENDPOINT 2
#define NOTIFY_BASE 10
#define PP_BASE 74
#define IRQ_BASE 138
#define IOPORT_BASE 202
#define PP_BADGE (1ul << 27)

/* Filled by mkimage; size passed by the test (sizeof(spec::PdInfo)). */
__attribute__((used, aligned(8))) unsigned char __pd_info[PD_INFO_SIZE] = {1};

struct msg { u64 badge, info, mr[4]; };

/* The kernel returns with rsp = 0 and clobbers rcx/r11: keep rsp in rbx. */
static inline struct msg sys(i64 num, u64 cap, u64 info, u64 m0, u64 m1, u64 m2, u64 m3) {
    register u64 r10 __asm__("r10") = m0;
    register u64 r8 __asm__("r8") = m1;
    register u64 r9 __asm__("r9") = m2;
    register u64 r15 __asm__("r15") = m3;
    __asm__ volatile("mov %%rsp, %%rbx\n\tsyscall\n\tmov %%rbx, %%rsp"
                     : "+d"(num), "+D"(cap), "+S"(info), "+r"(r10), "+r"(r8), "+r"(r9), "+r"(r15)
                     :
                     : "rax", "rbx", "rcx", "r11", "memory");
    struct msg m = {cap, info, {r10, r8, r9, r15}};
    return m;
}

#define SYS_CALL (-1)
#define SYS_SEND (-3)
#define SYS_RECV (-5)
#define SYS_REPLY (-6)
#define SYS_YIELD (-7)
#define SYS_PUTC (-9)

static inline void putc_(char c) { sys(SYS_PUTC, (u64)(unsigned char)c, 0, 0, 0, 0, 0); }
static void puts_(const char *s) { while (*s) putc_(*s++); }
static void puthex(u64 v) {
    char b[19]; int i = 18; b[i] = 0;
    do { b[--i] = "0123456789abcdef"[v & 15]; v >>= 4; } while (v);
    b[--i] = 'x'; b[--i] = '0';
    puts_(b + i);
}
static void putdec(u64 v) {
    char b[21]; int i = 20; b[i] = 0;
    do { b[--i] = (char)('0' + v % 10); v /= 10; } while (v);
    puts_(b + i);
}

static inline u64 info(u64 label, u64 len) { return (label << 12) | len; }
static inline void signal(u64 cap) { sys(SYS_SEND, cap, info(0, 1), 0, 0, 0, 0); }
static inline struct msg wait(u64 cap) { return sys(SYS_RECV, cap, 0, 0, 0, 0, 0); }
static inline u64 label_of(struct msg m) { return m.info >> 12; }

int main(void);

__attribute__((naked, noreturn, section(".text._start"))) void _start(void) {
    __asm__ volatile("and $-16, %rsp\n\tcall main\n\tud2");
}

/* Park forever (wait on our own notification; nothing signals it afterwards). */
static void park(void) { for (;;) wait(NOTIFICATION); }

#endif
