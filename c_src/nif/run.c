#include "run.h"

#include "deadline.h"
#include "common/fdio.h"
#include "common/pids.h"

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/pidfd.h>
#include <sys/uio.h>
#include <sys/wait.h>

/* Reads per readiness event, so one flooding run cannot starve the rest. */
#define READS_PER_EVENT 16

static void deliver_request(run_t *r, int64_t now);

static int *fd_of(run_t *r, watch_kind_t kind) {
    switch (kind) {
    case WATCH_OUTPUT:
        return &r->fds.output;
    case WATCH_REPLY:
        return &r->fds.reply;
    case WATCH_STATUS:
        return &r->fds.status;
    default:
        return &r->fds.request;
    }
}

static void watch(run_t *r, watch_kind_t kind, uint32_t events) {
    struct epoll_event ev = {.events = events, .data.ptr = &r->watches[kind]};
    int op = r->watching[kind] ? EPOLL_CTL_MOD : EPOLL_CTL_ADD;
    if (epoll_ctl(r->epoll_fd, op, *fd_of(r, kind), &ev) == 0)
        r->watching[kind] = 1;
}

/* Unregisters before closing: epoll forgets an fd only when every copy of
 * its file description is closed, and a concurrent spawn may hold one. */
static void close_watched(run_t *r, watch_kind_t kind) {
    int *fd = fd_of(r, kind);
    if (*fd < 0)
        return;
    if (r->watching[kind])
        (void)epoll_ctl(r->epoll_fd, EPOLL_CTL_DEL, *fd, NULL);
    r->watching[kind] = 0;
    fdio_close(*fd);
    *fd = -1;
}

/* The conversation with the peer is over: closing the control pipe orders
 * the helper to kill the whole tree, and the frame channels are of no more
 * use. Output and status are still read to their end. */
static void stop_peer(run_t *r) {
    fdio_close(r->fds.control);
    r->fds.control = -1;
    close_watched(r, WATCH_REQUEST);
    close_watched(r, WATCH_REPLY);
}

static void stop_monitoring_owner(run_t *r) {
    if (r->monitoring)
        (void)enif_demonitor_process(NULL, r, &r->owner_monitor);
    r->monitoring = 0;
}

/* ---- answers ---------------------------------------------------------- */

static ERL_NIF_TERM make_bytes(ErlNifEnv *env, const uint8_t *data, size_t len) {
    ERL_NIF_TERM term;
    uint8_t *p = enif_make_new_binary(env, len, &term);
    if (p && len > 0)
        memcpy(p, data, len);
    return term;
}

/* The captured output, or "" if capture has not begun (boot and setup
 * output is never part of a run's output). */
static ERL_NIF_TERM make_output(run_t *r, ErlNifEnv *env, int boot_output) {
    if (r->phase != PHASE_EVALUATING && !boot_output)
        return make_bytes(env, NULL, 0);
    ERL_NIF_TERM term;
    uint8_t *p = enif_make_new_binary(env, output_rendered_size(&r->output), &term);
    if (p)
        output_render(&r->output, p);
    return term;
}

static ERL_NIF_TERM make_exit(run_t *r, ErlNifEnv *env) {
    const atoms_t *a = r->atoms;
    if (r->fail_stage)
        return enif_make_tuple3(env, a->helper_failed, enif_make_int64(env, r->fail_stage),
                                enif_make_int64(env, r->fail_errno));
    if (!r->peer_exited)
        return a->unknown;
    if (WIFSIGNALED(r->wait_status))
        return enif_make_tuple2(env, a->signal, enif_make_int(env, WTERMSIG(r->wait_status)));
    return enif_make_tuple2(env, a->exit_status, enif_make_int(env, WEXITSTATUS(r->wait_status)));
}

/* Nothing more is owed to the owner: kill the tree and wait for the
 * helper to report it gone. */
static void tear_down(run_t *r, int64_t now) {
    r->answered = 1;
    r->grace = deadline_after(now, SANDBOX_TEARDOWN_GRACE_MS);
    stop_monitoring_owner(r);
    stop_peer(r);
}

