defmodule Sandbox.Bench do
  @moduledoc """
  The measurements behind `mix sandbox.bench`: each one runs the package,
  then the baseline, in this VM, and the report puts them side by side with
  the targets. Not part of the package.
  """

  alias Sandbox.Bench.{Baseline, Monitor}

  @flood_lines 200_000
  @sleep_ms 1_500
  @concurrency 8
  @timeout_probe_ms 500
  @strict [isolation: :strict]
  @loop_gap_ms 300
  @sustained_callers 4
  @sustained_ms 8_000
  @sustained_rounds 2
  @loop_code "Enum.sum(1..10)"

  @doc "Runs every measurement; returns the report (Markdown)."
  def main(quick?) do
    n = if quick?, do: 5, else: 15
    flood_lines = if quick?, do: 20_000, else: @flood_lines
    started_epmd = ensure_distributed()
    # The baseline's peers all connect through the host, and global warns
    # about every one of them: keep the host's log to errors.
    :logger.set_primary_config(:level, :error)
    impls = [sandbox: &sandbox_run/2, baseline: &Baseline.run/2]
    strict? = Sandbox.info().isolation.available
    # Strict cold runs are measured in the same turns as the others, so
    # that the ratio between the two compares the same stretch of machine.
    cold_impls =
      impls ++ [floor: &floor_run/2] ++ if(strict?, do: [strict: &strict_run/2], else: [])

    # Throwaway runs first: loading modules on first use is not a run's
    # cost, and not what the long_schedule count is about.
    for {_, run} <- impls, do: {:ok, _} = run.("1 + 1", [])
    _ = warm(1, [])
    if strict?, do: {:ok, _} = strict_run("1 + 1", [])
    Stream.run(Task.async_stream([1], & &1))
    # The context figures too: they load the host's compiler.
    bare = bare_erl(n)
    floor = eval_floor(flood_lines)
    modules = loaded_modules()
    monitor = Monitor.start()

    try do
      cold =
        alternate(cold_impls, monitor, n, fn run ->
          Process.sleep(100)
          ms(fn -> {:ok, %{result: 2}} = run.("1 + 1", []) end)
        end)
        |> Map.new(fn {name, times} -> {name, percentiles(times)} end)

      warm = phase(monitor, :sandbox, fn -> warm(n + 5, []) end)
      strict_warm = if strict?, do: phase(monitor, :sandbox, fn -> warm(n + 5, @strict) end)

      # The package's flood with default options: the automatic pool,
      # warmed by a run first, so the flood takes a booted VM (once the
      # pool has one: the run's replacement boots after it, and the flood
      # would otherwise wait for that boot, which it is not about).
      flood =
        for {name, run} <- [sandbox: &default_run/2, baseline: &Baseline.run/2], into: %{} do
          if name == :sandbox do
            {:ok, _} = run.("1", [])
            wait_until(fn -> Sandbox.Pool.status(Sandbox.AutoPool).idle >= 1 end)
          end

          {name, phase(monitor, name, fn -> flood(run, flood_lines) end)}
        end

      restart_auto_pool()

      overshoot =
        for {name, run} <- impls,
            into: %{},
            do: {name, phase(monitor, name, fn -> overshoot(run, n) end)}

      concurrent =
        alternate(impls, monitor, if(quick?, do: 1, else: 5), &concurrent/1)
        |> Map.new(fn {name, times} -> {name, %{p50: percentiles(times).p50, all: times}} end)

      rss = for {name, run} <- impls, into: %{}, do: {name, peer_rss(run)}

      stages = phase(monitor, :sandbox, fn -> cpu_stages(n) end)

      loop =
        for {name, run} <- [sandbox: &default_run/2, baseline: &Baseline.run/2], into: %{} do
          {name, phase(monitor, name, fn -> agent_loop(run, n + 5) end)}
        end

      sustained_ms = if quick?, do: div(@sustained_ms, 2), else: @sustained_ms
      sustained_rounds = if quick?, do: 1, else: @sustained_rounds

      # In turns, so that a stretch of a busier machine (other guests on
      # the host take CPU in bursts) falls on all three rather than one.
      sustained_impls = [
        sandbox: &default_run/2,
        baseline: &Baseline.run/2,
        floor: &floor_run/2
      ]

      sustained =
        alternate(sustained_impls, monitor, sustained_rounds, fn run ->
          sustained(run, sustained_ms)
        end)
        |> Map.new(fn {name, rounds} -> {name, sustained_totals(rounds)} end)

      events = Monitor.stop(monitor)

      report(%{
        n: n,
        flood_lines: flood_lines,
        cold: cold,
        warm: warm,
        strict_warm: strict_warm,
        flood: flood,
        overshoot: overshoot,
        concurrent: concurrent,
        rss: rss,
        loop: loop,
        stages: stages,
        sustained: sustained,
        sustained_rounds: sustained_rounds,
        sustained_s: div(sustained_ms, 1000),
        bare: bare,
        floor: floor,
        modules: modules,
        events: events
      })
    after
      # epmd refuses -kill while a node is registered: this one first.
      Node.stop()
      if started_epmd, do: System.cmd("epmd", ["-kill"], stderr_to_stdout: true)
    end
  end

  defp sandbox_run(code, opts), do: Sandbox.run(code, Keyword.put_new(opts, :pool, false))

  defp strict_run(code, opts), do: sandbox_run(code, @strict ++ opts)

  # As a new user calls it: default options, so the application's
  # automatic pool (`Sandbox.AutoPool`).
  defp default_run(code, opts), do: Sandbox.run(code, opts)

  # The floor under any VM-per-run design: a bare `erl` with busy-waiting
  # off that starts Elixir, evaluates the code and halts.
  defp floor_run(code, _opts) do
    ebin = List.to_string(:code.lib_dir(:elixir, :ebin))

    eval =
      "{ok, _} = application:ensure_all_started(elixir), " <>
        "{Value, _} = 'Elixir.Code':eval_string(<<\"#{code}\">>), " <>
        "io:format(\"~w.\", [Value]), halt()."

    args =
      ~w(+sbwt none +sbwtdcpu none +sbwtdio none -noshell -noinput -pa) ++ [ebin, "-eval", eval]

    {printed, 0} = System.cmd(Sandbox.Launcher.erl_path(), args)
    {:ok, tokens, _} = :erl_scan.string(String.to_charlist(printed))
    {:ok, value} = :erl_parse.parse_term(tokens)
    {:ok, %{output: "", result: value}}
  end

  # How many modules a trivial run has loaded by the time it evaluates:
  # the package's VM and the floor's. Each costs the JIT about a
  # millisecond of CPU, whoever loads it.
  defp loaded_modules do
    code = "1 + 1; length(:code.all_loaded())"
    {:ok, %{result: sandbox}} = sandbox_run(code, [])
    {:ok, %{result: floor}} = floor_run(code, [])
    %{sandbox: sandbox, floor: floor}
  end

  # Where a cold run's CPU goes, stage by stage (median of n runs): the
  # VM's own CPU (user and system, all threads) at the end of each stage
  # of its boot (Sandbox.Guest keeps them) and when the code runs, and the
  # whole tree's once it is gone (`execute/2`'s cpu_ms: what is left is
  # the VM's exit, its forker, and what it did after answering).
  defp cpu_stages(n) do
    code =
      "{:persistent_term.get({Sandbox.Guest, :boot_cpu_ms}), " <>
        "elem(Sandbox.Guest.Native.cpu_us(), 1) / 1000}"

    samples =
      for _ <- 1..n do
        %Sandbox.Result{status: :ok, value: {boot, at_eval}, cpu_ms: tree} =
          Sandbox.execute(code, pool: false)

        stages = [{:start, 0} | boot] ++ [{:evaluation, at_eval}, {:after, tree}]

        stages
        |> Enum.chunk_every(2, 1, :discard)
        |> Enum.map(fn [{_, from}, {name, to}] -> {name, to - from} end)
      end

    for {name, _} <- hd(samples) do
      {name, percentiles(Enum.map(samples, &Keyword.fetch!(&1, name))).p50}
    end
  end

  # The baseline needs a distributed host (the package never does). EPMD
  # runs as this VM's child, not as a daemon: on machines whose PID 1 does
  # not reap, a killed daemon would stay behind as a zombie.
  defp ensure_distributed do
    started =
      case :erl_epmd.names() do
        {:ok, _} ->
          false

        {:error, _} ->
          epmd = System.find_executable("epmd") || Mix.raise("the baseline needs epmd")
          Port.open({:spawn_executable, epmd}, [:binary, :nouse_stdio])
          wait_until(fn -> match?({:ok, _}, :erl_epmd.names()) end)
          true
      end

    unless Node.alive?() do
      {:ok, _} = Node.start(:"sandbox_bench_#{System.pid()}", :shortnames)
    end

    started
  end

  defp phase(monitor, name, fun) do
    Monitor.tag(monitor, name)
    result = fun.()
    Monitor.tag(monitor, nil)
    result
  end

  # ---- measurements ---------------------------------------------------------

  # Samples taken from each implementation in turn, so that both see the
  # same machine (a shared one changes speed by the minute); each sample
  # is tagged with its implementation for long_schedule events.
  defp alternate(impls, monitor, repeats, sample) do
    samples =
      for _ <- 1..repeats, {name, run} <- impls do
        {name, phase(monitor, name, fn -> sample.(run) end)}
      end

    Enum.group_by(samples, &elem(&1, 0), &elem(&1, 1))
  end

  # Calls 250 ms apart through a pool of 2, as an agent in a loop would.
  defp warm(n, opts) do
    {:ok, pool} = Sandbox.Pool.start_link([size: 2] ++ opts)
    wait_until(fn -> Sandbox.Pool.status(pool).idle == 2 end)

    times =
      for _ <- 1..n do
        Process.sleep(250)
        ms(fn -> {:ok, %{result: 2}} = Sandbox.run("1 + 1", [pool: pool] ++ opts) end)
      end

    GenServer.stop(pool)
    percentiles(times)
  end

  # An agent's loop: a call, then the model's turn (#{@loop_gap_ms} ms, a
  # short one), then the next call. The first call is the loop's cold
  # start and not counted. The automatic pool is restarted first and after,
  # so the loop starts from nothing booted and leaves nothing.
  defp agent_loop(run, n) do
    restart_auto_pool()
    {:ok, _} = run.(@loop_code, [])

    times =
      for _ <- 1..n do
        Process.sleep(@loop_gap_ms)
        ms(fn -> {:ok, %{result: 55}} = run.(@loop_code, []) end)
      end

    restart_auto_pool()
    percentiles(times)
  end

  defp restart_auto_pool do
    :ok = Supervisor.terminate_child(Sandbox.Supervisor, Sandbox.AutoPool)
    {:ok, _} = Supervisor.restart_child(Sandbox.Supervisor, Sandbox.AutoPool)
  end

  # #{@sustained_callers} callers back to back for a while: runs done, the
  # time it took, the machine's busy CPU (all of it, /proc/stat), the
  # host VM's own, the CPU the hypervisor gave other guests meanwhile, and
  # how late a host process that sleeps 5 ms at a time wakes.
  defp sustained(run, duration_ms) do
    restart_auto_pool()
    deadline = System.monotonic_time(:millisecond) + duration_ms
    sleeper = Task.async(fn -> lateness(deadline, []) end)
    machine_before = machine_jiffies()
    host_before = own_jiffies()
    started = System.monotonic_time(:millisecond)

    runs =
      1..@sustained_callers
      |> Task.async_stream(fn _ -> caller(run, deadline, 0) end,
        max_concurrency: @sustained_callers,
        timeout: :infinity
      )
      |> Enum.reduce(0, fn {:ok, count}, sum -> sum + count end)

    elapsed_s = (System.monotonic_time(:millisecond) - started) / 1000
    machine_after = machine_jiffies()
    host_s = (own_jiffies() - host_before) / 100
    late = Task.await(sleeper, :infinity)
    restart_auto_pool()

    %{
      runs: runs,
      elapsed_s: elapsed_s,
      busy_s: (machine_after.busy - machine_before.busy) / 100,
      steal_s: (machine_after.steal - machine_before.steal) / 100,
      host_s: host_s,
      late: late
    }
  end

  # The rounds of one implementation as one phase: per run over all of them.
  defp sustained_totals(rounds) do
    sum = fn key -> rounds |> Enum.map(&Map.fetch!(&1, key)) |> Enum.sum() end
    runs = max(sum.(:runs), 1)

    %{
      runs_per_s: sum.(:runs) / sum.(:elapsed_s),
      cpu_per_run: sum.(:busy_s) / runs,
      steal_per_run: sum.(:steal_s) / runs,
      host_cpu_per_run: sum.(:host_s) / runs,
      late_p99: percentiles(Enum.flat_map(rounds, & &1.late)).p99
    }
  end

  defp caller(run, deadline, count) do
    if System.monotonic_time(:millisecond) < deadline do
      {:ok, %{}} = run.(@loop_code, [])
      caller(run, deadline, count + 1)
    else
      count
    end
  end

  defp lateness(deadline, late) do
    if System.monotonic_time(:millisecond) < deadline do
      t0 = System.monotonic_time(:microsecond)
      Process.sleep(5)
      lateness(deadline, [(System.monotonic_time(:microsecond) - t0) / 1000 - 5 | late])
    else
      late
    end
  end

  # This VM's own user + system time (fields 14 and 15 of its stat), in
  # USER_HZ.
  defp own_jiffies do
    fields =
      "/proc/self/stat" |> File.read!() |> String.split(")") |> List.last() |> String.split()

    String.to_integer(Enum.at(fields, 11)) + String.to_integer(Enum.at(fields, 12))
  end

  # The machine's busy time, user + nice + system + irq + softirq, and
  # apart from it steal: time this machine's CPUs were ready to run but
  # the hypervisor ran other guests, which is not CPU anything here used.
  # In USER_HZ (100 a second).
  defp machine_jiffies do
    ["cpu" | fields] =
      "/proc/stat" |> File.read!() |> String.split("\n") |> hd() |> String.split()

    [user, nice, system, _idle, _iowait, irq, softirq, steal | _] =
      Enum.map(fields, &String.to_integer/1)

    %{busy: user + nice + system + irq + softirq, steal: steal}
  end

  # The result is :ok, so what is measured is the output, not a result of
  # 200,000 elements.
  defp flood(run, lines) do
    code = "Enum.each(1..#{lines}, &IO.puts(\"line \#{&1}\"))"
    :erlang.garbage_collect()
    peak = start_peak_rss()
    {time, result} = :timer.tc(fn -> run.(code, timeout: 300_000, max_output: 50_000) end)
    ok? = match?({:ok, %{output: _, result: :ok}}, result)
    %{ms: div(time, 1000), peak_kb: peak.(), ok: ok?, max_output: 50_000}
  end

  # Timed-out runs against trivial ones in the same stretch, alternately,
  # so both see the same machine.
  defp overshoot(run, n) do
    pairs =
      for _ <- 1..n do
        Process.sleep(100)
        cold = ms(fn -> {:ok, _} = run.("1 + 1", []) end)
        Process.sleep(100)

        timed_out =
          ms(fn ->
            {:error, :timeout, _} = run.("Process.sleep(:infinity)", timeout: @timeout_probe_ms)
          end)

        {cold, timed_out}
      end

    cold_p50 = percentiles(Enum.map(pairs, &elem(&1, 0))).p50
    wall = percentiles(Enum.map(pairs, &elem(&1, 1))).p50
    %{wall: wall, cold_p50: cold_p50, overshoot: wall - @timeout_probe_ms - cold_p50}
  end

  # The floor under any implementation that evaluates with
  # Code.eval_string and honours the I/O protocol: the same code evaluated
  # in this VM, printing to a StringIO (one request and one reply a line,
  # nothing crossing a VM boundary).
  defp eval_floor(lines) do
    {:ok, device} = StringIO.open("")
    code = "Enum.each(1..#{lines}, &IO.puts(\"line \#{&1}\"))"

    time =
      ms(fn ->
        task =
          Task.async(fn ->
            Process.group_leader(self(), device)
            Code.eval_string(code)
          end)

        Task.await(task, :infinity)
      end)

    StringIO.close(device)
    time
  end

  defp concurrent(run) do
    ms(fn ->
      1..@concurrency
      |> Task.async_stream(fn _ -> {:ok, _} = run.("Process.sleep(#{@sleep_ms})", []) end,
        max_concurrency: @concurrency,
        timeout: 120_000
      )
      |> Stream.run()
    end)
  end

  defp peer_rss(run) do
    {:ok, %{result: status}} = run.(~S|File.read!("/proc/self/status")|, [])
    kb(status, "VmRSS")
  end

  # A bare VM: its boot and halt (p50), and its resident set.
  defp bare_erl(n) do
    erl = Sandbox.Launcher.erl_path()

    times =
      for _ <- 1..n do
        ms(fn -> {_, 0} = System.cmd(erl, ["-noshell", "-noinput", "-eval", "halt()"]) end)
      end

    print_rss = ~S|{ok, S} = file:read_file("/proc/self/status"), io:put_chars(S), halt().|
    {status, 0} = System.cmd(erl, ["-noshell", "-noinput", "-eval", print_rss])
    %{p50: percentiles(times).p50, rss: kb(status, "VmRSS")}
  end

  # ---- helpers --------------------------------------------------------------

  defp ms(fun) do
    {time, _} = :timer.tc(fun)
    time / 1000
  end

  defp percentiles(times) do
    sorted = Enum.sort(times)
    at = fn q -> Enum.at(sorted, round(q * (length(sorted) - 1))) end
    %{p50: at.(0.5), p90: at.(0.9), p99: at.(0.99), n: length(sorted)}
  end

  defp wait_until(fun) do
    unless fun.() do
      Process.sleep(50)
      wait_until(fun)
    end
  end

  defp kb(status, field) do
    [_, value] = Regex.run(~r/#{field}:\s+(\d+) kB/, status)
    String.to_integer(value)
  end

  defp own_rss_kb, do: kb(File.read!("/proc/self/status"), "VmRSS")

  # Host memory peak above where it began: the kernel's high-water mark,
  # reset first (clear_refs 5), or else the resident set sampled every 5 ms.
  # Returns the function that reads it.
  defp start_peak_rss do
    base = own_rss_kb()

    case File.write("/proc/self/clear_refs", "5") do
      :ok ->
        fn -> kb(File.read!("/proc/self/status"), "VmHWM") - base end

      {:error, _} ->
        sampler = spawn_link(fn -> sample_rss(base) end)

        fn ->
          send(sampler, {:stop, self()})

          receive do
            {:rss_peak, kb} -> kb - base
          end
        end
    end
  end

  defp sample_rss(peak) do
    receive do
      {:stop, from} -> send(from, {:rss_peak, peak})
    after
      5 -> sample_rss(max(peak, own_rss_kb()))
    end
  end

  # ---- the report -----------------------------------------------------------

  defp report(r) do
    fmt = fn ms -> :erlang.float_to_binary(ms / 1, decimals: 1) <> " ms" end
    mb = fn kb -> :erlang.float_to_binary(kb / 1024, decimals: 1) <> " MB" end
    cold_ratio = r.cold.sandbox.p50 / r.cold.baseline.p50
    flood_ratio = r.flood.baseline.ms / max(r.flood.sandbox.ms, 1)
    flood_peak_limit = r.flood.sandbox.max_output / 1024 + 2048
    pkg_events = Enum.filter(r.events, &(&1.tag == :sandbox))
    base_events = Enum.filter(r.events, &(&1.tag == :baseline))
    other_events = Enum.filter(r.events, &(&1.tag == nil))

    rows =
      [
        {"trivial run, cold, p50", fmt.(r.cold.sandbox.p50), fmt.(r.cold.baseline.p50),
         "≤ 0.75 × baseline (#{Float.round(cold_ratio, 2)} ×)", cold_ratio <= 0.75},
        {"trivial run, cold, p90", fmt.(r.cold.sandbox.p90), fmt.(r.cold.baseline.p90), "", nil},
        {"context: the floor, cold: bare `erl` (busy-waiting off) starting Elixir, evaluating, halting, p50",
         fmt.(r.cold.floor.p50), "", "", nil},
        {"trivial run, warm (pool of 2, 250 ms apart), p50", fmt.(r.warm.p50), "n/a", "≤ 3 ms",
         r.warm.p50 <= 3.0},
        {"trivial run, warm, p90", fmt.(r.warm.p90), "n/a", "", nil}
      ] ++
        strict_rows(r, fmt) ++
        speed_rows(r, fmt) ++
        [
          {"#{r.flood_lines} `IO.puts` lines, wall", fmt.(r.flood.sandbox.ms),
           fmt.(r.flood.baseline.ms) <> if(r.flood.baseline.ok, do: "", else: " (failed)"),
           "≤ 1/10 of baseline (1/#{round(flood_ratio)})", flood_ratio >= 10},
          {"... host RSS peak above start", mb.(r.flood.sandbox.peak_kb),
           mb.(r.flood.baseline.peak_kb), "≤ max_output + 2 MB (#{mb.(flood_peak_limit)})",
           r.flood.sandbox.peak_kb <= flood_peak_limit},
          {"`timeout: 500` overshoot (wall − 500 − cold p50 of the same stretch)",
           fmt.(r.overshoot.sandbox.overshoot), fmt.(r.overshoot.baseline.overshoot), "≤ 30 ms",
           r.overshoot.sandbox.overshoot <= 30},
          {"#{@concurrency} concurrent #{@sleep_ms} ms runs, wall, p50",
           fmt.(r.concurrent.sandbox.p50), fmt.(r.concurrent.baseline.p50), "≤ baseline",
           r.concurrent.sandbox.p50 <= r.concurrent.baseline.p50},
          {"long_schedule events > 2 ms in the host (during each one's phases)",
           events_cell(pkg_events) <>
             "; #{Enum.count(pkg_events, &package_event?/1)} in the package's code",
           events_cell(base_events), "none caused by the package (in its code)",
           not Enum.any?(pkg_events, &package_event?/1)},
          {"peer RSS (VmRSS during a run)", mb.(r.rss.sandbox), mb.(r.rss.baseline), "", nil},
          {"context: bare `erl -noshell -eval halt()`, p50", fmt.(r.bare.p50), "", "", nil},
          {"context: bare `erl`'s RSS", mb.(r.bare.rss), "", "", nil},
          {"context: the flood's code evaluated in the host VM, to a `StringIO`", fmt.(r.floor),
           "", "", nil}
        ]

    header = "| measure | sandbox | baseline | target | met |\n|---|---|---|---|---|\n"

    table =
      Enum.map_join(rows, "\n", fn {name, ours, theirs, target, met} ->
        "| #{name} | #{ours} | #{theirs} | #{target} | #{met_cell(met)} |"
      end)

    """
    # sandbox benchmark

    #{machine()}

    #{header}#{table}

    #{stages_table(r)}

    Samples: #{r.n} cold runs each, taken in turn; #{r.warm.n} warm runs; #{r.n}
    timed-out runs each (in turn with as many trivial ones); the concurrent runs
    #{length(r.concurrent.sandbox.all)} times each, in turn. The flood keeps
    `max_output: 50_000`. Sandbox runs use `pool: false` except the warm rows;
    strict cold runs take their turn with the others, strict warm runs use a
    strict pool of 2. The sustained phases take turns too (the package's, the
    baseline's, the floor's), #{r.sustained_rounds} × #{r.sustained_s} s
    each; the machine's busy CPU leaves out steal.
    #{missed_notes(r, rows)}#{event_details(pkg_events ++ other_events)}
    """
  end

  # Where a run's CPU goes: a cold run's stages, and the sustained phase's
  # shares per run.
  defp stages_table(r) do
    ms = fn x -> :erlang.float_to_binary(x / 1, decimals: 1) <> " ms" end
    s = r.sustained.sandbox
    tree = Enum.sum(Keyword.values(r.stages))

    labels = [
      vm:
        "`erlexec` and the VM's boot, to `Sandbox.Guest`: the kernel, and the boot file's " <>
          "batches (the kernel's, Elixir's and the evaluator's modules)",
      node_name_and_preload:
        "the node name (and, without a boot file, the modules above that the kernel's boot does not load)",
      elixir: "the Elixir application",
      devices_and_logger_filter:
        "the output devices and the filter that starts Logger when a run logs",
      evaluation: "the request, the setup and the evaluation, to the code's first line",
      after:
        "after the answer: the VM's exit, its forker (`erl_child_setup`), what it did after answering"
    ]

    rows =
      Enum.map(r.stages, fn {name, cpu} -> "| #{labels[name]} | #{ms.(cpu)} |" end) ++
        [
          "| **the VM's tree, cold run (`execute/2`'s `cpu_ms`)** | **#{ms.(tree)}** |",
          "| sustained phase, per run: the host VM (runner, pool, NIF, watcher, the bench's callers) | #{ms.(s.host_cpu_per_run * 1000)} |",
          "| sustained phase, per run: the whole machine (the VM's tree, the host, the helper, the kernel) | #{ms.(s.cpu_per_run * 1000)} |",
          "| sustained phase, per run: the floor, whole machine | #{ms.(r.sustained.floor.cpu_per_run * 1000)} |",
          "| sustained phase, per run: steal, the hypervisor running other guests (not counted above): the package's, the floor's | #{ms.(s.steal_per_run * 1000)}, #{ms.(r.sustained.floor.steal_per_run * 1000)} |"
        ]

    """
    ## Where a run's CPU goes

    A cold run's VM, median of #{r.n} (its own CPU time at the end of each stage, which
    `Sandbox.Guest` notes; the rest from the whole tree once it is gone):

    | stage | CPU |
    |---|---|
    #{Enum.join(rows, "\n")}
    """
  end

  # Issue 14's rows: an agent's loop and a sustained load, default options.
  defp speed_rows(r, fmt) do
    s = r.sustained
    cpu = fn x -> :erlang.float_to_binary(x, decimals: 3) <> " s" end
    rate = fn x -> :erlang.float_to_binary(x, decimals: 2) <> "/s" end
    runs_ratio = s.sandbox.runs_per_s / s.baseline.runs_per_s
    floor_ratio = s.sandbox.cpu_per_run / s.floor.cpu_per_run
    base_ratio = s.sandbox.cpu_per_run / s.baseline.cpu_per_run

    [
      {"agent loop, default options (#{@loop_gap_ms} ms between calls), 2nd+ calls, p50",
       fmt.(r.loop.sandbox.p50), fmt.(r.loop.baseline.p50), "≤ 5 ms", r.loop.sandbox.p50 <= 5.0},
      {"agent loop, p90", fmt.(r.loop.sandbox.p90), fmt.(r.loop.baseline.p90), "", nil},
      {"sustained: #{@sustained_callers} callers back to back, default options, runs/s",
       rate.(s.sandbox.runs_per_s), rate.(s.baseline.runs_per_s),
       "≥ 1.33 × baseline (#{Float.round(runs_ratio, 2)} ×)", runs_ratio >= 1.33},
      {"... machine's busy CPU per run", cpu.(s.sandbox.cpu_per_run),
       cpu.(s.baseline.cpu_per_run), "≤ 0.75 × baseline (#{Float.round(base_ratio, 2)} ×)",
       base_ratio <= 0.75},
      {"... against the floor: bare `erl` (busy-waiting off) starting Elixir, evaluating, halting",
       cpu.(s.sandbox.cpu_per_run), cpu.(s.floor.cpu_per_run) <> " (floor)",
       "≤ 1.15 × floor (#{Float.round(floor_ratio, 2)} ×)", floor_ratio <= 1.15},
      {"... a host process sleeping 5 ms: wake-up lateness, p99", fmt.(s.sandbox.late_p99),
       fmt.(s.baseline.late_p99) <> "; floor's load: " <> fmt.(s.floor.late_p99), "≤ 3 ms",
       s.sandbox.late_p99 <= 3.0}
    ]
  end

  # The strict rows compare with the package's own runs without isolation:
  # the baseline has no box at all.
  defp strict_rows(%{strict_warm: nil}, _fmt) do
    [{"`isolation: :strict`", "unavailable here", "", "", nil}]
  end

  defp strict_rows(r, fmt) do
    ratio = r.cold.strict.p50 / r.cold.sandbox.p50

    [
      {"`isolation: :strict` trivial run, cold, p50 (baseline: the package without isolation)",
       fmt.(r.cold.strict.p50), fmt.(r.cold.sandbox.p50),
       "≤ 1.2 × without isolation (#{Float.round(ratio, 2)} ×)", ratio <= 1.2},
      {"`isolation: :strict` trivial run, warm (strict pool of 2, 250 ms apart), p50",
       fmt.(r.strict_warm.p50), "n/a", "≤ 3 ms", r.strict_warm.p50 <= 3.0},
      {"`isolation: :strict` trivial run, warm, p90", fmt.(r.strict_warm.p90), "n/a", "", nil}
    ]
  end

  # For each target missed, the reason as measured in this same run, and
  # what would reach it.
  defp missed_notes(r, rows) do
    missed =
      for {name, _, _, _, false} <- rows,
          do: note_key(name)

    # (Rows that share a reason share its note.)
    notes = missed |> Enum.flat_map(&note(&1, r)) |> Enum.uniq()

    if notes == [],
      do: "",
      else:
        "\n## Targets missed: why, and what would reach them\n\n" <>
          Enum.join(notes, "\n\n") <> "\n"
  end

  defp note_key(name) do
    cond do
      String.ends_with?(name, "`IO.puts` lines, wall") -> "flood"
      String.contains?(name, "concurrent") -> "concurrent"
      true -> name
    end
  end

  defp note("trivial run, cold, p50", r) do
    target = 0.75 * r.cold.baseline.p50

    [
      "**Cold run.** The target is #{round1(target)} ms. A bare `erl -noshell -eval " <>
        "'halt()'` takes #{round1(r.bare.p50)} ms here, most of it loading about 100 modules at " <>
        "about a millisecond each; that leaves #{round1(target - r.bare.p50)} ms for all a run " <>
        "adds: spawning the helper and `erl`'s start-up script, the node name, Elixir, " <>
        "the request, the evaluation and its frames. Ours adds " <>
        "#{round1(r.cold.sandbox.p50 - r.bare.p50)} ms. Its largest parts are already cut " <>
        "(distribution used to load crypto and OpenSSL, 35 to 50 ms, and now does not run; " <>
        "the 70-odd modules every run loads now load from the VMs' boot file, in parallel " <>
        "batches ahead of the kernel, and only those). The floor, a bare `erl` (busy-waiting off) that starts Elixir, evaluates " <>
        "and halts, took #{round1(r.cold.floor.p50)} ms in the same turns, loading its modules " <>
        "one at a time. What is left is the JIT compiling the modules a run needs " <>
        "(#{r.modules.sandbox}): the VM's boot alone used #{round1(r.stages[:vm])} ms of CPU, which 2 cores " <>
        "cannot spend in much less than #{round1(r.stages[:vm] / 2)} ms even perfectly in " <>
        "parallel, and this OTP has no interpreter to load them more cheaply. Not booting " <>
        "per run does: with default " <>
        "options, a loop's second and later runs take a warm VM (the agent loop rows), " <>
        "and a warm run from `Sandbox.Pool` took #{round1(r.warm.p50)} ms."
    ]
  end

  defp note("long_schedule events > 2 ms in the host (during each one's phases)", r) do
    ours = Enum.filter(r.events, &(&1.tag == :sandbox))
    {package, elsewhere} = Enum.split_with(ours, &package_event?/1)
    {receiving, other} = Enum.split_with(package, &receiving?/1)

    [
      "**long_schedule.** #{length(ours)} events during the package's phases (the " <>
        "baseline's: #{Enum.count(r.events, &(&1.tag == :baseline))}); " <>
        "#{length(elsewhere)} of them in neither the package's code nor its callers' " <>
        "(the host's code server, ports, the bench's own tasks). Of the #{length(package)} " <>
        "in the package's code, #{length(receiving)} began and ended in a caller taking " <>
        "its answer in `receive`, microseconds of work; #{length(other)} elsewhere (listed " <>
        "below). Their wall time is the host's scheduler thread preempted by the OS while " <>
        "both cores boot VMs, which the bench cannot tell from work, so its verdict counts " <>
        "every event of the package's phases. What would remove them: fewer VMs booting at " <>
        "once on 2 cores (a pool boots ahead, at a time of its choosing), or peers at a " <>
        "lower CPU priority."
    ]
  end

  defp note("flood", r) do
    target = r.flood.baseline.ms / 10
    floor = r.floor

    [
      "**Flood.** The target is #{round1(target)} ms. The flood's code evaluated in the " <>
        "host VM into a `StringIO` (the I/O protocol alone: no VM boundary, no pipe) took " <>
        "#{round1(r.floor)} ms; the package's run takes a warm VM, so no boot is counted. " <>
        "Ours took #{round1(r.flood.sandbox.ms - floor)} ms more than that: its output device's " <>
        "work. Up to `max_output` it makes a `write(2)` per `IO.puts`, before the request is " <>
        "answered, so that output printed right before a halt or a crash is never lost; past " <>
        "it, an add to a page of memory the host reads, and a write per 64 KB. A `write(2)` " <>
        "costs more than itself on a kernel that isolates page tables without PCID (each " <>
        "empties the TLB); see the README's Speed section."
    ]
  end

  defp note("trivial run, warm" <> _, r), do: warm_note(r)
  defp note("`isolation: :strict` trivial run, warm" <> _, r), do: warm_note(r)

  defp note("concurrent", r) do
    list = fn times -> Enum.map_join(times, ", ", &"#{round1(&1)}") end

    [
      "**Concurrent runs.** Both are bound by booting #{@concurrency} VMs at once on the " <>
        "machine's cores, then #{@sleep_ms} ms of sleep. Every repeat, taken in turn: " <>
        "sandbox #{list.(r.concurrent.sandbox.all)} ms; baseline " <>
        "#{list.(r.concurrent.baseline.all)} ms. What would reach it reliably: less CPU per " <>
        "boot (the largest part left is Elixir's start), or warm peers (a pool of 8 runs " <>
        "them in #{@sleep_ms} ms and a few)."
    ]
  end

  defp note("sustained: " <> _, r), do: cpu_note(r)
  defp note("... machine's busy CPU per run", r), do: cpu_note(r)
  defp note("... against the floor: " <> _, r), do: cpu_note(r)

  defp note("... a host process sleeping 5 ms: wake-up lateness, p99", r) do
    group =
      case Sandbox.IdleGroup.dir() do
        nil ->
          "and no idle CPU cgroup could be made here (`Sandbox.IdleGroup`: it needs a " <>
            "cgroup v1 `cpu` hierarchy the host may write): without one, the kernel weighs " <>
            "each VM thread on its own beside the host's, and a woken host thread waited up " <>
            "to a scheduler tick (4 ms at HZ 250) while VM threads took turns on its CPU"

        dir ->
          "and share one idle CPU cgroup (#{dir}), which the host's threads preempt at " <>
            "once: what is left is a stretch in the kernel (no preemption there in this " <>
            "kernel's mode) or the hypervisor holding the virtual CPU (this machine shows steal)"
      end

    [
      "**Wake-up lateness.** #{round1(r.sustained.sandbox.late_p99)} ms at p99, of which about " <>
        "1 ms is the host VM's own timer rounding (a 5 ms sleep on an idle machine ends " <>
        "about 1 ms late). The rest is the OS scheduling the host's threads while VMs boot " <>
        "on both cores. VMs run under `SCHED_IDLE` by default (`config :sandbox, priority:`), " <>
        group <> "."
    ]
  end

  defp note("agent loop, default options" <> _, r) do
    [
      "**Agent loop.** #{round1(r.loop.sandbox.p50)} ms at p50 with the automatic pool, " <>
        "against #{round1(r.warm.p50)} ms for a configured pool of 2: the difference is the " <>
        "automatic pool keeping one VM ahead rather than two."
    ]
  end

  defp note(_name, _r), do: []

  # Said once for both warm rows.
  defp warm_note(r) do
    strict = if r.strict_warm, do: " (strict: #{round1(r.strict_warm.p50)} ms)", else: ""

    [
      "**Warm runs.** #{round1(r.warm.p50)} ms at p50#{strict} against 3 ms. On an idle " <>
        "machine a warm run takes 2 to 2.7 ms here, most of it threads woken in turn " <>
        "(the host's watcher, the VM's poll thread and a scheduler on the way in, the way " <>
        "back), 0.1 to 0.5 ms each where an idle vCPU halts (README, Speed). Runs 250 ms " <>
        "apart also share the cores with the pool's replacement for the VM just taken, which " <>
        "boots for about as long as a bare `erl` (#{round1(r.bare.p50)} ms here), and on " <>
        "this virtual machine even a `SCHED_IDLE` boot slows them (README: p50 2.8 to 3.9 ms " <>
        "250 ms apart against 2.4 to 2.7 ms 1.2 s apart). What is left to take: frames " <>
        "written by the peer's NIF rather than through its port's async thread (0.1 ms " <>
        "measured)."
    ]
  end

  # The sustained rows share one reason: each run boots one VM, so CPU per
  # boot bounds runs per second.
  defp cpu_note(r) do
    s = r.sustained
    tree = Enum.sum(Keyword.values(r.stages))

    [
      "**CPU per run, runs per second.** Every run uses up one VM, so the machine's CPU " <>
        "per boot bounds runs per second, warm or cold: the package did " <>
        "#{round1(s.sandbox.cpu_per_run * 1000)} ms per run, the baseline " <>
        "#{round1(s.baseline.cpu_per_run * 1000)} ms, and the floor (a bare `erl` that " <>
        "starts Elixir, evaluates and halts, nothing else) #{round1(s.floor.cpu_per_run * 1000)} " <>
        "ms. The targets ask for at most #{round1(0.75 * s.baseline.cpu_per_run * 1000)} ms " <>
        "and #{round1(1.15 * s.floor.cpu_per_run * 1000)} ms. A cold run's VM tree took " <>
        "#{round1(tree)} ms (see \"Where a run's CPU goes\"): the VM's boot to its first " <>
        "line of our code alone is #{round1(r.stages[:vm])} ms, as a bare VM's. What ours " <>
        "adds over the floor is the node name (so that pids never alias the host's), the " <>
        "output devices, and, per run " <>
        "in this phase, the host's work (#{round1(s.sandbox.host_cpu_per_run * 1000)} ms, the bench's " <>
        "own callers and sleeper included) and the automatic pool's VMs booted ahead and " <>
        "killed unused when the phase ends. Already cut: the `erl` script's five forked " <>
        "programs (ERTS's `erlexec` is started directly), scheduler busy-waiting in VMs, " <>
        "the kernel's module loading one at a time (a boot file of the package's loads " <>
        "what every run needs in parallel batches, each looked for only where it is, not " <>
        "first in each of the host's code paths), Logger's start in every VM (it " <>
        "starts when a run logs or names it: about 7% of a trivial run's CPU), " <>
        "distribution (the node name is set without it), the modules no trivial run needs, " <>
        "and, for a pool's VMs booted under load, all schedulers but one during the boot. " <>
        "A VM's CPU " <>
        "is mostly the JIT compiling " <>
        "the modules it loads, about a millisecond each: a trivial run had loaded " <>
        "#{r.modules.sandbox} when it evaluated, the floor #{r.modules.floor}; this OTP has " <>
        "no interpreter to load them more cheaply. Of what is left, `unicode_util` (about " <>
        "10 ms) loads only because Elixir's start parses the OTP release with " <>
        "`string:to_integer/1`. Measured leads, not taken: one scheduler for a cold run's " <>
        "VM made it 15 to 25% slower. What would reach the targets for sure is " <>
        "not a VM per run: a VM that serves several runs (which this package's single-use " <>
        "guarantee rules out)."
    ]
  end

  # Scheduled in or out in the package's own modules (not the bench's).
  defp package_event?(%{in: scheduled_in, out: scheduled_out}),
    do: package_mfa?(scheduled_in) or package_mfa?(scheduled_out)

  defp package_mfa?({module, _, _}) do
    name = Atom.to_string(module)

    String.starts_with?(name, "Elixir.Sandbox.") and
      not String.starts_with?(name, "Elixir.Sandbox.Bench")
  end

  defp package_mfa?(_), do: false

  defp receiving?(%{in: {Sandbox.Runner, function, _}, out: {Sandbox.Runner, function, _}})
       when function in [:receive_outcome, :receive_report],
       do: true

  defp receiving?(_event), do: false

  defp round1(ms), do: Float.round(ms / 1, 1)

  defp met_cell(nil), do: ""
  defp met_cell(true), do: "yes"
  defp met_cell(false), do: "**no**"

  defp events_cell([]), do: "0"

  defp events_cell(events),
    do: "#{length(events)} (max #{Enum.max(Enum.map(events, & &1.ms))} ms)"

  defp event_details([]), do: ""

  defp event_details(events) do
    lines =
      Enum.map_join(Enum.take(events, 20), "\n", fn e ->
        "- during #{e.tag || "neither"}: #{e.ms} ms in #{inspect(e.who)}, #{inspect(e.in)} → #{inspect(e.out)}"
      end)

    "\nlong_schedule events outside the baseline's phases:\n\n" <> lines <> "\n"
  end

  defp machine do
    cpu =
      case Regex.run(~r/model name\s*:\s*(.+)/, File.read!("/proc/cpuinfo")) do
        [_, model] -> model
        nil -> "unknown CPU"
      end

    mem_gb = div(kb(File.read!("/proc/meminfo"), "MemTotal"), 1024 * 1024)
    {uname, 0} = System.cmd("uname", ["-srm"])

    commit =
      case System.cmd("git", ["rev-parse", "--short", "HEAD"], stderr_to_stdout: true) do
        {sha, 0} -> String.trim(sha)
        _ -> "unknown"
      end

    """
    Machine: #{String.trim(uname)}, #{cpu}, #{:erlang.system_info(:logical_processors_available)} \
    cores available, #{mem_gb} GB. OTP #{System.otp_release()}, Elixir #{System.version()}, \
    host dirty IO schedulers: #{:erlang.system_info(:dirty_io_schedulers)}. Commit #{commit}, \
    #{Date.utc_today()}.\
    """
  end
end

defmodule Sandbox.Bench.Monitor do
  @moduledoc """
  Collects the host's long_schedule events (over 2 ms) for the whole bench,
  each tagged with the implementation being measured when it happened.
  """

  def start do
    parent = self()

    pid =
      spawn_link(fn ->
        :erlang.system_monitor(self(), [{:long_schedule, 2}])
        send(parent, {:monitoring, self()})
        loop(nil, [])
      end)

    receive do
      {:monitoring, ^pid} -> pid
    end
  end

  def tag(monitor, tag), do: send(monitor, {:tag, tag})

  def stop(monitor) do
    send(monitor, {:stop, self()})

    receive do
      {:events, events} -> events
    end
  end

  defp loop(tag, events) do
    receive do
      {:tag, new_tag} ->
        loop(new_tag, events)

      {:monitor, who, :long_schedule, info} ->
        event = %{
          tag: tag,
          who: who,
          ms: Keyword.get(info, :timeout),
          in: Keyword.get(info, :in),
          out: Keyword.get(info, :out)
        }

        loop(tag, [event | events])

      {:stop, from} ->
        :erlang.system_monitor(:undefined)
        send(from, {:events, Enum.reverse(events)})
    end
  end
end
