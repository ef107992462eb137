#ifndef LOGSCAN_CPREFILTER_H
#define LOGSCAN_CPREFILTER_H
#include <stddef.h>
#include <stdint.h>

/// The first position p in [from, last) whose byte pair `base[p] | base[p+1] << 8` is non-zero
/// in `table` (65536 bytes, one per pair code), or `last` when there is none.
/// Reads base[from...last].
size_t logscan_pair_scan(const uint8_t *base, size_t from, size_t last, const uint8_t *table);

#endif
