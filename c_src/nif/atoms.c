#include "atoms.h"

void atoms_init(ErlNifEnv *env, atoms_t *a) {
    a->ok = enif_make_atom(env, "ok");
    a->error = enif_make_atom(env, "error");
    a->infinity = enif_make_atom(env, "infinity");
    a->sandbox = enif_make_atom(env, "sandbox");
    a->timeout = enif_make_atom(env, "timeout");
    a->noconnection = enif_make_atom(env, "noconnection");
    a->boot_failed = enif_make_atom(env, "boot_failed");
    a->cancelled = enif_make_atom(env, "cancelled");
    a->ready = enif_make_atom(env, "ready");
    a->gone = enif_make_atom(env, "gone");
    a->sandbox_output = enif_make_atom(env, "sandbox_output");
    a->output_limit = enif_make_atom(env, "output_limit");
    a->true_ = enif_make_atom(env, "true");
    a->exited = enif_make_atom(env, "exited");
    a->protocol = enif_make_atom(env, "protocol");
    a->unknown = enif_make_atom(env, "unknown");
    a->exit_status = enif_make_atom(env, "exit_status");
    a->signal = enif_make_atom(env, "signal");
    a->helper_failed = enif_make_atom(env, "helper_failed");
    a->report = enif_make_atom(env, "report");
    a->max_output = enif_make_atom(env, "max_output");
    a->stream_to = enif_make_atom(env, "stream_to");
    a->nil = enif_make_atom(env, "nil");
    a->boot_us = enif_make_atom(env, "boot_us");
    a->setup_us = enif_make_atom(env, "setup_us");
    a->eval_us = enif_make_atom(env, "eval_us");
    a->output_bytes = enif_make_atom(env, "output_bytes");
    a->cpu_us = enif_make_atom(env, "cpu_us");
    a->max_rss_kb = enif_make_atom(env, "max_rss_kb");
    a->memory_limit = enif_make_atom(env, "memory_limit");
    a->cpu_limit = enif_make_atom(env, "cpu_limit");
    a->process_limit = enif_make_atom(env, "process_limit");
    a->limits = enif_make_atom(env, "limits");
    a->capture_early = enif_make_atom(env, "capture_early");
    a->enforced_by = enif_make_atom(env, "enforced_by");
    a->cpu_time = enif_make_atom(env, "cpu_time");
    a->max_processes = enif_make_atom(env, "max_processes");
    a->max_file_size = enif_make_atom(env, "max_file_size");
    a->cgroup_v2 = enif_make_atom(env, "cgroup_v2");
    a->sampling = enif_make_atom(env, "sampling");
    a->rlimit = enif_make_atom(env, "rlimit");
    a->network = enif_make_atom(env, "network");
    a->netns = enif_make_atom(env, "netns");
    a->user_netns = enif_make_atom(env, "user_netns");
}
