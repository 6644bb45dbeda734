/* The life of one run: what the watcher thread is told (run_start,
 * run_submit, run_cancel, run_owner_down, run_ready, run_tick) becomes
 * events for the state machine (run_fsm.c), whose actions are carried out
 * here. The pipes themselves are read and written in peer_link.c,
 * helper_link.c and capture.c; the terms sent are built in answer.c. */
#include "run.h"

#include "deadline.h"

#include "common/fdio.h"
#include "common/protocol.h"
#include "common/syscalls.h"

#include <signal.h>
#include <string.h>
#include <sys/epoll.h>

/* ---- the run's fds in the watcher's epoll ---------------------------- */

static int *fd_of(run_t *r, watch_kind_t kind) {
    switch (kind) {
    case WATCH_OUTPUT:
        return &r->fds.output;
    case WATCH_REPLY:
        return &r->fds.reply;
    case WATCH_NOTICES:
        return &r->fds.notices;
    default:
        return &r->fds.request;
    }
}

void run_watch(run_t *r, watch_kind_t kind, uint32_t events) {
    struct epoll_event ev = {.events = events, .data.ptr = &r->watches[kind]};
    int op = r->watching[kind] ? EPOLL_CTL_MOD : EPOLL_CTL_ADD;
    if (epoll_ctl(r->epoll_fd, op, *fd_of(r, kind), &ev) == 0)
        r->watching[kind] = 1;
}

void run_unwatch(run_t *r, watch_kind_t kind) {
    if (r->watching[kind])
        (void)epoll_ctl(r->epoll_fd, EPOLL_CTL_DEL, *fd_of(r, kind), NULL);
    r->watching[kind] = 0;
}

/* Unregisters before closing: epoll forgets an fd only when every copy of
 * its file description is closed, and a concurrent spawn may hold one. */
void run_close(run_t *r, watch_kind_t kind) {
    int *fd = fd_of(r, kind);
    if (*fd < 0)
        return;
    run_unwatch(r, kind);
    fdio_close(*fd);
    *fd = -1;
}

static void forget_owner(run_t *r) {
    if (r->monitoring)
        (void)enif_demonitor_process(NULL, r, &r->owner_monitor);
    r->monitoring = 0;
}

static void close_everything(run_t *r) {
    forget_owner(r);
    for (int k = 0; k < WATCH_COUNT; k++)
        run_close(r, (watch_kind_t)k);
    spawn_close_fds(&r->fds);
}

/* ---- the state machine's actions ------------------------------------- */

static void act(run_t *r, run_action_t action, int64_t now) {
    switch (action) {
    case ACT_SEND_READY:
        answer_ready(r);
        break;
    case ACT_SEND_LIMITS:
        helper_link_send_limits(r, now);
        break;
    case ACT_DELIVER_REQUEST:
        peer_link_deliver_request(r, now);
        break;
    case ACT_BEGIN_CAPTURE:
        capture_begin(r);
        break;
    case ACT_SEND_CAPTURE_BEGUN:
        if (peer_link_send_capture_begun(r) < 0)
            run_event(r, EV_PEER_BROKE, 0, 0, now);
        break;
    case ACT_ANSWER:
        capture_count_unwritten(r);
        answer_send(r);
        break;
    case ACT_FORGET_OWNER:
        forget_owner(r);
        break;
    case ACT_STOP_PEER:
        /* Closing the control pipe orders the helper to kill the whole
         * tree; the frame channels are of no more use. Output and status
         * are still read to their end. */
        fdio_close(r->fds.orders);
        r->fds.orders = -1;
        run_close(r, WATCH_REQUEST);
        run_close(r, WATCH_REPLY);
        break;
    case ACT_KILL_HELPER:
        /* Its peer dies with it, by PDEATHSIG. */
        if (r->fds.helper_pidfd >= 0)
            (void)sys_pidfd_send_signal(r->fds.helper_pidfd, SIGKILL);
        break;
    case ACT_FINISH:
        close_everything(r);
        answer_report(r);
        break;
    }
}

/* The actions that may fail and feed an event of their own (writes to the
 * peer or the helper) come last in a list, so none is carried out after a
 * state it was not meant for. */
int run_event(run_t *r, run_event_kind_t kind, int64_t a, int64_t b, int64_t now) {
    run_actions_t actions = {.count = 0};
    if (run_fsm_step(&r->fsm, &(run_event_t){.kind = kind, .a = a, .b = b}, now, &actions) < 0)
        return -1;
    for (int i = 0; i < actions.count; i++)
        act(r, actions.items[i], now);
    return 0;
}

/* ---- what the watcher thread is told ---------------------------------- */

