/* A cgroup v2 per run: the strongest way to kill a whole tree. Every
 * process the peer starts is born in its cgroup, and one write to
 * cgroup.kill SIGKILLs them all at once, forks in flight included. */
#ifndef SANDBOX_CGROUP_H
#define SANDBOX_CGROUP_H

#include "common/pids.h"

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* Creates <parent>/sandbox-run-<id>, taking the place of an empty one a
 * killed helper of the same pid left. Returns its path (malloc'd), or NULL
 * with errno. */
char *cgroup_create(const char *parent, pid_t id);

/* Gives the cgroup at path (the directory and every file in it) to
 * uid:gid, as cgroup v2 delegates a subtree: the owner may then create,
 * enter, kill and remove cgroups below it, and write their limits.
 * Returns 0, or -1 with errno. */
int cgroup_delegate(const char *path, uid_t uid, gid_t gid);

/* The directory <parent>/<name>, made if missing and delegated to uid:gid.
 * Returns its path (malloc'd), or NULL with errno. */
char *cgroup_delegated(const char *parent, const char *name, uid_t uid, gid_t gid);

/* The cgroup of the run of helper `id` under parent. With `delegate` (a
 * root host's strict run), it is made in a subtree given to uid:gid, and
 * given to them itself: the helper, once it is that user too, can still
 * kill, measure, limit and remove it. Returns its path (malloc'd), or NULL
 * with errno. */
char *cgroup_for_run(const char *parent, pid_t id, int delegate, uid_t uid, gid_t gid);

/* Moves the calling process into the cgroup at path. Returns 0 or -1. */
int cgroup_enter(const char *path);

/* Moves process pid (all its threads) into the cgroup at path, of either
 * cgroup version. Returns 0, or -1 with errno. */
int cgroup_move(const char *path, pid_t pid);

/* Forks the calling (single-threaded) process. With cgroup (a cgroup v2
 * directory), the child is born in it where the kernel can (clone3's
 * CLONE_INTO_CGROUP, Linux 5.7+), rather than moved into it: a move
 * waits for an RCU grace period, milliseconds. *born_inside says whether
 * it was; if not, the child is where the caller is. Returns as fork(). */
pid_t cgroup_fork(const char *cgroup, int *born_inside);

/* SIGKILLs every process in the cgroup (cgroup.kill, Linux 5.14+).
 * Returns 0 or -1 with errno. */
int cgroup_kill(const char *path);

/* Removes the cgroup once its last process is gone; retries briefly while
 * the kernel still counts exiting processes. Returns 0 or -1 with errno. */
int cgroup_remove(const char *path);

/* Writes text to the file `name` of the cgroup at dir. Returns 0, or -1
 * with errno. */
int cgroup_write(const char *dir, const char *name, const char *text);

/* Whether the cgroup at dir has a file `name` (memory.max exists only
 * where the memory controller is enabled for it). */
int cgroup_has(const char *dir, const char *name);

/* Parses a cgroup file's text: with key NULL, the file is one value (as
 * pids.current); otherwise it holds "key value" lines (as memory.events).
 * "max" reads as -1. Returns 0, or -1 if the value is missing or malformed. */
int cgroup_parse_value(const char *text, size_t len, const char *key, int64_t *value);

/* Reads one value of the file `name` of the cgroup at dir (see
 * cgroup_parse_value). Returns 0, or -1 with errno. */
int cgroup_read_value(const char *dir, const char *name, const char *key, int64_t *value);

/* Appends the pids of every process in the cgroup at dir. Returns 0, or -1
 * with errno. */
int cgroup_procs(const char *dir, pids_t *out);

#endif
