/* A booted VM's CPU priority (see priority.c). */
#ifndef SANDBOX_PRIORITY_H
#define SANDBOX_PRIORITY_H

#include <sys/types.h>

/* Moves every thread of process `vm` from SCHED_IDLE to SCHED_OTHER at
 * nice 19. Threads that end meanwhile are skipped. Returns 0, or -1 with
 * errno set (EPERM without CAP_SYS_NICE: RLIMIT_NICE guards the way out
 * of SCHED_IDLE). */
int priority_lift_booted(pid_t vm);

/* Around the helper's change of identity in a strict run (setuid from
 * root to the box's user): before it, asks that capabilities be kept
 * across it; after it, keeps CAP_SYS_NICE alone, so that the helper can
 * still lift its VM (the kernel lets a thread leave SCHED_IDLE only with
 * that capability or an RLIMIT_NICE that only CAP_SYS_RESOURCE could
 * raise). The VM, in its own user namespace, cannot reach a process that
 * holds a capability it lacks. Each returns 0, or -1 with errno; a
 * helper that had no CAP_SYS_NICE to keep gets EPERM, and its VM stays
 * under SCHED_IDLE. */
int priority_keep_nice_before_setuid(void);
int priority_keep_nice_after_setuid(void);

#endif
