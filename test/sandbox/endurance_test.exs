defmodule Sandbox.EnduranceTest do
  @moduledoc """
  Nothing accumulates: 1,000 runs of every ending in a row, then 32 at once,
  leave the host with no more fds, threads, child processes, zombies or
  memory than before. Slow (minutes): tagged, run by `make test-slow`.
  """
  use ExUnit.Case, async: false

  alias Sandbox.TestOS

  @moduletag :slow
  @moduletag timeout: 1_800_000

  test "1,000 mixed runs then 32 concurrent: no growth in fds, threads, processes, zombies, memory" do
    endings = Sandbox.TestCode.endings()

    run = fn i ->
      {code, opts} = Enum.at(endings, rem(i, length(endings)))
      Sandbox.run(code, opts)
    end

    # Warm up: every ending's code loaded, allocators grown to their working size.
    Enum.each(1..60, run)
    before = settled_snapshot()

    Enum.each(1..1_000, run)

    1..32
    |> Task.async_stream(run, max_concurrency: 32, timeout: 300_000)
    |> Stream.run()

    after_runs = settled_snapshot()

    assert after_runs.fds <= before.fds
    assert after_runs.threads <= before.threads
    assert after_runs.children -- before.children == []
    assert after_runs.zombies -- before.zombies == []

    assert after_runs.rss_kb - before.rss_kb < 20_000,
           "RSS grew from #{before.rss_kb} to #{after_runs.rss_kb} kB"

    assert after_runs.erlang_bytes - before.erlang_bytes < 10_000_000,
           "erlang:memory(total) grew from #{before.erlang_bytes} to #{after_runs.erlang_bytes}"
  end

  # Teardown ends just after each answer: wait for the last ones.
  defp settled_snapshot do
    TestOS.eventually(fn -> TestOS.children(System.pid()) |> Enum.all?(&(&1.state != "Z")) end)
    Process.sleep(500)
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
end
