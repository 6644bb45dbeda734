/* Finding and killing the processes a subreaper is responsible for. The
 * kernel here has no /proc/<pid>/task/<tid>/children, so children are found
 * by scanning /proc/<pid>/stat for their parent. */
#ifndef SANDBOX_TREE_H
#define SANDBOX_TREE_H

#include "common/pids.h"

#include <stddef.h>
#include <sys/types.h>

/* Extracts the parent pid from the text of /proc/<pid>/stat. The command
 * name may hold spaces and parentheses, so parsing starts after the last
 * ')'. Returns 0, or -1 if the text is malformed. */
int tree_parse_ppid(const char *stat, size_t len, pid_t *ppid);

/* SIGKILLs the process group led by `leader`, a child of the caller, in
 * one call while the leader (alive or a zombie) still pins the group id,
 * then reaps the leader. Returns 0 with its wait status, or -1 with errno. */
int tree_kill_group(pid_t leader, int *wait_status);

/* SIGKILLs every child of `parent`, and the process group of each child
 * unless it is `spare_pgid` (the caller's own group). Killing the group in
 * one call beats a child that is busy forking: the kernel signals a whole
 * group atomically with respect to fork. Returns the number of children
 * found, or -1 with errno if /proc cannot be read. */
int tree_kill_children(pid_t parent, pid_t spare_pgid);

/* How long tree_end_all waits for a child to end before it scans /proc
 * again for children reparented to it meanwhile. */
#define TREE_RESCAN_MS 50

/* For a subreaper: SIGKILLs every child of the caller (and each child's
 * group, unless it is spare_pgid) and reaps them, again and again as
 * orphans are reparented to it, until it has no child left. Every child
 * found is killed before any is waited for. One scan of /proc per batch of
 * children that have ended, not per child: a fork bomb leaves thousands.
 * A child's end is awaited with sigtimedwait (SIGCHLD is blocked while it
 * works, and must not be ignored), at most TREE_RESCAN_MS before the next
 * scan, so a child whose end waits on a process that becomes ours only
 * later (its tracer) holds nothing up.
 *
 * `leader` (0 for none) is a child whose wait status the caller wants.
 * Returns 1 if it was among those reaped, with its status in
 * *leader_status; 0 if not; -1 with errno. */
int tree_end_all(pid_t spare_pgid, pid_t leader, int *leader_status);

/* Extracts from the text of /proc/<pid>/status the process's pid in its
 * innermost pid namespace: the last field of its "NSpid:" line (the only
 * one where it has no namespace of its own). Returns 0, or -1 if there is
 * no such line or it is malformed. */
int tree_parse_ns_pid(const char *status, size_t len, pid_t *ns_pid);

/* The process of root's tree (root first, then its descendants) whose pid
 * in its own namespace is ns_pid: how a process that reported its pid
 * from inside a pid namespace is found from outside. Returns its pid here,
 * or 0 if none is (errno ESRCH), or -1 with errno. */
pid_t tree_find_ns_pid(pid_t root, pid_t ns_pid);

/* Appends every descendant of root (children, their children, ...) to out,
 * as /proc shows them now. Returns 0, or -1 with errno. */
int tree_descendants(pid_t root, pids_t *out);

#endif
