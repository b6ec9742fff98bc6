/* Test PD 'alpha': shared region, notification and PPC to 'beta', wakes 'crasher', and keeps
 * running after crasher's fault. */
#include "pd.h"
volatile u64 shm_paddr; /* <setvar region_paddr="shm"> */
#define SHM ((volatile u64 *)0x20000000)
int main(void) {
    puts_("alpha: hello, shm at physical "); puthex(shm_paddr); puts_("\n");
    SHM[0] = 0x1234;
    signal(NOTIFY_BASE + 1);
    struct msg r = sys(SYS_CALL, PP_BASE + 1, info(0, 1), 41, 0, 0, 0);
    puts_("alpha: ppc reply "); putdec(r.mr[0]); puts_(" label "); putdec(label_of(r));
    puts_(" shm[1] "); puthex(SHM[1]); puts_("\n");
    signal(NOTIFY_BASE + 2);
    puts_("alpha: still running after crasher\n");
    park();
    return 0;
}
