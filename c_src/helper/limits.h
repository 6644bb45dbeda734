/* A run's resource limits, put in force by the helper once the peer has
 * booted (so nothing of the boot counts), and checked every few ms:
 *
 *   memory     cgroup memory.max (swap off, the whole group OOM-killed;
 *              the verdict from memory.events), else sampling the tree's
 *              resident memory
 *   cpu        cgroup cpu.stat, else sampling the tree's /proc times
 *   processes  cgroup pids.max (the verdict from pids.events), else
 *              sampling the number of processes in the tree
 *   file size  RLIMIT_FSIZE on every process of the tree (inherited by
 *              what they start)
 *
 * "Sampling" kills the tree once a sample is over the limit, so a run can
 * overshoot by what it takes in one interval. */
#ifndef SANDBOX_LIMITS_H
#define SANDBOX_LIMITS_H

#include "common/pids.h"
#include "common/helper_line.h"

#include <stdint.h>
#include <sys/types.h>

/* How often a run with limits is measured. */
#define LIMITS_SAMPLE_MS 10

typedef struct {
    int64_t memory_bytes, cpu_ms, processes, file_bytes; /* < 0: no limit */
} limits_t;

typedef struct {
    limits_t limits;
    const char *cgroup; /* the run's cgroup, or NULL */
    pid_t root;         /* the tree is root's descendants (root: the helper) */
    mechanism_t memory, cpu, processes, file_size;
    int active; /* something must be sampled */
    int64_t cpu_base_us, processes_base;
    /* The most the tree's resident sets summed to at a sample: its peak
     * memory where the kernel's accounting cannot see it (a strict run's
     * PID namespace reaps what the helper would have counted). */
    int64_t peak_rss_bytes;
    pids_t members; /* scratch: the tree's processes at the last sample */
} limiter_t;

/* Reads limits from a "limits" order. */
void limits_from_message(const helper_line_t *m, limits_t *out);

void limiter_init(limiter_t *l, const char *cgroup, pid_t root);
void limiter_free(limiter_t *l);

/* Puts limits in force for the tree as it is now. Returns 0, or -1 with
 * errno if one could not be (the run must not go ahead then). */
int limiter_apply(limiter_t *l, const limits_t *limits);

/* The "enforced" report of what limiter_apply chose. */
void limiter_report(const limiter_t *l, helper_line_t *out);

/* Measures the tree; returns the limit it has crossed (limit_kind_t), or
 * 0. A dead tree still tells a cgroup's out-of-memory kill. */
int limiter_check(limiter_t *l);

#endif