/* Sends {sandbox, Ref, Outcome} once, then tears the run down. */
/* Sends {Tag, Ref, Payload} to `to`. Payload is built in env, which this
 * frees. Every message about a run goes this way. */
static void send_about(run_t *r, const ErlNifPid *to, ErlNifEnv *env, ERL_NIF_TERM tag,
                       ERL_NIF_TERM payload) {
    ERL_NIF_TERM msg = enif_make_tuple3(env, tag, enif_make_copy(env, r->ref), payload);
    (void)enif_send(NULL, to, env, msg);
    enif_free_env(env);
}

static void answer(run_t *r, ErlNifEnv *env, ERL_NIF_TERM outcome, int64_t now) {
    send_about(r, &r->owner, env, r->atoms->sandbox, outcome);
    r->t_answered = now;
    tear_down(r, now);
}

/* {Why, Output}: the run was stopped (timeout, cancel, a limit) with what
 * it had printed. */
static void answer_stopped(run_t *r, ERL_NIF_TERM why, int64_t now) {
    ErlNifEnv *env = enif_alloc_env();
    answer(r, env, enif_make_tuple2(env, why, make_output(r, env, 0)), now);
}

/* ns between two steps in us, or nil when either has not happened. */
static ERL_NIF_TERM span_us(ErlNifEnv *env, const atoms_t *a, int64_t from, int64_t to) {
    if (from == 0 || to == 0)
        return a->nil;
    return enif_make_int64(env, to > from ? (to - from) / 1000 : 0);
}

/* #{Option => cgroup_v2 | sampling | rlimit} for each limit the helper put
 * in force, and network => netns | user_netns for network: false. */
static ERL_NIF_TERM make_enforced_by(run_t *r, ErlNifEnv *env) {
    const atoms_t *a = r->atoms;
    const ERL_NIF_TERM options[4] = {a->memory_limit, a->cpu_time, a->max_processes,
                                     a->max_file_size};
    ERL_NIF_TERM map = enif_make_new_map(env);
    for (int i = 0; r->limits_enforced && i < 4; i++) {
        ERL_NIF_TERM how = r->enforced_by[i] == MECHANISM_CGROUP     ? a->cgroup_v2
                           : r->enforced_by[i] == MECHANISM_SAMPLING ? a->sampling
                           : r->enforced_by[i] == MECHANISM_RLIMIT   ? a->rlimit
                                                                     : 0;
        if (how)
            (void)enif_make_map_put(env, map, options[i], how, &map);
    }
    if (r->network_kind)
        (void)enif_make_map_put(env, map, a->network,
                                r->network_kind == SANDBOX_NETNS_PLAIN ? a->netns : a->user_netns,
                                &map);
    return map;
}

/* {sandbox, Ref, {report, Map}} once, to whoever owns the run now, if the
 * submit asked for it. Sent when the tree is gone (or given up on), so the
 * rusage of all of it is known when the helper could say. */
static void send_report(run_t *r) {
    if (!r->terms.report || !r->submitted || r->reported)
        return;
    r->reported = 1;
    ErlNifEnv *env = enif_alloc_env();
    if (!env)
        return;
    const atoms_t *a = r->atoms;
    /* A pool's peer booted before its run: none of its boot is the run's. */
    int64_t boot_us = r->t_booted > r->t_submitted ? (r->t_booted - r->t_submitted) / 1000 : 0;
    int64_t setup_end = r->t_capturing ? r->t_capturing : r->t_answered;
    ERL_NIF_TERM keys[] = {a->boot_us,      a->setup_us, a->eval_us,
                           a->output_bytes, a->cpu_us,   a->max_rss_kb};
    ERL_NIF_TERM values[] = {
        r->t_booted ? enif_make_int64(env, boot_us) : a->nil,
        span_us(env, a, r->t_started, setup_end),
        span_us(env, a, r->t_capturing, r->t_answered),
        enif_make_uint64(env, r->output.total),
        r->done ? enif_make_int64(env, r->cpu_us) : a->nil,
        r->done ? enif_make_int64(env, r->max_rss_kb) : a->nil,
    };
    ERL_NIF_TERM map;
    if (!enif_make_map_from_arrays(env, keys, values, sizeof keys / sizeof keys[0], &map) ||
        !enif_make_map_put(env, map, a->enforced_by, make_enforced_by(r, env), &map)) {
        enif_free_env(env);
        return;
    }
    send_about(r, &r->owner, env, a->sandbox, enif_make_tuple2(env, a->report, map));
}

