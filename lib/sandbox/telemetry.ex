defmodule Sandbox.Telemetry do
  @moduledoc """
  `:telemetry` events for every `Sandbox.run/2` and `Sandbox.execute/2`,
  emitted when the host has the `:telemetry` module loaded (this package
  has no dependencies, so it never loads it itself):

    * `[:sandbox, :run, :start]` - measurements `%{system_time:,
      monotonic_time:}`.
    * `[:sandbox, :run, :stop]` - measurements `%{duration:}` (native time
      units), and for `execute/2` the result's: `wall_ms`, `boot_ms`,
      `setup_ms`, `eval_ms`, `cpu_ms`, `max_rss_kb`, `output_bytes`;
      metadata adds `:status` (`run/2`: `:ok`, `:error`, `:timeout`,
      `:noconnection`, or the limit crossed; `execute/2`: the result's).
    * `[:sandbox, :run, :exception]` - when the call raises
      (`Sandbox.BootError`, `Sandbox.AtomLimitError`, a setup error in
      `run/2`): measurements `%{duration:}`, metadata adds `:kind`,
      `:reason`, `:stacktrace`.

  Metadata of all three: `:function` (`:run` or `:execute`), `:caller`
  (the calling pid), `:pool` (the pool option), `:node` (the `:node`
  option, else this node) and
  `:telemetry_span_context` (a ref shared by the events of one call).

  Async runs, one span each, with the same start, stop and exception
  events and measurements:

    * `[:sandbox, :start, _]` - `Sandbox.start/2`; metadata `:function`
      (`:start`), `:caller`, `:pool`, `:node`; the stop event adds
      `:handle`.
    * `[:sandbox, :await, _]` and `[:sandbox, :cancel, _]` -
      `Sandbox.await/2` and `Sandbox.cancel/1`; metadata `:function`,
      `:caller`, `:handle`; the stop event carries the result's
      measurements and `:status`, as `execute/2`'s. An await that times
      out is an exception event (`kind: :exit`).

  Pools (`Sandbox.Pool`, the automatic one included):

    * `[:sandbox, :pool, :boot, :start]` - the pool launched a VM;
      measurements `%{system_time:, monotonic_time:}`, metadata `:pool`
      (its name, else its pid) and `:ref` (pairs it with its stop).
    * `[:sandbox, :pool, :boot, :stop]` - it booted (`result: :ok`,
      `:os_pid`) or failed (`result: :error`, `:reason`); measurements
      `%{duration:, boot_ms:}`. Emitted in the pool's process.
    * `[:sandbox, :pool, :checkout]` - a run asked the pool for a VM;
      measurements `%{duration:}` (the time it waited, for a VM that was
      booting or for room under `:max_peers`); metadata `:pool`, `:caller`
      and `:result`: `:hit` (a booted VM), `:miss` (none idle or booting
      for it: the run boots its own), `:busy` (no room within
      `:boot_timeout`), `:timeout` (the VM it waited for did not boot
      within `:boot_timeout`) or `:mismatch` (the run's box is not the
      pool's). Emitted in the caller.
  """

  @doc false
  # Runs `fun` between the events prefix ++ [:start] and [:stop] (or
  # [:exception]); `measure` turns its result into the stop event's extra
  # measurements and metadata.
  @spec span([atom()], map(), (() -> result), (result -> {map(), map()})) :: result
        when result: term()
  def span(prefix, metadata, fun, measure) do
    if :erlang.module_loaded(:telemetry) do
      emit_span(prefix, Map.put(metadata, :telemetry_span_context, make_ref()), fun, measure)
    else
      fun.()
    end
  end

  @doc false
  # One event, where the host has :telemetry.
  @spec event([atom()], map(), map()) :: :ok
  def event(name, measurements, metadata) do
    if :erlang.module_loaded(:telemetry),
      do: apply(:telemetry, :execute, [name, measurements, metadata])

    :ok
  end

  @doc false
  # The measurements of a span's start event.
  @spec start_measurements() :: map()
  def start_measurements,
    do: %{system_time: System.system_time(), monotonic_time: System.monotonic_time()}

  defp emit_span(prefix, metadata, fun, measure) do
    start = System.monotonic_time()
    emit(prefix, :start, %{system_time: System.system_time(), monotonic_time: start}, metadata)

    try do
      fun.()
    catch
      kind, reason ->
        stacktrace = __STACKTRACE__
        duration = System.monotonic_time() - start
        details = %{kind: kind, reason: reason, stacktrace: stacktrace}
        emit(prefix, :exception, %{duration: duration}, Map.merge(metadata, details))
        :erlang.raise(kind, reason, stacktrace)
    else
      result ->
        {measurements, extra} = measure.(result)
        duration = System.monotonic_time() - start

        emit(
          prefix,
          :stop,
          Map.put(measurements, :duration, duration),
          Map.merge(metadata, extra)
        )

        result
    end
  end

  # apply/3: no compile-time reference to a module this package does not
  # depend on.
  defp emit(prefix, event, measurements, metadata),
    do: apply(:telemetry, :execute, [prefix ++ [event], measurements, metadata])
end
