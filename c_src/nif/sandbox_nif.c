/* NIF glue: terms in and out, the run resource, and which scheduler each
 * call runs on. The work itself is in spawn.c, run.c and watcher.c. */
#include "atoms.h"
#include "watcher.h"
#include "run.h"
#include "spawn.h"

#include <erl_nif.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

typedef struct {
    atoms_t atoms;
    watcher_t *watcher;
    ErlNifResourceType *run_type;
} priv_t;

static void run_dtor(ErlNifEnv *env, void *obj) {
    (void)env;
    run_destroy(obj);
}

static void run_down(ErlNifEnv *env, void *obj, ErlNifPid *pid, ErlNifMonitor *mon) {
    (void)env;
    (void)pid;
    run_t *r = obj;
    /* Without memory for the command the run still ends at its deadline. */
    (void)watcher_owner_down(r->watcher, r, mon);
}

/* ---- argument helpers ------------------------------------------------- */

static void free_strings(char **strings) {
    if (!strings)
        return;
    for (char **s = strings; *s; s++)
        enif_free(*s);
    enif_free(strings);
}

static char *string_from(ErlNifEnv *env, ERL_NIF_TERM term) {
    ErlNifBinary bin;
    if (!enif_inspect_binary(env, term, &bin) || memchr(bin.data, 0, bin.size))
        return NULL;
    char *s = enif_alloc(bin.size + 1);
    if (s) {
        memcpy(s, bin.data, bin.size);
        s[bin.size] = '\0';
    }
    return s;
}

/* A NULL-terminated array of the given leading strings, then the binaries
 * of list. NULL on a bad element or no memory. */
static char **strings_from(ErlNifEnv *env, const char *const *leading, unsigned leading_count,
                           ERL_NIF_TERM list) {
    unsigned length;
    if (!enif_get_list_length(env, list, &length))
        return NULL;
    char **out = enif_alloc((leading_count + length + 1) * sizeof *out);
    if (!out)
        return NULL;
    memset(out, 0, (leading_count + length + 1) * sizeof *out);
    unsigned i = 0;
    for (; i < leading_count; i++) {
        size_t len = strlen(leading[i]);
        if (!(out[i] = enif_alloc(len + 1)))
            goto fail;
        memcpy(out[i], leading[i], len + 1);
    }
    ERL_NIF_TERM head, tail = list;
    while (enif_get_list_cell(env, tail, &head, &tail)) {
        if (!(out[i++] = string_from(env, head)))
            goto fail;
    }
    return out;
fail:
    free_strings(out);
    return NULL;
}

/* A non-negative integer, or `infinity` as `infinite`. */
static int get_limit(ErlNifEnv *env, ERL_NIF_TERM term, ErlNifUInt64 infinite, ErlNifUInt64 *out) {
    const priv_t *priv = enif_priv_data(env);
    if (enif_is_identical(term, priv->atoms.infinity)) {
        *out = infinite;
        return 1;
    }
    return enif_get_uint64(env, term, out);
}

/* strerror_r is glibc's (returns the message) with _GNU_SOURCE, POSIX's
 * (fills buf, returns 0) with musl: whichever this libc has is used. */
__attribute__((unused)) static const char *gnu_message(const char *message, const char *buf) {
    (void)buf;
    return message;
}

__attribute__((unused)) static const char *posix_message(int rc, const char *buf) {
    return rc == 0 ? buf : "unknown error";
}

#define ERROR_MESSAGE(err, buf)                                                                    \
    _Generic(strerror_r((err), (buf), sizeof(buf)), char *: gnu_message, int: posix_message)(    \
        strerror_r((err), (buf), sizeof(buf)), (buf))

static ERL_NIF_TERM error_term(ErlNifEnv *env, const char *step, int err) {
    const priv_t *priv = enif_priv_data(env);
    char buf[128];
    const char *message = ERROR_MESSAGE(err, buf);
    ERL_NIF_TERM step_term, message_term;
    size_t step_len = strlen(step), message_len = strlen(message);
    memcpy(enif_make_new_binary(env, step_len, &step_term), step, step_len);
    memcpy(enif_make_new_binary(env, message_len, &message_term), message, message_len);
    return enif_make_tuple2(
        env, priv->atoms.error,
        enif_make_tuple3(env, step_term, enif_make_int(env, err), message_term));
}

/* ---- NIFs ------------------------------------------------------------- */