static void send_gone(run_t *r, ErlNifPid to) {
    ErlNifEnv *env = enif_alloc_env();
    if (env)
        send_about(r, &to, env, r->atoms->sandbox, r->atoms->gone);
}

static ERL_NIF_TERM limit_atom(const atoms_t *a, int crossed) {
    switch (crossed) {
    case LIMIT_MEMORY:
        return a->memory_limit;
    case LIMIT_CPU:
        return a->cpu_limit;
    default:
        return a->process_limit;
    }
}

/* {memory_limit | cpu_limit | process_limit, Output}: the helper is
 * killing the tree for crossing a limit. */
static void answer_crossed(run_t *r, int64_t now) {
    answer_stopped(r, limit_atom(r->atoms, r->crossed), now);
}

/* A peer lost before it said 'S' never had the request: it failed to boot
 * (a pool's idle peer too), whatever the deadline. One killed for crossing
 * a limit (an out-of-memory kill among them) says so. */
static void answer_lost(run_t *r, int64_t now) {
    if (r->crossed && r->limits_enforced) {
        answer_crossed(r, now);
        return;
    }
    ErlNifEnv *env = enif_alloc_env();
    const atoms_t *a = r->atoms;
    ERL_NIF_TERM outcome;
    if (r->phase == PHASE_BOOTING)
        outcome = enif_make_tuple4(env, a->boot_failed, r->broke_protocol ? a->protocol : a->exited,
                                   make_output(r, env, 1), make_exit(r, env));
    else
        outcome = enif_make_tuple3(env, a->noconnection, make_output(r, env, 0), make_exit(r, env));
    answer(r, env, outcome, now);
}

/* ---- output ----------------------------------------------------------- */

/* {sandbox_output, Ref, Chunk}: the code's output as it is read, whole
 * (the cap applies only to what the answer holds), before the answer. */
static void stream_output(run_t *r, const uint8_t *data, size_t len) {
    ErlNifEnv *env = enif_alloc_env();
    if (env)
        send_about(r, &r->terms.stream_to, env, r->atoms->sandbox_output,
                   make_bytes(env, data, len));
}

static void keep_output(run_t *r, const uint8_t *data, size_t len, int64_t now) {
    if (r->answered)
        return;
    (void)output_append(&r->output, data, len); /* counted even if not kept */
    if (r->phase != PHASE_EVALUATING)
        return;
    if (r->terms.stream)
        stream_output(r, data, len);
    if (r->terms.output_limit != OUTPUT_UNLIMITED && r->output.total > r->terms.output_limit) {
        answer_stopped(r, r->atoms->output_limit, now);
    }
}

/* Reads what the output pipe holds right now, no more: at a deadline the
 * peer may still be flooding it. */
static void drain_output(run_t *r, uint8_t *chunk, size_t chunk_len, int64_t now) {
    int available = 0;
    if (r->fds.output < 0 || ioctl(r->fds.output, FIONREAD, &available) < 0)
        return;
    size_t left = (size_t)available;
    while (left > 0) {
        ssize_t n = fdio_read(r->fds.output, chunk, left < chunk_len ? left : chunk_len);
        if (n <= 0)
            break;
        keep_output(r, chunk, (size_t)n, now);
        left -= (size_t)n;
    }
}

static void read_output(run_t *r, uint8_t *chunk, size_t chunk_len, int64_t now) {
    for (int i = 0; i < READS_PER_EVENT; i++) {
        ssize_t n = fdio_read(r->fds.output, chunk, chunk_len);
        if (n > 0) {
            keep_output(r, chunk, (size_t)n, now);
            continue;
        }
        if (n < 0 && errno == EAGAIN)
            return;
        close_watched(r, WATCH_OUTPUT); /* EOF: the whole tree is gone */
        return;
    }
}

/* ---- the peer's frames ------------------------------------------------ */

