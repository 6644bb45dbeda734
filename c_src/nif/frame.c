#include "frame.h"

#include <stdlib.h>
#include <string.h>

#define FIRST_ALLOC 256

void frame_reader_init(frame_reader_t *r, uint32_t max_length) {
    memset(r, 0, sizeof *r);
    r->max_length = max_length;
}

void frame_reader_free(frame_reader_t *r) {
    free(r->payload);
    frame_reader_init(r, r->max_length);
}

static int grow(frame_reader_t *r, size_t want) {
    if (want <= r->cap)
        return 0;
    size_t cap = r->cap ? r->cap : FIRST_ALLOC;
    while (cap < want)
        cap *= 2;
    if (cap > r->length)
        cap = r->length;
    uint8_t *p = realloc(r->payload, cap);
    if (!p)
        return -1;
    r->payload = p;
    r->cap = cap;
    return 0;
}

frame_status_t frame_feed(frame_reader_t *r, const uint8_t *data, size_t n, size_t *consumed) {
    size_t used = 0;
    if (r->status != FRAME_NEED_MORE)
        goto out;
    while (r->header_len < 4 && used < n) {
        r->header[r->header_len++] = data[used++];
        if (r->header_len == 4) {
            r->length = (uint32_t)r->header[0] << 24 | (uint32_t)r->header[1] << 16 |
                        (uint32_t)r->header[2] << 8 | (uint32_t)r->header[3];
            if (r->length > r->max_length) {
                r->status = FRAME_TOO_LARGE;
                goto out;
            }
        }
    }
    if (r->header_len < 4)
        goto out;
    size_t take = n - used;
    if (take > r->length - r->have)
        take = r->length - r->have;
    if (take > 0) {
        if (grow(r, r->have + take) < 0) {
            r->status = FRAME_NO_MEMORY;
            goto out;
        }
        memcpy(r->payload + r->have, data + used, take);
        r->have += take;
        used += take;
    }
    if (r->have == r->length)
        r->status = FRAME_READY;
out:
    *consumed = used;
    return r->status;
}

uint8_t *frame_take(frame_reader_t *r, size_t *len) {
    uint8_t *payload = r->payload;
    *len = r->have;
    if (*len == 0) {
        free(payload);
        payload = NULL;
    }
    uint32_t max_length = r->max_length;
    frame_reader_init(r, max_length);
    return payload;
}

void frame_header(uint32_t len, uint8_t out[4]) {
    out[0] = (uint8_t)(len >> 24);
    out[1] = (uint8_t)(len >> 16);
    out[2] = (uint8_t)(len >> 8);
    out[3] = (uint8_t)len;
}
