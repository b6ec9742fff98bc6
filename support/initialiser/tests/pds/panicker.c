/* Test PD 'panicker': prints a panic message and executes ud2, like a Rust PD's panic handler. */
#include "pd.h"
int main(void) {
    puts_("panicker: panicked at src/main.rs:7:5: boom\n");
    __builtin_trap();
}
