/* The life of one run as a state machine, apart from any I/O or ERTS: the
 * run's code (run.c) turns what it reads into events, feeds them here, and
 * carries out the actions that come back. Every deadline is kept here too
 * (run_fsm_tick). Unit-tested without ERTS (c_src/test/test_run_fsm.c).
 *
 *   BOOTING ──B──▶ IDLE ──submit──▶ LIMITING ──enforced──▶ STARTING ──S──▶ SETUP ──C──▶ EVALUATING
 *      │  └───B (submitted)────────────┴──────(no limits)──────┘   └──S (captures early)──▶│
 *      │                                                                                    R
 *      ├── deadline, cancel, breach, :output_limit ────────────────────────────▶ TEARDOWN ◀─┘
 *      ├── owner down ─────────────────────────────────────────────────────────▶ TEARDOWN
 *      └── peer or helper gone, or lying ──▶ LOST ──exit status and output end,──▶ TEARDOWN
 *                                                   or grace
 *   TEARDOWN ──output and status pipes at EOF, or grace (helper killed)──▶ ENDED
 *
 * Any state before TEARDOWN reacts to the deadline, cancel, owner down, a
 * breach and a lost peer as drawn from BOOTING. Entering TEARDOWN always
 * stops the peer (the helper kills the tree when its control pipe closes).
 *
 * A run without a setup on a VM that has booted may capture early: its
 * capture begins when it is submitted (or at the boot, if later), and
 * the peer, told so in the request, evaluates after 'S' without 'C' and
 * waiting for 'G': one round trip less. Only what the VM printed while
 * it booted or waited is dropped then, all of it in the pipe by then. */
#ifndef SANDBOX_RUN_FSM_H
#define SANDBOX_RUN_FSM_H

#include <stdint.h>

typedef enum {
    RUN_BOOTING,    /* the peer boots; the boot deadline runs */
    RUN_IDLE,       /* booted, no request yet (a pool's VM): no deadline */
    RUN_LIMITING,   /* the helper is putting the run's limits in force */
    RUN_STARTING,   /* the request is on its way; waiting for 'S' */
    RUN_SETUP,      /* the setup runs; its output is dropped */
    RUN_EVALUATING, /* the code runs; its output is the run's */
    RUN_LOST,       /* the peer went away before answering: waiting for its end */
    RUN_TEARDOWN,   /* answered (or the owner is gone): the tree is being killed */
    RUN_ENDED,      /* everything closed; the resource may go */
} run_state_t;

/* What answer the owner gets. */
typedef enum {
    ANSWER_RESULT,       /* {ok, Result, Output} */
    ANSWER_TIMEOUT,      /* {timeout, Output} */
    ANSWER_CANCELLED,    /* {cancelled, Output} */
    ANSWER_OUTPUT_LIMIT, /* {output_limit, Output} */
    ANSWER_LIMIT,        /* {memory_limit | cpu_limit | process_limit, Output} */
    ANSWER_NOCONNECTION, /* {noconnection, Output, Exit} */
    ANSWER_BOOT_TIMEOUT, /* {boot_failed, timeout, BootOutput, Exit} */
    ANSWER_BOOT_EXITED,  /* {boot_failed, exited, BootOutput, Exit} */
    ANSWER_BOOT_BROKE,   /* {boot_failed, protocol, BootOutput, Exit} */
} run_answer_t;

typedef enum {
    EV_SUBMIT,       /* a request: a = its timeout (ms, < 0: none), b = SUBMIT_* flags */
    EV_CANCEL,       /* the owner asks to stop it */
    EV_OWNER_DOWN,   /* the owner died: stop, answer no one */
    EV_BOOTED,       /* frame 'B' */
    EV_STARTED,      /* frame 'S' */
    EV_CAPTURING,    /* frame 'C' */
    EV_RESULT,       /* frame 'R' */
    EV_PEER_LOST,    /* the frame channel closed, or the request could not be written */
    EV_PEER_BROKE,   /* the peer sent what it must not */
    EV_ENFORCED,     /* the helper: limits in force */
    EV_BREACH,       /* the helper: limit a (LIMIT_*) crossed */
    EV_EXIT_STATUS,  /* the helper: the peer's exit status is known */
    EV_NOTICES_EOF,  /* the status pipe closed: the helper is gone (done, before the answer) */
    EV_HELPER_BROKE, /* the helper said what it must not: its pipe is no longer read */
    EV_OUTPUT_LIMIT, /* the code printed past :output_limit */
    EV_OUTPUT_EOF,   /* the output pipe closed: the whole tree is gone */
} run_event_kind_t;

