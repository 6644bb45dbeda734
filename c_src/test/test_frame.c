#include "nif/frame.h"

#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

static size_t encode(const char *payload, uint8_t *out) {
    size_t len = strlen(payload);
    frame_header((uint32_t)len, out);
    memcpy(out + 4, payload, len);
    return len + 4;
}

Test(frame, header_is_big_endian) {
    uint8_t h[4];
    frame_header(0x01020304, h);
    cr_assert(h[0] == 1 && h[1] == 2 && h[2] == 3 && h[3] == 4);
}

Test(frame, decodes_a_frame_fed_byte_by_byte) {
    uint8_t wire[64];
    size_t n = encode("Rhello", wire);
    frame_reader_t r;
    frame_reader_init(&r, 1024);
    for (size_t i = 0; i < n; i++) {
        size_t used;
        frame_status_t st = frame_feed(&r, wire + i, 1, &used);
        cr_assert_eq(used, 1);
        cr_assert_eq(st, i + 1 == n ? FRAME_READY : FRAME_NEED_MORE, "at byte %zu", i);
    }
    size_t len;
    uint8_t *p = frame_take(&r, &len);
    cr_assert_eq(len, 6);
    cr_assert(memcmp(p, "Rhello", 6) == 0);
    free(p);
    frame_reader_free(&r);
}

Test(frame, splits_several_frames_from_one_buffer) {
    uint8_t wire[64];
    size_t n = encode("S", wire);
    n += encode("C", wire + n);
    n += encode("Rxy", wire + n);
    const char *expected[] = {"S", "C", "Rxy"};
    frame_reader_t r;
    frame_reader_init(&r, 1024);
    size_t offset = 0;
    for (int k = 0; k < 3; k++) {
        size_t used;
        cr_assert_eq(frame_feed(&r, wire + offset, n - offset, &used), FRAME_READY);
        offset += used;
        size_t len;
        uint8_t *p = frame_take(&r, &len);
        cr_assert_eq(len, strlen(expected[k]));
        cr_assert(memcmp(p, expected[k], len) == 0);
        free(p);
    }
    cr_assert_eq(offset, n);
    frame_reader_free(&r);
}

Test(frame, empty_frame_is_ready_with_no_payload) {
    uint8_t wire[4] = {0, 0, 0, 0};
    frame_reader_t r;
    frame_reader_init(&r, 16);
    size_t used, len;
    cr_assert_eq(frame_feed(&r, wire, 4, &used), FRAME_READY);
    cr_assert_null(frame_take(&r, &len));
    cr_assert_eq(len, 0);
    frame_reader_free(&r);
}

Test(frame, refuses_a_length_over_the_limit_for_good) {
    uint8_t wire[4] = {0xff, 0xff, 0xff, 0xff}; /* 4 GB announced */
    frame_reader_t r;
    frame_reader_init(&r, 1 << 20);
    size_t used;
    cr_assert_eq(frame_feed(&r, wire, 4, &used), FRAME_TOO_LARGE);
    cr_assert_null(r.payload, "nothing allocated for an unbacked length");
    cr_assert_eq(frame_feed(&r, (const uint8_t *)"more", 4, &used), FRAME_TOO_LARGE);
    cr_assert_eq(used, 0);
    frame_reader_free(&r);
}

Test(frame, allocates_only_what_has_arrived) {
    uint8_t wire[4 + 10];
    frame_header(1 << 20, wire); /* 1 MB announced, 10 bytes sent */
    memset(wire + 4, 'x', 10);
    frame_reader_t r;
    frame_reader_init(&r, 1 << 20);
    size_t used;
    cr_assert_eq(frame_feed(&r, wire, sizeof wire, &used), FRAME_NEED_MORE);
    cr_assert_eq(used, sizeof wire);
    cr_assert_leq(r.cap, 1024, "grew to %zu for 10 bytes", r.cap);
    frame_reader_free(&r);
}

Test(frame, large_frame_in_chunks) {
    const size_t size = 300000;
    uint8_t *wire = malloc(size + 4);
    cr_assert_not_null(wire);
    frame_header((uint32_t)size, wire);
    for (size_t i = 0; i < size; i++)
        wire[4 + i] = (uint8_t)(i * 7);
    frame_reader_t r;
    frame_reader_init(&r, 1 << 20);
    size_t offset = 0, used;
    frame_status_t st = FRAME_NEED_MORE;
    while (st == FRAME_NEED_MORE) {
        size_t chunk = size + 4 - offset < 4096 ? size + 4 - offset : 4096;
        st = frame_feed(&r, wire + offset, chunk, &used);
        offset += used;
    }
    cr_assert_eq(st, FRAME_READY);
    size_t len;
    uint8_t *p = frame_take(&r, &len);
    cr_assert_eq(len, size);
    cr_assert(memcmp(p, wire + 4, size) == 0);
    free(p);
    free(wire);
    frame_reader_free(&r);
}
