/* Incremental decoder of {packet, 4} frames (32-bit big-endian length, then
 * the payload) as the peer writes them. Memory grows only with the bytes
 * that actually arrive (a first block of 256, then at most twice what has
 * arrived), so a hostile length costs nothing until it is backed by data,
 * and a length over the limit is refused outright. */
#ifndef SANDBOX_FRAME_H
#define SANDBOX_FRAME_H

#include <stddef.h>
#include <stdint.h>

typedef enum {
    FRAME_NEED_MORE, /* every byte given was consumed; no frame is complete */
    FRAME_READY,     /* a frame is complete: take it with frame_take */
    FRAME_TOO_LARGE, /* the announced length is over the limit */
    FRAME_NO_MEMORY,
} frame_status_t;

typedef struct {
    uint8_t header[4];
    size_t header_len;
    uint32_t length; /* payload length, once the header is complete */
    uint8_t *payload;
    size_t have;
    size_t cap;
    uint32_t max_length;
    frame_status_t status;
} frame_reader_t;

void frame_reader_init(frame_reader_t *r, uint32_t max_length);
void frame_reader_free(frame_reader_t *r);

/* Consumes bytes from data until a frame completes or the bytes run out;
 * *consumed says how many were used. After FRAME_READY, call frame_take
 * before feeding more. After FRAME_TOO_LARGE or FRAME_NO_MEMORY the reader
 * is unusable: the stream cannot be resynchronised. */
frame_status_t frame_feed(frame_reader_t *r, const uint8_t *data, size_t n, size_t *consumed);

/* Hands over the completed payload (malloc'd, NULL when empty; the caller
 * frees it) and readies the reader for the next frame. */
uint8_t *frame_take(frame_reader_t *r, size_t *len);

/* Writes the 4-byte big-endian length header for a payload of len bytes. */
void frame_header(uint32_t len, uint8_t out[4]);

#endif
