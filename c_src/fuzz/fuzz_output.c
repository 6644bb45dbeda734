/* libFuzzer: capture under a limit the input chooses, appended in chunks,
 * then rendered. The rendering must have exactly the size announced, keep
 * at most the limit, cut at most an incomplete tail (valid UTF-8 stays
 * valid), and format the counts as the reference does. */
#include "nif/output.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* A plain UTF-8 validator (RFC 3629), independent of output.c. */
static int valid_utf8(const uint8_t *s, size_t n) {
    size_t i = 0;
    while (i < n) {
        uint8_t c = s[i];
        size_t len = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 0;
        if (len == 0 || i + len > n)
            return 0;
        uint32_t cp = len == 1 ? c : c & (0x7f >> len);
        for (size_t k = 1; k < len; k++) {
            if ((s[i + k] & 0xc0) != 0x80)
                return 0;
            cp = cp << 6 | (s[i + k] & 0x3f);
        }
        static const uint32_t least[] = {0, 0, 0x80, 0x800, 0x10000};
        if (cp < least[len] || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
            return 0;
        i += len;
    }
    return 1;
}

static uint64_t read_u64(const uint8_t *p) {
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v = v << 8 | p[i];
    return v;
}

/* The reference: Float.round(bytes / unit, 1), half-up on the exact value,
 * recomputed here with long double (exact for these magnitudes). */
static void check_bytes(uint64_t bytes) {
    char out[OUTPUT_BYTES_MAX];
    size_t len = output_format_bytes(bytes, out);
    if (len == 0 || len >= OUTPUT_BYTES_MAX || strlen(out) != len)
        abort();
    if (bytes < 1024) {
        if (strtoull(out, NULL, 10) != bytes || out[len - 1] != 'B' || out[len - 2] == 'K')
            abort();
        return;
    }
    long double unit = bytes < 1048576 ? 1024.0L : 1048576.0L;
    long double value = (long double)(double)bytes / unit;
    long double tenths = value * 10.0L;
    uint64_t expected = (uint64_t)tenths;
    if (tenths - (long double)expected >= 0.5L)
        expected++;
    char *dot = strchr(out, '.');
    if (!dot)
        abort();
    uint64_t shown = strtoull(out, NULL, 10) * 10 + (uint64_t)(dot[1] - '0');
    if (shown != expected)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 10)
        return 0;
    check_bytes(read_u64(data));
    uint64_t limit = data[8] == 0xff ? OUTPUT_UNLIMITED : (uint64_t)data[8] * 3;
    size_t chunk = (size_t)data[9] % 13 + 1;
    data += 10;
    size -= 10;

    output_t o;
    output_init(&o, limit);
    for (size_t offset = 0; offset < size; offset += chunk) {
        size_t n = size - offset < chunk ? size - offset : chunk;
        if (output_append(&o, data + offset, n) < 0)
            abort();
    }
    if (o.total != size || o.len > limit || o.cap > limit)
        abort();
    size_t rendered_size = output_rendered_size(&o);
    uint8_t *rendered = malloc(rendered_size + 1);
    if (!rendered)
        abort();
    output_render(&o, rendered);
    if ((uint64_t)size <= limit) {
        if (rendered_size != size || memcmp(rendered, data, size) != 0)
            abort();
    } else {
        size_t kept = output_utf8_prefix(data, (size_t)limit);
        if (kept > limit || kept + 3 < limit || memcmp(rendered, data, kept) != 0 ||
            memcmp(rendered + kept, "\n...(truncated, showing first ", 30) != 0)
            abort();
        /* Valid UTF-8 in, valid UTF-8 kept: the cut never splits a character. */
        if (valid_utf8(data, size) && !valid_utf8(rendered, kept))
            abort();
    }
    free(rendered);
    output_free(&o);
    return 0;
}
