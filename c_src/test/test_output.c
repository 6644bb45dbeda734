#include "nif/output.h"

#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

/* Renders o and checks it against expected, bytes and length. */
static void assert_renders(const output_t *o, const char *expected) {
    size_t len = output_rendered_size(o);
    char *s = malloc(len + 1);
    cr_assert_not_null(s);
    output_render(o, (uint8_t *)s);
    s[len] = '\0';
    cr_assert_eq(len, strlen(expected), "rendered %zu bytes: %s", len, s);
    cr_assert_str_eq(s, expected);
    free(s);
}

static void append_text(output_t *o, const char *text) {
    cr_assert_eq(output_append(o, (const uint8_t *)text, strlen(text)), 0);
}

Test(output, keeps_everything_under_the_limit) {
    output_t o;
    output_init(&o, 10);
    append_text(&o, "hello");
    append_text(&o, "world");
    assert_renders(&o, "helloworld");
    cr_assert_eq(o.total, 10);
    output_free(&o);
}

Test(output, keeps_at_most_the_limit_but_counts_all) {
    output_t o;
    output_init(&o, 4);
    for (int i = 0; i < 1000; i++)
        append_text(&o, "abcdefgh");
    cr_assert_eq(o.len, 4);
    cr_assert_leq(o.cap, 4, "never allocates past the limit");
    cr_assert_eq(o.total, 8000);
    assert_renders(&o, "abcd\n...(truncated, showing first 4B of 7.8KB)");
    output_free(&o);
}

Test(output, zero_limit_shows_only_the_line) {
    output_t o;
    output_init(&o, 0);
    append_text(&o, "abc");
    assert_renders(&o, "\n...(truncated, showing first 0B of 3B)");
    output_free(&o);
}

Test(output, unlimited_keeps_all) {
    output_t o;
    output_init(&o, OUTPUT_UNLIMITED);
    char block[1000];
    memset(block, 'x', sizeof block);
    for (int i = 0; i < 100; i++)
        cr_assert_eq(output_append(&o, (const uint8_t *)block, sizeof block), 0);
    cr_assert_eq(output_rendered_size(&o), 100000);
    output_free(&o);
}

Test(output, exactly_at_the_limit_is_not_truncated) {
    output_t o;
    output_init(&o, 3);
    append_text(&o, "abc");
    assert_renders(&o, "abc");
    output_free(&o);
}

Test(output, cut_keeps_whole_characters) {
    output_t o;
    output_init(&o, 5);
    append_text(&o, "\xc3\xa9\xc3\xa9\xc3\xa9"); /* "ééé": the 5th byte starts the 3rd é */
    assert_renders(&o, "\xc3\xa9\xc3\xa9\n...(truncated, showing first 5B of 6B)");
    output_free(&o);
}

Test(output, reset_forgets_and_takes_the_new_limit) {
    output_t o;
    output_init(&o, 100);
    append_text(&o, "boot noise");
    output_reset(&o, 3);
    append_text(&o, "abcd");
    assert_renders(&o, "abc\n...(truncated, showing first 3B of 4B)");
    output_free(&o);
}

struct prefix_case {
    const char *bytes;
    size_t len;
    size_t expected;
};

Test(output, utf8_prefix_cuts_only_an_incomplete_tail) {
    const struct prefix_case cases[] = {
        {"", 0, 0},
        {"abc", 3, 3},
        {"a\xc3", 2, 1},             /* 2-byte sequence missing 1 */
        {"a\xc3\xa9", 3, 3},         /* complete é */
        {"a\xe2\x82", 3, 1},         /* € missing 1 */
        {"a\xe2", 2, 1},             /* € missing 2 */
        {"a\xe2\x82\xac", 4, 4},     /* complete € */
        {"a\xf0\x9f\x98", 4, 1},     /* 😀 missing 1 */
        {"a\xf0\x9f\x98\x80", 5, 5}, /* complete 😀 */
        {"a\xf0", 2, 1},             /* 4-byte lead alone */
        {"a\x80", 2, 2},             /* stray continuation: left alone */
        {"\x80\x80\x80\x80", 4, 4},  /* only continuations */
        {"a\xff", 2, 2},             /* not UTF-8 at all: left alone */
        {"a\xc3\xa9\xa9", 4, 4},     /* too many continuations: left alone */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        cr_assert_eq(output_utf8_prefix((const uint8_t *)cases[i].bytes, cases[i].len),
                     cases[i].expected, "case %zu", i);
}

struct bytes_case {
    uint64_t bytes;
    const char *text;
};

/* Expected texts are what the reference prints: Float.round(b / 1024, 1)
 * and Float.round(b / 1048576, 1) in Elixir 1.14, checked there. */
Test(output, byte_formatting_matches_the_reference) {
    const struct bytes_case cases[] = {
        {0, "0B"},
        {1, "1B"},
        {1023, "1023B"},
        {1024, "1.0KB"},
        {1075, "1.0KB"}, /* 1.0498... */
        {1076, "1.1KB"}, /* 1.0507... */
        {1280, "1.3KB"}, /* exactly 1.25: a tie, rounded up */
        {1331, "1.3KB"},
        {3328, "3.3KB"}, /* exactly 3.25: a tie, rounded up */
        {50000, "48.8KB"},
        {1048575, "1024.0KB"},
        {1048576, "1.0MB"},
        {1153433, "1.1MB"},
        {1310720, "1.3MB"}, /* exactly 1.25 MB: a tie, rounded up */
        {10485759, "10.0MB"},
        {UINT64_C(1099511627776), "1048576.0MB"},
        {UINT64_C(9007199254740993), "8589934592.0MB"}, /* 2^53 + 1 rounds to 2^53 as a float */
        {UINT64_C(999999999999999999), "953674316406.3MB"},
        {UINT64_MAX, "17592186044416.0MB"}, /* rounds to 2^64 as a float */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char out[OUTPUT_BYTES_MAX];
        size_t len = output_format_bytes(cases[i].bytes, out);
        cr_assert_str_eq(out, cases[i].text, "for %llu", (unsigned long long)cases[i].bytes);
        cr_assert_eq(len, strlen(cases[i].text));
    }
}

Test(output, counted_bytes_add_to_the_total_alone) {
    output_t o;
    output_init(&o, 4);
    append_text(&o, "abcdef");
    output_count(&o, 1274);
    cr_assert_eq(o.len, 4);
    assert_renders(&o, "abcd\n...(truncated, showing first 4B of 1.3KB)");
    output_count(&o, UINT64_MAX);
    cr_assert_eq(o.total, UINT64_MAX, "a count saturates rather than wraps");
    output_free(&o);
}