void run_init(run_t *r, const atoms_t *atoms, struct watcher *watcher, ErlNifEnv *env,
              ERL_NIF_TERM ref, int64_t boot_timeout_ms, const spawn_fds_t *fds, ErlNifPid owner) {
    memset(r, 0, sizeof *r);
    r->atoms = atoms;
    r->watcher = watcher;
    r->env = env;
    r->ref = ref;
    r->fds = *fds;
    r->owner = owner;
    r->epoll_fd = -1;
    for (int k = 0; k < WATCH_COUNT; k++)
        r->watches[k] = (watch_t){.run = r, .kind = (watch_kind_t)k};
    r->output_resume_at = DEADLINE_NEVER;
    run_fsm_init(&r->fsm, boot_timeout_ms, deadline_now());
    output_init(&r->output, SANDBOX_BOOT_OUTPUT_LIMIT);
    frame_reader_init(&r->frames, SANDBOX_MAX_FRAME_BYTES);
    helper_line_reader_init(&r->lines);
}

void run_destroy(run_t *r) {
    spawn_close_fds(&r->fds);
    output_free(&r->output);
    frame_reader_free(&r->frames);
    if (r->request_env)
        enif_free_env(r->request_env);
    if (r->env)
        enif_free_env(r->env);
}

void run_start(run_t *r, int epoll_fd, const scratch_t *scratch, int64_t now) {
    r->epoll_fd = epoll_fd;
    r->scratch = scratch;
    run_watch(r, WATCH_OUTPUT, EPOLLIN);
    run_watch(r, WATCH_REPLY, EPOLLIN);
    run_watch(r, WATCH_NOTICES, EPOLLIN);
    r->monitoring = enif_monitor_process(NULL, r, &r->owner, &r->owner_monitor) == 0;
    if (!r->monitoring)
        run_event(r, EV_OWNER_DOWN, 0, 0, now); /* the owner is already gone */
}

void run_submit(run_t *r, ErlNifEnv *request_env, ErlNifBinary request, const run_terms_t *terms,
                ErlNifPid new_owner, int64_t now) {
    int same_owner = enif_compare_pids(&new_owner, &r->owner) == 0;
    if (r->fsm.submitted || (run_fsm_answered(&r->fsm) && !same_owner)) {
        enif_free_env(request_env);
        /* A peer handed on after its answer went to the one that booted
         * it (it died while idle): the new owner must not wait forever. */
        if (!r->fsm.submitted)
            answer_gone(r, new_owner);
        return;
    }
    if (!same_owner) {
        forget_owner(r);
        r->owner = new_owner;
        r->monitoring = enif_monitor_process(NULL, r, &r->owner, &r->owner_monitor) == 0;
    }
    /* From here on the run is this owner's: its report is owed even when
     * the request can no longer be delivered. */
    r->terms = *terms;
    r->request_env = request_env;
    r->request = request;
    frame_header((uint32_t)request.size, r->request_header);
    /* An early capture begins with this submit: what is in the pipe now
     * was printed while the VM booted or waited. */
    if (terms->capture_early)
        capture_drain(r, now);
    int64_t flags =
        (terms->limited ? SUBMIT_LIMITED : 0) | (terms->capture_early ? SUBMIT_CAPTURE_EARLY : 0);
    run_event(r, EV_SUBMIT, terms->timeout_ms, flags, now);
    if (!r->monitoring)
        run_event(r, EV_OWNER_DOWN, 0, 0, now);
}

void run_cancel(run_t *r, int64_t now) { run_event(r, EV_CANCEL, 0, 0, now); }

void run_owner_down(run_t *r, const ErlNifMonitor *down, int64_t now) {
    if (!r->monitoring || enif_compare_monitors(down, &r->owner_monitor) != 0)
        return;
    r->monitoring = 0;
    run_event(r, EV_OWNER_DOWN, 0, 0, now);
}

void run_ready(run_t *r, watch_kind_t kind, int64_t now) {
    if (r->fsm.state == RUN_ENDED || *fd_of(r, kind) < 0)
        return; /* closed earlier in the same batch of events */
    switch (kind) {
    case WATCH_OUTPUT:
        capture_read(r, now);
        break;
    case WATCH_REPLY:
        peer_link_read(r, now);
        break;
    case WATCH_NOTICES:
        helper_link_read(r, now);
        break;
    default:
        peer_link_write_request(r, now);
        break;
    }
}

void run_tick(run_t *r, int64_t now) {
    capture_resume(r, now);
    if (!run_fsm_due(&r->fsm, now))
        return;
    /* What is in the pipe at the deadline was printed before it. */
    if (!run_fsm_answered(&r->fsm) && r->fsm.state != RUN_LOST)
        capture_drain(r, now);
    run_actions_t actions = {.count = 0};
    run_fsm_tick(&r->fsm, now, &actions);
    for (int i = 0; i < actions.count; i++)
        act(r, actions.items[i], now);
}

int64_t run_next_deadline(const run_t *r) {
    return deadline_min(run_fsm_next_deadline(&r->fsm), r->output_resume_at);
}

int run_ended(const run_t *r) { return r->fsm.state == RUN_ENDED; }

void run_abandon(run_t *r) {
    r->fsm.state = RUN_ENDED;
    close_everything(r);
}
