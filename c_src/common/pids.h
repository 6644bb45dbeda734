/* A growable list of process ids: the members of a run's tree at one
 * instant, as read from a cgroup or from /proc. */
#ifndef SANDBOX_PIDS_H
#define SANDBOX_PIDS_H

#include <stddef.h>
#include <sys/types.h>

typedef struct {
    pid_t *items;
    size_t len, cap;
} pids_t;

void pids_init(pids_t *l);
void pids_free(pids_t *l);
void pids_clear(pids_t *l);

/* Appends pid. Returns 0, or -1 with errno ENOMEM. */
int pids_push(pids_t *l, pid_t pid);

/* Parses a decimal pid (1 to INT32_MAX) of exactly len bytes. Returns it,
 * or 0 if the text is not one. */
pid_t pids_parse(const char *text, size_t len);

/* Appends every pid of a text holding one decimal pid per line (the form
 * of cgroup.procs). Returns 0, or -1 (errno EINVAL for a line that is not
 * a pid, ENOMEM). */
int pids_parse_lines(pids_t *l, const char *text, size_t len);

#endif
