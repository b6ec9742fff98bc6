/* Test PD 'capper': waits on a CSpace slot it was never granted (a cap fault). */
#include "pd.h"
int main(void) {
    puts_("capper: waiting on slot 300\n");
    wait(300);
    puts_("capper: still alive?!\n");
    park();
    return 0;
}
