/* Test PD 'crasher': waits for alpha, then writes to address 0x10. */
#include "pd.h"
int main(void) {
    puts_("crasher: waiting\n");
    wait(NOTIFICATION);
    puts_("crasher: writing to 0x10\n");
    *(volatile u64 *)0x10 = 1;
    puts_("crasher: still alive?!\n");
    park();
    return 0;
}
