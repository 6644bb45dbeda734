/* Atoms used in terms the NIF builds. Made once in load, read-only after. */
#ifndef SANDBOX_ATOMS_H
#define SANDBOX_ATOMS_H

#include <erl_nif.h>

typedef struct {
    ERL_NIF_TERM ok, error, infinity, sandbox, true_;
    ERL_NIF_TERM timeout, noconnection, boot_failed, cancelled, ready, gone, sandbox_output,
        output_limit, memory_limit, cpu_limit, process_limit;
    ERL_NIF_TERM exited, protocol, unknown, exit_status, signal, helper_failed;
    /* the terms of a submit (with timeout, output_limit and report) */
    ERL_NIF_TERM max_output, stream_to, limits, capture_early;
    /* the report */
    ERL_NIF_TERM report, nil, boot_us, setup_us, eval_us, output_bytes, cpu_us, max_rss_kb;
    /* which mechanism enforced each limit, in the report */
    ERL_NIF_TERM enforced_by, cpu_time, max_processes, max_file_size, cgroup_v2, sampling, rlimit;
    /* ...and how network: false was had */
    ERL_NIF_TERM network, netns, user_netns;
} atoms_t;

void atoms_init(ErlNifEnv *env, atoms_t *a);

#endif
