#include "run_fsm.h"

#include "deadline.h"

#include "common/protocol.h"
#include "common/helper_line.h"

static void act(run_actions_t *out, run_action_t action) {
    if (out->count < RUN_ACTIONS_MAX)
        out->items[out->count++] = action;
}

/* Before the answer: the owner still waits for one. */
static int pending(const run_fsm_t *f) { return f->state < RUN_LOST; }

/* Ends the run once every pipe it reads is at EOF; a lost peer is answered
 * once its exit status and the end of its output are known. */
static void check_end(run_fsm_t *f, int64_t now, run_actions_t *out);

static void teardown(run_fsm_t *f, int64_t now, run_actions_t *out) {
    f->state = RUN_TEARDOWN;
    f->grace = deadline_after(now, SANDBOX_TEARDOWN_GRACE_MS);
    act(out, ACT_FORGET_OWNER);
    act(out, ACT_STOP_PEER);
    check_end(f, now, out);
}

static void answer(run_fsm_t *f, run_answer_t kind, int64_t now, run_actions_t *out) {
    f->answer = kind;
    f->t_answered = now;
    act(out, ACT_ANSWER);
    teardown(f, now, out);
}

/* A peer lost before it said 'S' never had the request: it failed to boot
 * (a pool's idle peer too). One killed for crossing a limit (an
 * out-of-memory kill among them) says so. */
static void answer_lost(run_fsm_t *f, int64_t now, run_actions_t *out) {
    run_answer_t kind = f->crossed   ? ANSWER_LIMIT
                        : f->started ? ANSWER_NOCONNECTION
                        : f->broke   ? ANSWER_BOOT_BROKE
                                     : ANSWER_BOOT_EXITED;
    answer(f, kind, now, out);
}

static void check_end(run_fsm_t *f, int64_t now, run_actions_t *out) {
    if (f->state == RUN_LOST && (f->exit_known || f->notices_closed) && f->output_closed)
        answer_lost(f, now, out);
    else if (f->state == RUN_TEARDOWN && f->output_closed && f->notices_closed) {
        f->state = RUN_ENDED;
        act(out, ACT_FINISH);
    }
}

static void lose(run_fsm_t *f, int broke, int64_t now, run_actions_t *out) {
    if (!pending(f))
        return;
    f->broke = broke;
    f->state = RUN_LOST;
    f->grace = deadline_after(now, SANDBOX_LOST_GRACE_MS);
    act(out, ACT_STOP_PEER);
}

/* The request goes out, after the limits are in force if it has any. */
static void request(run_fsm_t *f, run_actions_t *out) {
    if (f->limited && !f->enforced) {
        f->state = RUN_LIMITING;
        f->limits_sent = 1;
        act(out, ACT_SEND_LIMITS);
    } else {
        f->state = RUN_STARTING;
        act(out, ACT_DELIVER_REQUEST);
    }
}

void run_fsm_init(run_fsm_t *f, int64_t boot_timeout_ms, int64_t now) {
    *f = (run_fsm_t){.state = RUN_BOOTING, .timeout_ms = -1, .grace = DEADLINE_NEVER};
    f->deadline = deadline_after(now, boot_timeout_ms);
}

/* From here on what the pipe brings is the code's. */
static void begin_capture(run_fsm_t *f, run_actions_t *out) {
    f->capturing = 1;
    act(out, ACT_BEGIN_CAPTURE);
}

static void submit(run_fsm_t *f, const run_event_t *e, int64_t now, run_actions_t *out) {
    f->submitted = 1;
    f->t_submitted = now;
    f->timeout_ms = e->a;
    f->limited = (e->b & SUBMIT_LIMITED) != 0;
    f->capture_early = (e->b & SUBMIT_CAPTURE_EARLY) != 0;
    if (f->capture_early && f->state == RUN_IDLE)
        begin_capture(f, out);
    if (f->state == RUN_BOOTING) {
        /* Written now, read once the peer has booted: the run's deadline
         * starts then. Limits wait for the boot, so none of it counts. */
        if (!f->limited)
            act(out, ACT_DELIVER_REQUEST);
    } else if (f->state == RUN_IDLE) {
        f->deadline = deadline_after(now, f->timeout_ms);
        request(f, out);
    } else if (f->state == RUN_ENDED) {
        act(out, ACT_FINISH); /* its boot failure is answered: the report follows */
    }
}

static int booted(run_fsm_t *f, int64_t now, run_actions_t *out) {
    if (f->state != RUN_BOOTING)
        return -1;
    f->t_booted = now;
    if (!f->submitted) {
        f->state = RUN_IDLE;
        f->deadline = DEADLINE_NEVER;
        act(out, ACT_SEND_READY);
        return 0;
    }
    f->deadline = deadline_after(now, f->timeout_ms); /* from the boot */
    if (f->capture_early)
        begin_capture(f, out);
    if (f->limited)
        request(f, out);
    else
        f->state = RUN_STARTING; /* its request is already written */
    return 0;
}

