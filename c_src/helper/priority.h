/* A booted VM's CPU priority (see priority.c). */
#ifndef SANDBOX_PRIORITY_H
#define SANDBOX_PRIORITY_H

#include <sys/types.h>

/* Moves every thread of process `vm` from SCHED_IDLE to SCHED_OTHER at
 * nice 19. Threads that end meanwhile are skipped. Returns 0, or -1 with
 * errno set (EPERM without CAP_SYS_NICE: RLIMIT_NICE guards the way out
 * of SCHED_IDLE). */
int priority_lift_booted(pid_t vm);

#endif