static void peer_lost(run_t *r, int64_t now) {
    if (r->lost || r->answered)
        return;
    r->lost = 1;
    r->grace = deadline_after(now, SANDBOX_LOST_GRACE_MS);
    stop_peer(r);
}

/* A peer (or helper) that says what it must not is treated as lost. */
static void protocol_broken(run_t *r, int64_t now) {
    if (!r->lost && !r->answered)
        r->broke_protocol = 1;
    peer_lost(r, now);
}

/* The request was taken whole before 'S', so the pipe is empty and these
 * five bytes fit at once. */
static int send_capture_begun(run_t *r) {
    uint8_t frame[5];
    frame_header(1, frame);
    frame[4] = SANDBOX_TAG_CAPTURE_BEGUN;
    ssize_t n = fdio_write_some(r->fds.request, frame, sizeof frame);
    return n == (ssize_t)sizeof frame ? 0 : -1;
}

/* The boot deadline ends at 'B'. A submitted run's own deadline starts
 * then; a peer booted ahead (a pool's) waits without one, and its owner
 * hears {sandbox, Ref, {ready, OsPid}}. */
static int peer_booted(run_t *r, const uint8_t *frame, size_t len, int64_t now) {
    /* The OS pid: 1 to 10 decimal digits, at most INT32_MAX. */
    pid_t os_pid = pids_parse((const char *)frame + 1, len - 1);
    if (r->booted || r->phase != PHASE_BOOTING || os_pid == 0)
        return -1;
    r->booted = 1;
    r->t_booted = now;
    if (r->submitted) {
        r->deadline = deadline_after(now, r->terms.timeout_ms);
        if (r->terms.limited)
            deliver_request(r, now);
        return 0;
    }
    r->deadline = DEADLINE_NEVER;
    ErlNifEnv *env = enif_alloc_env();
    if (!env)
        return -1;
    send_about(r, &r->owner, env, r->atoms->sandbox,
               enif_make_tuple2(env, r->atoms->ready, enif_make_int(env, os_pid)));
    return 0;
}

/* Returns 0, or -1 if the frame breaks the protocol. */
static int handle_frame(run_t *r, const uint8_t *frame, size_t len, const scratch_t *scratch,
                        int64_t now) {
    if (len == 0)
        return -1;
    switch (frame[0]) {
    case SANDBOX_TAG_BOOTED:
        return peer_booted(r, frame, len, now);
    case SANDBOX_TAG_STARTED:
        if (len != 1 || r->phase != PHASE_BOOTING || !r->booted || !r->submitted)
            return -1;
        r->phase = PHASE_SETUP;
        r->t_started = now;
        return 0;
    case SANDBOX_TAG_CAPTURING:
        if (len != 1 || r->phase != PHASE_SETUP)
            return -1;
        drain_output(r, scratch->drain, scratch->len, now); /* the setup's, to be dropped */
        output_reset(&r->output, r->terms.max_output);
        r->t_capturing = now;
        r->phase = PHASE_EVALUATING;
        return send_capture_begun(r);
    case SANDBOX_TAG_RESULT: {
        if (r->phase == PHASE_BOOTING)
            return -1;
        /* The peer flushed its output before sending this frame. */
        drain_output(r, scratch->drain, scratch->len, now);
        if (r->answered)
            return 0; /* past :output_limit on the way */
        ErlNifEnv *env = enif_alloc_env();
        ERL_NIF_TERM outcome = enif_make_tuple3(
            env, r->atoms->ok, make_bytes(env, frame + 1, len - 1), make_output(r, env, 0));
        answer(r, env, outcome, now);
        return 0;
    }
    default:
        return -1;
    }
}

static void read_reply(run_t *r, const scratch_t *scratch, int64_t now) {
    for (int i = 0; i < READS_PER_EVENT && r->fds.reply >= 0; i++) {
        ssize_t n = fdio_read(r->fds.reply, scratch->read, scratch->len);
        if (n < 0 && errno == EAGAIN)
            return;
        if (n <= 0) {
            peer_lost(r, now);
            return;
        }
        size_t offset = 0;
        while (offset < (size_t)n && !r->answered && !r->lost) {
            size_t used;
            frame_status_t st =
                frame_feed(&r->frames, scratch->read + offset, (size_t)n - offset, &used);
            offset += used;
            if (st == FRAME_NEED_MORE)
                break;
            if (st != FRAME_READY) {
                protocol_broken(r, now); /* too large, or no memory for it */
                break;
            }
            size_t frame_len;
            uint8_t *frame = frame_take(&r->frames, &frame_len);
            if (handle_frame(r, frame, frame_len, scratch, now) < 0)
                protocol_broken(r, now);
            free(frame);
        }
    }
}

