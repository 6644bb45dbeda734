/* The output pipe: what the peer and everything it starts print, kept
 * capped (output.c), streamed to the owner when asked, and counted against
 * :output_limit once it is the code's. */
#include "run.h"

#include "deadline.h"

#include "common/fdio.h"
#include "common/unwritten.h"

#include <errno.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>

/* Reads per readiness event, so one flooding run cannot starve the rest. */
#define READS_PER_EVENT 16

/* How long the pipe is left alone once emptied. A peer printing line by
 * line would otherwise wake this thread at every write(2), and each
 * wake-up cost both sides more than the write itself (a flood of short
 * lines spent most of its time there). Meanwhile the peer's lines pile up
 * in the pipe (1 MB) and are read together. What is printed after a quiet
 * moment is read at once; a stream's chunks come at most this much later
 * than they were printed. The answer and a deadline still take
 * everything in the pipe first (capture_drain). */
#define PACE_NS INT64_C(1000000)

/* {sandbox_output, Ref, Chunk}: the code's output as it is read, whole
 * (the cap applies only to what the answer holds), before the answer. */
static void stream(run_t *r, const uint8_t *data, size_t len) {
    ErlNifEnv *env = enif_alloc_env();
    if (!env)
        return;
    ERL_NIF_TERM chunk;
    uint8_t *p = enif_make_new_binary(env, len, &chunk);
    if (p)
        memcpy(p, data, len);
    ERL_NIF_TERM msg =
        enif_make_tuple3(env, r->atoms->sandbox_output, enif_make_copy(env, r->ref), chunk);
    (void)enif_send(NULL, &r->terms.stream_to, env, msg);
    enif_free_env(env);
}

/* The code's output so far, what its VM counted unwritten included,
 * against :output_limit. */
static void check_limit(run_t *r, int64_t now) {
    capture_count_unwritten(r);
    if (r->terms.output_limit != OUTPUT_UNLIMITED && r->output.total > r->terms.output_limit)
        run_event(r, EV_OUTPUT_LIMIT, 0, 0, now);
}

static void keep(run_t *r, const uint8_t *data, size_t len, int64_t now) {
    if (run_fsm_answered(&r->fsm))
        return;
    (void)output_append(&r->output, data, len); /* counted even if not kept */
    if (!run_fsm_capturing_code(&r->fsm))
        return; /* the boot's or the setup's */
    if (r->terms.stream)
        stream(r, data, len);
    check_limit(r, now);
}

/* Leaves the pipe alone until PACE_NS from now. */
static void pace(run_t *r, int64_t now) {
    run_unwatch(r, WATCH_OUTPUT);
    r->output_resume_at = now + PACE_NS;
}

void capture_read(run_t *r, int64_t now) {
    const scratch_t *s = r->scratch;
    for (int i = 0; i < READS_PER_EVENT && r->fds.output >= 0; i++) {
        ssize_t n = fdio_read(r->fds.output, s->read, s->len);
        if (n > 0) {
            keep(r, s->read, (size_t)n, now);
            if ((size_t)n == s->len)
                continue;
            /* Less than asked for: the pipe is empty, and reading again
             * now would take the peer's next line alone. */
            if (r->fds.output >= 0)
                pace(r, now);
            return;
        }
        if (n < 0 && errno == EAGAIN)
            return;
        run_close(r, WATCH_OUTPUT);
        run_event(r, EV_OUTPUT_EOF, 0, 0, now); /* the whole tree is gone */
        return;
    }
}

void capture_resume(run_t *r, int64_t now) {
    if (!deadline_passed(now, r->output_resume_at))
        return;
    r->output_resume_at = DEADLINE_NEVER;
    if (r->fds.output >= 0)
        run_watch(r, WATCH_OUTPUT, EPOLLIN);
}

/* Reads what the output pipe holds right now, no more: at a deadline the
 * peer may still be flooding it. */
void capture_drain(run_t *r, int64_t now) {
    int available = 0;
    if (r->fds.output >= 0 && ioctl(r->fds.output, FIONREAD, &available) < 0)
        available = 0;
    size_t left = (size_t)available;
    const scratch_t *s = r->scratch;
    while (left > 0) {
        ssize_t n = fdio_read(r->fds.output, s->drain, left < s->len ? left : s->len);
        if (n <= 0)
            break;
        keep(r, s->drain, (size_t)n, now);
        left -= (size_t)n;
    }
    /* The peer's count too: it may have printed past the limit unwritten
     * since its last write. */
    if (run_fsm_capturing_code(&r->fsm))
        check_limit(r, now);
}

/* Capture begins: what the boot and the setup printed goes. The pipe was
 * drained just before: with the 'C' frame, or for an early capture
 * (run_fsm.h) with the submit or the 'B' frame, when all it held was
 * printed while the VM booted or waited. */
void capture_begin(run_t *r) { output_reset(&r->output, r->terms.max_output); }

void capture_count_unwritten(run_t *r) {
    uint64_t count;
    /* A count that went down is a peer's lie: only what it adds counts. */
    if (r->fds.unwritten < 0 || unwritten_read(r->fds.unwritten, &count) < 0 ||
        count <= r->unwritten_seen)
        return;
    output_count(&r->output, count - r->unwritten_seen);
    r->unwritten_seen = count;
}
