#include "watcher.h"

#include "deadline.h"
#include "common/fdio.h"

#include <errno.h>
#include <stdint.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#define SCRATCH_BYTES (64 * 1024)
#define EVENTS_PER_WAIT 64

typedef enum { CMD_ADD, CMD_SUBMIT, CMD_CANCEL, CMD_OWNER_DOWN } command_kind_t;

typedef struct command {
    command_kind_t kind;
    run_t *run; /* kept (enif_keep_resource) while queued */
    ErlNifEnv *request_env;
    ErlNifBinary request;
    run_terms_t terms;
    ErlNifPid owner;
    ErlNifMonitor down;
    struct command *next;
} command_t;

struct watcher {
    ErlNifMutex *lock;
    command_t *head, *tail; /* under lock */
    int stopping;           /* under lock */
    int epoll_fd;
    int wake_fd;
    ErlNifTid thread;
    /* The thread's alone. */
    run_t *runs;
    scratch_t scratch;
};

static void free_command(command_t *c) {
    if (c->request_env)
        enif_free_env(c->request_env);
    enif_release_resource(c->run);
    enif_free(c);
}

static void wake(watcher_t *m) {
    uint64_t one = 1;
    /* EAGAIN means the counter is already non-zero: the thread will wake. */
    (void)fdio_write_some(m->wake_fd, &one, sizeof one);
}

static void post(watcher_t *m, command_t *c) {
    enif_keep_resource(c->run);
    c->next = NULL;
    enif_mutex_lock(m->lock);
    if (m->tail)
        m->tail->next = c;
    else
        m->head = c;
    m->tail = c;
    enif_mutex_unlock(m->lock);
    wake(m);
}

static command_t *new_command(command_kind_t kind, run_t *r) {
    command_t *c = enif_alloc(sizeof *c);
    if (c)
        *c = (command_t){.kind = kind, .run = r};
    return c;
}

int watcher_add(watcher_t *m, run_t *r) {
    command_t *c = new_command(CMD_ADD, r);
    if (!c)
        return -1;
    post(m, c);
    return 0;
}

int watcher_submit(watcher_t *m, run_t *r, ErlNifEnv *request_env, ErlNifBinary request,
                   const run_terms_t *terms, ErlNifPid owner) {
    command_t *c = new_command(CMD_SUBMIT, r);
    if (!c)
        return -1;
    c->request_env = request_env;
    c->request = request;
    c->terms = *terms;
    c->owner = owner;
    post(m, c);
    return 0;
}

int watcher_cancel(watcher_t *m, run_t *r) {
    command_t *c = new_command(CMD_CANCEL, r);
    if (!c)
        return -1;
    post(m, c);
    return 0;
}

int watcher_owner_down(watcher_t *m, run_t *r, const ErlNifMonitor *down) {
    command_t *c = new_command(CMD_OWNER_DOWN, r);
    if (!c)
        return -1;
    c->down = *down;
    post(m, c);
    return 0;
}

/* ---- the thread ------------------------------------------------------- */

static void run_command(watcher_t *m, command_t *c, int64_t now) {
    run_t *r = c->run;
    switch (c->kind) {
    case CMD_ADD:
        enif_keep_resource(r); /* the watcher's own reference, until it ends */
        r->next = m->runs;
        m->runs = r;
        run_start(r, m->epoll_fd, &m->scratch, now);
        break;
    case CMD_SUBMIT:
        run_submit(r, c->request_env, c->request, &c->terms, c->owner, now);
        c->request_env = NULL;
        break;
    case CMD_CANCEL:
        run_cancel(r, now);
        break;
    case CMD_OWNER_DOWN:
        run_owner_down(r, &c->down, now);
        break;
    }
}

/* Runs queued commands. Returns 1 if the watcher is to stop. */
static int take_commands(watcher_t *m, int64_t now) {
    uint64_t count;
    (void)fdio_read(m->wake_fd, &count, sizeof count);
    enif_mutex_lock(m->lock);
    command_t *c = m->head;
    m->head = m->tail = NULL;
    int stopping = m->stopping;
    enif_mutex_unlock(m->lock);
    while (c) {
        command_t *next = c->next;
        if (!stopping)
            run_command(m, c, now);
        free_command(c);
        c = next;
    }
    return stopping;
}

