#include "common/helper_line.h"

#include "helper/netns.h"

#include <criterion/criterion.h>
#include <string.h>

Test(helper_line, formats_and_parses_each_kind) {
    const helper_line_t messages[] = {
        {NOTICE_EXIT, 9, 0, 0, 0},
        {NOTICE_DONE, 1500000, 250000, 65536, 0},
        {NOTICE_FAIL, STAGE_FORK, 11, 0, 0},
        {NOTICE_ENFORCED, MECHANISM_CGROUP, MECHANISM_SAMPLING, MECHANISM_NONE, MECHANISM_RLIMIT},
        {NOTICE_BREACH, LIMIT_CPU, 0, 0, 0},
        {NOTICE_NETWORK, NETNS_USER, 0, 0, 0},
        {ORDER_LIMITS, INT64_C(1) << 40, -1, 12, 0},
        {ORDER_BOOTED, 2, 0, 0, 0},
    };
    for (size_t i = 0; i < sizeof messages / sizeof messages[0]; i++) {
        char line[HELPER_LINE_MAX];
        size_t n = helper_line_format(&messages[i], line, sizeof line);
        cr_assert_gt(n, 0);
        cr_assert_eq(line[n - 1], '\n');
        helper_line_t back;
        cr_assert_eq(helper_line_parse(line, n - 1, &back), 0, "line %s", line);
        cr_assert_eq(back.kind, messages[i].kind);
        cr_assert_eq(back.a, messages[i].a);
        cr_assert_eq(back.b, messages[i].b);
        cr_assert_eq(back.c, messages[i].c);
        cr_assert_eq(back.d, messages[i].d);
    }
}

Test(helper_line, rejects_malformed_lines) {
    const char *bad[] = {
        "",        "peer",     "peer ",     "peer x",       "peer 1 2",
        "exit -",  "done 1 2", "nope 1",    "peer  1",      "peer 99999999999999999999",
        "peerx 1", "fail 1",   "kill 1",    "limits 1 2 3", "breach",
        "killx",   "limit 1",  "network",   "network 1 2",  "booted",
        "booted ", "bootedx",  "booted 1 2"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        helper_line_t m;
        cr_assert_eq(helper_line_parse(bad[i], strlen(bad[i]), &m), -1, "accepted \"%s\"", bad[i]);
    }
}

Test(helper_line, reader_splits_lines_across_reads) {
    const char *stream = "breach 3\nexi";
    const char *rest = "t 256\n";
    helper_line_reader_t r;
    helper_line_reader_init(&r);
    helper_line_t m;
    size_t used;
    cr_assert_eq(helper_line_feed(&r, stream, strlen(stream), &used, &m), 1);
    cr_assert_eq(m.kind, NOTICE_BREACH);
    cr_assert_eq(m.a, LIMIT_PROCESSES);
    cr_assert_eq(helper_line_feed(&r, stream + used, strlen(stream) - used, &used, &m), 0);
    cr_assert_eq(helper_line_feed(&r, rest, strlen(rest), &used, &m), 1);
    cr_assert_eq(m.kind, NOTICE_EXIT);
    cr_assert_eq(m.a, 256);
}

Test(helper_line, reader_refuses_an_overlong_line) {
    char junk[HELPER_LINE_MAX * 2];
    memset(junk, 'a', sizeof junk);
    helper_line_reader_t r;
    helper_line_reader_init(&r);
    helper_line_t m;
    size_t used;
    cr_assert_eq(helper_line_feed(&r, junk, sizeof junk, &used, &m), -1);
    cr_assert_eq(helper_line_feed(&r, "peer 1\n", 7, &used, &m), -1, "stays refused");
}
