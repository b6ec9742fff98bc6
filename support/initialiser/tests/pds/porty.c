/* Test PD 'porty': reads the CMOS RTC through its granted ports 0x70-0x71, and is refused a
 * port outside that range. */
#include "pd.h"
#define IN8 44
#define OUT8 47
int main(void) {
    struct msg r = sys(SYS_CALL, IOPORT_BASE + 0, info(OUT8, 2), 0x70, 0x0a, 0, 0);
    u64 e1 = label_of(r);
    r = sys(SYS_CALL, IOPORT_BASE + 0, info(IN8, 1), 0x71, 0, 0, 0);
    puts_("porty: out8 error "); putdec(e1); puts_(", in8(0x71) error "); putdec(label_of(r));
    puts_(" value "); puthex(r.mr[0] & 0xff); puts_("\n");
    r = sys(SYS_CALL, IOPORT_BASE + 0, info(IN8, 1), 0x80, 0, 0, 0);
    puts_("porty: in8(0x80) error "); putdec(label_of(r)); puts_("\n");
    r = sys(SYS_CALL, IOPORT_BASE + 1, info(IN8, 1), 0x70, 0, 0, 0);
    puts_("porty: ungranted ioport slot error "); putdec(label_of(r)); puts_("\n");
    park();
    return 0;
}