/* ---- the request ------------------------------------------------------ */

static void write_request(run_t *r, int64_t now) {
    size_t total = sizeof r->request_header + r->request.size;
    while (r->request_sent < total) {
        struct iovec iov[2];
        int count = 0;
        if (r->request_sent < sizeof r->request_header) {
            iov[count].iov_base = r->request_header + r->request_sent;
            iov[count++].iov_len = sizeof r->request_header - r->request_sent;
            iov[count].iov_base = r->request.data;
            iov[count++].iov_len = r->request.size;
        } else {
            iov[count].iov_base = r->request.data + (r->request_sent - sizeof r->request_header);
            iov[count++].iov_len = total - r->request_sent;
        }
        ssize_t n = writev(r->fds.request, iov, count);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && errno == EAGAIN)
            return;
        if (n < 0) {
            peer_lost(r, now); /* EPIPE: the peer is gone */
            return;
        }
        r->request_sent += (size_t)n;
    }
    /* All sent: stop asking for writability, keep the pipe open so the peer
     * never sees EOF on its request channel. */
    if (r->watching[WATCH_REQUEST]) {
        (void)epoll_ctl(r->epoll_fd, EPOLL_CTL_DEL, r->fds.request, NULL);
        r->watching[WATCH_REQUEST] = 0;
    }
}

/* The "limits" order to the helper: a short line into an empty pipe. */
static void send_limits(run_t *r, int64_t now) {
    const int64_t *l = r->terms.resource_limits;
    status_msg_t order = {.kind = CONTROL_LIMITS, .a = l[0], .b = l[1], .c = l[2], .d = l[3]};
    char line[STATUS_LINE_MAX];
    size_t len = status_format(&order, line, sizeof line);
    r->limits_sent = 1;
    if (len == 0 || r->fds.control < 0 ||
        fdio_write_some(r->fds.control, line, len) != (ssize_t)len)
        peer_lost(r, now); /* the helper is gone */
}

/* Starts writing the request, unless it has limits the helper has yet to
 * put in force: those are sent once the peer has booted (so none of the
 * boot counts against them), and the request follows the helper's
 * "enforced". */
static void deliver_request(run_t *r, int64_t now) {
    if (r->terms.limited && !r->limits_enforced) {
        if (r->booted && !r->limits_sent)
            send_limits(r, now);
        return;
    }
    watch(r, WATCH_REQUEST, EPOLLOUT);
    write_request(r, now);
}

/* ---- the helper's reports --------------------------------------------- */

/* Returns 0, or -1 if the helper said what it must not. */
static int limits_reported(run_t *r, const status_msg_t *m, const scratch_t *scratch, int64_t now) {
    if (m->kind == STATUS_ENFORCED) {
        if (!r->limits_sent || r->limits_enforced)
            return -1;
        r->limits_enforced = 1;
        const int64_t how[4] = {m->a, m->b, m->c, m->d};
        for (int i = 0; i < 4; i++)
            r->enforced_by[i] = how[i];
        if (!r->answered && !r->lost)
            deliver_request(r, now);
        return 0;
    }
    /* STATUS_BREACH */
    if (!r->limits_enforced || m->a < LIMIT_MEMORY || m->a > LIMIT_PROCESSES)
        return -1;
    if (r->crossed)
        return 0;
    r->crossed = (int)m->a;
    if (!r->answered && !r->lost) {
        /* What is in the pipe now was printed before the verdict. */
        drain_output(r, scratch->drain, scratch->len, now);
        if (!r->answered)
            answer_crossed(r, now);
    }
    return 0;
}

