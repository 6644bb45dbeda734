/* The pipes to and from the helper (lines in common/status.h): its reports
 * in, as events and facts; the "limits" and "booted" orders out. Closing the control pipe
 * (run.c) is the order to kill the tree. */
#include "run.h"

#include "common/fdio.h"
#include "common/protocol.h"

#include <errno.h>

/* Takes in one report. Returns -1 if the helper said what it must not. */
static int handle_report(run_t *r, const helper_line_t *m, int64_t now) {
    switch (m->kind) {
    case NOTICE_ENFORCED:
        r->enforced_by[0] = m->a;
        r->enforced_by[1] = m->b;
        r->enforced_by[2] = m->c;
        r->enforced_by[3] = m->d;
        return run_event(r, EV_ENFORCED, 0, 0, now);
    case NOTICE_BREACH:
        /* What is in the pipe now was printed before the verdict. */
        capture_drain(r, now);
        return run_event(r, EV_BREACH, m->a, 0, now);
    case NOTICE_NETWORK:
        if (m->a != SANDBOX_NETNS_PLAIN && m->a != SANDBOX_NETNS_USER)
            return -1;
        r->network_kind = m->a;
        return 0;
    case NOTICE_EXIT:
        r->wait_status = (int)m->a;
        return run_event(r, EV_EXIT_STATUS, 0, 0, now);
    case NOTICE_DONE:
        r->done = 1;
        r->cpu_us = m->a + m->b;
        r->max_rss_kb = m->c;
        return 0;
    case NOTICE_FAIL:
        r->fail_stage = m->a;
        r->fail_errno = m->b;
        return 0;
    default:
        return -1; /* an order, not a report */
    }
}

void helper_link_read(run_t *r, int64_t now) {
    char *chunk = (char *)r->scratch->read;
    ssize_t n = fdio_read(r->fds.notices, chunk, r->scratch->len);
    if (n < 0 && errno == EAGAIN)
        return;
    if (n <= 0) {
        /* The helper has exited: the tree is gone with it. */
        run_close(r, WATCH_NOTICES);
        run_event(r, EV_NOTICES_EOF, 0, 0, now);
        return;
    }
    size_t offset = 0;
    while (offset < (size_t)n) {
        size_t used;
        helper_line_t m;
        int got = helper_line_feed(&r->lines, chunk + offset, (size_t)n - offset, &used, &m);
        offset += used;
        if (got > 0 && handle_report(r, &m, now) < 0)
            got = -1;
        if (got < 0) {
            /* Our own helper talking nonsense: stop listening, kill. */
            run_close(r, WATCH_NOTICES);
            run_event(r, EV_HELPER_BROKE, 0, 0, now);
            return;
        }
        if (got == 0)
            break;
    }
}

/* A short line into an empty pipe: it goes whole or the helper is gone. */
void helper_link_send_limits(run_t *r, int64_t now) {
    const int64_t *l = r->terms.resource_limits;
    helper_line_t order = {.kind = ORDER_LIMITS, .a = l[0], .b = l[1], .c = l[2], .d = l[3]};
    char line[HELPER_LINE_MAX];
    size_t len = helper_line_format(&order, line, sizeof line);
    if (len == 0 || r->fds.orders < 0 || fdio_write_some(r->fds.orders, line, len) != (ssize_t)len)
        run_event(r, EV_PEER_LOST, 0, 0, now);
}

/* Unanswered, and a write that fails is let go: a helper that is gone is
 * noticed by its notices pipe's EOF. */
void helper_link_send_booted(run_t *r) {
    helper_line_t order = {.kind = ORDER_BOOTED, .a = r->os_pid};
    char line[HELPER_LINE_MAX];
    size_t len = helper_line_format(&order, line, sizeof line);
    if (len > 0 && r->fds.orders >= 0)
        (void)fdio_write_some(r->fds.orders, line, len);
}
