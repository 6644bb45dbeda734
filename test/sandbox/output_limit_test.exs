defmodule Sandbox.OutputLimitTest do
  @moduledoc "The :output_limit option: a run that prints too much is stopped."
  use ExUnit.Case, async: true

  test "a run printing past the limit is stopped, with what it printed" do
    code = ~S"""
    Stream.repeatedly(fn -> IO.write(String.duplicate("y", 1_000)) end) |> Stream.run()
    """

    {micros, result} =
      :timer.tc(fn ->
        Sandbox.run(code, output_limit: 100_000, max_output: 50, timeout: 20_000)
      end)

    assert {:error, :output_limit, %{output: output}} = result

    assert String.starts_with?(
             output,
             String.duplicate("y", 50) <> "\n...(truncated, showing first 50B of"
           )

    # Stopped when it passed the limit, long before the timeout.
    assert micros < 15_000_000
  end

  test "execute/2 reports :output_limit; within the limit a run ends normally" do
    assert %Sandbox.Result{status: :output_limit, output_bytes: bytes} =
             Sandbox.execute(~S|IO.write(String.duplicate("z", 100)); Process.sleep(:infinity)|,
               output_limit: 10,
               timeout: 10_000
             )

    assert bytes > 10

    assert {:ok, %{output: "ok\n"}} = Sandbox.run(~S|IO.puts("ok")|, output_limit: 3)
    assert {:ok, _} = Sandbox.run(~S|IO.puts("ok")|, output_limit: :infinity)
  end

  test "what is printed past :max_output counts towards the limit up to the last byte" do
    # About 49 KB, all of it past a cap of 10 bytes, and nothing printed
    # after it: the run still ends as stopped.
    code = "for i <- 1..10_000, do: IO.puts(i)"

    assert {:error, :output_limit, %{output: "1\n2\n3\n4\n5" <> _}} =
             Sandbox.run(code, max_output: 10, output_limit: 30_000)

    assert {:ok, _} = Sandbox.run(code, max_output: 10, output_limit: 60_000)
  end

  test "the setup's output does not count" do
    assert {:ok, %{output: "", result: :fine}} =
             Sandbox.run(":fine",
               setup: ~S|IO.write(String.duplicate("s", 1_000))|,
               output_limit: 10
             )
  end

  test "an invalid :output_limit raises" do
    assert_raise ArgumentError, ~r/:output_limit/, fn -> Sandbox.run("1", output_limit: -1) end
  end
end
