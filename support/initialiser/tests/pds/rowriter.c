/* Test PD 'rowriter': writes to its own read-only data (segment permissions are enforced). */
#include "pd.h"
static const u64 constant = 5;
int main(void) {
    puts_("rowriter: writing to .rodata\n");
    *(volatile u64 *)&constant = 6;
    puts_("rowriter: still alive?!\n");
    park();
    return 0;
}
