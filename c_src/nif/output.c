#include "output.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MIN_ALLOC 4096

void output_init(output_t *o, uint64_t limit) {
    memset(o, 0, sizeof *o);
    o->limit = limit;
}

void output_free(output_t *o) {
    free(o->buf);
    output_init(o, o->limit);
}

void output_reset(output_t *o, uint64_t limit) {
    if (o->cap > limit) {
        free(o->buf);
        o->buf = NULL;
        o->cap = 0;
    }
    o->len = 0;
    o->total = 0;
    o->limit = limit;
}

static int reserve(output_t *o, size_t want) {
    if (want <= o->cap)
        return 0;
    size_t cap = o->cap ? o->cap : MIN_ALLOC;
    while (cap < want)
        cap = cap > SIZE_MAX / 2 ? want : cap * 2;
    /* Never allocate past the limit: a flood must not grow the host. */
    if ((uint64_t)cap > o->limit)
        cap = (size_t)o->limit;
    uint8_t *p = realloc(o->buf, cap);
    if (!p)
        return -1;
    o->buf = p;
    o->cap = cap;
    return 0;
}

void output_count(output_t *o, uint64_t n) {
    o->total = (o->total > UINT64_MAX - n) ? UINT64_MAX : o->total + n;
}

int output_append(output_t *o, const uint8_t *data, size_t n) {
    output_count(o, n);
    uint64_t room = o->limit - o->len;
    size_t keep = (uint64_t)n < room ? n : (size_t)room;
    if (keep == 0)
        return 0;
    if (reserve(o, o->len + keep) < 0)
        return -1;
    memcpy(o->buf + o->len, data, keep);
    o->len += keep;
    return 0;
}

static size_t utf8_sequence_length(uint8_t lead) {
    if ((lead & 0xE0) == 0xC0)
        return 2;
    if ((lead & 0xF0) == 0xE0)
        return 3;
    if ((lead & 0xF8) == 0xF0)
        return 4;
    return 0; /* ASCII, a continuation byte, or not a UTF-8 lead at all */
}

size_t output_utf8_prefix(const uint8_t *s, size_t n) {
    size_t i = n;
    size_t continuations = 0;
    while (i > 0 && continuations < 3 && (s[i - 1] & 0xC0) == 0x80) {
        i--;
        continuations++;
    }
    if (i == 0)
        return n;
    size_t need = utf8_sequence_length(s[i - 1]);
    if (need > 0 && continuations + 1 < need)
        return i - 1;
    return n;
}

size_t output_format_bytes(uint64_t bytes, char out[OUTPUT_BYTES_MAX]) {
    int n;
    if (bytes < 1024) {
        n = snprintf(out, OUTPUT_BYTES_MAX, "%lluB", (unsigned long long)bytes);
    } else {
        /* The reference computes bytes / 1024 (or / 1048576) as a float and
         * rounds half-up on its exact value. Dividing by a power of two is
         * exact, so integer arithmetic on the float's value gives the same
         * tenths; only the int -> float conversion rounds (above 2^53). */
        unsigned shift = bytes < 1048576 ? 10 : 20;
        const char *unit = shift == 10 ? "KB" : "MB";
        double as_float = (double)bytes;
        uint64_t whole, rest;
        if (as_float >= 0x1p64) {
            whole = UINT64_C(1) << (64 - shift);
            rest = 0;
        } else {
            uint64_t value = (uint64_t)as_float;
            whole = value >> shift;
            rest = value & ((UINT64_C(1) << shift) - 1);
        }
        uint64_t tenths = whole * 10 + ((rest * 10 + (UINT64_C(1) << (shift - 1))) >> shift);
        n = snprintf(out, OUTPUT_BYTES_MAX, "%llu.%llu%s", (unsigned long long)(tenths / 10),
                     (unsigned long long)(tenths % 10), unit);
    }
    return n < 0 ? 0 : (size_t)n;
}

static const char TRUNCATED_PREFIX[] = "\n...(truncated, showing first ";
static const char TRUNCATED_MIDDLE[] = " of ";
static const char TRUNCATED_SUFFIX[] = ")";

static int truncated(const output_t *o) { return o->total > o->limit; }

size_t output_rendered_size(const output_t *o) {
    if (!truncated(o))
        return o->len;
    char shown[OUTPUT_BYTES_MAX], total[OUTPUT_BYTES_MAX];
    return output_utf8_prefix(o->buf, o->len) + sizeof TRUNCATED_PREFIX - 1 +
           output_format_bytes(o->limit, shown) + sizeof TRUNCATED_MIDDLE - 1 +
           output_format_bytes(o->total, total) + sizeof TRUNCATED_SUFFIX - 1;
}

static uint8_t *put(uint8_t *out, const void *src, size_t n) {
    if (n > 0)
        memcpy(out, src, n);
    return out + n;
}

void output_render(const output_t *o, uint8_t *out) {
    if (!truncated(o)) {
        put(out, o->buf, o->len);
        return;
    }
    char shown[OUTPUT_BYTES_MAX], total[OUTPUT_BYTES_MAX];
    size_t shown_len = output_format_bytes(o->limit, shown);
    size_t total_len = output_format_bytes(o->total, total);
    out = put(out, o->buf, output_utf8_prefix(o->buf, o->len));
    out = put(out, TRUNCATED_PREFIX, sizeof TRUNCATED_PREFIX - 1);
    out = put(out, shown, shown_len);
    out = put(out, TRUNCATED_MIDDLE, sizeof TRUNCATED_MIDDLE - 1);
    out = put(out, total, total_len);
    put(out, TRUNCATED_SUFFIX, sizeof TRUNCATED_SUFFIX - 1);
}
