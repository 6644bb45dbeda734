#include "helper_line.h"

#include "decimal.h"

#include <stdio.h>
#include <string.h>

static const struct {
    helper_line_kind_t kind;
    const char *word;
    int fields;
} KINDS[] = {
    {NOTICE_EXIT, "exit", 1},         {NOTICE_DONE, "done", 3},     {NOTICE_FAIL, "fail", 2},
    {NOTICE_ENFORCED, "enforced", 4}, {NOTICE_BREACH, "breach", 1}, {NOTICE_NETWORK, "network", 1},
    {ORDER_LIMITS, "limits", 4},      {ORDER_BOOTED, "booted", 1},
};

#define KIND_COUNT (sizeof KINDS / sizeof KINDS[0])

size_t helper_line_format(const helper_line_t *m, char *out, size_t out_len) {
    const int64_t values[4] = {m->a, m->b, m->c, m->d};
    for (size_t i = 0; i < KIND_COUNT; i++) {
        if (KINDS[i].kind != m->kind)
            continue;
        int n = snprintf(out, out_len, "%s", KINDS[i].word);
        size_t used = n < 0 ? out_len : (size_t)n;
        for (int f = 0; f < KINDS[i].fields && used < out_len; f++) {
            n = snprintf(out + used, out_len - used, " %lld", (long long)values[f]);
            used = n < 0 ? out_len : used + (size_t)n;
        }
        if (used < out_len) {
            n = snprintf(out + used, out_len - used, "\n");
            used = n < 0 ? out_len : used + (size_t)n;
        }
        return used >= out_len ? 0 : used;
    }
    return 0;
}

/* Parses an optionally negative decimal that fits in int64_t; advances *p. */
static int parse_int(const char **p, const char *end, int64_t *out) {
    int negative = *p < end && **p == '-';
    const char *s = *p + negative;
    int64_t value;
    if (decimal_parse(&s, end, INT64_MAX, &value) < 0)
        return -1;
    *out = negative ? -value : value;
    *p = s;
    return 0;
}

int helper_line_parse(const char *line, size_t len, helper_line_t *m) {
    const char *end = line + len;
    for (size_t i = 0; i < KIND_COUNT; i++) {
        size_t word_len = strlen(KINDS[i].word);
        if (len < word_len || memcmp(line, KINDS[i].word, word_len) != 0 ||
            (len > word_len && line[word_len] != ' '))
            continue;
        const char *p = line + word_len;
        int64_t values[4] = {0, 0, 0, 0};
        for (int f = 0; f < KINDS[i].fields; f++) {
            if (p == end || *p != ' ')
                return -1;
            p++;
            if (parse_int(&p, end, &values[f]) < 0)
                return -1;
        }
        if (p != end)
            return -1;
        m->kind = KINDS[i].kind;
        m->a = values[0];
        m->b = values[1];
        m->c = values[2];
        m->d = values[3];
        return 0;
    }
    return -1;
}

void helper_line_reader_init(helper_line_reader_t *r) { memset(r, 0, sizeof *r); }

int helper_line_feed(helper_line_reader_t *r, const char *data, size_t n, size_t *consumed,
                     helper_line_t *m) {
    size_t i = 0;
    if (r->overflow) {
        *consumed = 0;
        return -1;
    }
    while (i < n) {
        char c = data[i++];
        if (c == '\n') {
            size_t len = r->len;
            r->len = 0;
            *consumed = i;
            return helper_line_parse(r->line, len, m) < 0 ? -1 : 1;
        }
        if (r->len == sizeof r->line) {
            r->overflow = 1;
            *consumed = i;
            return -1;
        }
        r->line[r->len++] = c;
    }
    *consumed = i;
    return 0;
}
