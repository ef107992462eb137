// The literal prefilter's skip loop: almost every position of a log misses the pair table, so
// this runs over nearly every byte scanned. In C, eight positions per iteration, because the
// same loop in Swift kept its pointers in stack slots (closure captures) and ran at half speed.
#include "cprefilter.h"

#include <string.h>

static inline unsigned pair(const uint8_t *p) {
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    uint16_t v;
    memcpy(&v, p, 2);   // one unaligned 16-bit load
    return v;
#else
    return (unsigned)p[0] | (unsigned)p[1] << 8;
#endif
}

size_t logscan_pair_scan(const uint8_t *base, size_t from, size_t last, const uint8_t *table) {
    size_t i = from;
    // a byte per pair code: one load and one OR per position (a bit table needs shifts)
    while (i + 8 <= last) {
        const uint8_t *p = base + i;
        unsigned any = table[pair(p)] | table[pair(p + 1)] | table[pair(p + 2)] | table[pair(p + 3)]
                     | table[pair(p + 4)] | table[pair(p + 5)] | table[pair(p + 6)] | table[pair(p + 7)];
        if (any) break;
        i += 8;
    }
    for (; i < last; i++) {
        if (table[pair(base + i)]) return i;
    }
    return last;
}
