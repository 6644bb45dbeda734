/* What a set of processes uses right now, read from /proc: their resident
 * memory, and the CPU they and their reaped children have spent. The fallback for limits no cgroup
 * controller enforces. */
#ifndef SANDBOX_USAGE_H
#define SANDBOX_USAGE_H

#include "common/pids.h"

#include <stddef.h>
#include <stdint.h>

typedef struct {
    int64_t rss_bytes; /* summed: pages shared after a fork count twice */
    int64_t cpu_us;    /* user + system, of each and of the children it reaped */
} usage_t;

/* From the text of /proc/<pid>/stat: utime + stime + cutime + cstime, in
 * clock ticks. Returns 0, or -1 if the text is malformed. */
int usage_parse_stat_ticks(const char *stat, size_t len, int64_t *ticks);

/* From the text of /proc/<pid>/statm: the resident set, in pages. Returns
 * 0, or -1 if the text is malformed. */
int usage_parse_statm_resident(const char *statm, size_t len, int64_t *pages);

/* Sums the usage of pids; a process gone meanwhile is skipped. */
void usage_sample(const pids_t *pids, usage_t *out);

#endif
