/* One run: its pipes, its protocol with the peer (phases and frames), its
 * capture, and the one answer it sends to its owner. Everything here runs
 * on the monitor thread, except run_init and run_destroy. */
#ifndef SANDBOX_RUN_H
#define SANDBOX_RUN_H

#include "atoms.h"
#include "frame.h"
#include "output.h"
#include "spawn.h"
#include "common/status.h"

#include <erl_nif.h>
#include <stdint.h>

typedef struct run run_t;
struct monitor;

/* The monitor thread's scratch space for reads: one buffer for the channel
 * being read, one for draining output in the middle of handling a frame. */
typedef struct {
    uint8_t *read;
    uint8_t *drain;
    size_t len;
} scratch_t;

typedef enum { WATCH_OUTPUT, WATCH_REPLY, WATCH_STATUS, WATCH_REQUEST, WATCH_COUNT } watch_kind_t;

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
    ErlNifPid stream_to;
    /* memory bytes, CPU ms, processes, file bytes (-1: none), for the
     * helper's "limits" order; limited: any of them is set */
    int64_t resource_limits[4];
    int limited;
} run_terms_t;

typedef enum {
    PHASE_BOOTING,    /* until the peer has the request; the boot deadline runs until it
                         is booted ('B'), the run's from then or from submit if later */
    PHASE_SETUP,      /* the run's deadline runs; setup output is not kept */
    PHASE_EVALUATING, /* output is captured for the answer */
} run_phase_t;

struct run {
    /* Set by run_init, read-only afterwards. */
    const atoms_t *atoms;
    struct monitor *monitor; /* for the owner-down callback */
    ErlNifEnv *env;          /* holds ref */
    ERL_NIF_TERM ref;
    int64_t boot_timeout_ms;

    /* The monitor thread's alone once the run is added to it. */
    spawn_fds_t fds;
    int epoll_fd;
    watch_t watches[WATCH_COUNT];
    int watching[WATCH_COUNT];
    ErlNifPid owner;
    ErlNifMonitor owner_monitor;
    int monitoring;

    run_phase_t phase;
    int64_t deadline;  /* boot deadline, then the run's */
    int64_t grace;     /* how long to wait for the end of a lost peer, then of teardown */
    run_terms_t terms; /* given at submit */
    int submitted;
    int booted;             /* the peer said 'B': ready for its request */
    ErlNifEnv *request_env; /* holds the request binary while it is written */
    ErlNifBinary request;
    uint8_t request_header[4];
    size_t request_sent;
    /* With limits, the request waits until the helper has them in force. */
    int limits_sent, limits_enforced;
    int64_t enforced_by[4]; /* mechanism_t of each of terms.resource_limits */
    int crossed;            /* limit_kind_t the helper reported crossed, or 0 */
    int64_t network_kind;   /* SANDBOX_NETNS_* of network: false, else 0 */

    output_t output;
    frame_reader_t frames;
    status_reader_t status;

    /* When each step happened (monotonic ns; 0: not yet), for the report. */
    int64_t t_submitted, t_booted, t_started, t_capturing, t_answered;
    /* The helper's last words: the tree's rusage once all of it is reaped. */
    int done;
    int64_t cpu_us, max_rss_kb;
    int reported;

    int lost;           /* the peer went away (or broke protocol) before answering */
    int broke_protocol; /* ... by sending what it must not */
    int answered;       /* the owner has its answer, or is gone */
    int ended;          /* everything is closed: the monitor may let go */
    int peer_exited;
    int wait_status;
    int64_t fail_stage, fail_errno;

    run_t *next; /* the monitor's list */
};

/* Fills in a fresh run for fds just spawned. Takes ownership of env. */
void run_init(run_t *r, const atoms_t *atoms, struct monitor *monitor, ErlNifEnv *env,
              ERL_NIF_TERM ref, int64_t boot_timeout_ms, const spawn_fds_t *fds, ErlNifPid owner);

/* Frees what run_init took and closes whatever is still open. */
void run_destroy(run_t *r);

/* Begins watching the run's pipes, the boot deadline and the owner. */
void run_start(run_t *r, int epoll_fd, int64_t now);

/* Queues the request frame; the deadline of terms->timeout_ms starts now
 * if the peer is booted, else when it is. The owner becomes new_owner; if
 * the run already answered another owner, new_owner gets
 * {sandbox, Ref, gone} instead. With terms->report, the owner also gets
 * {sandbox, Ref, {report, Map}} after the answer, once the helper has
 * reaped the whole tree (or given up on it). Takes ownership of
 * request_env. */
void run_submit(run_t *r, ErlNifEnv *request_env, ErlNifBinary request, const run_terms_t *terms,
                ErlNifPid new_owner, int64_t now);

/* Kills the run. notify: send {cancelled, Output} to the owner (who asked);
 * otherwise the owner is gone and nothing is sent. */
void run_cancel(run_t *r, int notify, int64_t now);

/* The owner monitor fired: cancel if it is the current one. */
void run_owner_down(run_t *r, const ErlNifMonitor *down, int64_t now);

/* An fd of the run is ready. */
void run_ready(run_t *r, watch_kind_t kind, const scratch_t *scratch, int64_t now);

/* Deadlines and graces that have passed. */
void run_tick(run_t *r, const scratch_t *scratch, int64_t now);

/* The next time run_tick has something to do, or DEADLINE_NEVER. */
int64_t run_next_deadline(const run_t *r);

/* Closes everything at once, for unloading: the helper kills the tree when
 * its control pipe closes. */
void run_abandon(run_t *r);

#endif
