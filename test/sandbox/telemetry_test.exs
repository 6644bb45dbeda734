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
          test =
            :persistent_term.get({Sandbox.TelemetryTest, metadata[:caller]}, nil) ||
              :persistent_term.get({Sandbox.TelemetryTest, metadata[:pool]}, nil)

          if test, do: send(test, {:telemetry, event, measurements, metadata})
          :ok
        end
      end
      """)
    end

    :ok
  end

  setup do
    listen(self())
  end

  # Events whose :caller or :pool is `key` go to the calling test.
  defp listen(key) do
    test = self()
    :persistent_term.put({__MODULE__, key}, test)
    on_exit(fn -> :persistent_term.erase({__MODULE__, key}) end)
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

  describe "pools" do
    test "each boot: start and stop with its duration, paired by ref" do
      # Named, so that its events reach this test from its first boot on.
      pool = :"sandbox_telemetry_pool_#{System.unique_integer([:positive])}"
      listen(pool)
      start_supervised!({Sandbox.Pool, name: pool, size: 1})

      assert_receive {:telemetry, [:sandbox, :pool, :boot, :start], %{system_time: _},
                      %{pool: ^pool, ref: ref}},
                     20_000

      assert_receive {:telemetry, [:sandbox, :pool, :boot, :stop], %{duration: d, boot_ms: ms},
                      %{pool: ^pool, ref: ^ref, result: :ok, os_pid: os_pid}},
                     20_000

      assert d > 0 and ms > 0
      assert [^os_pid] = Sandbox.Pool.status(pool).idle_os_pids
    end

    test "a boot that fails: stop with the error" do
      pool = start_supervised!({Sandbox.Pool, size: 1, boot_timeout: 0}, id: make_ref())
      listen(pool)

      assert_receive {:telemetry, [:sandbox, :pool, :boot, :stop], _,
                      %{pool: ^pool, result: :error, reason: reason}},
                     20_000

      assert {:boot_failed, :timeout, _, _} = reason
    end

    test "each checkout: a hit, a miss, or busy, with the time it waited" do
      pool = start_supervised!({Sandbox.Pool, size: 1, max_peers: 1}, id: make_ref())
      assert Sandbox.TestOS.eventually(fn -> Sandbox.Pool.status(pool).idle == 1 end, 20_000)

      assert {:ok, _} = Sandbox.run("1", pool: pool)

      assert_receive {:telemetry, [:sandbox, :pool, :checkout], %{duration: _},
                      %{pool: ^pool, result: :hit}}

      # The peer booting to replace it takes the one slot: the next run
      # waits for it, then boots its own or takes it.
      holder = Sandbox.start("Process.sleep(:infinity)", pool: pool)

      assert_receive {:telemetry, [:sandbox, :pool, :checkout], _, %{result: hit_or_miss}}, 20_000
      assert hit_or_miss in [:hit, :miss]

      error =
        assert_raise Sandbox.BootError, fn -> Sandbox.run("1", pool: pool, boot_timeout: 200) end

      assert error.reason == :busy

      assert_receive {:telemetry, [:sandbox, :pool, :checkout], %{duration: waited},
                      %{result: :busy}}

      assert System.convert_time_unit(waited, :native, :millisecond) >= 200
      Sandbox.cancel(holder)
    end
  end

  test "start/2, await/2 and cancel/1: a span each, the result in the stop event" do
    handle = Sandbox.start(~S|IO.puts("x"); 1 + 1|)

    assert_receive {:telemetry, [:sandbox, :start, :start], _, %{function: :start}}
    assert_receive {:telemetry, [:sandbox, :start, :stop], _, %{handle: ^handle}}

    Sandbox.await(handle)
    assert_receive {:telemetry, [:sandbox, :await, :start], _, %{handle: ^handle}}

    assert_receive {:telemetry, [:sandbox, :await, :stop], %{output_bytes: 2},
                    %{status: :ok, handle: ^handle}}

    handle = Sandbox.start("Process.sleep(:infinity)")
    Sandbox.cancel(handle)
    assert_receive {:telemetry, [:sandbox, :cancel, :stop], _, %{status: :cancelled}}
    refute_received {:telemetry, [:sandbox, :await, _], _, _}

    assert catch_exit(Sandbox.await(Sandbox.start("Process.sleep(:infinity)"), 10))
    assert_receive {:telemetry, [:sandbox, :await, :exception], _, %{kind: :exit}}
  end
end
