/* sandbox_guest_nif: loaded only inside a peer VM, by Sandbox.Guest.Native.
 *
 * Output: OTP's fd driver hands writes to a pipe to an async thread, so a port can
 * never tell when printed bytes have reached the output pipe. This gives
 * the peer's output device a write(2) that is done when it returns, on a
 * descriptor of its own: a fresh, non-blocking open of the output pipe, so
 * that the peer's children keep a blocking stdout.
 *
 * Signals: with :max_file_size the helper sets RLIMIT_FSIZE, and a write
 * past it raises SIGXFSZ, whose default action kills the whole VM. Ignored,
 * the write fails with EFBIG instead, which the code can handle.
 *
 * Accounting: ERTS ignores SIGCHLD, so a child of the VM that ends before
 * it (its forker, erl_child_setup, at the end of every run) is reaped by
 * the kernel, and with it the CPU time and peak memory of every program
 * the code ran. Back at its default, such a child stays a zombie until
 * the VM ends, then goes to the helper, whose rusage then covers it.
 *
 * CPU: the whole VM's CPU time so far, user and system, all threads, in
 * microseconds (erlang:statistics(runtime) leaves system time out), for
 * the benchmark's account of a boot stage by stage.
 *
 * Unwritten output: past :max_output the devices count what the code
 * prints in a page shared with the host (common/unwritten.h) rather than
 * write it; an add there costs no system call. */
#include "common/fdio.h"
#include "common/unwritten.h"

#include <erl_nif.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <time.h>

static ERL_NIF_TERM make_error(ErlNifEnv *env, int err) {
    ERL_NIF_TERM reason = err == EAGAIN ? enif_make_atom(env, "eagain") : enif_make_int(env, err);
    return enif_make_tuple2(env, enif_make_atom(env, "error"), reason);
}

/* open() -> {ok, Fd} | {error, eagain | Errno}. Opening /proc/self/fd/1 of a pipe
 * creates a new open file description: O_NONBLOCK set here stays here. */
static ERL_NIF_TERM open_nif(ErlNifEnv *env, int argc, const ERL_NIF_TERM argv[]) {
    (void)argc;
    (void)argv;
    int fd = open("/proc/self/fd/1", O_WRONLY | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0)
        return make_error(env, errno);
    return enif_make_tuple2(env, enif_make_atom(env, "ok"), enif_make_int(env, fd));
}

/* write(Fd, Binary) -> {ok, BytesWritten} | {error, eagain | Errno}. Writes
 * what the pipe takes now, eagain when it takes nothing. Never blocks. */
static ERL_NIF_TERM write_nif(ErlNifEnv *env, int argc, const ERL_NIF_TERM argv[]) {
    (void)argc;
    int fd;
    ErlNifBinary bin;
    if (!enif_get_int(env, argv[0], &fd) || !enif_inspect_binary(env, argv[1], &bin))
        return enif_make_badarg(env);
    size_t written = 0;
    while (written < bin.size) {
        ssize_t n = fdio_write_some(fd, bin.data + written, bin.size - written);
        if (n < 0) {
            if (written > 0 && errno == EAGAIN)
                break;
            return make_error(env, errno);
        }
        written += (size_t)n;
    }
    return enif_make_tuple2(env, enif_make_atom(env, "ok"), enif_make_uint64(env, written));
}

/* ok, or {error, Errno} if the disposition of sig cannot be set. */
static ERL_NIF_TERM set_disposition(ErlNifEnv *env, int sig, void (*handler)(int)) {
    struct sigaction action = {.sa_handler = handler};
    if (sigemptyset(&action.sa_mask) < 0 || sigaction(sig, &action, NULL) < 0)
        return make_error(env, errno);
    return enif_make_atom(env, "ok");
}

/* ignore_file_size_signal() -> ok | {error, Errno}. */
static ERL_NIF_TERM ignore_file_size_signal_nif(ErlNifEnv *env, int argc,
                                                const ERL_NIF_TERM argv[]) {
    (void)argc;
    (void)argv;
    return set_disposition(env, SIGXFSZ, SIG_IGN);
}

