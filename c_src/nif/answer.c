/* The terms a run sends its owner: the answer, {ready, OsPid} for a pool's
 * peer, gone, and the report. Every message about a run is
 * {Tag, Ref, Payload}, sent by send_about. */
#include "run.h"

#include "common/protocol.h"

#include <string.h>
#include <sys/wait.h>

/* Sends {Tag, Ref, Payload} to `to`. Payload is built in env, which this
 * frees. */
static void send_about(run_t *r, const ErlNifPid *to, ErlNifEnv *env, ERL_NIF_TERM tag,
                       ERL_NIF_TERM payload) {
    ERL_NIF_TERM msg = enif_make_tuple3(env, tag, enif_make_copy(env, r->ref), payload);
    (void)enif_send(NULL, to, env, msg);
    enif_free_env(env);
}

static ERL_NIF_TERM make_bytes(ErlNifEnv *env, const uint8_t *data, size_t len) {
    ERL_NIF_TERM term;
    uint8_t *p = enif_make_new_binary(env, len, &term);
    if (p && len > 0)
        memcpy(p, data, len);
    return term;
}

/* What was printed, as kept (capped, with the truncation line). */
static ERL_NIF_TERM make_kept(run_t *r, ErlNifEnv *env) {
    ERL_NIF_TERM term;
    uint8_t *p = enif_make_new_binary(env, output_rendered_size(&r->output), &term);
    if (p)
        output_render(&r->output, p);
    return term;
}

/* A run's output is the code's alone: "" until capture has begun. */
static ERL_NIF_TERM make_output(run_t *r, ErlNifEnv *env) {
    return r->fsm.capturing ? make_kept(r, env) : make_bytes(env, NULL, 0);
}

/* What a VM that failed to boot printed while trying. */
static ERL_NIF_TERM make_boot_output(run_t *r, ErlNifEnv *env) { return make_kept(r, env); }

static ERL_NIF_TERM make_exit(run_t *r, ErlNifEnv *env) {
    const atoms_t *a = r->atoms;
    if (r->fail_stage)
        return enif_make_tuple3(env, a->helper_failed, enif_make_int64(env, r->fail_stage),
                                enif_make_int64(env, r->fail_errno));
    if (!r->fsm.exit_known)
        return a->unknown;
    if (WIFSIGNALED(r->wait_status))
        return enif_make_tuple2(env, a->signal, enif_make_int(env, WTERMSIG(r->wait_status)));
    return enif_make_tuple2(env, a->exit_status, enif_make_int(env, WEXITSTATUS(r->wait_status)));
}

static ERL_NIF_TERM limit_atom(const atoms_t *a, int crossed) {
    switch (crossed) {
    case LIMIT_MEMORY:
        return a->memory_limit;
    case LIMIT_CPU:
        return a->cpu_limit;
    default:
        return a->process_limit;
    }
}

static ERL_NIF_TERM make_answer(run_t *r, ErlNifEnv *env) {
    const atoms_t *a = r->atoms;
    switch (r->fsm.answer) {
    case ANSWER_RESULT:
        return enif_make_tuple3(env, a->ok, make_bytes(env, r->result + 1, r->result_len - 1),
                                make_output(r, env));
    case ANSWER_TIMEOUT:
        return enif_make_tuple2(env, a->timeout, make_output(r, env));
    case ANSWER_CANCELLED:
        return enif_make_tuple2(env, a->cancelled, make_output(r, env));
    case ANSWER_OUTPUT_LIMIT:
        return enif_make_tuple2(env, a->output_limit, make_output(r, env));
    case ANSWER_LIMIT:
        return enif_make_tuple2(env, limit_atom(a, r->fsm.crossed), make_output(r, env));
    case ANSWER_NOCONNECTION:
        return enif_make_tuple3(env, a->noconnection, make_output(r, env), make_exit(r, env));
    default: {
        ERL_NIF_TERM why = r->fsm.answer == ANSWER_BOOT_TIMEOUT ? a->timeout
                           : r->fsm.answer == ANSWER_BOOT_BROKE ? a->protocol
                                                                : a->exited;
        return enif_make_tuple4(env, a->boot_failed, why, make_boot_output(r, env),
                                make_exit(r, env));
    }
    }
}

