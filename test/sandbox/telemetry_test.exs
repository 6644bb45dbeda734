defmodule Sandbox.TelemetryTest do
  @moduledoc """
  Telemetry events, emitted when the host has `:telemetry` loaded. There is
  no Hex here, so a stand-in module named `:telemetry` takes the events and
  forwards them to the test processes that asked (other tests' runs are
  left alone).
  """
  use ExUnit.Case, async: true

  setup_all do
    unless :erlang.module_loaded(:telemetry) do
      Code.compile_string("""
      defmodule :telemetry do
        def execute(event, measurements, metadata) do
          caller = metadata[:caller]

          if :persistent_term.get({Sandbox.TelemetryTest, caller}, false),
            do: send(caller, {:telemetry, event, measurements, metadata})

          :ok
        end
      end
      """)
    end

    :ok
  end

  setup do
    :persistent_term.put({__MODULE__, self()}, true)
    on_exit(fn -> :persistent_term.erase({__MODULE__, self()}) end)
  end

  test "run/2: start and stop, with the status and one span context" do
    assert {:ok, _} = Sandbox.run("1 + 1")

    assert_receive {:telemetry, [:sandbox, :run, :start], %{system_time: _}, start}
    assert_receive {:telemetry, [:sandbox, :run, :stop], %{duration: duration}, stop}
    assert duration > 0
    assert %{function: :run, status: :ok, caller: caller, node: node} = stop
    assert caller == self()
    assert node == node()
    assert start.telemetry_span_context == stop.telemetry_span_context

    assert {:error, :timeout, _} = Sandbox.run("Process.sleep(:infinity)", timeout: 100)
    assert_receive {:telemetry, [:sandbox, :run, :stop], _, %{status: :timeout}}

    # A limit crossed is the stop event's status too.
    assert {:error, :memory_limit, _} = Sandbox.run("1", memory_limit: 1_000_000)
    assert_receive {:telemetry, [:sandbox, :run, :stop], _, %{status: :memory_limit}}
  end

  test "execute/2: the stop event carries the result's measurements" do
    Sandbox.execute(~S|IO.puts("four")|)

    assert_receive {:telemetry, [:sandbox, :run, :stop], measurements, %{status: :ok}}
    assert %{output_bytes: 5, wall_ms: wall, cpu_ms: cpu, max_rss_kb: rss} = measurements
    assert wall > 0 and cpu > 0 and rss > 0
  end

  test "a call that raises emits an exception event, and still raises" do
    assert_raise Sandbox.BootError, fn -> Sandbox.run("1", boot_timeout: 0) end

    assert_receive {:telemetry, [:sandbox, :run, :exception], %{duration: _},
                    %{kind: :error, reason: %Sandbox.BootError{}}}
  end
end
