#include "limits.h"

#include "cgroup.h"
#include "tree.h"
#include "usage.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>

void limits_from_message(const helper_line_t *m, limits_t *out) {
    out->memory_bytes = m->a;
    out->cpu_ms = m->b;
    out->processes = m->c;
    out->file_bytes = m->d;
}

void limiter_init(limiter_t *l, const char *cgroup, pid_t root) {
    memset(l, 0, sizeof *l);
    l->limits = (limits_t){-1, -1, -1, -1};
    l->cgroup = cgroup;
    l->root = root;
    pids_init(&l->members);
}

void limiter_free(limiter_t *l) { pids_free(&l->members); }

/* The tree's processes now: the cgroup's, else root's descendants. */
static int list_members(limiter_t *l) {
    pids_clear(&l->members);
    if (l->cgroup)
        return cgroup_procs(l->cgroup, &l->members);
    return tree_descendants(l->root, &l->members);
}

/* Lists the tree once for all the limits applied together that start from
 * it (without a cgroup, each listing walks all of /proc). */
static int list_members_once(limiter_t *l, int *listed) {
    if (*listed)
        return 0;
    *listed = 1;
    return list_members(l);
}

/* What the listed members use; CPU also of the orphans the helper reaped. */
static void measure_members(const limiter_t *l, usage_t *u) {
    usage_sample(&l->members, u);
    struct rusage reaped;
    if (getrusage(RUSAGE_CHILDREN, &reaped) == 0)
        u->cpu_us += (int64_t)reaped.ru_utime.tv_sec * 1000000 + reaped.ru_utime.tv_usec +
                     (int64_t)reaped.ru_stime.tv_sec * 1000000 + reaped.ru_stime.tv_usec;
}

static int write_number(const char *cgroup, const char *file, int64_t value) {
    char text[32];
    snprintf(text, sizeof text, "%lld", (long long)value);
    return cgroup_write(cgroup, file, text);
}

static int apply_memory(limiter_t *l, int64_t bytes) {
    if (!l->cgroup || !cgroup_has(l->cgroup, "memory.max")) {
        l->memory = MECHANISM_SAMPLING;
        return 0;
    }
    /* No swap to spill into, and one OOM kill takes the whole group. */
    if (write_number(l->cgroup, "memory.max", bytes) < 0 ||
        (cgroup_has(l->cgroup, "memory.swap.max") &&
         cgroup_write(l->cgroup, "memory.swap.max", "0") < 0) ||
        (cgroup_has(l->cgroup, "memory.oom.group") &&
         cgroup_write(l->cgroup, "memory.oom.group", "1") < 0))
        return -1;
    l->memory = MECHANISM_CGROUP;
    return 0;
}

static int apply_processes(limiter_t *l, int64_t processes, int *listed) {
    int64_t current;
    if (l->cgroup && cgroup_has(l->cgroup, "pids.max")) {
        /* pids.current counts the peer's own threads, which it has all
         * started by now. */
        if (cgroup_read_value(l->cgroup, "pids.current", NULL, &current) < 0 ||
            write_number(l->cgroup, "pids.max", current + processes) < 0)
            return -1;
        l->processes = MECHANISM_CGROUP;
        return 0;
    }
    if (list_members_once(l, listed) < 0)
        return -1;
    l->processes_base = (int64_t)l->members.len;
    l->processes = MECHANISM_SAMPLING;
    return 0;
}

static int apply_cpu(limiter_t *l, int *listed) {
    if (l->cgroup && cgroup_read_value(l->cgroup, "cpu.stat", "usage_usec", &l->cpu_base_us) == 0) {
        l->cpu = MECHANISM_CGROUP;
        return 0;
    }
    usage_t u;
    if (list_members_once(l, listed) < 0)
        return -1;
    measure_members(l, &u);
    l->cpu_base_us = u.cpu_us;
    l->cpu = MECHANISM_SAMPLING;
    return 0;
}

/* Every process of the tree now; those it starts later inherit it. */
static int apply_file_size(limiter_t *l, int64_t bytes, int *listed) {
    if (list_members_once(l, listed) < 0)
        return -1;
    struct rlimit limit = {.rlim_cur = (rlim_t)bytes, .rlim_max = (rlim_t)bytes};
    for (size_t i = 0; i < l->members.len; i++)
        if (prlimit(l->members.items[i], RLIMIT_FSIZE, &limit, NULL) < 0 && errno != ESRCH)
            return -1;
    l->file_size = MECHANISM_RLIMIT;
    return 0;
}

int limiter_apply(limiter_t *l, const limits_t *limits) {
    l->limits = *limits;
    int listed = 0;
    if ((limits->memory_bytes >= 0 && apply_memory(l, limits->memory_bytes) < 0) ||
        (limits->processes >= 0 && apply_processes(l, limits->processes, &listed) < 0) ||
        (limits->cpu_ms >= 0 && apply_cpu(l, &listed) < 0) ||
        (limits->file_bytes >= 0 && apply_file_size(l, limits->file_bytes, &listed) < 0))
        return -1;
    l->active =
        l->memory != MECHANISM_NONE || l->cpu != MECHANISM_NONE || l->processes != MECHANISM_NONE;
    return 0;
}

void limiter_report(const limiter_t *l, helper_line_t *out) {
    *out = (helper_line_t){
        .kind = NOTICE_ENFORCED, .a = l->memory, .b = l->cpu, .c = l->processes, .d = l->file_size};
}

/* Whether the counter `key` of a cgroup events file is above zero. */
static int event_seen(const char *cgroup, const char *file, const char *key) {
    int64_t count;
    return cgroup_read_value(cgroup, file, key, &count) == 0 && count > 0;
}

int limiter_check(limiter_t *l) {
    if (!l->active)
        return 0;
    if (l->memory == MECHANISM_CGROUP && event_seen(l->cgroup, "memory.events", "oom_kill"))
        return LIMIT_MEMORY;
    if (l->processes == MECHANISM_CGROUP && event_seen(l->cgroup, "pids.events", "max"))
        return LIMIT_PROCESSES;
    int64_t cpu_us;
    if (l->cpu == MECHANISM_CGROUP &&
        cgroup_read_value(l->cgroup, "cpu.stat", "usage_usec", &cpu_us) == 0 &&
        cpu_us - l->cpu_base_us > l->limits.cpu_ms * 1000)
        return LIMIT_CPU;
    if (l->memory != MECHANISM_SAMPLING && l->processes != MECHANISM_SAMPLING &&
        l->cpu != MECHANISM_SAMPLING)
        return 0;
    usage_t u;
    if (list_members(l) < 0)
        return 0; /* /proc unreadable for an instant: the next sample decides */
    measure_members(l, &u);
    if (u.rss_bytes > l->peak_rss_bytes)
        l->peak_rss_bytes = u.rss_bytes;
    if (l->memory == MECHANISM_SAMPLING && u.rss_bytes > l->limits.memory_bytes)
        return LIMIT_MEMORY;
    if (l->processes == MECHANISM_SAMPLING &&
        (int64_t)l->members.len > l->processes_base + l->limits.processes)
        return LIMIT_PROCESSES;
    if (l->cpu == MECHANISM_SAMPLING && u.cpu_us - l->cpu_base_us > l->limits.cpu_ms * 1000)
        return LIMIT_CPU;
    return 0;
}
