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
  """

  @prefix [:sandbox, :run]

  @doc false
  # Runs `fun` between start and stop (or exception) events; `measure`
  # turns its result into the stop event's extra measurements and metadata.
  @spec span(map(), (() -> result), (result -> {map(), map()})) :: result when result: term()
  def span(metadata, fun, measure) do
    if :erlang.module_loaded(:telemetry) do
      emit_span(Map.put(metadata, :telemetry_span_context, make_ref()), fun, measure)
    else
      fun.()
    end
  end

  defp emit_span(metadata, fun, measure) do
    start = System.monotonic_time()
    emit(:start, %{system_time: System.system_time(), monotonic_time: start}, metadata)

    try do
      fun.()
    catch
      kind, reason ->
        stacktrace = __STACKTRACE__
        duration = System.monotonic_time() - start
        details = %{kind: kind, reason: reason, stacktrace: stacktrace}
        emit(:exception, %{duration: duration}, Map.merge(metadata, details))
        :erlang.raise(kind, reason, stacktrace)
    else
      result ->
        {measurements, extra} = measure.(result)
        duration = System.monotonic_time() - start
        emit(:stop, Map.put(measurements, :duration, duration), Map.merge(metadata, extra))
        result
    end
  end

  # apply/3: no compile-time reference to a module this package does not
  # depend on.
  defp emit(event, measurements, metadata),
    do: apply(:telemetry, :execute, [@prefix ++ [event], measurements, metadata])
end
