#include "pids.h"

#include "decimal.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>

void pids_init(pids_t *l) {
    l->items = NULL;
    l->len = 0;
    l->cap = 0;
}

void pids_free(pids_t *l) {
    free(l->items);
    pids_init(l);
}

void pids_clear(pids_t *l) { l->len = 0; }

int pids_push(pids_t *l, pid_t pid) {
    if (l->len == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 16;
        pid_t *items = realloc(l->items, cap * sizeof *items);
        if (!items) {
            errno = ENOMEM;
            return -1;
        }
        l->items = items;
        l->cap = cap;
    }
    l->items[l->len++] = pid;
    return 0;
}

pid_t pids_parse(const char *text, size_t len) {
    const char *p = text;
    int64_t value;
    if (len > 10 || decimal_parse(&p, text + len, INT32_MAX, &value) < 0 || p != text + len)
        return 0;
    return (pid_t)value;
}

int pids_parse_lines(pids_t *l, const char *text, size_t len) {
    size_t start = 0;
    for (size_t i = 0; i <= len; i++) {
        if (i < len && text[i] != '\n')
            continue;
        if (i > start) {
            pid_t pid = pids_parse(text + start, i - start);
            if (pid == 0) {
                errno = EINVAL;
                return -1;
            }
            if (pids_push(l, pid) < 0)
                return -1;
        }
        start = i + 1;
    }
    return 0;
}
