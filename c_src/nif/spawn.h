/* Starting the helper (and through it the peer) with posix_spawn: its pipes,
 * fd layout, signal state and session. */
#ifndef SANDBOX_SPAWN_H
#define SANDBOX_SPAWN_H

#include <sys/types.h>

/* The host's ends of a run's pipes, all O_CLOEXEC and O_NONBLOCK. */
typedef struct {
    int output;  /* read: the peer's stdout and stderr */
    int request; /* write: frames for the peer */
    int reply;   /* read: frames from the peer */
    int orders;  /* write: the "limits" order; closing it orders the helper to kill */
    int notices; /* read: the helper's notices */
    /* The page where the peer counts what it printed and did not write
     * (common/unwritten.h): read with pread. */
    int unwritten;
    pid_t helper;
    /* A pidfd of the helper, or -1 where the kernel has none: the BEAM reaps
     * the helper on its own, so its bare pid may be recycled at any time. */
    int helper_pidfd;
} spawn_fds_t;

/* Starts argv[0] (the helper executable, an absolute path) with argv and
 * envp, its fds laid out as helper/sandbox_helper.c expects, in a new session, with an
 * empty signal mask and every signal at its default. Returns 0, or an errno
 * value with *step naming what failed. On failure nothing is left open. */
int spawn_helper(char *const argv[], char *const envp[], spawn_fds_t *out, const char **step);

/* Closes the host ends that are still open and marks them closed (-1). */
void spawn_close_fds(spawn_fds_t *fds);

#endif