/* spawn(HelperPath, HelperArgs, Env, Ref, BootTimeoutMs)
 *   -> {ok, Run} | {error, {Step, Errno, Message}}
 * Dirty IO: creating pipes and posix_spawn can take a while on a busy box. */
static ERL_NIF_TERM spawn_nif(ErlNifEnv *env, int argc, const ERL_NIF_TERM argv[]) {
    (void)argc;
    priv_t *priv = enif_priv_data(env);
    ErlNifUInt64 boot_timeout_ms;
    ErlNifPid owner;
    if (!enif_get_uint64(env, argv[4], &boot_timeout_ms) || boot_timeout_ms > INT64_MAX ||
        !enif_self(env, &owner))
        return enif_make_badarg(env);

    char *helper_path = string_from(env, argv[0]);
    char host_pid[24];
    snprintf(host_pid, sizeof host_pid, "%ld", (long)getpid());
    const char *leading[] = {helper_path, host_pid};
    char **helper_argv = helper_path ? strings_from(env, leading, 2, argv[1]) : NULL;
    char **helper_env = strings_from(env, NULL, 0, argv[2]);
    enif_free(helper_path);
    /* After the host pid: the cgroup parent (or "-") and the peer's argv. */
    if (!helper_argv || !helper_env || !helper_argv[2] || !helper_argv[3]) {
        free_strings(helper_argv);
        free_strings(helper_env);
        return enif_make_badarg(env);
    }

    spawn_fds_t fds;
    const char *step = "";
    int err = spawn_helper(helper_argv, helper_env, &fds, &step);
    free_strings(helper_argv);
    free_strings(helper_env);
    if (err != 0)
        return error_term(env, step, err);

    /* The resource is allocated last: its destructor expects run_init. */
    ErlNifEnv *run_env = enif_alloc_env();
    run_t *r = run_env ? enif_alloc_resource(priv->run_type, sizeof *r) : NULL;
    if (!r) {
        if (run_env)
            enif_free_env(run_env);
        spawn_close_fds(&fds); /* the helper kills its peer on EOF */
        return error_term(env, "alloc", ENOMEM);
    }
    run_init(r, &priv->atoms, priv->watcher, run_env, enif_make_copy(run_env, argv[3]),
             (int64_t)boot_timeout_ms, &fds, owner);
    ERL_NIF_TERM term = enif_make_resource(env, r);
    int queued = watcher_add(priv->watcher, r) == 0;
    enif_release_resource(r); /* the term (and the watcher) hold it now */
    if (!queued)
        return error_term(env, "watcher", ENOMEM);
    return enif_make_tuple2(env, priv->atoms.ok, term);
}

/* nil (no limits) or {MemoryBytes, CpuMs, Processes, FileBytes}, each an
 * integer or infinity. */
static int get_resource_limits(ErlNifEnv *env, ERL_NIF_TERM term, run_terms_t *terms) {
    const priv_t *priv = enif_priv_data(env);
    const ERL_NIF_TERM *items;
    int arity;
    if (enif_is_identical(term, priv->atoms.nil))
        return 1;
    if (!enif_get_tuple(env, term, &arity, &items) || arity != 4)
        return 0;
    for (int i = 0; i < 4; i++) {
        ErlNifUInt64 value;
        if (!get_limit(env, items[i], UINT64_MAX, &value) ||
            (value != UINT64_MAX && value > SANDBOX_MAX_RESOURCE_LIMIT))
            return 0;
        terms->resource_limits[i] = value == UINT64_MAX ? -1 : (int64_t)value;
        terms->limited |= value != UINT64_MAX;
    }
    return 1;
}

/* The terms of a submit, from a map:
 *   #{timeout => Ms | infinity, max_output => Bytes | infinity,
 *     output_limit => Bytes | infinity, report => boolean(),
 *     stream_to => Pid | nil, limits => nil | {Memory, CpuMs, Processes, FileBytes},
 *     capture_early => boolean()}
 * (limits and capture_early may be left out). */
