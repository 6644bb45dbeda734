defmodule Sandbox.OutputMemoryTest do
  @moduledoc """
  The host's memory while a run floods its output. The host's resident
  set is the whole VM's, so this runs alone (not async): other tests'
  allocations would be counted as the flood's.
  """
  use ExUnit.Case, async: false

  alias Sandbox.TestOS

  describe "memory" do
    test "the host holds at most max_output of a flood, however much is printed" do
      # 200 MB printed in 1 MB writes, 1,000 bytes kept.
      code = ~S"""
      chunk = String.duplicate("f", 1_048_576)
      for _ <- 1..200, do: IO.write(chunk)
      :flooded
      """

      sampler = Task.async(fn -> sample_rss(TestOS.rss_kb(), 0) end)
      assert {:ok, %{output: output, result: :flooded}} = Sandbox.run(code, max_output: 1_000)
      send(sampler.pid, :stop)
      growth_kb = Task.await(sampler)

      assert output =~ "showing first 1000B of 200.0MB"
      assert growth_kb < 20_000, "the host grew by #{growth_kb} kB while 200 MB were printed"
    end
  end

  defp sample_rss(baseline, peak) do
    receive do
      :stop -> peak
    after
      5 -> sample_rss(baseline, max(peak, TestOS.rss_kb() - baseline))
    end
  end
end
