/* Test PD 'nic': two e1000s (BAR 0 mapped uncached, PCI INTx irqs 3 and 4). Raises each
 * device's interrupt through ICS twice, waits for it as a notification, acks it. */
#include "pd.h"
volatile u64 regs_paddr, regs2_paddr; /* region_paddr setvars */
#define REG(base, off) (*(volatile unsigned int *)((base) + (off)))
#define ICR 0xc0
#define ICS 0xc8
#define IMS 0xd0
#define IMC 0xd8
#define STATUS 0x08
#define IRQ_ACK 24
static void exercise(u64 base, u64 irq, const char *name) {
    puts_("nic: "); puts_(name); puts_(" status "); puthex(REG(base, STATUS)); puts_("\n");
    REG(base, IMS) = 0x4;
    for (int round = 0; round < 2; round++) {
        REG(base, ICS) = 0x4;
        struct msg m = wait(NOTIFICATION);
        u64 icr = REG(base, ICR);
        struct msg a = sys(SYS_CALL, IRQ_BASE + irq, info(IRQ_ACK, 0), 0, 0, 0, 0);
        puts_("nic: "); puts_(name); puts_(" irq round "); putdec((u64)round); puts_(" badge "); puthex(m.badge);
        puts_(" icr "); puthex(icr); puts_(" ack error "); putdec(label_of(a)); puts_("\n");
    }
    REG(base, IMC) = 0xffffffff;
}
int main(void) {
    puts_("nic: regs at physical "); puthex(regs_paddr); puts_(", regs2 at "); puthex(regs2_paddr); puts_("\n");
    exercise(0x20000000, 3, "first");
    exercise(0x20100000, 4, "second");
    puts_("nic: done\n");
    park();
    return 0;
}