static int get_terms(ErlNifEnv *env, ERL_NIF_TERM map, run_terms_t *terms) {
    const priv_t *priv = enif_priv_data(env);
    ERL_NIF_TERM timeout_term, max_output_term, output_limit_term, report_term, stream_term,
        limits_term, early_term;
    ErlNifUInt64 timeout;
    const atoms_t *a = &priv->atoms;
    if (!enif_get_map_value(env, map, a->timeout, &timeout_term) ||
        !enif_get_map_value(env, map, a->max_output, &max_output_term) ||
        !enif_get_map_value(env, map, a->output_limit, &output_limit_term) ||
        !enif_get_map_value(env, map, a->report, &report_term) ||
        !enif_get_map_value(env, map, a->stream_to, &stream_term) ||
        !get_limit(env, timeout_term, UINT64_MAX, &timeout) ||
        (timeout != UINT64_MAX && timeout > INT64_MAX) ||
        !get_limit(env, max_output_term, OUTPUT_UNLIMITED, &terms->max_output) ||
        !get_limit(env, output_limit_term, OUTPUT_UNLIMITED, &terms->output_limit))
        return 0;
    if (enif_get_map_value(env, map, a->limits, &limits_term) &&
        !get_resource_limits(env, limits_term, terms))
        return 0;
    terms->timeout_ms = timeout == UINT64_MAX ? -1 : (int64_t)timeout;
    terms->report = enif_is_identical(report_term, a->true_);
    terms->capture_early = enif_get_map_value(env, map, a->capture_early, &early_term) &&
                           enif_is_identical(early_term, a->true_);
    /* Anything but a local pid (nil) means no streaming. */
    terms->stream = enif_get_local_pid(env, stream_term, &terms->stream_to);
    return 1;
}

/* submit(Run, Request, Terms) -> ok */
static ERL_NIF_TERM submit_nif(ErlNifEnv *env, int argc, const ERL_NIF_TERM argv[]) {
    (void)argc;
    priv_t *priv = enif_priv_data(env);
    run_t *r;
    run_terms_t terms = {0};
    ErlNifPid owner;
    if (!enif_get_resource(env, argv[0], priv->run_type, (void **)&r) ||
        !enif_is_binary(env, argv[1]) || !get_terms(env, argv[2], &terms) ||
        !enif_self(env, &owner))
        return enif_make_badarg(env);
    /* A copy in an env of its own: for a large (refc) binary only a
     * reference, so this stays cheap whatever the size. */
    ErlNifEnv *request_env = enif_alloc_env();
    if (!request_env)
        return enif_raise_exception(env, enif_make_atom(env, "enomem"));
    ErlNifBinary request;
    ERL_NIF_TERM copy = enif_make_copy(request_env, argv[1]);
    if (!enif_inspect_binary(request_env, copy, &request) || request.size > UINT32_MAX) {
        enif_free_env(request_env);
        return enif_make_badarg(env);
    }
    if (watcher_submit(priv->watcher, r, request_env, request, &terms, owner) < 0) {
        enif_free_env(request_env);
        return enif_raise_exception(env, enif_make_atom(env, "enomem"));
    }
    return priv->atoms.ok;
}

/* cancel(Run) -> ok. The owner then gets {sandbox, Ref, {cancelled, Output}}
 * unless the run had already answered. */
static ERL_NIF_TERM cancel_nif(ErlNifEnv *env, int argc, const ERL_NIF_TERM argv[]) {
    (void)argc;
    priv_t *priv = enif_priv_data(env);
    run_t *r;
    if (!enif_get_resource(env, argv[0], priv->run_type, (void **)&r))
        return enif_make_badarg(env);
    if (watcher_cancel(priv->watcher, r) < 0)
        return enif_raise_exception(env, enif_make_atom(env, "enomem"));
    return priv->atoms.ok;
}

/* decode(Binary) -> {ok, Term} | error. A whole external-format term, no
 * bytes left over. Dirty CPU: a result of megabytes takes milliseconds to
 * build, far too long for a normal scheduler. */
static ERL_NIF_TERM decode_nif(ErlNifEnv *env, int argc, const ERL_NIF_TERM argv[]) {
    (void)argc;
    const priv_t *priv = enif_priv_data(env);
    ErlNifBinary bin;
    if (!enif_inspect_binary(env, argv[0], &bin))
        return enif_make_badarg(env);
    ERL_NIF_TERM term;
    size_t used = enif_binary_to_term(env, bin.data, bin.size, &term, 0);
    if (used == 0 || used != bin.size)
        return priv->atoms.error;
    return enif_make_tuple2(env, priv->atoms.ok, term);
}

