defmodule Sandbox.EnduranceTest do
  @moduledoc """
  Nothing accumulates: 1,000 runs of every ending in a row, then 32 at once,
  a third of them through a pool (32 at once against its :max_peers of 4),
  leave the host with no more fds, threads, child processes, zombies or
  memory than before. Slow (minutes): tagged, run by `make test-slow`.
  """
  use ExUnit.Case, async: false

  alias Sandbox.TestOS

  @moduletag :slow
  @moduletag timeout: 1_800_000

  test "1,000 mixed runs then 32 concurrent: no growth in fds, threads, processes, zombies, memory" do
    endings = Sandbox.TestCode.endings()

    pool = :sandbox_endurance_pool

    run = fn i ->
      {code, opts} = Enum.at(endings, rem(i, length(endings)))
      # Every third round of all the endings goes through the pool.
      pool_opts = if rem(div(i, length(endings)), 3) == 0, do: [pool: pool], else: [pool: false]
      Sandbox.run(code, pool_opts ++ opts)
    end

    # Warm up: every ending's code loaded, allocators grown to their working
    # size, the pool's code too.
    {:ok, _} = Sandbox.Pool.start_link(name: pool, size: 2, max_peers: 4)
    Enum.each(1..60, run)
    GenServer.stop(pool)
    before = settled_snapshot()

    {:ok, _} = Sandbox.Pool.start_link(name: pool, size: 2, max_peers: 4)
    Enum.each(1..1_000, run)

    1..32
    |> Task.async_stream(run, max_concurrency: 32, timeout: 300_000)
    |> Stream.run()

    GenServer.stop(pool)
    after_runs = settled_snapshot()

    assert after_runs.fds <= before.fds
    assert after_runs.threads <= before.threads
    assert after_runs.children -- before.children == []
    # Polled: a zombie that some other process on the machine has not
    # reaped yet is not ours; one the run left (under PID 1 here, which
    # never reaps) stays.
    new_zombies = fn -> Enum.map(TestOS.zombies(), & &1.pid) -- before.zombies end

    assert TestOS.eventually(fn -> new_zombies.() == [] end, 5_000),
           "zombies left: #{inspect(new_zombies.())}"

    assert after_runs.rss_kb - before.rss_kb < 20_000,
           "RSS grew from #{before.rss_kb} to #{after_runs.rss_kb} kB"

    assert after_runs.erlang_bytes - before.erlang_bytes < 10_000_000,
           "erlang:memory(total) grew from #{before.erlang_bytes} to #{after_runs.erlang_bytes}"
  end

  # Teardown ends just after each answer: wait until no helper is left,
  # then collect what the runs left for the garbage collector.
  defp settled_snapshot do
    TestOS.eventually(
      fn -> Enum.all?(TestOS.children(System.pid()), &erl_child_setup?/1) end,
      10_000
    )

    for pid <- Process.list(), do: :erlang.garbage_collect(pid)

    %{
      fds: map_size(TestOS.fds()),
      threads: length(File.ls!("/proc/self/task")),
      children: Enum.map(TestOS.children(System.pid()), & &1.pid),
      zombies: Enum.map(TestOS.zombies(), & &1.pid),
      rss_kb: TestOS.rss_kb(),
      erlang_bytes: :erlang.memory(:total)
    }
  end

  # ERTS's own forker, a child of the host for its whole life.
  defp erl_child_setup?(%{pid: pid}) do
    match?({:ok, "erl_child_setup" <> _}, File.read("/proc/#{pid}/comm"))
  end
end