/* EV_SUBMIT's b. */
#define SUBMIT_LIMITED 1       /* limits go in force before the request */
#define SUBMIT_CAPTURE_EARLY 2 /* no setup: capture from the submit, no 'C' */

typedef struct {
    run_event_kind_t kind;
    int64_t a, b;
} run_event_t;

/* What the run's code must do, in order. */
typedef enum {
    ACT_SEND_READY,         /* tell the owner the (pooled) peer is booted */
    ACT_SEND_LIMITS,        /* the "limits" order to the helper */
    ACT_DELIVER_REQUEST,    /* start writing the request */
    ACT_BEGIN_CAPTURE,      /* drop the setup's output, keep the code's from now on */
    ACT_SEND_CAPTURE_BEGUN, /* frame 'G' to the peer */
    ACT_ANSWER,             /* send the answer (run_fsm_t.answer) */
    ACT_FORGET_OWNER,       /* nothing more is owed to the owner but the report */
    ACT_STOP_PEER,          /* close the control pipe and the frame channels */
    ACT_KILL_HELPER,        /* it did not finish in time */
    ACT_FINISH,             /* close what is left and send the report, if one is owed */
} run_action_t;

#define RUN_ACTIONS_MAX 6

typedef struct {
    run_action_t items[RUN_ACTIONS_MAX];
    int count;
} run_actions_t;

typedef struct {
    run_state_t state;
    int submitted, limited, limits_sent, enforced, capture_early;
    int started, broke; /* 'S' seen; lost for breaking the protocol */
    int capturing;      /* the capture has begun: at 'C', or early */
    int exit_known, output_closed, notices_closed;
    int crossed;         /* LIMIT_* the helper reported, or 0 */
    int64_t timeout_ms;  /* the run's, < 0: none */
    int64_t deadline;    /* the boot deadline, then the run's */
    int64_t grace;       /* how long LOST and TEARDOWN may wait */
    run_answer_t answer; /* for ACT_ANSWER */
    /* When each step happened (monotonic ns; 0: not yet), for the report. */
    int64_t t_submitted, t_booted, t_started, t_capturing, t_answered;
} run_fsm_t;

/* A run just spawned: booting, with its boot deadline from now. */
void run_fsm_init(run_fsm_t *f, int64_t boot_timeout_ms, int64_t now);

/* Feeds one event at time now. Returns 0, or -1 if the event breaks the
 * protocol where it came (a frame out of order): the caller then feeds
 * EV_PEER_BROKE. */
int run_fsm_step(run_fsm_t *f, const run_event_t *e, int64_t now, run_actions_t *out);

/* Whether a deadline or grace has passed at now; if so, the caller drains
 * what the output pipe holds (printed before it) and calls run_fsm_tick. */
int run_fsm_due(const run_fsm_t *f, int64_t now);

/* Enforces the deadline and the graces: the one place they are kept. */
void run_fsm_tick(run_fsm_t *f, int64_t now, run_actions_t *out);

/* The next time run_fsm_tick has something to do, or DEADLINE_NEVER. */
int64_t run_fsm_next_deadline(const run_fsm_t *f);

/* Whether the owner has its answer (or is gone). */
int run_fsm_answered(const run_fsm_t *f);

/* Whether what the output pipe brings now is the code's, unanswered: the
 * capture has begun (an early one before 'S' too) and the peer is not
 * lost. It is streamed and counted against :output_limit. */
int run_fsm_capturing_code(const run_fsm_t *f);

#endif
