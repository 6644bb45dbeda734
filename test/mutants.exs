# Mutants: one-line changes to the source, each breaking a guarantee the
# README makes. `make mutants` (scripts/mutants.exs) applies each to a
# scratch copy and runs the tests it names, which must fail. Each entry:
#
#   id      a short name
#   file    the file changed
#   from    the text changed: on one line, found exactly once in the file
#   to      what it becomes
#   breaks  the guarantee broken, by README heading
#   tests   the tests that must fail: "c: suite/name" (Criterion), or
#           "test/..._test.exs: name" (ExUnit, named as ExUnit names it:
#           the describe block first, if any)
#   alone   (optional) true to run it when no other mutant runs
#
# A test that should fail and did not means the guarantee is not really
# tested: add the test that catches it, not an exception here.

lifecycle_default =
  "by default (cgroup v2 where it can be had), everything the run started is dead within 1 s"

lifecycle_subreaper =
  "with the subreaper alone (cgroup: false), everything the run started is dead within 1 s"

[
  # ---- The agent tool ----------------------------------------------------------
  %{
    id: "tool-not-strict",
    file: "lib/sandbox/tool.ex",
    from: "    isolation: :strict,",
    to: "    isolation: :none,",
    breaks: "API: Sandbox.Tool (strict by default)",
    tests: [
      "test/sandbox/tool_test.exs: by default the code runs in the strict box, as nobody, with finite limits"
    ]
  },
  %{
    id: "tool-result-unbounded",
    file: "lib/sandbox/tool.ex",
    from: "    max_result_bytes: 8_192,",
    to: "    max_result_bytes: :infinity,",
    breaks: "API: Sandbox.Tool (a result of at most 8 KB)",
    tests: [
      "test/sandbox/tool_test.exs: every other outcome is an error text naming what happened a result too large to return"
    ]
  },
  %{
    id: "tool-timeout-text",
    file: "lib/sandbox/tool.ex",
    from: ~S|  defp why(:timeout, _), do: "Execution timed out"|,
    to: ~S|  defp why(:timeout, _), do: "Timed out"|,
    breaks: "API: Sandbox.Tool (omni_tools' texts)",
    tests: [
      "test/sandbox/tool_test.exs: the text of what omni_tools' REPL formats is that tool's a timeout"
    ]
  },
  %{
    id: "tool-output-glued",
    file: "lib/sandbox/tool.ex",
    from: ~S|  defp after_output(output, text), do: output <> "\n" <> text|,
    to: ~S|  defp after_output(output, text), do: output <> text|,
    breaks: "API: Sandbox.Tool (omni_tools' texts)",
    tests: [
      "test/sandbox/tool_test.exs: the text of what omni_tools' REPL formats is that tool's output and a value"
    ]
  },
  %{
    id: "logger-level-fixed",
    file: "lib/sandbox/runner.ex",
    from: "  defp logger_level(:host), do: Logger.level()",
    to: "  defp logger_level(:host), do: :warning",
    breaks: "Guarantees: Everything is captured (Logger at the host's level)",
    tests: ["test/sandbox/logger_level_test.exs: a run prints at the host's level"]
  },
  %{
    id: "lazy-logger-eager",
    file: "lib/sandbox/guest.ex",
    from: "    LazyLogger.install()",
    to: "    LazyLogger.install(); :application.ensure_all_started(:logger)",
    breaks: "Speed: Logger starts when a run needs it",
    tests: [
      "test/sandbox/lazy_logger_test.exs: a run that logs nothing neither starts Logger nor loads it, cold or warm"
    ]
  },
  %{
    id: "lazy-logger-event-dropped",
    file: "lib/sandbox/guest/lazy_logger.ex",
    from: "    log_again(event)",
    to: "    _ = event",
    breaks: "Guarantees: Everything is captured (Logger, started by a run's first event)",
    tests: [
      "test/sandbox/lazy_logger_test.exs: the first event starts Logger, and is printed once, in Logger's format, at the run's level"
    ]
  },
  %{
    id: "lazy-logger-registered-dropped",
    file: "lib/sandbox/guest/lazy_logger.ex",
    from: "        send(starter, {{:log, event}, nil})",
    to: "        _ = {starter, event}",
    breaks: "Guarantees: Everything is captured (a crashed process's report)",
    tests: [
      "test/sandbox/lazy_logger_test.exs: a crashed process's report (OTP logs it from a process of its own) prints in Logger's format"
    ]
  },
  %{
    id: "lazy-logger-not-awaited",
    file: "lib/sandbox/guest.ex",
    from: "    :ok = LazyLogger.await()",
    to: "    :ok",
    breaks: "Guarantees: Nothing printed is lost (an event logged as Logger starts)",
    tests: [
      "test/sandbox/lazy_logger_test.exs: an event from a registered process (which does not wait for Logger's start) is printed before the run ends"
    ]
  },
  %{
    id: "lazy-logger-named-not-started",
    file: "lib/sandbox/guest/lazy_logger.ex",
    from: "    if :lists.any(&names_logger?/1, sources), do: ask(:start), else: :ok",
    to: "    if :lists.any(&names_logger?/1, sources), do: :ok, else: :ok",
    breaks: "Guarantees: Everything is captured (Logger.configure/1 before any event)",
    tests: [
      "test/sandbox/lazy_logger_test.exs: code that names Logger has it running from its first line: Logger.configure/1 works"
    ]
  },
  %{
    id: "lazy-logger-quoted-setup-unread",
    file: "lib/sandbox/guest/lazy_logger.ex",
    from: "  defp names_logger?(quoted), do: names_logger?(:erlang.term_to_binary(quoted))",
    to: "  defp names_logger?(_quoted), do: false",
    breaks: "Guarantees: Everything is captured (Logger.configure/1 in a quoted setup)",
    tests: [
      "test/sandbox/lazy_logger_test.exs: code that names Logger has it running from its first line: Logger.configure/1 works"
    ]
  },
  %{
    id: "lazy-logger-level-lost",
    file: "lib/sandbox/guest/lazy_logger.ex",
    from: "    :ok = :logger.set_primary_config(:level, level)",
    to: "    _ = level",
    breaks: "Guarantees: Everything is captured (Logger at the run's level)",
    tests: [
      "test/sandbox/lazy_logger_test.exs: Logger's start keeps the run's level (Logger sets one of its own)"
    ]
  },
  %{
    id: "lazy-logger-unheld-during-start",
    file: "lib/sandbox/guest/lazy_logger.ex",
    from: "    %{level: level} = :logger.get_primary_config()",
    to:
      "    %{level: level} = (:logger.remove_primary_filter(@filter); :logger.get_primary_config())",
    breaks:
      "Guarantees: Everything is captured (in Logger's format, its own start's reports dropped)",
    tests: [
      "test/sandbox/lazy_logger_test.exs: events logged while Logger starts are held and printed once each; its own start's reports are not"
    ]
  },
  %{
    id: "reach-not-staged",
    file: "c_src/helper/vm.c",
    from: "    if (args->drop && reach_bind_sources(argv, args->uid, args->gid) < 0)",
    to: "    if (0)",
    breaks: "Isolation: code under a directory only root may enter",
    tests: [
      "test/sandbox/strict_test.exs: 3. files code under a directory only root may enter is visible read-only, and no way out leaks"
    ]
  },
  %{
    id: "reach-others-bits-ignored",
    file: "c_src/helper/reach.c",
    from: "    return (st->st_mode & S_IXOTH) != 0;",
    to: "    return 1;",
    breaks: "Isolation: code under a directory only root may enter",
    tests: ["c: reach/finds_the_outermost_directory_a_user_cannot_search"]
  },
  %{
    id: "unsupported-not-said",
    file: "lib/sandbox/launcher.ex",
    from: "    with :ok <- c_core(),",
    to: "    with :ok <- :ok,",
    breaks: "Using it as a dependency: off Linux, runs raise at once",
    tests: [
      "test/sandbox/dependency_test.exs: without its C core the package compiles and starts, and runs raise saying why"
    ]
  },
  %{
    id: "telemetry-checkout-all-hits",
    file: "lib/sandbox/pool.ex",
    from: "  defp checkout_result({:error, :busy}), do: :busy",
    to: "  defp checkout_result({:error, :busy}), do: :hit",
    breaks: "API: Telemetry (pool checkouts)",
    tests: [
      "test/sandbox/telemetry_test.exs: pools each checkout: a hit, a miss, or busy, with the time it waited"
    ]
  },
  # ---- Guarantees: deadlines ------------------------------------------------
  %{
    id: "deadline-pooled",
    file: "c_src/nif/run_fsm.c",
    from: "        f->deadline = deadline_after(now, f->timeout_ms);",
    to: "        f->deadline = DEADLINE_NEVER;",
    breaks: "Guarantees: Deadlines are kept on CLOCK_MONOTONIC (a pool's VM)",
    tests: [
      "test/sandbox/pool_test.exs: a pooled run keeps its :timeout",
      "test/sandbox/default_pool_test.exs: a run on the default pool keeps its :timeout"
    ]
  },
  %{
    id: "deadline-fresh",
    file: "c_src/nif/run_fsm.c",
    from: "f->deadline = deadline_after(now, f->timeout_ms); /* from the boot */",
    to: "f->deadline = DEADLINE_NEVER; /* from the boot */",
    breaks: "Guarantees: Deadlines are kept on CLOCK_MONOTONIC (a fresh VM)",
    tests: ["test/sandbox/results_test.exs: {:error, :timeout, ...} a timeout of 0 times out"]
  },
  %{
    id: "deadline-counts-boot",
    file: "c_src/nif/run_fsm.c",
    from: "f->deadline = deadline_after(now, f->timeout_ms); /* from the boot */",
    to: "f->deadline = deadline_after(f->t_submitted, f->timeout_ms); /* from the boot */",
    breaks: "API: :timeout (booting the VM is not counted)",
    tests: [
      "test/sandbox/results_test.exs: {:error, :timeout, ...} booting the VM is not counted"
    ]
  },
  %{
    id: "deadline-infinity",
    file: "c_src/nif/sandbox_nif.c",
    from: "terms->timeout_ms = timeout == UINT64_MAX ? -1 : (int64_t)timeout;",
    to: "terms->timeout_ms = timeout == UINT64_MAX ? 1000 : (int64_t)timeout;",
    breaks: "API: :timeout (:infinity)",
    tests: [
      "test/sandbox/results_test.exs: {:error, :timeout, ...} :infinity waits for code that a finite timeout cuts short"
    ]
  },
  %{
    id: "run-frames-in-order",
    file: "c_src/nif/run_fsm.c",
    from: "        if (f->state != RUN_STARTING)",
    to: "        if (0)",
    breaks: "Guarantees: A hostile VM cannot hurt the host (frames out of order)",
    tests: ["c: run_fsm/frames_out_of_order_break_the_protocol"]
  },
  %{
    id: "run-lost-before-start-is-a-boot-failure",
    file: "c_src/nif/run_fsm.c",
    from: "                        : f->started ? ANSWER_NOCONNECTION",
    to: "                        : 1 ? ANSWER_NOCONNECTION",
    breaks: "API: Raised (Sandbox.BootError when the VM cannot be started)",
    tests: [
      "c: run_fsm/a_peer_lost_is_answered_once_its_end_is_known",
      "test/sandbox/boot_error_test.exs: an erl that cannot be executed: the helper's report and the exit status reach the caller"
    ]
  },
  %{
    id: "deadline-kept-by-caller",
    file: "lib/sandbox/runner.ex",
    from: "      timeout -> :timeout",
    to: "      0 -> receive_outcome(handle, timeout)",
    breaks: "Guarantees: No scheduler is held (the caller waits in receive)",
    tests: [
      "test/sandbox/lifecycle_test.exs: no normal scheduler is held: the caller waits in receive while its run goes on"
    ]
  },

  # ---- Guarantees: nothing is left behind; how the tree is killed -----------
  %{
    id: "cgroup-leftover-same-pid",
    file: "c_src/helper/cgroup.c",
    from:
      "    if (mkdir(path, 0755) < 0 && (errno != EEXIST || rmdir(path) < 0 || mkdir(path, 0755) < 0)) {",
    to: "    if (mkdir(path, 0755) < 0) {",
    breaks: "Guarantees: how the tree is killed, step 1 (a leftover cgroup of the same pid)",
    tests: ["c: cgroup/takes_the_place_of_an_empty_leftover_of_the_same_pid"]
  },
  %{
    id: "cgroup-leftovers-removed",
    file: "lib/sandbox/cgroup.ex",
    from: "      File.rmdir(run)",
    to: "      _ = run",
    breaks: "Guarantees: how the tree is killed, step 1 (leftover cgroups removed)",
    tests: [
      "test/sandbox/cgroup_test.exs: the cgroups of helpers no longer alive are removed, those in use are not"
    ]
  },
  %{
    id: "kill-cgroup",
    file: "c_src/helper/sandbox_helper.c",
    from: "        (void)cgroup_kill(h->cgroup);",
    to: "        (void)h->cgroup;",
    breaks: "Guarantees: how the tree is killed, step 1 (cgroup.kill, all at once)",
    tests: [
      "test/sandbox/cgroup_test.exs: cgroup.kill ends the whole tree at once: no process of the run sees another die"
    ]
  },
  %{
    id: "kill-peer-group",
    file: "c_src/helper/tree.c",
    from: "    (void)kill(-leader, SIGKILL);",
    to: "    (void)kill(leader, SIGKILL);",
    breaks: "Guarantees: how the tree is killed, step 2 (the VM's process group)",
    tests: ["c: tree/kill_group_kills_every_member_and_reaps_the_leader"]
  },
  %{
    id: "kill-orphan-groups",
    file: "c_src/helper/tree.c",
    from: "        (void)kill(-pgid, SIGKILL);",
    to: "        (void)0;",
    breaks: "Guarantees: how the tree is killed, step 3 (every orphan, with its group)",
    tests: ["c: tree/kills_the_group_of_each_child"]
  },
  %{
    id: "kill-orphans",
    file: "c_src/helper/tree.c",
    from: "        int killed = tree_kill_children(self, spare_pgid);",
    to: "        int killed = 0 * self;",
    breaks: "Guarantees: Nothing is left behind (orphans, without a cgroup)",
    tests: [
      "test/sandbox/lifecycle_test.exs: #{lifecycle_subreaper} after a successful run",
      "test/sandbox/lifecycle_test.exs: #{lifecycle_subreaper} after a timeout"
    ]
  },
  %{
    id: "tree-waits-for-held-leader",
    file: "c_src/helper/tree.c",
    from: "    return errno == EAGAIN ? 0 : errno == EINTR ? 1 : -1;",
    to: "    return errno == EAGAIN ? 1 : errno == EINTR ? 1 : -1;",
    breaks: "Guarantees: Nothing is left behind (a VM traced by a process of its run)",
    tests: [
      "c: tree/end_all_reaps_a_leader_whose_tracer_becomes_ours_later",
      "test/sandbox/lifecycle_test.exs: #{lifecycle_subreaper} a process of the run that traces the VM keeps neither the VM nor itself"
    ]
  },
  %{
    id: "helper-waits-for-peer-first",
    file: "c_src/helper/sandbox_helper.c",
    from:
      "    int peer_reaped = tree_end_all(getpgrp(), h->peer_reaped ? 0 : h->peer, &peer_status);",
    to:
      "    if (!h->peer_reaped) reap_peer(h); int peer_reaped = tree_end_all(getpgrp(), 0, &peer_status);",
    breaks:
      "Guarantees: Nothing is left behind (the VM and the orphans killed before any is waited for)",
    tests: [
      "test/sandbox/lifecycle_test.exs: #{lifecycle_subreaper} a process of the run that traces the VM keeps neither the VM nor itself"
    ]
  },
  %{
    id: "tree-leader-status-lost",
    file: "c_src/helper/tree.c",
    from: "                r->status = status;",
    to: "                r->status = 0 * status;",
    breaks: "Guarantees: The end is known (how the VM ended, told after the tree is killed)",
    tests: ["c: tree/end_all_reaps_a_leader_whose_tracer_becomes_ours_later"]
  },
  %{
    id: "kill-on-answer",
    file: "c_src/nif/run.c",
    from: "fdio_close(r->fds.orders);",
    to: "(void)r->fds.orders;",
    breaks: "Guarantees: Nothing is left behind (the host orders the kill)",
    tests: [
      "test/sandbox/lifecycle_test.exs: #{lifecycle_default} after a successful run",
      "test/sandbox/lifecycle_test.exs: #{lifecycle_default} after a timeout"
    ]
  },
  %{
    id: "kill-on-caller-death",
    file: "c_src/nif/run.c",
    from: "    if (!r->monitoring || enif_compare_monitors(down, &r->owner_monitor) != 0)",
    to: "    if (1 || !r->monitoring || enif_compare_monitors(down, &r->owner_monitor) != 0)",
    breaks: "Guarantees: Nothing is left behind (a caller that dies cancels its run)",
    tests: [
      "test/sandbox/lifecycle_test.exs: #{lifecycle_default} when the caller dies, at once",
      "test/sandbox/execute_test.exs: start/2, await/2, cancel/1 a run whose owner dies is killed"
    ]
  },
  %{
    id: "kill-on-limit",
    file: "c_src/helper/sandbox_helper.c",
    from: "            over |= check_limits(&h);",
    to: "            over |= 0 && check_limits(&h);",
    breaks: "API: Resource limits (a limit crossed stops the run)",
    tests: [
      "test/sandbox/limits_test.exs: a run stopped by a limit leaves nothing behind process_limit: the VM and what it started are gone within 1 s",
      "test/sandbox/limits_test.exs: :cpu_time stops a busy run but not a sleeping one of the same length (cgroup: false)"
    ]
  },
  %{
    id: "host-death-signal",
    file: "c_src/helper/sandbox_helper.c",
    from: "    if (prctl(PR_SET_PDEATHSIG, SIGTERM) < 0)",
    to: "    if (0)",
    breaks: "Guarantees: A dead host takes its runs with it (the parent-death signal)",
    tests: [
      "test/sandbox/host_death_test.exs: SIGKILL of the host mid-run with its orders pipe held open elsewhere: the parent-death signal ends the run"
    ],
    alone: true
  },
  %{
    id: "host-death-eof",
    file: "c_src/helper/sandbox_helper.c",
    from: "    if (n <= 0)",
    to: "    if (n < 0)",
    breaks: "Guarantees: A dead host takes its runs with it (EOF on the control pipe)",
    tests: [
      "test/sandbox/lifecycle_test.exs: #{lifecycle_default} after a successful run"
    ]
  },

  # ---- Guarantees: everything is captured, nothing printed is lost --------
  %{
    id: "capture-stderr-in-order",
    file: "lib/sandbox/guest.ex",
    from: "      [:user, :standard_error]",
    to: "      [:user]",
    breaks: "Guarantees: Everything is captured (in the order each writer wrote)",
    tests: [
      "test/sandbox/output_test.exs: capture every writer's output is whole and in the order it wrote: stdout and stderr interleaved exactly"
    ]
  },
  %{
    id: "output-setopts-shorthand-refused",
    file: "lib/sandbox/guest/output_device.ex",
    from: "    opts = :proplists.unfold(if is_list(opts), do: opts, else: [opts])",
    to: "    opts = if is_list(opts), do: opts, else: [opts]",
    breaks: "Guarantees: Everything is captured (the I/O protocol's options)",
    tests: [
      "test/sandbox/output_test.exs: the output device's options setopts takes :binary alone, known options in a keyword list, and refuses the rest"
    ]
  },
  %{
    id: "output-written-before-answer",
    file: "lib/sandbox/guest/output_device.ex",
    from: "    Native.write_all(state.fd, :erlang.iolist_to_binary(data))",
    to: "    spawn(fn -> Native.write_all(state.fd, :erlang.iolist_to_binary(data)) end)",
    breaks: "Guarantees: Nothing printed is lost",
    tests: [
      "test/sandbox/peer_process_test.exs: output is complete when the VM ends the instant after writing it",
      "test/sandbox/results_test.exs: {:error, :noconnection, ...} when the VM halts, keeping what it printed"
    ]
  },

  # ---- where a run's output begins --------------------------------------------
  %{
    id: "early-capture-with-a-setup",
    file: "lib/sandbox/runner.ex",
    from: "  defp capture_early?(handle), do: handle.warm? and handle.options.setup == []",
    to: "  defp capture_early?(handle), do: handle.warm?",
    breaks: "API: :setup (its output is not included)",
    tests: [
      "test/sandbox/setup_test.exs: its output is not included on a pool's warm VM either"
    ]
  },
  %{
    id: "early-capture-not-begun-at-submit",
    file: "c_src/nif/run_fsm.c",
    from: "    if (f->capture_early && f->state == RUN_IDLE)",
    to: "    if (0)",
    breaks: "Guarantees: Everything is captured (the run's output and nothing before it)",
    tests: [
      "test/sandbox/capture_start_test.exs: captured early, the output is all that was printed after the submit, before 'S' too",
      "c: run_fsm/a_warm_run_without_a_setup_captures_from_its_submit"
    ]
  },
  %{
    id: "early-capture-output-read-before-start-is-not-the-codes",
    file: "c_src/nif/run_fsm.c",
    from: "    return f->capturing && f->state <= RUN_EVALUATING;",
    to: "    return f->capturing && f->state == RUN_EVALUATING;",
    breaks: "API: :on_output (a warm run's output is streamed, all of it)",
    tests: [
      "test/sandbox/capture_start_test.exs: captured early, the output is all that was printed after the submit, before 'S' too",
      "c: run_fsm/captured_early_the_output_limit_holds_before_the_start"
    ]
  },
  %{
    id: "early-capture-waits-in-setup",
    file: "c_src/nif/run_fsm.c",
    from: "        if (f->capture_early) {",
    to: "        if (0) {",
    breaks: "API: :on_output (a warm run's output is streamed)",
    tests: [
      "test/sandbox/capture_start_test.exs: captured early, the output is all that was printed after the submit, before 'S' too",
      "c: run_fsm/a_warm_run_without_a_setup_captures_from_its_submit"
    ]
  },

  # ---- output cutting and counting ------------------------------------------
  %{
    id: "unwritten-not-counted-in-the-vm",
    file: "lib/sandbox/guest/output_device.ex",
    from: "      :ok = Native.count_unwritten(state.unwritten, bytes)",
    to: "      :ok",
    breaks: "API: Sandbox.execute/2 (output_bytes counts every byte, past :max_output too)",
    tests: [
      "test/sandbox/output_test.exs: truncation past the cap every byte printed is counted, when the code halts",
      "test/sandbox/output_limit_test.exs: what is printed past :max_output counts towards the limit up to the last byte"
    ]
  },
  %{
    id: "unwritten-not-read-by-the-host",
    file: "c_src/nif/capture.c",
    from: "    output_count(&r->output, count - r->unwritten_seen);",
    to: "    (void)count;",
    breaks: "API: Sandbox.execute/2 (output_bytes counts every byte, past :max_output too)",
    tests: [
      "test/sandbox/output_test.exs: truncation past the cap every byte printed is counted, when the code times out"
    ]
  },
  %{
    id: "unwritten-cap-counts-the-setup",
    file: "lib/sandbox/guest/output_device.ex",
    from: "  defp put(%{cap: nil} = state, data), do: write(state, data)",
    to:
      "  defp put(%{cap: nil} = state, data), do: %{write(state, data) | written: state.written + :erlang.iolist_size(data)}",
    breaks: "API: run/2 return values (the first :max_output bytes the code printed are kept)",
    tests: [
      "test/sandbox/output_test.exs: truncation past the cap, what the setup printed to the same device does not count towards it"
    ]
  },
  %{
    id: "unwritten-while-streaming",
    file: "lib/sandbox/runner.ex",
    from: "        if(options.on_output == nil and options.max_output != :infinity,",
    to: "        if(options.max_output != :infinity,",
    breaks: "API: :on_output (every byte is streamed, whatever :max_output keeps)",
    tests: [
      "test/sandbox/streaming_test.exs: printed line by line far past the cap, everything is streamed"
    ]
  },
  %{
    id: "unwritten-limit-not-checked-at-the-end",
    file: "c_src/nif/capture.c",
    from: "    if (run_fsm_capturing_code(&r->fsm))",
    to: "    if (0)",
    breaks: "API: :output_limit (what is printed past :max_output counts)",
    tests: [
      "test/sandbox/output_limit_test.exs: what is printed past :max_output counts towards the limit up to the last byte"
    ]
  },
  %{
    id: "unwritten-never-written",
    file: "lib/sandbox/guest/output_device.ex",
    from: "    if written >= cap and quiet + bytes <= @unwritten_span do",
    to: "    if written >= cap do",
    breaks: "API: :output_limit (a flood past :max_output is still stopped)",
    tests: [
      "test/sandbox/output_limit_test.exs: a run printing past the limit is stopped, with what it printed"
    ]
  },
  %{
    id: "unwritten-page-unsealed",
    file: "c_src/common/unwritten.c",
    from: "        fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL) < 0) {",
    to: "        0) {",
    breaks: "isolation: :strict (a peer cannot make the host's reads of its page fail)",
    tests: ["c: unwritten/the_page_can_be_neither_shrunk_nor_grown"]
  },
  %{
    id: "output-not-capped",
    file: "c_src/nif/capture.c",
    from: "output_reset(&r->output, r->terms.max_output);",
    to: "output_reset(&r->output, OUTPUT_UNLIMITED);",
    breaks: "Guarantees: The host stays small (output capped in C)",
    tests: [
      "test/sandbox/output_test.exs: truncation 60000 bytes printed, 50000 kept",
      "test/sandbox/output_memory_test.exs: memory the host holds at most max_output of a flood, however much is printed"
    ]
  },
  %{
    id: "output-not-counted",
    file: "c_src/nif/output.c",
    from: "UINT64_MAX : o->total + n;",
    to: "UINT64_MAX : o->total + (n > 0);",
    breaks: "API: Sandbox.execute/2 (output_bytes counts every byte)",
    tests: [
      "test/sandbox/execute_test.exs: execute/2 counts every byte printed, and says when output was cut",
      "c: output/keeps_at_most_the_limit_but_counts_all"
    ]
  },
  %{
    id: "output-cut-mid-character",
    file: "c_src/nif/output.c",
    from: "        return i - 1;",
    to: "        return n;",
    breaks: "API: run/2 return values (the cut falls on a whole UTF-8 character)",
    tests: [
      "test/sandbox/output_test.exs: truncation the cut falls on a whole UTF-8 character",
      "c: output/utf8_prefix_cuts_only_an_incomplete_tail"
    ]
  },
  %{
    id: "output-sizes",
    file: "c_src/nif/output.c",
    from: "unsigned shift = bytes < 1048576 ? 10 : 20;",
    to: "unsigned shift = bytes < 1048576 ? 10 : 10;",
    breaks: "API: run/2 return values (sizes as the reference formats them)",
    tests: [
      "test/sandbox/output_test.exs: truncation 2000000 bytes printed, 2000 kept",
      "c: output/byte_formatting_matches_the_reference"
    ]
  },
  %{
    id: "output-truncation-line",
    file: "c_src/nif/output.c",
    from: ~S|"\n...(truncated, showing first "|,
    to: ~S|"\n...(truncated: showing first "|,
    breaks: "API: run/2 return values (the reference's truncation line, byte for byte)",
    tests: ["test/sandbox/output_test.exs: truncation 1,280 bytes are shown as 1.3KB"]
  },
  %{
    id: "output-limit",
    file: "c_src/nif/capture.c",
    from:
      "    if (r->terms.output_limit != OUTPUT_UNLIMITED && r->output.total > r->terms.output_limit)",
    to: "    if (0)",
    breaks: "API: :output_limit",
    tests: [
      "test/sandbox/output_limit_test.exs: execute/2 reports :output_limit; within the limit a run ends normally"
    ]
  },
  %{
    id: "output-read-per-line",
    file: "c_src/nif/capture.c",
    from: "                pace(r, now);",
    to: "                (void)now;",
    breaks: "Speed (a run's output pipe is read in batches, not at every write)",
    tests: [
      "test/sandbox/streaming_test.exs: lines printed back to back are read together, not each on its own"
    ]
  },
  %{
    id: "output-pace-never-ends",
    file: "c_src/nif/capture.c",
    from: "        run_watch(r, WATCH_OUTPUT, EPOLLIN);",
    to: "        (void)r;",
    breaks: "API: :on_output (chunks arrive before the run ends)",
    tests: [
      "test/sandbox/streaming_test.exs: what is printed while the pipe is left alone still arrives before the run ends"
    ]
  },

  # ---- Guarantees: no distribution, nothing carries over, a clean start ----
  %{
    id: "cookie-known",
    file: "lib/sandbox/launcher.ex",
    from: "      random_token(),",
    to: ~S|      "sandbox",|,
    breaks: "Guarantees: No distribution (a random cookie)",
    tests: [
      "test/sandbox/isolation_test.exs: no Erlang distribution each VM has a cookie of its own, and takes part in no global name traffic"
    ]
  },
  %{
    id: "global-traffic",
    file: "lib/sandbox/launcher.ex",
    from: ~S|      "-connect_all",|,
    to: ~S|      "-sandbox_unused",|,
    breaks: "Guarantees: No distribution (no global name traffic)",
    tests: [
      "test/sandbox/isolation_test.exs: no Erlang distribution each VM has a cookie of its own, and takes part in no global name traffic"
    ]
  },
  %{
    id: "dist-listener",
    file: "lib/sandbox/guest.ex",
    from: "    :ok = name_node()",
    to: "    {:ok, _} = :net_kernel.start(:sandbox_mutant, %{name_domain: :shortnames})",
    breaks: "Guarantees: No distribution (no listener, no EPMD)",
    tests: [
      "test/sandbox/isolation_test.exs: no Erlang distribution the peer is connected to nothing and has no socket to be reached on",
      "test/sandbox/isolation_test.exs: no Erlang distribution the host stays non-distributed and no EPMD is started or told of the VM"
    ]
  },
  %{
    id: "node-unnamed",
    file: "lib/sandbox/guest.ex",
    from: "    :ok = name_node()",
    to: "    :ok",
    breaks: "Guarantees: No distribution (pids and refs decode as remote ones)",
    tests: [
      "test/sandbox/isolation_test.exs: no Erlang distribution pids and refs in a result are never host-local"
    ]
  },
  %{
    id: "cookie-server-missing",
    file: "lib/sandbox/guest.ex",
    from:
      "    {:ok, _} = :supervisor.start_child(:kernel_sup, %{id: :auth, start: {:auth, :start_link, []}})",
    to: "    {:ok, :skipped}",
    breaks: "Guarantees: No distribution (a random cookie)",
    tests: [
      "test/sandbox/isolation_test.exs: no Erlang distribution each VM has a cookie of its own, and takes part in no global name traffic"
    ]
  },
  %{
    id: "dot-erlang-read",
    file: "lib/sandbox/boot_file.ex",
    from:
      ~S|    source = Path.join([List.to_string(:code.root_dir()), "bin", "no_dot_erlang.boot"])|,
    to: ~S|    source = Path.join([List.to_string(:code.root_dir()), "bin", "start.boot"])|,
    breaks: "Guarantees: Nothing carries over (no .erlang file is evaluated)",
    tests: [
      "test/sandbox/isolation_test.exs: what the peer sees of the host a .erlang file in the home directory is not evaluated"
    ]
  },
  %{
    id: "erl-aflags",
    file: "lib/sandbox/launcher.ex",
    from: "~w(ERL_FLAGS ERL_AFLAGS ERL_ZFLAGS ",
    to: "~w(ERL_FLAGS ERL_ZFLAGS ",
    breaks: "Guarantees: Nothing carries over (ERL_AFLAGS stripped)",
    tests: [
      "test/sandbox/isolation_test.exs: what the peer sees of the host VM flags in ERL_AFLAGS do not reach the peer's command line"
    ]
  },
  %{
    id: "erl-zflags",
    file: "lib/sandbox/launcher.ex",
    from: "~w(ERL_FLAGS ERL_AFLAGS ERL_ZFLAGS ",
    to: "~w(ERL_FLAGS ERL_AFLAGS ",
    breaks: "Guarantees: Nothing carries over (ERL_ZFLAGS stripped)",
    tests: [
      "test/sandbox/isolation_test.exs: what the peer sees of the host VM flags in ERL_ZFLAGS do not reach the peer's command line"
    ]
  },
  %{
    id: "crash-dump",
    file: "lib/sandbox/launcher.ex",
    from: ~S/|> Map.put("ERL_CRASH_DUMP_SECONDS", "0")/,
    to: ~S/|> Map.put("SANDBOX_UNUSED", "0")/,
    breaks: "Guarantees: A clean start (crash dumps off)",
    tests: ["test/sandbox/isolation_test.exs: a crashing peer writes no erl_crash.dump"]
  },
  %{
    id: "host-code-paths",
    file: "lib/sandbox/runner.ex",
    from: "      paths: :code.get_path(),",
    to: "      paths: [],",
    breaks: "Guarantees: Nothing carries over (the host's code paths at the moment of the call)",
    tests: [
      "test/sandbox/isolation_test.exs: what the peer sees of the host a code path added to the host at run time",
      "test/sandbox/pool_test.exs: a warm peer sees code paths the host added after it booted"
    ]
  },
  %{
    id: "signals-reset",
    file: "c_src/helper/vm.c",
    from: "    if (reset_signal_dispositions() < 0 || sigemptyset(&none) < 0 ||",
    to: "    if (sigemptyset(&none) < 0 ||",
    breaks: "Guarantees: A clean start (every signal at its default)",
    tests: [
      "test/sandbox/peer_process_test.exs: starts with every signal at its default and none blocked"
    ]
  },

  # ---- Guarantees: a hostile VM, the end is known ---------------------------
  %{
    id: "frame-length-unchecked",
    file: "c_src/common/protocol.h",
    from: "#define SANDBOX_MAX_FRAME_BYTES 1073741824",
    to: "#define SANDBOX_MAX_FRAME_BYTES 4294967295U",
    breaks: "Guarantees: A hostile VM cannot hurt the host (a frame announces at most 1 GB)",
    tests: [
      "test/sandbox/hostile_peer_test.exs: through the real API a 4 GB frame length on the frame channel"
    ]
  },
  %{
    id: "exit-status",
    file: "c_src/helper/sandbox_helper.c",
    from: "    report(NOTICE_EXIT, wait_status, 0, 0);",
    to: "    report(NOTICE_EXIT, 0, 0, 0);",
    breaks: "Guarantees: The end is known (exit status or signal)",
    tests: [
      "test/sandbox/execute_test.exs: execute/2 a VM that dies says how: exit status or signal",
      "test/sandbox/peer_process_test.exs: its exit status or the signal that ended it is known"
    ]
  },
  %{
    id: "usage-of-helper-only",
    file: "c_src/helper/sandbox_helper.c",
    from: "    if (getrusage(RUSAGE_CHILDREN, &usage) < 0)",
    to: "    if (getrusage(RUSAGE_SELF, &usage) < 0)",
    breaks: "Guarantees: The end is known (CPU time and peak memory of the whole tree)",
    tests: [
      "test/sandbox/execute_test.exs: execute/2 cpu_ms and max_rss_kb cover the whole tree: a child's CPU and memory show in them"
    ]
  },
  %{
    id: "usage-dropped-by-vm",
    file: "lib/sandbox/guest.ex",
    from: "    :ok = Native.reap_children_normally()",
    to: "    :ok",
    breaks: "Guarantees: The end is known (what the VM's children ran is counted)",
    tests: [
      "test/sandbox/execute_test.exs: execute/2 cpu_ms and max_rss_kb cover the whole tree: a child's CPU and memory show in them"
    ]
  },

  # ---- the atom limit --------------------------------------------------------
  %{
    id: "atom-limit",
    file: "lib/sandbox/result.ex",
    from: "created > max_new_atoms do",
    to: "created > max_new_atoms * 1000 do",
    breaks: "Guarantees (atoms): past :max_new_atoms, AtomLimitError",
    tests: [
      "test/sandbox/results_test.exs: atoms created by decoding the result past :max_new_atoms raise Sandbox.AtomLimitError"
    ]
  },
  %{
    id: "atom-limit-default",
    file: "lib/sandbox/options.ex",
    from: "      default: 100_000,",
    to: "      default: :infinity,",
    breaks: "API: :max_new_atoms (default 100,000)",
    tests: [
      "test/sandbox/results_test.exs: atoms created by decoding the result by default, past 100,000 raise"
    ]
  },
  %{
    id: "boot-timeout-default",
    file: "c_src/common/protocol.h",
    from: "#define SANDBOX_BOOT_TIMEOUT_MS 30000",
    to: "#define SANDBOX_BOOT_TIMEOUT_MS 5000",
    breaks: "API: :boot_timeout (default 30,000)",
    tests: [
      "test/sandbox/execute_test.exs: execute/2 a VM that does not boot is given up after 30 s by default"
    ]
  },

  # ---- resource limits -------------------------------------------------------
  %{
    id: "memory-limit",
    file: "c_src/helper/limits.c",
    from: "u.rss_bytes > l->limits.memory_bytes)",
    to: "u.rss_bytes > l->limits.memory_bytes * 100)",
    breaks: "API: Resource limits (:memory_limit)",
    tests: [
      "test/sandbox/limits_test.exs: :memory_limit stops a run that allocates 2 GB, not one that stays under it"
    ]
  },
  %{
    id: "cpu-limit-cgroup",
    file: "c_src/helper/limits.c",
    from: "        cpu_us - l->cpu_base_us > l->limits.cpu_ms * 1000)",
    to: "        cpu_us - l->cpu_base_us > l->limits.cpu_ms * 1000000)",
    breaks: "API: Resource limits (:cpu_time by cpu.stat)",
    tests: [
      "test/sandbox/limits_test.exs: :cpu_time stops a busy run but not a sleeping one of the same length (cgroup: auto)"
    ]
  },
  %{
    id: "cpu-limit-sampling",
    file: "c_src/helper/limits.c",
    from: "u.cpu_us - l->cpu_base_us > l->limits.cpu_ms * 1000)",
    to: "u.cpu_us - l->cpu_base_us > l->limits.cpu_ms * 1000000)",
    breaks: "API: Resource limits (:cpu_time by sampling)",
    tests: [
      "test/sandbox/limits_test.exs: :cpu_time stops a busy run but not a sleeping one of the same length (cgroup: false)"
    ]
  },
  %{
    id: "process-limit",
    file: "c_src/helper/limits.c",
    from: "l->processes_base + l->limits.processes)",
    to: "l->processes_base + l->limits.processes + 1000000)",
    breaks: "API: Resource limits (:max_processes)",
    tests: [
      "test/sandbox/limits_test.exs: :max_processes stops a fork loop, and lets a few processes run (cgroup: false)"
    ]
  },
  %{
    id: "file-size-limit",
    file: "c_src/helper/limits.c",
    from: "{.rlim_cur = (rlim_t)bytes, .rlim_max = (rlim_t)bytes}",
    to: "{.rlim_cur = RLIM_INFINITY, .rlim_max = RLIM_INFINITY}",
    breaks: "API: Resource limits (:max_file_size)",
    tests: [
      "test/sandbox/limits_test.exs: :max_file_size a write past it fails with :efbig and the run goes on",
      "c: limits/sets_the_file_size_rlimit_of_every_member"
    ]
  },
  %{
    id: "network",
    file: "lib/sandbox/launcher.ex",
    from: ~S|{:ok, {["--no-network"], argv}}|,
    to: ~S|{:ok, {[], argv}}|,
    breaks: "API: :network (false: no network)",
    tests: [
      "test/sandbox/limits_test.exs: :network false cuts the run off from a listener on the host's loopback"
    ]
  },

  # ---- option validation -----------------------------------------------------
  %{
    id: "validate-code",
    file: "lib/sandbox/options.ex",
    from: "    unless is_binary(code) do",
    to: "    unless true do",
    breaks: "API: Raised (code that is not a binary)",
    tests: ["test/sandbox/options_test.exs: code that is not a binary is refused"]
  },
  %{
    id: "validate-limits",
    file: "lib/sandbox/options.ex",
    from: ~S|      other -> bad!(key, "a non-negative integer or :infinity", other)|,
    to: "      other -> other",
    breaks: "API: Raised (:timeout, :max_output, :max_new_atoms, :output_limit)",
    tests: [
      "test/sandbox/options_test.exs: timeout -1 is refused",
      "test/sandbox/options_test.exs: max_output -5 is refused"
    ]
  },
  %{
    id: "validate-timeout",
    file: "lib/sandbox/options.ex",
    from: "      timeout: limit!(opts, :timeout, @default_timeout),",
    to: "      timeout: Keyword.get(opts, :timeout, @default_timeout),",
    breaks: "API: Raised (:timeout)",
    tests: ["test/sandbox/options_test.exs: timeout :forever is refused"]
  },
  %{
    id: "validate-max-new-atoms",
    file: "lib/sandbox/options.ex",
    from: "      max_new_atoms: limit!(opts, :max_new_atoms, @default_max_new_atoms),",
    to: "      max_new_atoms: Keyword.get(opts, :max_new_atoms, @default_max_new_atoms),",
    breaks: "API: Raised (:max_new_atoms)",
    tests: [
      "test/sandbox/options_test.exs: a max_new_atoms that is not a non-negative integer or :infinity is refused"
    ]
  },
  %{
    id: "validate-output-limit",
    file: "lib/sandbox/options.ex",
    from: "      output_limit: limit!(opts, :output_limit, limit_default.(:output_limit)),",
    to: "      output_limit: Keyword.get(opts, :output_limit, limit_default.(:output_limit)),",
    breaks: "API: Raised (:output_limit)",
    tests: ["test/sandbox/output_limit_test.exs: an invalid :output_limit raises"]
  },
  %{
    id: "validate-boot-timeout",
    file: "lib/sandbox/options.ex",
    from: "      boot_timeout: non_neg_integer!(opts, :boot_timeout, @default_boot_timeout),",
    to: "      boot_timeout: Keyword.get(opts, :boot_timeout, @default_boot_timeout),",
    breaks: "API: Raised (:boot_timeout)",
    tests: [
      "test/sandbox/options_test.exs: a boot_timeout that is not a non-negative integer is refused"
    ]
  },
  %{
    id: "validate-setup",
    file: "lib/sandbox/options.ex",
    from: ~S|      {:error, _} -> bad!(:setup, "a string, quoted AST, or a list of either", ast)|,
    to: "      {:error, _} -> ast",
    breaks: "API: Raised (:setup)",
    tests: ["test/sandbox/options_test.exs: a setup of the wrong type is refused"]
  },
  %{
    id: "validate-env",
    file: "lib/sandbox/options.ex",
    from: ~S|        if name == "" or String.contains?(name, ["=", <<0>>]) or|,
    to: ~S|        if false and String.contains?(name, ["=", <<0>>]) or|,
    breaks: "API: Raised (:env)",
    tests: [
      "test/sandbox/environment_test.exs: invalid environment options raise, naming the option"
    ]
  },
  %{
    id: "validate-cd",
    file: "lib/sandbox/options.ex",
    from: ~S|else: bad!(:cd, "an existing directory", dir)|,
    to: "else: Path.expand(dir)",
    breaks: "API: Raised (:cd)",
    tests: [
      "test/sandbox/environment_test.exs: invalid environment options raise, naming the option"
    ]
  },
  %{
    id: "validate-tmp-dir",
    file: "lib/sandbox/options.ex",
    from: ~S|  defp tmp_dir!(other, _cd), do: bad!(:tmp_dir, "a boolean", other)|,
    to: "  defp tmp_dir!(other, _cd), do: other",
    breaks: "API: Raised (:tmp_dir)",
    tests: [
      "test/sandbox/environment_test.exs: invalid environment options raise, naming the option"
    ]
  },
  %{
    id: "validate-stdin",
    file: "lib/sandbox/options.ex",
    from: "  defp stdin!(stdin) when is_binary(stdin) or is_nil(stdin), do: stdin",
    to: "  defp stdin!(stdin), do: stdin",
    breaks: "API: Raised (:stdin)",
    tests: [
      "test/sandbox/environment_test.exs: invalid environment options raise, naming the option"
    ]
  },
  %{
    id: "validate-on-output",
    file: "lib/sandbox/options.ex",
    from: "  defp on_output!(target) when is_pid(target) and node(target) == node(), do: target",
    to: "  defp on_output!(target) when is_atom(target) or is_pid(target), do: target",
    breaks: "API: Raised (:on_output)",
    tests: ["test/sandbox/streaming_test.exs: an invalid :on_output raises"]
  },
  %{
    id: "validate-resource-limits",
    file: "lib/sandbox/options.ex",
    from: ~S|        bad!(key, "an integer from 0 to 2^50, or :infinity", other)|,
    to: "        other",
    breaks: "API: Raised (:memory_limit, :cpu_time, :max_processes, :max_file_size)",
    tests: ["test/sandbox/limits_test.exs: limits are checked like the other options"]
  },
  %{
    id: "validate-network",
    file: "lib/sandbox/options.ex",
    from: "  defp network!(network) when is_boolean(network), do: network",
    to: "  defp network!(network), do: network != false",
    breaks: "API: Raised (:network)",
    tests: ["test/sandbox/limits_test.exs: limits are checked like the other options"]
  },
  %{
    id: "validate-node",
    file: "lib/sandbox/options.ex",
    from: "  defp node!(node) when is_atom(node) and node not in [true, false], do: node",
    to: "  defp node!(node), do: node",
    breaks: "API: Raised (:node)",
    tests: ["test/sandbox/options_test.exs: a node that is not a node name is refused"]
  },
  %{
    id: "validate-pool",
    file: "lib/sandbox/options.ex",
    from: "  defp pool!(pool) when is_atom(pool) and pool != true, do: pool",
    to: "  defp pool!(pool) when not is_pid(pool), do: pool",
    breaks: "API: Raised (:pool)",
    tests: ["test/sandbox/pool_test.exs: invalid pool options raise, naming the option"]
  },

  # ---- the pool ---------------------------------------------------------------
  %{
    id: "pool-single-use",
    file: "lib/sandbox/pool.ex",
    from: "        state = %{state | idle: :queue.from_list(slower ++ rest)}",
    to: "        state = %{state | idle: state.idle}",
    breaks: "API: Sandbox.Pool (single use)",
    tests: ["test/sandbox/pool_test.exs: a run takes a booted peer, which serves only that run"]
  },
  %{
    id: "pool-fifo",
    file: "lib/sandbox/pool.ex",
    from: "waiting: :queue.in(waiter, state.waiting)",
    to: "waiting: :queue.in_r(waiter, state.waiting)",
    breaks: "API: Sandbox.Pool (:max_peers, first come first served)",
    tests: [
      "test/sandbox/pool_test.exs: :max_peers queues runs first come, first served, and gives up after :boot_timeout"
    ]
  },
  %{
    id: "pool-lease-dies-with-caller",
    file: "lib/sandbox/pool.ex",
    from: "if vm = state.leased[monitor], do: Native.cancel(vm)",
    to: "_ = state.leased[monitor]",
    breaks: "API: Sandbox.Pool (ownership: a VM given to a run dies with its caller)",
    tests: [
      "test/sandbox/pool_test.exs: a VM leased to a caller that dies before it submits is killed"
    ]
  },
  %{
    id: "pool-back-off",
    file: "lib/sandbox/pool.ex",
    from: "delay = min(50 * Integer.pow(2, min(failures, 10)), @max_backoff_ms)",
    to: "delay = 0 * failures",
    breaks: "API: Sandbox.Pool (failures: retries with a growing delay)",
    tests: [
      "test/sandbox/pool_test.exs: VMs that keep failing to boot are retried with a growing delay"
    ]
  },

  # ---- isolation: :strict -------------------------------------------------------
  %{
    id: "strict-namespaces",
    file: "lib/sandbox/isolation.ex",
    from: ~S|        "--unshare-all",|,
    to: ~S|        "--unshare-user",|,
    breaks: "Isolation: 4. processes, 5. network and sockets",
    tests: [
      "test/sandbox/strict_test.exs: 4. processes no host process is visible or can be signalled; /proc agrees with System.pid()",
      "test/sandbox/strict_test.exs: 5. network and sockets no network, no host unix socket (abstract or in the file system)"
    ]
  },
  %{
    id: "strict-environment",
    file: "lib/sandbox/isolation.ex",
    from: ~S|        "--clearenv"|,
    to: ~S|        "--unshare-uts"|,
    breaks: "Isolation: 2. secrets",
    tests: [
      "test/sandbox/strict_test.exs: 2. secrets the host's environment is not inherited: a minimal one, plus :env"
    ]
  },
  %{
    id: "strict-user",
    file: "lib/sandbox/isolation.ex",
    from: ~S|if(root?(), do: ["--user", "#{uid}:#{gid}"], else: [])|,
    to: ~S|if(false, do: ["--user", "#{uid}:#{gid}"], else: [])|,
    breaks: "Isolation: 1. identity (not root outside the box either)",
    tests: [
      "test/sandbox/strict_test.exs: 1. identity not root outside the box either: the host sees the box's processes as its user"
    ]
  },
  %{
    id: "strict-filter",
    file: "c_src/confine/syscall_filter.c",
    from: "            rc = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), nr, 0);",
    to: "            rc = 0 * nr;",
    breaks: "Isolation: 6. kernel surface",
    tests: ["c: confine/the_filter_refuses_each_listed_call"]
  },
  %{
    id: "strict-landlock",
    file: "c_src/confine/landlock.c",
    from: "    if (rc == 0 && syscall(SYS_landlock_restrict_self, ruleset, 0) < 0)",
    to: "    if (0)",
    breaks: "Isolation: 3. files (Landlock, the second fence)",
    tests: ["c: confine/landlock_allows_the_paths_given_and_nothing_else"]
  },
  %{
    id: "strict-fails-closed",
    file: "c_src/confine/sandbox_confine.c",
    from: "    if ((int64_t)st.st_ino == inode) {",
    to: "    if (0) {",
    breaks: "Isolation: never runs less confined than asked",
    tests: [
      "test/sandbox/strict_test.exs: the box sandbox_confine refuses the host's namespaces even to an unprivileged user"
    ]
  },
  %{
    id: "strict-default-limits",
    file: "lib/sandbox/options.ex",
    from: "    max_processes: 64,",
    to: "    max_processes: 1_000_000,",
    breaks: "Isolation: 7. bombs end the run, not the machine",
    tests: [
      "test/sandbox/strict_test.exs: 7. bombs end the run, not the machine a fork bomb ends in :process_limit, a memory bomb in :memory_limit, a disk filler in a failed write"
    ]
  },
  %{
    id: "strict-no-userns",
    file: "lib/sandbox/isolation.ex",
    from: "    if why = user_namespaces_refused(), do: unavailable!(why)",
    to: "    if why = nil, do: unavailable!(why)",
    breaks: "Isolation: a BootError names what is missing (no user namespaces)",
    tests: [
      "test/sandbox/strict_test.exs: the box without user namespaces: a BootError that names them, never a run"
    ]
  },
  %{
    id: "strict-refusal",
    file: "lib/sandbox/result.ex",
    from: "    reason = if why, do: {:isolation, why}, else: reason",
    to: "    reason = if why, do: reason, else: reason",
    breaks: "Isolation: a BootError names what is missing (the box's tools' words)",
    tests: [
      "test/sandbox/strict_test.exs: the box a box its tools refuse to make: a BootError with their words"
    ]
  },
  # ---- The default pool, priority, boot retry ---------------------------------
  %{
    id: "auto-pool-not-started",
    file: "lib/sandbox/application.ex",
    from: "    do: [{Sandbox.Pool, name: Sandbox.AutoPool, size: :auto, join: false}]",
    to: "    do: []",
    breaks: "Sandbox.Pool: the default pool needs no configuration",
    tests: [
      "test/sandbox/auto_pool_test.exs: the application's pool with nothing configured: Sandbox.AutoPool, idle until used, then used by runs without :pool"
    ]
  },
  %{
    id: "auto-pool-never-grows",
    file: "lib/sandbox/pool.ex",
    from: "    target = state.leased |> map_size() |> max(state.target) |> min(state.max_size)",
    to: "    target = state.target",
    breaks: "Sandbox.Pool: nothing before the first run, warm from the second",
    tests: [
      "test/sandbox/auto_pool_test.exs: nothing boots before the first run; the second run is warm",
      "test/sandbox/auto_pool_test.exs: grows with runs in progress at once, up to :max_size"
    ]
  },
  %{
    id: "auto-pool-unbounded",
    file: "lib/sandbox/pool.ex",
    from: "    target = state.leased |> map_size() |> max(state.target) |> min(state.max_size)",
    to: "    target = state.leased |> map_size() |> max(state.target)",
    breaks: "Sandbox.Pool: as many as are used at once, up to :max_size",
    tests: [
      "test/sandbox/auto_pool_test.exs: grows with runs in progress at once, up to :max_size"
    ]
  },
  %{
    id: "auto-pool-never-shrinks",
    file: "lib/sandbox/pool.ex",
    from: "    if quiet_ms >= state.idle_timeout do",
    to: "    if false do",
    breaks: "Sandbox.Pool: gone when idle",
    tests: ["test/sandbox/auto_pool_test.exs: after :idle_timeout without a run, no VM is left"]
  },
  %{
    id: "auto-pool-spare-beside-first-run",
    file: "lib/sandbox/pool.ex",
    from: "      {reply, state} when dormant? ->",
    to: "      {reply, state} when false ->",
    breaks: "Sandbox.Pool: nothing before the first run (its spare boots once it is over)",
    tests: [
      "test/sandbox/auto_pool_test.exs: the first run's spare boots once that run is over, not beside it"
    ]
  },
  %{
    id: "auto-pool-shrinks-under-a-run",
    file: "lib/sandbox/pool.ex",
    from: "    quiet_ms = if busy?, do: 0, else: now_ms() - state.last_used",
    to: "    quiet_ms = now_ms() - state.last_used",
    breaks: "Sandbox.Pool: gone when idle (idle: no run in progress)",
    tests: [
      "test/sandbox/auto_pool_test.exs: a run longer than :idle_timeout does not empty the pool under it"
    ]
  },
  %{
    id: "pool-stale-vm-used",
    file: "lib/sandbox/pool.ex",
    from:
      "    {stale, fresh} = Enum.split_with(:queue.to_list(state.idle), &(&1.signature != signature))",
    to:
      "    {stale, fresh} = Enum.split_with(:queue.to_list(state.idle), &(&1.signature == nil))",
    breaks: "Sandbox.Pool: a warm VM is the VM the run would have booted",
    tests: [
      "test/sandbox/auto_pool_test.exs: a warm VM launched with other settings (priority) is not used"
    ]
  },
  %{
    id: "warm-vm-keeps-launch-environment",
    file: "lib/sandbox/runner.ex",
    from:
      "    host = if handle.warm? and options.isolation == :none, do: Launcher.host_context()",
    to: "    host = nil",
    breaks:
      "Sandbox.Pool: a warm VM is the VM the run would have booted (environment, directory)",
    tests: [
      "test/sandbox/auto_pool_test.exs: a warm VM has the host's environment and directory of its run, not of its boot"
    ]
  },
  %{
    id: "pool-ignores-boot-timeout",
    file: "lib/sandbox/pool.ex",
    from:
      "    case Enum.split_while(:queue.to_list(state.idle), &(&1.boot_ms > boot_timeout)) do",
    to: "    case Enum.split_while(:queue.to_list(state.idle), &(&1.boot_ms < 0)) do",
    breaks: "Sandbox.Pool: a warm VM is the VM the run would have booted (its :boot_timeout)",
    tests: [
      "test/sandbox/auto_pool_test.exs: a warm VM that took longer to boot than the run's :boot_timeout is not used"
    ]
  },
  %{
    id: "boot-kill-not-retried",
    file: "lib/sandbox/runner.ex",
    from: "          killed_booting?(outcome, handle.options) and not handle.rebooted? ->",
    to: "          false ->",
    breaks: "API: BootError (a VM killed before it has booted is replaced once)",
    tests: [
      "test/sandbox/boot_retry_test.exs: a run whose vm is killed while booting gets a fresh VM",
      "test/sandbox/boot_retry_test.exs: a run whose helper is killed while booting gets a fresh VM"
    ]
  },
  %{
    id: "boot-kill-retried-forever",
    file: "lib/sandbox/runner.ex",
    from: "            %{handle | rebooted?: true} |> launch() |> await(timeout)",
    to: "            %{handle | rebooted?: false} |> launch() |> await(timeout)",
    breaks: "API: BootError (replaced once, not more)",
    tests: [
      "test/sandbox/boot_retry_test.exs: the second VM killed while booting raises BootError"
    ]
  },
  %{
    id: "boot-kill-of-helper-not-retried",
    file: "lib/sandbox/runner.ex",
    from: "       when exit == :unknown or elem(exit, 0) == :signal,",
    to: "       when elem(exit, 0) == :signal,",
    breaks: "API: BootError (a VM whose helper is killed before it has booted is replaced once)",
    tests: [
      "test/sandbox/boot_retry_test.exs: a run whose helper is killed while booting gets a fresh VM"
    ]
  },
  %{
    id: "boot-refusal-retried",
    file: "lib/sandbox/runner.ex",
    from: "       do: not (options.isolation == :strict and Isolation.refusal(output) != nil)",
    to: "       do: true",
    breaks: "API: BootError (a VM that fails on its own is not tried again)",
    tests: ["test/sandbox/boot_retry_test.exs: a box its tools refuse to make is not tried again"]
  },
  %{
    id: "pool-noproc-raw",
    file: "lib/sandbox/runner.ex",
    from: "    :exit, {:noproc, _} ->",
    to: "    :exit, {:noproc_never, _} ->",
    breaks: "API: ArgumentError (a :pool that names no running pool)",
    tests: [
      "test/sandbox/pool_test.exs: a :pool that names no running pool raises ArgumentError naming it"
    ]
  },
  %{
    id: "result-size-unchecked",
    file: "lib/sandbox/result.ex",
    from: "       when is_integer(max) and byte_size(encoded) > max,",
    to: "       when false and byte_size(encoded) > max,",
    breaks: "API: :max_result_bytes",
    tests: [
      "test/sandbox/results_test.exs: :max_result_bytes a result that takes more bytes than that is not decoded: :result_too_large, output kept",
      "test/sandbox/results_test.exs: :max_result_bytes a result not decoded creates no atom in the host"
    ]
  },
  %{
    id: "result-size-boundary",
    file: "lib/sandbox/result.ex",
    from: "       when is_integer(max) and byte_size(encoded) > max,",
    to: "       when is_integer(max) and byte_size(encoded) >= max,",
    breaks: "API: :max_result_bytes (a result of exactly that size is returned)",
    tests: [
      "test/sandbox/results_test.exs: :max_result_bytes one of exactly that many bytes, or :infinity (the default), is returned"
    ]
  },
  %{
    id: "option-slips-silent",
    file: "lib/sandbox/options.ex",
    from: "    warn_near_misses(opts)",
    to: "    _ = opts",
    breaks: "API: ArgumentError (an option that looks like a slip is warned about)",
    tests: [
      "test/sandbox/options_test.exs: an unknown option that looks like a slip for one of ours is ignored with a warning naming it"
    ]
  },
  %{
    id: "option-status-slip-silent",
    file: "lib/sandbox/options.ex",
    from: "    cpu_limit: :cpu_time,",
    to: "    cpu_limit_never: :cpu_time,",
    breaks: "API: ArgumentError (a status given as an option is warned about)",
    tests: [
      "test/sandbox/options_test.exs: an unknown option that looks like a slip for one of ours is ignored with a warning naming it"
    ]
  },
  %{
    id: "priority-not-idle",
    file: "c_src/helper/vm.c",
    from: "    if (args->idle && sched_setscheduler(0, SCHED_IDLE, &no_priority) < 0)",
    to: "    if (0 && sched_setscheduler(0, SCHED_IDLE, &no_priority) < 0)",
    breaks: "Sandbox.Pool: VMs run below the host's priority (SCHED_IDLE)",
    tests: [
      "test/sandbox/priority_test.exs: by default the VM and what it starts run under SCHED_IDLE"
    ]
  },
  %{
    id: "idle-group-not-joined",
    file: "c_src/helper/sandbox_helper.c",
    from:
      "    h.in_idle_group = args.idle && args.idle_group && cgroup_move(args.idle_group, h.peer) == 0;",
    to: "    h.in_idle_group = args.idle && args.idle_group;",
    breaks: "Sandbox.Launcher.priority/0: VMs share one idle CPU cgroup",
    tests: [
      "test/sandbox/priority_test.exs: by default, where the host may write a cgroup v1 cpu hierarchy, VMs share one idle CPU cgroup beside the host's"
    ]
  },
  %{
    id: "booted-vm-not-lifted",
    file: "c_src/helper/sandbox_helper.c",
    from: "                    (void)priority_lift_booted(vm);",
    to: "                    (void)vm;",
    breaks: "Sandbox.Launcher.priority/0: a booted VM leaves SCHED_IDLE in the idle group",
    tests: [
      "test/sandbox/priority_test.exs: in the idle CPU cgroup a booted VM's threads leave SCHED_IDLE for nice 19; what it started stays under SCHED_IDLE"
    ]
  },
  %{
    id: "booted-order-not-sent",
    file: "c_src/nif/peer_link.c",
    from: "        helper_link_send_booted(r);",
    to: "        (void)helper_link_send_booted;",
    breaks: "Sandbox.Launcher.priority/0: a booted VM leaves SCHED_IDLE in the idle group",
    tests: [
      "test/sandbox/priority_test.exs: in the idle CPU cgroup a booted VM's threads leave SCHED_IDLE for nice 19; what it started stays under SCHED_IDLE"
    ]
  },
  %{
    id: "booted-vm-lifted-at-host-nice",
    file: "c_src/helper/priority.c",
    from: "#define BOOTED_NICE 19",
    to: "#define BOOTED_NICE 0",
    breaks: "Sandbox.Launcher.priority/0: a booted VM leaves SCHED_IDLE in the idle group",
    tests: [
      "test/sandbox/priority_test.exs: in the idle CPU cgroup a booted VM's threads leave SCHED_IDLE for nice 19; what it started stays under SCHED_IDLE"
    ]
  },
  %{
    id: "strict-helper-keeps-no-nice-capability",
    file: "c_src/helper/sandbox_helper.c",
    from: "    int keep_nice = h->in_idle_group && priority_keep_nice_before_setuid() == 0;",
    to: "    int keep_nice = 0;",
    breaks: "Sandbox.Pool: a strict pool's booted VM leaves SCHED_IDLE like any other",
    tests: [
      "test/sandbox/priority_test.exs: in a strict box too, a booted VM's threads leave SCHED_IDLE for nice 19 (its helper keeps CAP_SYS_NICE alone); what it started stays under SCHED_IDLE"
    ]
  },
  %{
    id: "strict-helper-keeps-every-capability",
    file: "c_src/helper/priority.c",
    from: "    sets[CAP_TO_INDEX(CAP_SYS_NICE)].permitted = CAP_TO_MASK(CAP_SYS_NICE);",
    to: "    sets[0].permitted = sets[1].permitted = 0xffffffff;",
    breaks: "isolation: :strict: the helper keeps CAP_SYS_NICE and nothing else",
    tests: [
      "test/sandbox/priority_test.exs: in a strict box too, a booted VM's threads leave SCHED_IDLE for nice 19 (its helper keeps CAP_SYS_NICE alone); what it started stays under SCHED_IDLE"
    ]
  },
  %{
    id: "booted-vm-found-by-its-namespace-pid-alone",
    file: "c_src/helper/sandbox_helper.c",
    from: "                pid_t vm = tree_find_ns_pid(h->peer, (pid_t)order.a);",
    to: "                pid_t vm = h->peer;",
    breaks: "Sandbox.Pool: a strict pool's VM is found in its box to be lifted",
    tests: [
      "test/sandbox/priority_test.exs: in a strict box too, a booted VM's threads leave SCHED_IDLE for nice 19 (its helper keeps CAP_SYS_NICE alone); what it started stays under SCHED_IDLE"
    ]
  },
  %{
    id: "booted-vm-lifted-outside-the-group",
    file: "c_src/helper/sandbox_helper.c",
    from: "            if (h->in_idle_group && order.a > 0 && order.a <= INT32_MAX) {",
    to: "            if (order.a > 0 && order.a <= INT32_MAX) {",
    breaks: "Sandbox.Launcher.priority/0: outside the idle group a VM stays under SCHED_IDLE",
    tests: [
      "test/sandbox/priority_test.exs: with cgroup: false a booted VM stays under SCHED_IDLE"
    ]
  },
  %{
    id: "idle-group-not-passed",
    file: "lib/sandbox/launcher.ex",
    from: "      :idle -> [\"--idle\" | idle_group_flags()]",
    to: "      :idle -> [\"--idle\"]",
    breaks: "Sandbox.Launcher.priority/0: VMs share one idle CPU cgroup",
    tests: [
      "test/sandbox/priority_test.exs: by default, where the host may write a cgroup v1 cpu hierarchy, VMs share one idle CPU cgroup beside the host's"
    ]
  },
  %{
    id: "idle-group-not-idle",
    file: "lib/sandbox/idle_group.ex",
    from: "         :ok <- File.write(Path.join(dir, \"cpu.idle\"), \"1\") do",
    to: "         :ok <- File.write(Path.join(dir, \"cpu.idle\"), \"0\") do",
    breaks: "Sandbox.Launcher.priority/0: VMs share one idle CPU cgroup",
    tests: [
      "test/sandbox/priority_test.exs: by default, where the host may write a cgroup v1 cpu hierarchy, VMs share one idle CPU cgroup beside the host's"
    ],
    # The group is the machine's: another copy's host marks it idle again.
    alone: true
  },
  %{
    id: "own-cgroup-v2-missed",
    file: "lib/sandbox/own_cgroup.ex",
    from: "        [\"0\", \"\", path] when hierarchy == :v2 -> path",
    to: "        [\"0\", \"\", _path] when hierarchy == :v2 -> nil",
    breaks: "Sandbox.Cgroup: with cgroup: :auto, the host's own cgroup v2",
    tests: [
      "test/sandbox/cgroup_test.exs: by default (:auto), where root finds a cgroup v2 mount, a run's cgroup is below the host's own"
    ]
  },
  %{
    id: "own-cgroup-v1-missed",
    file: "lib/sandbox/own_cgroup.ex",
    from: "  defp in_v1?(list, {:v1, controller}), do: controller in String.split(list, \",\")",
    to: "  defp in_v1?(_list, {:v1, _controller}), do: false",
    breaks:
      "Sandbox.Launcher.priority/0: VMs share one idle CPU cgroup (found beside the host's)",
    tests: [
      "test/sandbox/priority_test.exs: by default, where the host may write a cgroup v1 cpu hierarchy, VMs share one idle CPU cgroup beside the host's"
    ]
  },
  %{
    id: "idle-group-despite-cgroup-false",
    file: "lib/sandbox/idle_group.ex",
    from:
      "    if Launcher.priority() == :idle and Application.get_env(:sandbox, :cgroup, :auto) != false do",
    to: "    if Launcher.priority() == :idle do",
    breaks: "Sandbox.Launcher.priority/0: no idle CPU cgroup with cgroup: false",
    tests: [
      "test/sandbox/priority_test.exs: with priority: n or cgroup: false, VMs stay in the host's CPU cgroup"
    ]
  },
  %{
    id: "priority-nice-ignored",
    file: "c_src/helper/vm.c",
    from:
      "        if ((current == -1 && errno) || setpriority(PRIO_PROCESS, 0, current + args->nice) < 0)",
    to: "        if ((current == -1 && errno) || setpriority(PRIO_PROCESS, 0, current) < 0)",
    breaks: "Sandbox.Pool: VMs run below the host's priority (priority: n)",
    tests: [
      "test/sandbox/priority_test.exs: priority: n runs them n steps of niceness below the host; 0 at the host's priority"
    ]
  },
  %{
    id: "terminal-kept",
    file: "c_src/helper/vm.c",
    from: "    if (setpgid(0, 0) < 0 || drop_terminal() < 0)",
    to: "    if (setpgid(0, 0) < 0 || (0 && drop_terminal() < 0))",
    breaks: "How it works: the VM gives up the host's terminal",
    tests: ["test/sandbox/isolation_test.exs: the VM cannot reach the host's terminal"]
  },
  # ---- The peers' boot file ----------------------------------------------------
  %{
    id: "boot-file-unused",
    file: "lib/sandbox/launcher.ex",
    from: ~S/      path -> ["-boot", path, "-sandbox_paths" | host_paths()]/,
    to: ~S/      path -> ["-sandbox_boot", path, "-sandbox_paths" | host_paths()]/,
    breaks: "Speed: peers boot from a boot file that loads what every run needs in batches",
    tests: [
      "test/sandbox/boot_file_test.exs: cold, pooled and strict peers boot from the boot file"
    ]
  },
  %{
    id: "boot-batch-dropped",
    file: "lib/sandbox/boot_file.ex",
    from: "        {:ok, before ++ Enum.flat_map(batches(found), &load_batch/1) ++ rest}",
    to: "        {:ok, before ++ rest}",
    breaks: "Speed: peers boot from a boot file that loads what every run needs in batches",
    tests: [
      "test/sandbox/boot_file_test.exs: it is no_dot_erlang.boot, plus the modules every peer loads in batches ahead of the kernel"
    ]
  },
  %{
    id: "boot-apps-searched",
    file: "lib/sandbox/boot_file.ex",
    from:
      "          for app <- @apps, spec = app_spec(app), do: {:apply, {:application, :load, [spec]}}",
    to: "          []",
    breaks: "Speed: peers boot from a boot file that loads what every run needs in batches",
    tests: [
      "test/sandbox/boot_file_test.exs: Elixir's application and the compiler's load from their specs in the boot file, not from a search of the code path"
    ]
  },
  %{
    id: "boot-batch-loads-twice",
    file: "lib/sandbox/boot_file.ex",
    from:
      "          for mod <- modules, mod not in taken, file = beam(mod), do: {mod, Path.dirname(file)}",
    to: "          for mod <- modules, file = beam(mod), do: {mod, Path.dirname(file)}",
    breaks: "Speed: peers boot from a boot file that loads what every run needs in batches",
    tests: [
      "test/sandbox/boot_file_test.exs: a module that init loads anyway is left out of the batches (a module loaded twice fails the boot)"
    ]
  },
  %{
    id: "boot-paths-as-pa",
    file: "lib/sandbox/launcher.ex",
    from: ~S/      path -> ["-boot", path, "-sandbox_paths" | host_paths()]/,
    to: ~S/      path -> ["-boot", path, "-pa" | host_paths()]/,
    breaks: "Speed: peers boot from a boot file that loads what every run needs in batches",
    tests: [
      "test/sandbox/boot_file_test.exs: a peer's boot looks for its modules in none of the host's code paths; its runs have them, in the host's order"
    ]
  },
  %{
    id: "vm-allocator-instance-per-scheduler",
    file: "lib/sandbox/launcher.ex",
    from: ~S|      "+Mut",|,
    to: ~S|      "+Muatags",|,
    breaks: "Speed: a VM starts one instance of each memory allocator",
    tests: [
      "test/sandbox/lean_vm_test.exs: each memory allocator has one instance, shared by the VM's threads; :erlang.memory/0 still answers"
    ]
  },
  %{
    id: "vm-default-dirty-io-schedulers",
    file: "lib/sandbox/launcher.ex",
    from: ~S|      "+SDio",|,
    to: ~S|      "+SDcpu",|,
    breaks: "Speed: a VM starts two dirty I/O schedulers",
    tests: [
      "test/sandbox/lean_vm_test.exs: two dirty I/O schedulers: code blocked reading a FIFO does not stop the VM loading modules"
    ]
  },
  %{
    id: "vm-one-dirty-io-scheduler",
    file: "lib/sandbox/launcher.ex",
    from: ~S|      "2",|,
    to: ~S|      "1",|,
    breaks:
      "Speed: a VM starts two dirty I/O schedulers (code blocked on a read does not stop its loading)",
    tests: [
      "test/sandbox/lean_vm_test.exs: two dirty I/O schedulers: code blocked reading a FIFO does not stop the VM loading modules"
    ]
  },
  %{
    id: "launch-paths-appended",
    file: "lib/sandbox/guest.ex",
    from: "      {:ok, [paths]} -> :code.add_pathsa(paths)",
    to: "      {:ok, [paths]} -> :code.add_pathsz(paths)",
    breaks: "Guarantees: Nothing carries over (the host's code paths at the moment of the call)",
    tests: [
      "test/sandbox/boot_file_test.exs: a peer's boot looks for its modules in none of the host's code paths; its runs have them, in the host's order"
    ]
  },
  %{
    id: "boot-batch-path-least-used-first",
    file: "lib/sandbox/boot_file.ex",
    from: "      |> Enum.sort_by(fn {_dir, count} -> -count end)",
    to: "      |> Enum.sort_by(fn {_dir, count} -> count end)",
    breaks: "Speed: peers boot from a boot file that loads what every run needs in batches",
    tests: [
      "test/sandbox/boot_file_test.exs: each batch's path is the directories of its modules, most used first"
    ]
  },
  %{
    id: "boot-batches-mixed",
    file: "lib/sandbox/boot_file.ex",
    from: "    |> Enum.sort_by(fn {_mod, dir} -> Enum.find_index(dirs, &(&1 == dir)) end)",
    to: "    |> Enum.sort_by(fn _ -> 0 end)",
    breaks: "Speed: peers boot from a boot file that loads what every run needs in batches",
    tests: [
      "test/sandbox/boot_file_test.exs: each batch's path is the directories of its modules, most used first"
    ]
  },
  %{
    id: "boot-list-incomplete",
    file: "lib/sandbox/guest.ex",
    from: "    elixir elixir_code_server elixir_config elixir_dispatch elixir_env",
    to: "    elixir elixir_code_server elixir_config elixir_env",
    breaks: "Speed: peers boot from a boot file that loads what every run needs in batches",
    tests: [
      "test/sandbox/boot_file_test.exs: a trivial run loads nothing beyond its boot file (the lists of what every run loads are complete)"
    ]
  },
  %{
    id: "common-list-incomplete",
    file: "lib/sandbox/guest.ex",
    from: "    Elixir.Code.Identifier Elixir.Enum Elixir.IO Elixir.Inspect",
    to: "    Elixir.Code.Identifier Elixir.IO Elixir.Inspect",
    breaks: "Speed: a pool's VM booted alone loads what most runs call in its boot file",
    tests: [
      "test/sandbox/boot_file_test.exs: the warm-up loads nothing beyond the pool's boot file (Guest.common/0 is complete)"
    ]
  },
  %{
    id: "boot-dir-unbound",
    file: "lib/sandbox/isolation.ex",
    from: "code_paths() ++ boot_dir() ++",
    to: "code_paths() ++",
    breaks: "Isolation: the box sees the system, Erlang and Elixir, the code paths read-only",
    tests: [
      "test/sandbox/boot_file_test.exs: a boot file outside the code paths (the user's cache) is seen in the strict box"
    ]
  },
  %{
    id: "cold-vm-warms-up",
    file: "lib/sandbox/launcher.ex",
    from: ~S|  defp use_flags(:cold), do: ["-sandbox_cold"]|,
    to: ~S|  defp use_flags(:cold), do: []|,
    breaks: "Speed: a VM booted for its run does no throwaway evaluation",
    tests: [
      "test/sandbox/pool_test.exs: a pool's VM warms up while it waits; a VM booted for its run does not, limits or none"
    ]
  },
  %{
    id: "pool-boot-without-common",
    file: "lib/sandbox/launcher.ex",
    from: "  defp boot_kind({:pooled, :all}), do: :common",
    to: "  defp boot_kind({:pooled, :all}), do: :run",
    breaks: "Speed: a pool's VM booted alone loads what most runs call in its boot file",
    tests: [
      "test/sandbox/boot_file_test.exs: cold, pooled and strict peers boot from the boot file"
    ]
  },
  %{
    id: "pool-run-one-scheduler",
    file: "lib/sandbox/guest.ex",
    from: "    all_schedulers_online()",
    to: "    :ok",
    breaks:
      "Guarantees: Nothing carries over (a pooled run's VM is as a cold one's: every scheduler online)",
    tests: [
      "test/sandbox/pool_test.exs: a pool's VM boots on one scheduler while another of the pool boots, on all alone; its run has them all, as a cold run does"
    ]
  },
  %{
    id: "pool-boot-all-schedulers",
    file: "lib/sandbox/launcher.ex",
    from: ~S|  defp use_flags({:pooled, :one}), do: ["+S", ":1"]|,
    to: ~S|  defp use_flags({:pooled, :one}), do: []|,
    breaks: "Speed: a pool's VM boots on one scheduler while others boot",
    tests: [
      "test/sandbox/pool_test.exs: a pool's VM boots on one scheduler while another of the pool boots, on all alone; its run has them all, as a cold run does"
    ]
  },
  %{
    id: "pool-boot-always-one-scheduler",
    file: "lib/sandbox/pool.ex",
    from:
      "    if map_size(state.booting) > 0 or not :queue.is_empty(state.waiting), do: :one, else: :all",
    to: "    :one",
    breaks:
      "Speed: a pool's VM booted alone boots on all schedulers (an agent's loop finds it ready)",
    tests: [
      "test/sandbox/pool_test.exs: a pool's VM boots on one scheduler while another of the pool boots, on all alone; its run has them all, as a cold run does"
    ]
  },
  %{
    id: "warm-up-awaited",
    file: "lib/sandbox/guest.ex",
    from: "    stop_warm_up(warming)",
    to: "    if warming, do: await_down(warming)",
    breaks: "Speed: a pool's VM warms up only while it waits",
    tests: [
      "test/sandbox/pool_test.exs: a run that takes a VM still warming up stops the warm-up (it does not wait), which leaves no process behind"
    ]
  },
  %{
    id: "warm-up-device-left",
    file: "lib/sandbox/guest.ex",
    from: "          discard = OutputDevice.start_link(:discard)",
    to: "          discard = OutputDevice.start(:discard)",
    breaks: "Speed: a pool's VM warms up only while it waits (and leaves nothing behind)",
    tests: [
      "test/sandbox/pool_test.exs: a run that takes a VM still warming up stops the warm-up (it does not wait), which leaves no process behind"
    ]
  },
  %{
    id: "vm-moved-into-cgroup",
    file: "c_src/helper/cgroup.c",
    from: "        pid_t pid = sys_clone3_into_cgroup(dir);",
    to: "        pid_t pid = (errno = ENOSYS, -1);",
    breaks: "Guarantees: a cgroup v2 per run (the VM is born in it)",
    tests: ["c: cgroup/a_child_is_born_in_its_cgroup"]
  },
  %{
    id: "strict-host-name-shown",
    file: "lib/sandbox/isolation.ex",
    from: ~S|  @hostname "sandbox.box"|,
    to: "  @hostname List.to_string(elem(:inet.gethostname(), 1))",
    breaks: "Isolation: a host name of its own",
    tests: [
      "test/sandbox/strict_test.exs: 5. network and sockets a host name of its own: the host's does not show"
    ]
  },
  %{
    id: "boot-file-never-remade",
    file: "lib/sandbox/boot_file.ex",
    from: ~S|      path -> if File.regular?(path <> ".boot"), do: path, else: remake(kind)|,
    to: ~S|      path -> path|,
    breaks: "Speed: peers boot from a boot file that loads what every run needs in batches",
    tests: [
      "test/sandbox/boot_file_test.exs: one removed while the host runs is made again: runs never fail for it"
    ]
  },
  # ---- Pools: a run takes the VM still booting ---------------------------------
  %{
    id: "pool-ignores-booting-vm",
    file: "lib/sandbox/pool.ex",
    from: "        if booting <= ahead and below_max?(state) do",
    to: "        if below_max?(state) do",
    breaks: "API: Sandbox.Pool (no VM waiting: the next to finish booting)",
    tests: [
      "test/sandbox/pool_test.exs: a run that finds the pool's VM still booting takes it rather than booting its own"
    ]
  },
  %{
    id: "pool-booting-vm-promised-twice",
    file: "lib/sandbox/pool.ex",
    from: "        if booting <= ahead and below_max?(state) do",
    to: "        if booting <= 0 and below_max?(state) do",
    breaks: "API: Sandbox.Pool (no VM waiting: unless earlier runs were promised it)",
    tests: [
      "test/sandbox/pool_test.exs: a run that finds the pool's VM still booting takes it only if no earlier run was promised it: a second boots its own at once"
    ]
  },
  %{
    id: "pool-failed-boot-strands-waiter",
    file: "lib/sandbox/pool.ex",
    from: "        {:noreply, state |> back_off() |> serve_waiting() |> refill()}",
    to: "        {:noreply, state |> back_off() |> refill()}",
    breaks: "API: Sandbox.Pool (if the VM it waits for fails, the run boots its own)",
    tests: [
      "test/sandbox/pool_test.exs: a run that finds the pool's VM still booting boots its own if that VM fails"
    ]
  },
  %{
    id: "pool-boot-wait-says-busy",
    file: "lib/sandbox/pool.ex",
    from: "    why = if below_max?(state), do: :timeout, else: :busy",
    to: "    why = :busy",
    breaks: "API: Sandbox.Pool (a VM not booted within :boot_timeout: reason :timeout)",
    tests: [
      "test/sandbox/pool_test.exs: a run that finds the pool's VM still booting raises with reason :timeout if it does not boot within the run's :boot_timeout"
    ]
  },
  %{
    id: "auto-pool-not-outpaced",
    file: "lib/sandbox/pool.ex",
    from: "    do: %{state | target: min(state.target + 1, state.max_size)}",
    to: "    do: state",
    breaks: "API: Sandbox.Pool (the default pool keeps one more when runs outpace a boot)",
    tests: [
      "test/sandbox/auto_pool_test.exs: runs that come faster than a spare boots keep one more, up to :max_size"
    ]
  },
  %{
    id: "auto-pool-empties-under-waiter",
    file: "lib/sandbox/pool.ex",
    from: "    busy? = map_size(state.leased) > 0 or not :queue.is_empty(state.waiting)",
    to: "    busy? = map_size(state.leased) > 0",
    breaks: "API: Sandbox.Pool (gone when idle: only without a run in progress)",
    tests: [
      "test/sandbox/auto_pool_test.exs: a run waiting for a VM still booting is a run in progress: the pool does not empty"
    ]
  }
]