static void read_status(run_t *r, const scratch_t *scratch, int64_t now) {
    uint8_t *chunk = scratch->read;
    ssize_t n = fdio_read(r->fds.status, chunk, scratch->len);
    if (n < 0 && errno == EAGAIN)
        return;
    if (n <= 0) {
        /* The helper has exited: the tree is gone with it. */
        close_watched(r, WATCH_STATUS);
        peer_lost(r, now);
        return;
    }
    size_t offset = 0;
    while (offset < (size_t)n) {
        size_t used;
        status_msg_t m;
        int got =
            status_feed(&r->status, (const char *)chunk + offset, (size_t)n - offset, &used, &m);
        offset += used;
        if (got > 0 && (m.kind == STATUS_ENFORCED || m.kind == STATUS_BREACH) &&
            limits_reported(r, &m, scratch, now) < 0)
            got = -1;
        if (got > 0 && m.kind == CONTROL_LIMITS)
            got = -1; /* an order, not a report */
        if (got > 0 && m.kind == STATUS_NETWORK) {
            if (m.a == SANDBOX_NETNS_PLAIN || m.a == SANDBOX_NETNS_USER)
                r->network_kind = m.a;
            else
                got = -1;
        }
        if (got < 0) {
            /* Our own helper talking nonsense: stop listening, kill. */
            close_watched(r, WATCH_STATUS);
            protocol_broken(r, now);
            return;
        }
        if (got == 0)
            break;
        if (m.kind == STATUS_EXIT) {
            r->peer_exited = 1;
            r->wait_status = (int)m.a;
        } else if (m.kind == STATUS_DONE) {
            r->done = 1;
            r->cpu_us = m.a + m.b;
            r->max_rss_kb = m.c;
        } else if (m.kind == STATUS_FAIL) {
            r->fail_stage = m.a;
            r->fail_errno = m.b;
        }
    }
}

/* ---- the run's life --------------------------------------------------- */