void answer_send(run_t *r) {
    ErlNifEnv *env = enif_alloc_env();
    if (env)
        send_about(r, &r->owner, env, r->atoms->sandbox, make_answer(r, env));
}

void answer_ready(run_t *r) {
    ErlNifEnv *env = enif_alloc_env();
    if (env)
        send_about(r, &r->owner, env, r->atoms->sandbox,
                   enif_make_tuple2(env, r->atoms->ready, enif_make_int(env, r->os_pid)));
}

void answer_gone(run_t *r, ErlNifPid to) {
    ErlNifEnv *env = enif_alloc_env();
    if (env)
        send_about(r, &to, env, r->atoms->sandbox, r->atoms->gone);
}

/* ns between two steps in us, or nil when either has not happened. */
static ERL_NIF_TERM span_us(ErlNifEnv *env, const atoms_t *a, int64_t from, int64_t to) {
    if (from == 0 || to == 0)
        return a->nil;
    return enif_make_int64(env, to > from ? (to - from) / 1000 : 0);
}

/* #{Option => cgroup_v2 | sampling | rlimit} for each limit the helper put
 * in force, and network => netns | user_netns for network: false. */
static ERL_NIF_TERM make_enforced_by(run_t *r, ErlNifEnv *env) {
    const atoms_t *a = r->atoms;
    const ERL_NIF_TERM options[4] = {a->memory_limit, a->cpu_time, a->max_processes,
                                     a->max_file_size};
    ERL_NIF_TERM map = enif_make_new_map(env);
    for (int i = 0; r->fsm.enforced && i < 4; i++) {
        ERL_NIF_TERM how = r->enforced_by[i] == MECHANISM_CGROUP     ? a->cgroup_v2
                           : r->enforced_by[i] == MECHANISM_SAMPLING ? a->sampling
                           : r->enforced_by[i] == MECHANISM_RLIMIT   ? a->rlimit
                                                                     : 0;
        if (how)
            (void)enif_make_map_put(env, map, options[i], how, &map);
    }
    if (r->network_kind)
        (void)enif_make_map_put(env, map, a->network,
                                r->network_kind == SANDBOX_NETNS_PLAIN ? a->netns : a->user_netns,
                                &map);
    return map;
}

/* {sandbox, Ref, {report, Map}} once, to whoever owns the run now, if the
 * submit asked for it. Sent when the tree is gone (or given up on), so the
 * rusage of all of it is known when the helper could say. */
void answer_report(run_t *r) {
    const run_fsm_t *f = &r->fsm;
    if (!r->terms.report || !f->submitted || r->reported)
        return;
    r->reported = 1;
    ErlNifEnv *env = enif_alloc_env();
    if (!env)
        return;
    const atoms_t *a = r->atoms;
    /* A pool's peer booted before its run: none of its boot is the run's. */
    int64_t boot_us = f->t_booted > f->t_submitted ? (f->t_booted - f->t_submitted) / 1000 : 0;
    int64_t setup_end = f->t_capturing ? f->t_capturing : f->t_answered;
    ERL_NIF_TERM keys[] = {a->boot_us,      a->setup_us, a->eval_us,
                           a->output_bytes, a->cpu_us,   a->max_rss_kb};
    ERL_NIF_TERM values[] = {
        f->t_booted ? enif_make_int64(env, boot_us) : a->nil,
        span_us(env, a, f->t_started, setup_end),
        span_us(env, a, f->t_capturing, f->t_answered),
        enif_make_uint64(env, r->output.total),
        r->done ? enif_make_int64(env, r->cpu_us) : a->nil,
        r->done ? enif_make_int64(env, r->max_rss_kb) : a->nil,
    };
    ERL_NIF_TERM map;
    if (!enif_make_map_from_arrays(env, keys, values, sizeof keys / sizeof keys[0], &map) ||
        !enif_make_map_put(env, map, a->enforced_by, make_enforced_by(r, env), &map)) {
        enif_free_env(env);
        return;
    }
    send_about(r, &r->owner, env, a->sandbox, enif_make_tuple2(env, a->report, map));
}
