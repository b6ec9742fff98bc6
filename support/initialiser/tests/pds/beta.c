/* Test PD 'beta': a PPC server (endpoint) that also receives alpha's notifications through
 * its bound notification. */
#include "pd.h"
#define SHM ((volatile u64 *)0x20000000)
int main(void) {
    puts_("beta: ready\n");
    for (;;) {
        struct msg m = wait(ENDPOINT);
        if (m.badge & PP_BADGE) {
            puts_("beta: ppc on channel "); putdec(m.badge & ~PP_BADGE); puts_(" mr0 "); putdec(m.mr[0]); puts_("\n");
            sys(SYS_REPLY, 0, info(0, 1), m.mr[0] + 1, 0, 0, 0);
        } else {
            puts_("beta: notified badge "); puthex(m.badge); puts_(" shm[0] "); puthex(SHM[0]); puts_("\n");
            SHM[1] = 0x5678;
        }
    }
}
