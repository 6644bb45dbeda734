/* Unsigned decimal numbers in text the project reads: the helper's lines,
 * /proc and cgroup files, pids in frames. One parser, so the overflow
 * check is written once. */
#ifndef SANDBOX_DECIMAL_H
#define SANDBOX_DECIMAL_H

#include <stdint.h>

/* Parses the digits at *p (at least one) up to the first non-digit or end,
 * and advances *p past them. Returns 0, or -1 if there is no digit or the
 * value exceeds max (max >= 0). */
int decimal_parse(const char **p, const char *end, int64_t max, int64_t *out);

#endif
