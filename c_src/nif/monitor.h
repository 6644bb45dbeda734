/* The monitor: one thread that waits on every run's pipes (epoll), keeps
 * their deadlines on CLOCK_MONOTONIC, kills on expiry and sends outcomes.
 * No scheduler ever blocks on a run. NIF calls talk to it only through a
 * locked command queue and an eventfd; all run state is the thread's. */
#ifndef SANDBOX_MONITOR_H
#define SANDBOX_MONITOR_H

#include "run.h"

#include <erl_nif.h>

typedef struct monitor monitor_t;

/* Starts the thread. Returns NULL if it cannot (no memory, no thread):
 * the NIF then fails to load. */
monitor_t *monitor_start(void);

/* Kills every run still going, stops the thread and frees the monitor. */
void monitor_stop(monitor_t *m);

/* Each returns 0, or -1 if the command could not be queued (no memory). */
int monitor_add(monitor_t *m, run_t *r);
/* Takes ownership of request_env on success. */
int monitor_submit(monitor_t *m, run_t *r, ErlNifEnv *request_env, ErlNifBinary request,
                   const run_terms_t *terms, ErlNifPid owner);
int monitor_cancel(monitor_t *m, run_t *r);
int monitor_owner_down(monitor_t *m, run_t *r, const ErlNifMonitor *down);

#endif
