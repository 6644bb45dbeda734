/* A cgroup v2 per run: the strongest way to kill a whole tree. Every
 * process the peer starts is born in its cgroup, and one write to
 * cgroup.kill SIGKILLs them all at once, forks in flight included. */
#ifndef SANDBOX_CGROUP_H
#define SANDBOX_CGROUP_H

#include <sys/types.h>

/* Creates <parent>/sandbox-run-<id>. Returns its path (malloc'd), or NULL
 * with errno. */
char *cgroup_create(const char *parent, pid_t id);

/* Moves the calling process into the cgroup at path. Returns 0 or -1. */
int cgroup_enter(const char *path);

/* SIGKILLs every process in the cgroup (cgroup.kill, Linux 5.14+).
 * Returns 0 or -1 with errno. */
int cgroup_kill(const char *path);

/* Removes the cgroup once its last process is gone; retries briefly while
 * the kernel still counts exiting processes. Returns 0 or -1 with errno. */
int cgroup_remove(const char *path);

#endif