void run_init(run_t *r, const atoms_t *atoms, struct monitor *monitor, ErlNifEnv *env,
              ERL_NIF_TERM ref, int64_t boot_timeout_ms, const spawn_fds_t *fds, ErlNifPid owner) {
    memset(r, 0, sizeof *r);
    r->atoms = atoms;
    r->monitor = monitor;
    r->env = env;
    r->ref = ref;
    r->boot_timeout_ms = boot_timeout_ms;
    r->fds = *fds;
    r->owner = owner;
    r->epoll_fd = -1;
    r->deadline = DEADLINE_NEVER;
    r->grace = DEADLINE_NEVER;
    for (int k = 0; k < WATCH_COUNT; k++)
        r->watches[k] = (watch_t){.run = r, .kind = (watch_kind_t)k};
    output_init(&r->output, SANDBOX_BOOT_OUTPUT_LIMIT);
    frame_reader_init(&r->frames, SANDBOX_MAX_FRAME_BYTES);
    status_reader_init(&r->status);
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

void run_start(run_t *r, int epoll_fd, int64_t now) {
    r->epoll_fd = epoll_fd;
    r->deadline = deadline_after(now, r->boot_timeout_ms);
    watch(r, WATCH_OUTPUT, EPOLLIN);
    watch(r, WATCH_REPLY, EPOLLIN);
    watch(r, WATCH_STATUS, EPOLLIN);
    int rc = enif_monitor_process(NULL, r, &r->owner, &r->owner_monitor);
    r->monitoring = rc == 0;
    if (rc != 0)
        run_cancel(r, 0, now); /* the owner is already gone */
}

void run_submit(run_t *r, ErlNifEnv *request_env, ErlNifBinary request, const run_terms_t *terms,
                ErlNifPid new_owner, int64_t now) {
    int same_owner = enif_compare_pids(&new_owner, &r->owner) == 0;
    if (r->submitted || (r->answered && !same_owner)) {
        enif_free_env(request_env);
        /* A peer handed on after its answer went to the one that booted
         * it (it died while idle): the new owner must not wait forever. */
        if (!r->submitted)
            send_gone(r, new_owner);
        return;
    }
    if (!same_owner) {
        stop_monitoring_owner(r);
        r->owner = new_owner;
        int rc = enif_monitor_process(NULL, r, &r->owner, &r->owner_monitor);
        r->monitoring = rc == 0;
        if (rc != 0) {
            enif_free_env(request_env);
            run_cancel(r, 0, now);
            return;
        }
    }
    /* From here on the run is this owner's: its report is owed even when
     * the request can no longer be delivered. */
    r->submitted = 1;
    r->terms = *terms;
    r->t_submitted = now;
    if (r->answered || r->lost) {
        /* The answer (boot_failed) is already with this owner, or due after
         * the grace; the report follows it. */
        enif_free_env(request_env);
        if (r->ended)
            send_report(r);
        return;
    }
    r->request_env = request_env;
    r->request = request;
    if (r->booted)
        r->deadline = deadline_after(now, terms->timeout_ms);
    frame_header((uint32_t)request.size, r->request_header);
    deliver_request(r, now);
}

void run_cancel(run_t *r, int notify, int64_t now) {
    if (r->answered)
        return;
    if (!notify) {
        tear_down(r, now);
        return;
    }
    answer_stopped(r, r->atoms->cancelled, now);
}

void run_owner_down(run_t *r, const ErlNifMonitor *down, int64_t now) {
    if (!r->monitoring || enif_compare_monitors(down, &r->owner_monitor) != 0)
        return;
    r->monitoring = 0;
    run_cancel(r, 0, now);
}

static void check_end(run_t *r, int64_t now) {
    if (r->lost && !r->answered) {
        int status_known = r->peer_exited || r->fds.status < 0;
        if ((status_known && r->fds.output < 0) || deadline_passed(now, r->grace))
            answer_lost(r, now);
    }
    if (r->answered && r->fds.output < 0 && r->fds.status < 0) {
        spawn_close_fds(&r->fds);
        r->ended = 1;
        send_report(r);
    }
}

void run_ready(run_t *r, watch_kind_t kind, const scratch_t *scratch, int64_t now) {
    if (r->ended || *fd_of(r, kind) < 0)
        return; /* closed earlier in the same batch of events */
    switch (kind) {
    case WATCH_OUTPUT:
        read_output(r, scratch->read, scratch->len, now);
        break;
    case WATCH_REPLY:
        read_reply(r, scratch, now);
        break;
    case WATCH_STATUS:
        read_status(r, scratch, now);
        break;
    default:
        write_request(r, now);
        break;
    }
    check_end(r, now);
}

void run_tick(run_t *r, const scratch_t *scratch, int64_t now) {
    if (r->ended)
        return;
    if (!r->answered && !r->lost && deadline_passed(now, r->deadline)) {
        /* What is in the pipe at the deadline was printed before it. */
        drain_output(r, scratch->drain, scratch->len, now);
        if (r->answered) {
            check_end(r, now); /* past :output_limit on the way */
            return;
        }
        /* Once a booted peer has been given its request, the run's own
         * deadline is the one running. */
        if (r->booted && r->submitted) {
            answer_stopped(r, r->atoms->timeout, now);
        } else {
            ErlNifEnv *env = enif_alloc_env();
            answer(r, env,
                   enif_make_tuple4(env, r->atoms->boot_failed, r->atoms->timeout,
                                    make_output(r, env, 1), make_exit(r, env)),
                   now);
        }
    }
    check_end(r, now);
    if (r->answered && !r->ended && deadline_passed(now, r->grace)) {
        /* The helper did not finish in time: kill it (its peer dies with it
         * by PDEATHSIG) and stop waiting. */
        if (r->fds.helper_pidfd >= 0)
            (void)pidfd_send_signal(r->fds.helper_pidfd, SIGKILL, NULL, 0);
        send_report(r);
        run_abandon(r);
    }
}

int64_t run_next_deadline(const run_t *r) {
    if (r->ended)
        return DEADLINE_NEVER;
    if (r->answered || r->lost)
        return r->grace;
    return r->deadline;
}

void run_abandon(run_t *r) {
    stop_monitoring_owner(r);
    for (int k = 0; k < WATCH_COUNT; k++)
        close_watched(r, (watch_kind_t)k);
    spawn_close_fds(&r->fds);
    r->answered = 1;
    r->ended = 1;
}
