/* The lines host and helper exchange, one text line each. The helper's
 * notices to the host, on the notices pipe:
 *
 *   network <kind>                   the peer will have a network namespace
 *                                    of its own, of this kind (SANDBOX_NETNS_*)
 *   enforced <memory> <cpu> <processes> <file size>
 *                                    the limits asked for are in force, each
 *                                    by this mechanism (mechanism_t)
 *   breach <limit>                   a limit was crossed (limit_kind_t): the
 *                                    tree is being killed
 *   exit <wait status>               the peer ended (raw wait(2) status)
 *   done <utime us> <stime us> <maxrss kB>
 *                                    the whole tree is reaped: rusage of all
 *   fail <stage> <errno>             the helper could not do its job
 *
 * and the host's orders, on the orders pipe:
 *
 *   limits <memory bytes> <cpu ms> <processes> <file bytes>
 *                                    enforce these from now on (-1: none)
 *   booted <pid>                     the peer has booted; <pid> is the VM's
 *                                    own, as it sees it (in a strict box,
 *                                    in its pid namespace); its priority
 *                                    may rise: see helper/priority.c
 *
 * EOF on the orders pipe (or anything but those lines) orders the tree
 * killed.
 *
 * Text keeps the channel readable in a trace; lines are short and bounded. */
#ifndef SANDBOX_HELPER_LINE_H
#define SANDBOX_HELPER_LINE_H

#include "protocol.h"

#include <stddef.h>
#include <stdint.h>

#define HELPER_LINE_MAX 128

typedef enum {
    NOTICE_EXIT,
    NOTICE_DONE,
    NOTICE_FAIL,
    NOTICE_ENFORCED,
    NOTICE_BREACH,
    NOTICE_NETWORK,
    ORDER_LIMITS,
    ORDER_BOOTED,
} helper_line_kind_t;

/* How a limit is enforced (reported in "enforced", and by Sandbox.info/0). */
typedef enum {
    MECHANISM_NONE = 0,     /* not asked for */
    MECHANISM_CGROUP = 1,   /* a cgroup v2 controller: memory.max, pids.max, cpu.stat */
    MECHANISM_SAMPLING = 2, /* the helper measures the tree every few ms and kills it */
    MECHANISM_RLIMIT = 3,   /* setrlimit on every process of the tree */
} mechanism_t;

/* Which limit a run crossed. */
typedef enum {
    LIMIT_MEMORY = 1,
    LIMIT_CPU = 2,
    LIMIT_PROCESSES = 3,
} limit_kind_t;

/* In "fail <stage> <errno>" (see protocol.h). */
typedef enum {
    STAGE_SETUP = SANDBOX_STAGE_SETUP,
    STAGE_FORK = SANDBOX_STAGE_FORK,
    STAGE_NETWORK = SANDBOX_STAGE_NETWORK,
    STAGE_LIMITS = SANDBOX_STAGE_LIMITS,
} helper_stage_t;

typedef struct {
    helper_line_kind_t kind;
    /* wait status | utime, stime, maxrss | stage, errno |
     * four mechanisms | limit_kind_t | SANDBOX_NETNS_* | four limits |
     * the booted VM's own pid */
    int64_t a, b, c, d;
} helper_line_t;

/* Formats m with its newline into out; returns the length, or 0 if it does
 * not fit (it always fits in HELPER_LINE_MAX). */
size_t helper_line_format(const helper_line_t *m, char *out, size_t out_len);

/* Parses one line without its newline. Returns 0, or -1 if it is malformed. */
int helper_line_parse(const char *line, size_t len, helper_line_t *m);

/* Splits a byte stream into lines. */
typedef struct {
    char line[HELPER_LINE_MAX];
    size_t len;
    int overflow; /* a line longer than HELPER_LINE_MAX was seen */
} helper_line_reader_t;

void helper_line_reader_init(helper_line_reader_t *r);

/* Consumes bytes until a line completes (returns 1 and fills *m; *consumed
 * says how far it got), or the bytes run out (returns 0). Returns -1 for a
 * malformed or overlong line: the channel is then not to be trusted. */
int helper_line_feed(helper_line_reader_t *r, const char *data, size_t n, size_t *consumed,
                     helper_line_t *m);

#endif
