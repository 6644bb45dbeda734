/* A cgroup v2 per run: the strongest way to kill a whole tree. Every
 * process the peer starts is born in its cgroup, and one write to
 * cgroup.kill SIGKILLs them all at once, forks in flight included. */
#ifndef SANDBOX_CGROUP_H
#define SANDBOX_CGROUP_H

#include "common/pids.h"

#include <stddef.h>
#include <stdint.h>
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
