defmodule Sandbox.DefaultPoolTest do
  @moduledoc """
  The default pool: a pool registered as `Sandbox.Pool` (what
  `config :sandbox, pool: [...]` starts) serves runs that name no pool.
  Not async: while it runs, every other run would use it too.
  """
  use ExUnit.Case, async: false

  alias Sandbox.{Pool, TestOS}

  test "runs without :pool use the pool registered as Sandbox.Pool" do
    assert Process.whereis(Pool) == nil
    start_supervised!({Pool, name: Pool, size: 1})
    assert TestOS.eventually(fn -> Pool.status(Pool).idle == 1 end, 20_000)
    [idle] = Pool.status(Pool).idle_os_pids

    assert {:ok, %{result: pid}} = Sandbox.run("System.pid()", pool: false)
    assert String.to_integer(pid) != idle

    assert {:ok, %{result: pid}} = Sandbox.run("System.pid()")
    assert String.to_integer(pid) == idle
  end

  test "a run on the default pool keeps its :timeout" do
    start_supervised!({Pool, name: Pool, size: 1})
    assert TestOS.eventually(fn -> Pool.status(Pool).idle == 1 end, 20_000)
    [idle] = Pool.status(Pool).idle_os_pids
    task = Task.async(fn -> Sandbox.run("Process.sleep(:infinity)", timeout: 300) end)

    case Task.yield(task, 20_000) || Task.shutdown(task, :brutal_kill) do
      {:ok, result} -> assert {:error, :timeout, %{output: ""}} = result
      nil -> flunk("a run on the default pool with timeout: 300 was still running after 20 s")
    end

    # It was the pool's VM that timed out, and it is gone.
    assert TestOS.eventually(fn -> TestOS.stat(idle) == nil end, 5_000)
  end

  # Restarting the application logs its stop.
  @tag :capture_log
  test "the application starts the default pool from its config" do
    assert Application.get_env(:sandbox, :pool) == nil

    restart = fn ->
      :ok = Application.stop(:sandbox)
      Application.ensure_all_started(:sandbox)
    end

    Application.put_env(:sandbox, :pool, size: 1)

    on_exit(fn ->
      Application.delete_env(:sandbox, :pool)
      restart.()
    end)

    {:ok, _} = restart.()
    children = Supervisor.which_children(Sandbox.Supervisor)
    assert {Pool, pool, :worker, _} = List.keyfind(children, Pool, 0)
    assert Process.whereis(Pool) == pool
    # And the scope pools join, as always.
    assert List.keymember?(children, Sandbox.Cluster, 0)
  end
end