/* The helper's reports on the limits. Returns -1 if it says what it must
 * not (the caller then feeds EV_HELPER_BROKE). */
static int limits_reported(run_fsm_t *f, const run_event_t *e, int64_t now, run_actions_t *out) {
    if (e->kind == EV_ENFORCED) {
        if (!f->limits_sent || f->enforced)
            return -1;
        f->enforced = 1;
        if (f->state == RUN_LIMITING)
            request(f, out);
        return 0;
    }
    if (!f->enforced || e->a < LIMIT_MEMORY || e->a > LIMIT_PROCESSES)
        return -1;
    if (!f->crossed) {
        f->crossed = (int)e->a;
        if (pending(f))
            answer(f, ANSWER_LIMIT, now, out);
    }
    return 0;
}

/* Frames from the peer. Returns -1 for one out of order. */
static int frame(run_fsm_t *f, const run_event_t *e, int64_t now, run_actions_t *out) {
    if (!pending(f))
        return 0; /* what a peer on its way out still had in the pipe */
    switch (e->kind) {
    case EV_BOOTED:
        return booted(f, now, out);
    case EV_STARTED:
        if (f->state != RUN_STARTING)
            return -1;
        f->state = RUN_SETUP;
        f->started = 1;
        f->t_started = now;
        if (f->capture_early) {
            f->state = RUN_EVALUATING;
            f->t_capturing = now;
        }
        return 0;
    case EV_CAPTURING:
        if (f->state != RUN_SETUP)
            return -1;
        f->state = RUN_EVALUATING;
        f->t_capturing = now;
        begin_capture(f, out);
        act(out, ACT_SEND_CAPTURE_BEGUN);
        return 0;
    default: /* EV_RESULT: after the setup, or instead of it when it failed */
        if (f->state != RUN_SETUP && f->state != RUN_EVALUATING)
            return -1;
        answer(f, ANSWER_RESULT, now, out);
        return 0;
    }
}

int run_fsm_step(run_fsm_t *f, const run_event_t *e, int64_t now, run_actions_t *out) {
    if (f->state == RUN_ENDED && e->kind != EV_SUBMIT)
        return 0;
    switch (e->kind) {
    case EV_SUBMIT:
        submit(f, e, now, out);
        return 0;
    case EV_CANCEL:
        if (f->state <= RUN_LOST)
            answer(f, ANSWER_CANCELLED, now, out);
        return 0;
    case EV_OWNER_DOWN:
        if (f->state <= RUN_LOST)
            teardown(f, now, out);
        return 0;
    case EV_BOOTED:
    case EV_STARTED:
    case EV_CAPTURING:
    case EV_RESULT:
        return frame(f, e, now, out);
    case EV_PEER_LOST:
    case EV_PEER_BROKE:
        lose(f, e->kind == EV_PEER_BROKE, now, out);
        break;
    case EV_ENFORCED:
    case EV_BREACH:
        return limits_reported(f, e, now, out);
    case EV_EXIT_STATUS:
        f->exit_known = 1;
        break;
    case EV_NOTICES_EOF:
    case EV_HELPER_BROKE:
        f->notices_closed = 1;
        lose(f, e->kind == EV_HELPER_BROKE, now, out);
        break;
    case EV_OUTPUT_LIMIT:
        if (run_fsm_capturing_code(f))
            answer(f, ANSWER_OUTPUT_LIMIT, now, out);
        return 0;
    case EV_OUTPUT_EOF:
        f->output_closed = 1;
        break;
    }
    check_end(f, now, out);
    return 0;
}

int run_fsm_due(const run_fsm_t *f, int64_t now) {
    return f->state != RUN_ENDED && deadline_passed(now, run_fsm_next_deadline(f));
}

void run_fsm_tick(run_fsm_t *f, int64_t now, run_actions_t *out) {
    if (!run_fsm_due(f, now))
        return;
    if (pending(f)) {
        /* Once the peer has booted, the run's own deadline is the one running. */
        answer(f, f->state == RUN_BOOTING ? ANSWER_BOOT_TIMEOUT : ANSWER_TIMEOUT, now, out);
    } else if (f->state == RUN_LOST) {
        answer_lost(f, now, out);
    } else {
        /* The helper did not report the tree gone in time: kill it (its
         * peer dies with it by PDEATHSIG) and stop waiting. */
        f->state = RUN_ENDED;
        act(out, ACT_KILL_HELPER);
        act(out, ACT_FINISH);
    }
}

int64_t run_fsm_next_deadline(const run_fsm_t *f) {
    if (f->state == RUN_ENDED)
        return DEADLINE_NEVER;
    return pending(f) ? f->deadline : f->grace;
}

int run_fsm_answered(const run_fsm_t *f) { return f->state >= RUN_TEARDOWN; }

int run_fsm_capturing_code(const run_fsm_t *f) {
    return f->capturing && f->state <= RUN_EVALUATING;
}
