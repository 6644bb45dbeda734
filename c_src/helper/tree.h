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

/* For a subreaper: SIGKILLs every child of the caller (and each child's
 * group, unless it is spare_pgid) and reaps them, again and again as
 * orphans are reparented to it, until it has no child left. One scan of
 * /proc per batch of children that have ended, not per child: a fork bomb
 * leaves thousands. Returns 0, or -1 with errno. */
int tree_end_all(pid_t spare_pgid);

/* Appends every descendant of root (children, their children, ...) to out,
 * as /proc shows them now. Returns 0, or -1 with errno. */
int tree_descendants(pid_t root, pids_t *out);

#endif
