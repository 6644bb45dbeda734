#include "usage.h"

#include "common/decimal.h"
#include "common/fdio.h"

#include <stdio.h>
#include <unistd.h>

/* Parses an unsigned decimal at *p, advancing it; then skips one space. */
static int field(const char **p, const char *end, int64_t *out) {
    const char *s = *p;
    if (decimal_parse(&s, end, INT64_MAX, out) < 0 || (s < end && *s != ' ' && *s != '\n'))
        return -1;
    *p = s < end ? s + 1 : s;
    return 0;
}

/* Skips one space-separated field of any text. */
static int skip(const char **p, const char *end) {
    const char *s = *p;
    while (s < end && *s != ' ')
        s++;
    if (s == end || s == *p)
        return -1;
    *p = s + 1;
    return 0;
}

int usage_parse_stat_ticks(const char *stat, size_t len, int64_t *ticks) {
    const char *close = NULL;
    for (size_t i = 0; i < len; i++)
        if (stat[i] == ')')
            close = stat + i;
    /* Fields 3 to 13 (state to cmajflt) follow ") "; 14 to 17 are the times. */
    if (!close || close + 2 > stat + len || close[1] != ' ')
        return -1;
    const char *p = close + 2, *end = stat + len;
    for (int f = 3; f <= 13; f++)
        if (skip(&p, end) < 0)
            return -1;
    int64_t total = 0;
    for (int f = 14; f <= 17; f++) {
        int64_t value;
        if (field(&p, end, &value) < 0 || value > INT64_MAX - total)
            return -1;
        total += value;
    }
    *ticks = total;
    return 0;
}

int usage_parse_statm_resident(const char *statm, size_t len, int64_t *pages) {
    const char *p = statm, *end = statm + len;
    int64_t size;
    return field(&p, end, &size) < 0 || field(&p, end, pages) < 0 ? -1 : 0;
}

/* Reads the start of a /proc file into buf; returns its length or -1. */
static ssize_t read_proc(pid_t pid, const char *name, char *buf, size_t cap) {
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/%s", (int)pid, name);
    return fdio_read_file(path, buf, cap);
}

void usage_sample(const pids_t *pids, usage_t *out) {
    long tick_hz = sysconf(_SC_CLK_TCK), page = sysconf(_SC_PAGESIZE);
    out->rss_bytes = out->cpu_us = 0;
    /* Both files stay well under this: fields are numbers, and the command
     * name in stat is at most 16 bytes. */
    char text[1024];
    for (size_t i = 0; i < pids->len; i++) {
        int64_t ticks, pages;
        ssize_t n = read_proc(pids->items[i], "stat", text, sizeof text);
        if (n < 0 || usage_parse_stat_ticks(text, (size_t)n, &ticks) < 0)
            continue;
        n = read_proc(pids->items[i], "statm", text, sizeof text);
        if (n < 0 || usage_parse_statm_resident(text, (size_t)n, &pages) < 0)
            continue;
        out->rss_bytes += pages * (page > 0 ? page : 4096);
        out->cpu_us += ticks * 1000000 / (tick_hz > 0 ? tick_hz : 100);
    }
}