/* reap_children_normally() -> ok | {error, Errno}. */
static ERL_NIF_TERM reap_children_normally_nif(ErlNifEnv *env, int argc,
                                               const ERL_NIF_TERM argv[]) {
    (void)argc;
    (void)argv;
    return set_disposition(env, SIGCHLD, SIG_DFL);
}

/* cpu_us() -> {ok, Microseconds} | {error, Errno}. */
static ERL_NIF_TERM cpu_us_nif(ErlNifEnv *env, int argc, const ERL_NIF_TERM argv[]) {
    (void)argc;
    (void)argv;
    struct timespec t;
    if (clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t) < 0)
        return make_error(env, errno);
    ErlNifSInt64 us = (ErlNifSInt64)t.tv_sec * 1000000 + t.tv_nsec / 1000;
    return enif_make_tuple2(env, enif_make_atom(env, "ok"), enif_make_int64(env, us));
}

/* The mapped page, for as long as a term refers to it. */
typedef struct {
    _Atomic uint64_t *counter;
} unwritten_t;

static void unwritten_destroy(ErlNifEnv *env, void *obj) {
    (void)env;
    unwritten_unmap(((unwritten_t *)obj)->counter);
}

/* The resource type is the module's private data. */
static int load(ErlNifEnv *env, void **priv, ERL_NIF_TERM info) {
    (void)info;
    *priv = enif_open_resource_type(env, NULL, "sandbox_unwritten", unwritten_destroy,
                                    ERL_NIF_RT_CREATE, NULL);
    return *priv ? 0 : 1;
}

/* open_unwritten(Fd) -> {ok, Counter} | {error, Errno}. Maps the page and
 * closes Fd: what the VM starts later never gets it. */
static ERL_NIF_TERM open_unwritten_nif(ErlNifEnv *env, int argc, const ERL_NIF_TERM argv[]) {
    (void)argc;
    int fd;
    if (!enif_get_int(env, argv[0], &fd))
        return enif_make_badarg(env);
    _Atomic uint64_t *counter = unwritten_map(fd);
    if (!counter)
        return make_error(env, errno);
    fdio_close(fd);
    unwritten_t *u = enif_alloc_resource(enif_priv_data(env), sizeof *u);
    if (!u) {
        unwritten_unmap(counter);
        return make_error(env, ENOMEM);
    }
    u->counter = counter;
    ERL_NIF_TERM term = enif_make_resource(env, u);
    enif_release_resource(u);
    return enif_make_tuple2(env, enif_make_atom(env, "ok"), term);
}

/* count_unwritten(Counter, Bytes) -> ok. */
static ERL_NIF_TERM count_unwritten_nif(ErlNifEnv *env, int argc, const ERL_NIF_TERM argv[]) {
    (void)argc;
    unwritten_t *u;
    ErlNifUInt64 bytes;
    if (!enif_get_resource(env, argv[0], enif_priv_data(env), (void **)&u) ||
        !enif_get_uint64(env, argv[1], &bytes))
        return enif_make_badarg(env);
    atomic_fetch_add_explicit(u->counter, bytes, memory_order_release);
    return enif_make_atom(env, "ok");
}

static ErlNifFunc nif_funcs[] = {
    {"open", 0, open_nif, 0},
    {"write", 2, write_nif, 0},
    {"ignore_file_size_signal", 0, ignore_file_size_signal_nif, 0},
    {"reap_children_normally", 0, reap_children_normally_nif, 0},
    {"cpu_us", 0, cpu_us_nif, 0},
    {"open_unwritten", 1, open_unwritten_nif, 0},
    {"count_unwritten", 2, count_unwritten_nif, 0},
};

ERL_NIF_INIT(Elixir.Sandbox.Guest.Native, nif_funcs, load, NULL, NULL, NULL)