/* constants() -> #{Name => Integer}: protocol.h as the C compiler saw it,
 * for the test that Sandbox.Protocol (which reads the header itself) agrees,
 * and the errno values Sandbox.BootError explains. */
static ERL_NIF_TERM constants_nif(ErlNifEnv *env, int argc, const ERL_NIF_TERM argv[]) {
    (void)argc;
    (void)argv;
    static const struct {
        const char *name;
        long long value;
    } constants[] = {
        {"fd_null", SANDBOX_FD_NULL},
        {"fd_output", SANDBOX_FD_OUTPUT},
        {"fd_request", SANDBOX_FD_REQUEST},
        {"fd_reply", SANDBOX_FD_REPLY},
        {"fd_orders", SANDBOX_FD_ORDERS},
        {"fd_notices", SANDBOX_FD_NOTICES},
        {"fd_unwritten", SANDBOX_FD_UNWRITTEN},
        {"fd_first_free", SANDBOX_FD_FIRST_FREE},
        {"fd_guest_output", SANDBOX_FD_GUEST_OUTPUT},
        {"fd_guest_unwritten", SANDBOX_FD_GUEST_UNWRITTEN},
        {"unwritten_span", SANDBOX_UNWRITTEN_SPAN},
        {"tag_booted", SANDBOX_TAG_BOOTED},
        {"tag_started", SANDBOX_TAG_STARTED},
        {"tag_capturing", SANDBOX_TAG_CAPTURING},
        {"tag_result", SANDBOX_TAG_RESULT},
        {"tag_capture_begun", SANDBOX_TAG_CAPTURE_BEGUN},
        {"max_frame_bytes", SANDBOX_MAX_FRAME_BYTES},
        {"stage_setup", SANDBOX_STAGE_SETUP},
        {"stage_fork", SANDBOX_STAGE_FORK},
        {"stage_network", SANDBOX_STAGE_NETWORK},
        {"stage_limits", SANDBOX_STAGE_LIMITS},
        {"netns_plain", SANDBOX_NETNS_PLAIN},
        {"netns_user", SANDBOX_NETNS_USER},
        {"max_resource_limit", SANDBOX_MAX_RESOURCE_LIMIT},
        {"boot_output_limit", SANDBOX_BOOT_OUTPUT_LIMIT},
        {"boot_timeout_ms", SANDBOX_BOOT_TIMEOUT_MS},
        {"lost_grace_ms", SANDBOX_LOST_GRACE_MS},
        {"teardown_grace_ms", SANDBOX_TEARDOWN_GRACE_MS},
        {"eperm", EPERM},
        {"einval", EINVAL},
        {"enospc", ENOSPC},
    };
    ERL_NIF_TERM map = enif_make_new_map(env);
    for (size_t i = 0; i < sizeof constants / sizeof constants[0]; i++)
        (void)enif_make_map_put(env, map, enif_make_atom(env, constants[i].name),
                                enif_make_int64(env, constants[i].value), &map);
    return map;
}

/* ---- loading ---------------------------------------------------------- */

static int load(ErlNifEnv *env, void **priv_data, ERL_NIF_TERM info) {
    (void)info;
    priv_t *priv = enif_alloc(sizeof *priv);
    if (!priv)
        return 1;
    atoms_init(env, &priv->atoms);
    ErlNifResourceTypeInit init = {.dtor = run_dtor, .stop = NULL, .down = run_down};
    priv->run_type = enif_open_resource_type_x(env, "sandbox_run", &init, ERL_NIF_RT_CREATE, NULL);
    priv->watcher = priv->run_type ? watcher_start() : NULL;
    if (!priv->watcher) {
        enif_free(priv);
        return 1;
    }
    *priv_data = priv;
    return 0;
}

static void unload(ErlNifEnv *env, void *priv_data) {
    (void)env;
    priv_t *priv = priv_data;
    watcher_stop(priv->watcher);
    enif_free(priv);
}

static ErlNifFunc nif_funcs[] = {
    {"spawn", 5, spawn_nif, ERL_NIF_DIRTY_JOB_IO_BOUND},
    {"submit", 3, submit_nif, 0},
    {"cancel", 1, cancel_nif, 0},
    {"decode", 1, decode_nif, ERL_NIF_DIRTY_JOB_CPU_BOUND},
    {"constants", 0, constants_nif, 0},
};

ERL_NIF_INIT(Elixir.Sandbox.Native, nif_funcs, load, NULL, NULL, unload)