static int64_t next_deadline(watcher_t *m) {
    int64_t next = DEADLINE_NEVER;
    for (run_t *r = m->runs; r; r = r->next)
        next = deadline_min(next, run_next_deadline(r));
    return next;
}

/* Lets go of runs that have ended: their resources may now be destroyed. */
static void release_ended(watcher_t *m) {
    run_t **link = &m->runs;
    while (*link) {
        run_t *r = *link;
        if (run_ended(r)) {
            *link = r->next;
            r->next = NULL;
            enif_release_resource(r);
        } else {
            link = &r->next;
        }
    }
}

static void *watcher_main(void *arg) {
    watcher_t *m = arg;
    struct epoll_event events[EVENTS_PER_WAIT];
    for (;;) {
        int wait_ms = deadline_wait_ms(deadline_now(), next_deadline(m));
        int n = epoll_wait(m->epoll_fd, events, EVENTS_PER_WAIT, wait_ms);
        if (n < 0 && errno != EINTR)
            break; /* cannot happen with valid arguments; end every run below */
        int64_t now = deadline_now();
        int stop = 0;
        for (int i = 0; i < n; i++) {
            watch_t *w = events[i].data.ptr;
            if (!w)
                stop |= take_commands(m, now);
            else
                run_ready(w->run, w->kind, now);
        }
        if (stop)
            break;
        for (run_t *r = m->runs; r; r = r->next)
            run_tick(r, now);
        release_ended(m);
    }
    for (run_t *r = m->runs; r; r = r->next)
        run_abandon(r);
    release_ended(m);
    return NULL;
}

/* ---- life ------------------------------------------------------------- */

static void free_watcher(watcher_t *m) {
    fdio_close(m->epoll_fd);
    fdio_close(m->wake_fd);
    if (m->lock)
        enif_mutex_destroy(m->lock);
    enif_free(m->scratch.read);
    enif_free(m->scratch.drain);
    enif_free(m);
}

watcher_t *watcher_start(void) {
    watcher_t *m = enif_alloc(sizeof *m);
    if (!m)
        return NULL;
    *m = (watcher_t){.epoll_fd = -1, .wake_fd = -1};
    m->lock = enif_mutex_create("sandbox_watcher");
    m->scratch.read = enif_alloc(SCRATCH_BYTES);
    m->scratch.drain = enif_alloc(SCRATCH_BYTES);
    m->scratch.len = SCRATCH_BYTES;
    m->epoll_fd = epoll_create1(EPOLL_CLOEXEC);
    m->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (!m->lock || !m->scratch.read || !m->scratch.drain || m->epoll_fd < 0 || m->wake_fd < 0) {
        free_watcher(m);
        return NULL;
    }
    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = NULL};
    if (epoll_ctl(m->epoll_fd, EPOLL_CTL_ADD, m->wake_fd, &ev) < 0) {
        free_watcher(m);
        return NULL;
    }
    ErlNifThreadOpts *opts = enif_thread_opts_create("sandbox_watcher_opts");
    if (opts)
        opts->suggested_stack_size = 128; /* kilowords; reads use the heap */
    int rc = enif_thread_create("sandbox_watcher", &m->thread, watcher_main, m, opts);
    if (opts)
        enif_thread_opts_destroy(opts);
    if (rc != 0) {
        free_watcher(m);
        return NULL;
    }
    return m;
}

void watcher_stop(watcher_t *m) {
    enif_mutex_lock(m->lock);
    m->stopping = 1;
    enif_mutex_unlock(m->lock);
    wake(m);
    enif_thread_join(m->thread, NULL);
    /* Commands posted after the thread's last look. */
    for (command_t *c = m->head; c;) {
        command_t *next = c->next;
        free_command(c);
        c = next;
    }
    free_watcher(m);
}
