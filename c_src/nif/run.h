/* One run, as the watcher thread sees it: its pipes, its state machine
 * (run_fsm.h) and what it has learnt. The work is split by what it talks
 * to: run.c (the life of the run: events in, actions out), peer_link.c
 * (frames and the request), helper_link.c (status lines and the limits
 * order), capture.c (the output pipe), answer.c (the terms sent to the
 * owner). Everything here runs on the watcher thread, except run_init and
 * run_destroy. */
#ifndef SANDBOX_RUN_H
#define SANDBOX_RUN_H

#include "atoms.h"
#include "frame.h"
#include "output.h"
#include "run_fsm.h"
#include "spawn.h"

#include "common/helper_line.h"

#include <erl_nif.h>
#include <stdint.h>

typedef struct run run_t;
struct watcher;

/* The watcher thread's scratch space for reads: one buffer for the channel
 * being read, one for draining output in the middle of handling a frame. */
typedef struct {
    uint8_t *read;
    uint8_t *drain;
    size_t len;
} scratch_t;

typedef enum { WATCH_OUTPUT, WATCH_REPLY, WATCH_NOTICES, WATCH_REQUEST, WATCH_COUNT } watch_kind_t;

/* What an epoll event points at. */
typedef struct {
    run_t *run;
    watch_kind_t kind;
} watch_t;

/* What a submit asks of a run. */
typedef struct {
    int64_t timeout_ms;    /* < 0: no deadline */
    uint64_t max_output;   /* bytes to keep, or OUTPUT_UNLIMITED */
    uint64_t output_limit; /* bytes the code may print before it is stopped, or OUTPUT_UNLIMITED */
    int report;            /* send {report, Map} to the owner once the tree is gone */
    int stream;            /* send each chunk of the code's output to stream_to as read */
    int capture_early;     /* no setup: capture from the submit (run_fsm.h) */
    ErlNifPid stream_to;
    /* memory bytes, CPU ms, processes, file bytes (-1: none), for the
     * helper's "limits" order; limited: any of them is set */
    int64_t resource_limits[4];
    int limited;
} run_terms_t;

struct run {
    /* Set by run_init, read-only afterwards. */
    const atoms_t *atoms;
    struct watcher *watcher; /* for the owner-down callback */
    ErlNifEnv *env;          /* holds ref */
    ERL_NIF_TERM ref;

    /* The watcher thread's alone once the run is added to it. */
    spawn_fds_t fds;
    int epoll_fd;
    watch_t watches[WATCH_COUNT];
    int watching[WATCH_COUNT];
    ErlNifPid owner;
    ErlNifMonitor owner_monitor;
    int monitoring;

    run_fsm_t fsm;
    run_terms_t terms; /* given at submit */
    const scratch_t *scratch;

    /* The request, held while it is written. */
    ErlNifEnv *request_env;
    ErlNifBinary request;
    uint8_t request_header[4];
    size_t request_sent;

    /* What the peer said. */
    frame_reader_t frames;
    int os_pid;            /* in its 'B' */
    const uint8_t *result; /* the 'R' frame being answered, tag included */
    size_t result_len;
    /* What the helper said. */
    helper_line_reader_t lines;
    int64_t enforced_by[4]; /* mechanism_t of each of terms.resource_limits */
    int64_t network_kind;   /* SANDBOX_NETNS_* of network: false, else 0 */
    int wait_status;        /* the peer's, once fsm.exit_known */
    int64_t fail_stage, fail_errno;
    int done; /* its last words: the tree's rusage once all of it is reaped */
    int64_t cpu_us, max_rss_kb;
    int reported;

    output_t output;
    /* What the peer had counted unwritten at the last look (capture.c). */
    uint64_t unwritten_seen;
    /* While output is paced: the output pipe is out of the epoll set until
     * then (capture.c). DEADLINE_NEVER otherwise. */
    int64_t output_resume_at;

    run_t *next; /* the watcher's list */
};

