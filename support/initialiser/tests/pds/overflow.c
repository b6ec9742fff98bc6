/* Test PD 'overflow': unbounded recursion into the stack guard page. */
#include "pd.h"
volatile u64 deepest;
__attribute__((noinline)) static u64 recurse(u64 n) {
    volatile char frame[512];
    frame[0] = (char)n;
    deepest = n;
    return recurse(n + 1) + frame[0];
}
int main(void) {
    puts_("overflow: recursing\n");
    return (int)recurse(0);
}
