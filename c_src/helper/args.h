/* The helper's command line:
 *
 *   sandbox_helper <host pid> [--no-network] [--user UID:GID] [--guest-output]
 *                  [--idle | --nice N] [--idle-group DIR] <cgroup parent | -> <command> [args...]
 *
 * --no-network: the VM gets a network namespace of its own, empty (see
 * netns.h). --user: the VM runs as UID:GID with no supplementary groups
 * (a root host's strict runs), set in the forked child before it execs
 * the command; the helper keeps its own identity, to kill and measure.
 * --guest-output: the child opens the output pipe anew, non-blocking, as
 * SANDBOX_FD_GUEST_OUTPUT for the VM's output device, before it gives up
 * its identity (the pipe is its owner's alone to open) and before the box
 * closes /proc to it. --idle: the VM runs under SCHED_IDLE, on CPU time
 * nothing else wants; --nice: it runs N (0 to 19) steps of niceness below
 * the helper. Either way VMs booting on every core leave the host's own
 * threads the CPU when they wake; the helper keeps the host's priority,
 * to keep deadlines and read output on time. --idle-group: the VM is
 * also moved into DIR, a CPU cgroup the host marked idle (cpu.idle) and
 * every VM shares: the scheduler then weighs all of them as one entity
 * below the host's, where SCHED_IDLE threads alone, each weighed on its
 * own, still delayed the host's wake-ups by up to a tick. */
#ifndef SANDBOX_HELPER_ARGS_H
#define SANDBOX_HELPER_ARGS_H

#include <sys/types.h>

typedef struct {
    pid_t host;
    int no_network;
    int drop; /* run the command as uid:gid */
    int guest_output;
    int idle;               /* the VM under SCHED_IDLE */
    int nice;               /* 0 to 19: added to the VM's niceness */
    const char *idle_group; /* NULL: none */
    uid_t uid;
    gid_t gid;
    const char *cgroup_parent; /* NULL: "-", none */
    char **command;
} helper_args_t;

/* Returns 0, or -1 (with the usage printed on stderr) for a bad line. */
int helper_args_parse(int argc, char **argv, helper_args_t *out);

#endif