/* Fills in a fresh run for fds just spawned. Takes ownership of env. */
void run_init(run_t *r, const atoms_t *atoms, struct watcher *watcher, ErlNifEnv *env,
              ERL_NIF_TERM ref, int64_t boot_timeout_ms, const spawn_fds_t *fds, ErlNifPid owner);

/* Frees what run_init took and closes whatever is still open. */
void run_destroy(run_t *r);

/* Begins watching the run's pipes, the boot deadline and the owner. */
void run_start(run_t *r, int epoll_fd, const scratch_t *scratch, int64_t now);

/* Queues the request frame; the deadline of terms->timeout_ms starts now
 * if the peer is booted, else when it is. The owner becomes new_owner; if
 * the run already answered another owner, new_owner gets
 * {sandbox, Ref, gone} instead. With terms->report, the owner also gets
 * {sandbox, Ref, {report, Map}} after the answer, once the helper has
 * reaped the whole tree (or given up on it). Takes ownership of
 * request_env. */
void run_submit(run_t *r, ErlNifEnv *request_env, ErlNifBinary request, const run_terms_t *terms,
                ErlNifPid new_owner, int64_t now);

/* The owner asks to stop the run: it gets {cancelled, Output} unless it
 * already had its answer. */
void run_cancel(run_t *r, int64_t now);

/* The owner monitor fired: the run stops, answering no one, if it is the
 * current owner's. */
void run_owner_down(run_t *r, const ErlNifMonitor *down, int64_t now);

/* An fd of the run is ready. */
void run_ready(run_t *r, watch_kind_t kind, int64_t now);

/* Deadlines and graces that have passed. */
void run_tick(run_t *r, int64_t now);

/* The next time run_tick has something to do, or DEADLINE_NEVER. */
int64_t run_next_deadline(const run_t *r);

/* Whether everything is closed and the watcher may let go. */
int run_ended(const run_t *r);

/* Closes everything at once, for unloading: the helper kills the tree when
 * its control pipe closes. */
void run_abandon(run_t *r);

/* ---- for the files a run is split into (run.c carries the events) ---- */

/* Feeds an event to the run's state machine and carries out its actions.
 * Returns -1 if the event breaks the protocol where it came from (the
 * caller then says so with EV_PEER_BROKE or EV_HELPER_BROKE), else 0. */
int run_event(run_t *r, run_event_kind_t kind, int64_t a, int64_t b, int64_t now);

/* Registers (or changes) interest in an fd of the run; closes one. */
void run_watch(run_t *r, watch_kind_t kind, uint32_t events);
void run_unwatch(run_t *r, watch_kind_t kind);
void run_close(run_t *r, watch_kind_t kind);

/* peer_link.c: frames from the peer, the request and 'G' to it. */
void peer_link_read(run_t *r, int64_t now);
void peer_link_deliver_request(run_t *r, int64_t now);
void peer_link_write_request(run_t *r, int64_t now);
int peer_link_send_capture_begun(run_t *r);

/* helper_link.c: the helper's status lines, the limits and booted orders to it. */
void helper_link_read(run_t *r, int64_t now);
void helper_link_send_limits(run_t *r, int64_t now);
void helper_link_send_booted(run_t *r);

/* capture.c: the output pipe. capture_read paces itself: once it has
 * emptied the pipe it leaves it alone for a moment, and capture_resume
 * (called on every tick) watches it again when that moment is over. */
void capture_read(run_t *r, int64_t now);
void capture_resume(run_t *r, int64_t now);
void capture_drain(run_t *r, int64_t now);
void capture_begin(run_t *r);
/* Adds to the output's total what the peer's devices counted past the cap
 * since the last look, without writing it (common/unwritten.h). */
void capture_count_unwritten(run_t *r);

/* answer.c: the messages to the owner. */
void answer_send(run_t *r);
void answer_ready(run_t *r);
void answer_gone(run_t *r, ErlNifPid to);
void answer_report(run_t *r);

#endif
