/* The watcher: one thread that waits on every run's pipes (epoll), keeps
 * their deadlines on CLOCK_MONOTONIC, kills on expiry and sends outcomes.
 * No scheduler ever blocks on a run. NIF calls talk to it only through a
 * locked command queue and an eventfd; all run state is the thread's. */
#ifndef SANDBOX_WATCHER_H
#define SANDBOX_WATCHER_H

#include "run.h"

#include <erl_nif.h>

typedef struct watcher watcher_t;

/* Starts the thread. Returns NULL if it cannot (no memory, no thread):
 * the NIF then fails to load. */
watcher_t *watcher_start(void);

/* Kills every run still going, stops the thread and frees the watcher. */
void watcher_stop(watcher_t *m);

/* Each returns 0, or -1 if the command could not be queued (no memory). */
int watcher_add(watcher_t *m, run_t *r);
/* Takes ownership of request_env on success. */
int watcher_submit(watcher_t *m, run_t *r, ErlNifEnv *request_env, ErlNifBinary request,
                   const run_terms_t *terms, ErlNifPid owner);
int watcher_cancel(watcher_t *m, run_t *r);
int watcher_owner_down(watcher_t *m, run_t *r, const ErlNifMonitor *down);

#endif
