#include "spawn.h"

#include "common/fdio.h"
#include "common/protocol.h"
#include "common/syscalls.h"
#include "common/unwritten.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <unistd.h>

enum { PIPE_OUTPUT, PIPE_REQUEST, PIPE_REPLY, PIPE_ORDERS, PIPE_NOTICES, PIPE_COUNT };

/* Where each pipe's child end lands in the helper (protocol.h), and which
 * end the child holds (1: it writes, 0: it reads). */
static const struct {
    int child_fd;
    int child_writes;
} LAYOUT[PIPE_COUNT] = {
    [PIPE_OUTPUT] = {SANDBOX_FD_OUTPUT, 1},   [PIPE_REQUEST] = {SANDBOX_FD_REQUEST, 0},
    [PIPE_REPLY] = {SANDBOX_FD_REPLY, 1},     [PIPE_ORDERS] = {SANDBOX_FD_ORDERS, 0},
    [PIPE_NOTICES] = {SANDBOX_FD_NOTICES, 1},
};
#define OUTPUT_PIPE_BYTES (1 << 20)

/* Moves fd above the helper's fixed slots, so no dup2 of the layout can
 * overwrite an end that a later dup2 still needs. */
static int lift(int *fd) {
    if (*fd >= SANDBOX_FD_FIRST_FREE)
        return 0;
    int lifted = fcntl(*fd, F_DUPFD_CLOEXEC, SANDBOX_FD_FIRST_FREE);
    if (lifted < 0)
        return -1;
    fdio_close(*fd);
    *fd = lifted;
    return 0;
}

static void close_all(int fds[PIPE_COUNT][2]) {
    for (int i = 0; i < PIPE_COUNT; i++)
        for (int j = 0; j < 2; j++) {
            fdio_close(fds[i][j]);
            fds[i][j] = -1;
        }
}

static int make_pipes(int fds[PIPE_COUNT][2], const char **step) {
    for (int i = 0; i < PIPE_COUNT; i++) {
        *step = "pipe";
        if (pipe2(fds[i], O_CLOEXEC) < 0)
            return -1;
        *step = "fcntl";
        if (lift(&fds[i][0]) < 0 || lift(&fds[i][1]) < 0)
            return -1;
        int host_end = fds[i][LAYOUT[i].child_writes ? 0 : 1];
        if (fdio_set_nonblock(host_end) < 0)
            return -1;
    }
    /* A bigger pipe lets a flood go on while the watcher is busy elsewhere.
     * Best effort: the system may cap pipe sizes. */
    (void)fcntl(fds[PIPE_OUTPUT][0], F_SETPIPE_SZ, OUTPUT_PIPE_BYTES);
    return 0;
}

static int file_actions(posix_spawn_file_actions_t *fa, int fds[PIPE_COUNT][2], int unwritten) {
    int err = posix_spawn_file_actions_addopen(fa, SANDBOX_FD_NULL, "/dev/null", O_RDONLY, 0);
    for (int i = 0; i < PIPE_COUNT && err == 0; i++) {
        int child_end = fds[i][LAYOUT[i].child_writes ? 1 : 0];
        err = posix_spawn_file_actions_adddup2(fa, child_end, LAYOUT[i].child_fd);
    }
    if (err == 0)
        err = posix_spawn_file_actions_adddup2(fa, fds[PIPE_OUTPUT][1], STDERR_FILENO);
    if (err == 0)
        err = posix_spawn_file_actions_adddup2(fa, unwritten, SANDBOX_FD_UNWRITTEN);
    /* Nothing else of the host's (its sockets, files, other pipes): the
     * helper closes every fd past these before anything else (glibc's
     * posix_spawn_file_actions_addclosefrom_np would need 2.34). */
    return err;
}

static int spawn_attributes(posix_spawnattr_t *attr) {
    sigset_t none, all;
    if (sigemptyset(&none) < 0 || sigfillset(&all) < 0)
        return errno;
    int err = posix_spawnattr_setsigmask(attr, &none);
    if (err == 0)
        err = posix_spawnattr_setsigdefault(attr, &all);
    if (err == 0)
        err = posix_spawnattr_setpgroup(attr, 0);
    /* A process group of its own, out of reach of the terminal's job
     * control, but the host's session: see helper/vm.c. */
    if (err == 0)
        err = posix_spawnattr_setflags(attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF |
                                                 POSIX_SPAWN_SETPGROUP);
    return err;
}

int spawn_helper(char *const argv[], char *const envp[], spawn_fds_t *out, const char **step) {
    int fds[PIPE_COUNT][2];
    for (int i = 0; i < PIPE_COUNT; i++)
        fds[i][0] = fds[i][1] = -1;
    if (make_pipes(fds, step) < 0) {
        int err = errno;
        close_all(fds);
        return err;
    }
    *step = "memfd_create";
    int unwritten = unwritten_create();
    if (unwritten < 0 || lift(&unwritten) < 0) {
        int err = errno;
        fdio_close(unwritten);
        close_all(fds);
        return err;
    }

    posix_spawn_file_actions_t fa;
    posix_spawnattr_t attr;
    *step = "posix_spawn_file_actions";
    int err = posix_spawn_file_actions_init(&fa);
    if (err != 0) {
        fdio_close(unwritten);
        close_all(fds);
        return err;
    }
    *step = "posix_spawnattr";
    err = posix_spawnattr_init(&attr);
    if (err == 0) {
        err = spawn_attributes(&attr);
        if (err == 0) {
            *step = "posix_spawn_file_actions";
            err = file_actions(&fa, fds, unwritten);
        }
        if (err == 0) {
            *step = "posix_spawn";
            err = posix_spawn(&out->helper, argv[0], &fa, &attr, argv, envp);
        }
        posix_spawnattr_destroy(&attr);
    }
    posix_spawn_file_actions_destroy(&fa);
    if (err != 0) {
        fdio_close(unwritten);
        close_all(fds);
        return err;
    }

    out->unwritten = unwritten;
    out->output = fds[PIPE_OUTPUT][0];
    out->request = fds[PIPE_REQUEST][1];
    out->reply = fds[PIPE_REPLY][0];
    out->orders = fds[PIPE_ORDERS][1];
    out->notices = fds[PIPE_NOTICES][0];
    /* Opened at once: for the pid to name another process by now, the helper
     * would have to have ended and the pid space wrapped around meanwhile. */
    out->helper_pidfd = sys_pidfd_open(out->helper);
    for (int i = 0; i < PIPE_COUNT; i++) {
        fdio_close(fds[i][LAYOUT[i].child_writes ? 1 : 0]);
        fds[i][LAYOUT[i].child_writes ? 1 : 0] = -1;
    }
    return 0;
}

void spawn_close_fds(spawn_fds_t *fds) {
    int *ends[] = {&fds->output,  &fds->request,      &fds->reply,    &fds->orders,
                   &fds->notices, &fds->helper_pidfd, &fds->unwritten};
    for (int **end = ends; end < ends + sizeof ends / sizeof ends[0]; end++) {
        fdio_close(**end);
        **end = -1;
    }
}
