/* Capped output capture: keeps at most `limit` bytes, counts everything, and
 * renders the reference's truncation line with a UTF-8-safe cut. */
#ifndef SANDBOX_OUTPUT_H
#define SANDBOX_OUTPUT_H

#include <stddef.h>
#include <stdint.h>

#define OUTPUT_UNLIMITED UINT64_MAX

typedef struct {
    uint8_t *buf;
    size_t len;     /* bytes kept */
    size_t cap;     /* bytes allocated */
    uint64_t limit; /* bytes to keep at most, or OUTPUT_UNLIMITED */
    uint64_t total; /* bytes seen, kept or not */
} output_t;

void output_init(output_t *o, uint64_t limit);
void output_free(output_t *o);

/* Forgets what was captured and starts again under a new limit; keeps the
 * allocation when it is no larger than the new limit needs. */
void output_reset(output_t *o, uint64_t limit);

/* Counts n bytes and keeps those that fit under the limit. Returns 0, or -1
 * when memory for kept bytes cannot be had (the bytes are still counted). */
int output_append(output_t *o, const uint8_t *data, size_t n);

/* Counts n bytes that were printed but never seen (the peer counted them
 * past the cap rather than writing them). */
void output_count(output_t *o, uint64_t n);

/* Length of the longest prefix of s[0..n) that does not end inside an
 * incomplete UTF-8 sequence. Only a truncated tail is cut: bytes that are
 * invalid UTF-8 for other reasons are kept as they are. */
size_t output_utf8_prefix(const uint8_t *s, size_t n);

/* Formats a byte count as the reference does: "123B" below 1024, then KB and
 * MB with one decimal rounded half-up on the exact value ("1.3KB" for 1280,
 * "1024.0KB" for 1048575). Writes a NUL-terminated string and returns its
 * length; OUTPUT_BYTES_MAX is enough for any count. */
#define OUTPUT_BYTES_MAX 32
size_t output_format_bytes(uint64_t bytes, char out[OUTPUT_BYTES_MAX]);

/* Size in bytes of the rendered output: the kept bytes, or, past the limit,
 * the kept bytes cut to whole characters plus the truncation line. */
size_t output_rendered_size(const output_t *o);

/* Writes exactly output_rendered_size(o) bytes to out. */
void output_render(const output_t *o, uint8_t *out);

#endif
