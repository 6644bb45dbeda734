defmodule Sandbox.OutputTest do
  @moduledoc "What lands in `output`: every channel, in order, capped and truncated as specified."
  use ExUnit.Case, async: true

  describe "capture" do
    test "unicode passes through untouched" do
      assert {:ok, %{output: "héllo 😀 ✓ ∑\n"}} = Sandbox.run(~S|IO.puts("héllo 😀 ✓ ∑")|)
    end

    test "lines come out in the order printed" do
      assert {:ok, %{output: output}} = Sandbox.run("for i <- 1..500, do: IO.puts(i)")
      assert output == Enum.map_join(1..500, &"#{&1}\n")
    end

    test "every writer's output is whole and in the order it wrote: stdout and stderr interleaved exactly" do
      code = ~S"""
      require Logger
      parent = self()
      spawn(fn -> for i <- 1..200, do: IO.puts("spawned #{i}"); send(parent, :spawned) end)
      os = Task.async(fn -> System.cmd("sh", ["-c", "for i in $(seq 1 200); do echo os $i >&2; done"]) end)

      for i <- 1..200 do
        IO.puts("out #{i}")
        IO.puts(:stderr, "err #{i}")
        if rem(i, 20) == 0, do: Logger.warning("log #{i}")
      end

      receive do: (:spawned -> :ok)
      Task.await(os)
      :ok
      """

      assert {:ok, %{output: output, result: :ok}} = Sandbox.run(code, max_output: :infinity)
      lines = String.split(output, "\n", trim: true)
      numbered = fn prefix -> for line <- lines, line =~ prefix, do: line end

      # One process writing to both: the exact order it wrote in.
      assert numbered.(~r/^(out|err) /) ==
               Enum.flat_map(1..200, &["out #{&1}", "err #{&1}"])

      assert numbered.(~r/^spawned /) == Enum.map(1..200, &"spawned #{&1}")
      assert numbered.(~r/^os /) == Enum.map(1..200, &"os #{&1}")

      assert numbered.(~r/\[warning\] log /) |> Enum.map(&List.last(String.split(&1))) ==
               Enum.map(1..10, &"#{&1 * 20}")
    end

    test "standard error is captured" do
      assert {:ok, %{output: "to stderr\n"}} = Sandbox.run(~S|IO.puts(:stderr, "to stderr")|)
    end

    test "the VM's own stdout is captured (:erlang.display/1, IO to :user)" do
      assert {:ok, %{output: output}} =
               Sandbox.run(~S|:erlang.display(:displayed); IO.puts(:user, "to user")|)

      assert output =~ "displayed"
      assert output =~ "to user\n"
    end

    test "output of OS child processes is captured" do
      assert {:ok, %{output: "from child\n"}} =
               Sandbox.run(~S|System.cmd("sh", ["-c", "echo from child >&2"]); :ok|)
    end

    test "output of processes the code spawns is captured" do
      code = ~S"""
      parent = self()
      spawn(fn -> IO.puts("from spawned"); send(parent, :done) end)
      receive do: (:done -> :ok)
      """

      assert {:ok, %{output: "from spawned\n"}} = Sandbox.run(code)
    end

    # At the host's level (here Logger's default, :debug); logger_level_test
    # changes it.
    test "Logger's messages are captured" do
      assert {:ok, %{output: output}} =
               Sandbox.run(~S|require Logger; Logger.warning("warned"); Logger.info("informed")|)

      assert output =~ "[warning] warned"
      assert output =~ "[info] informed"
    end

    test "latin1 writes are converted as StringIO converts them" do
      assert {:ok, %{output: "ÈA\n"}} = Sandbox.run("IO.binwrite(<<200, 65>>); IO.puts(\"\")")
    end

    test "reading standard input gets :eof at once" do
      {microseconds, result} =
        :timer.tc(fn -> Sandbox.run(~S|{IO.read(:line), IO.gets("prompt"), IO.read(:eof)}|) end)

      assert {:ok, %{result: {:eof, :eof, :eof}}} = result
      assert microseconds < 30_000_000
    end
  end

  describe "the output device's options" do
    # The I/O protocol allows `:binary` alone for `{:binary, true}`.
    test "setopts takes :binary alone, known options in a keyword list, and refuses the rest" do
      code = "{:io.setopts([:binary]), :io.setopts(encoding: :unicode), :io.setopts(echo: true)}"
      assert {:ok, %{result: {:ok, :ok, {:error, :enotsup}}}} = Sandbox.run(code, pool: false)
    end
  end

  describe "truncation" do
    # The reference's byte formatting, stated independently of the C code.
    defp reference_bytes(bytes) when bytes < 1_024, do: "#{bytes}B"
    defp reference_bytes(bytes) when bytes < 1_048_576, do: "#{Float.round(bytes / 1_024, 1)}KB"
    defp reference_bytes(bytes), do: "#{Float.round(bytes / 1_048_576, 1)}MB"

    test "1,280 bytes are shown as 1.3KB" do
      assert {:ok, %{output: output}} =
               Sandbox.run(~S|IO.write(String.duplicate("a", 1280))|, max_output: 10)

      assert output == "aaaaaaaaaa\n...(truncated, showing first 10B of 1.3KB)"
    end

    for {max, printed} <- [
          {0, 5},
          {5, 6},
          {1_000, 1_024},
          {1_024, 1_048_575},
          {1_000, 1_048_576},
          {50_000, 60_000},
          {100, 3_328},
          {2_000, 2_000_000}
        ] do
      test "#{printed} bytes printed, #{max} kept" do
        max = unquote(max)
        printed = unquote(printed)

        assert {:ok, %{output: output}} =
                 Sandbox.run(~s|IO.write(String.duplicate("x", #{printed}))|, max_output: max)

        assert output ==
                 String.duplicate("x", max) <>
                   "\n...(truncated, showing first #{reference_bytes(max)} of #{reference_bytes(printed)})"
      end
    end

    test "output at exactly the limit is not truncated" do
      assert {:ok, %{output: "12345"}} = Sandbox.run(~S|IO.write("12345")|, max_output: 5)
    end

    test "the cut falls on a whole UTF-8 character" do
      # Each "é" is 2 bytes: 5 bytes would end in half of the third.
      assert {:ok, %{output: output}} =
               Sandbox.run(~S|IO.write(String.duplicate("é", 10))|, max_output: 5)

      assert output == "éé\n...(truncated, showing first 5B of 20B)"
      assert String.valid?(output)
    end

    test "the cut never splits a 4-byte character" do
      for {max, kept} <- [{1, ""}, {3, ""}, {4, "😀"}, {7, "😀"}] do
        assert {:ok, %{output: output}} = Sandbox.run(~S|IO.write("😀😀")|, max_output: max)
        assert output == kept <> "\n...(truncated, showing first #{max}B of 8B)"
      end
    end

    test ":infinity keeps everything" do
      assert {:ok, %{output: output}} =
               Sandbox.run(~S|IO.write(String.duplicate("y", 300_000))|, max_output: :infinity)

      assert byte_size(output) == 300_000
    end

    # Printed line by line, many lines past the cap, from the code's
    # process (stdout and stderr) and from a child process: what is kept is
    # the first `max` bytes in the order printed, and what is counted is
    # every byte, whichever way the run ends.
    @flood ~S"""
    for i <- 1..30_000, do: IO.puts("out #{i}")
    for i <- 1..20_000, do: IO.puts(:stderr, "err #{i}")
    System.cmd("sh", ["-c", "for i in $(seq 1 300); do echo child $i >&2; done"])
    """
    @flood_bytes Enum.sum(
                   for(i <- 1..30_000, do: byte_size("out #{i}\n")) ++
                     for(i <- 1..20_000, do: byte_size("err #{i}\n")) ++
                     for(i <- 1..300, do: byte_size("child #{i}\n"))
                 )

    for {ending, code, status} <- [
          {"returns", "", :ok},
          {"halts", "; System.halt(3)", :crashed},
          {"times out", "; Process.sleep(:infinity)", :timeout}
        ] do
      test "past the cap every byte printed is counted, when the code #{ending}" do
        result = Sandbox.execute(@flood <> unquote(code), max_output: 1_000, timeout: 20_000)

        assert %Sandbox.Result{status: unquote(status), output_bytes: bytes, truncated: true} =
                 result

        assert bytes == @flood_bytes

        first = Enum.map_join(1..30_000, &"out #{&1}\n") |> binary_part(0, 1_000)
        assert String.starts_with?(result.output, first <> "\n...(truncated, showing first")
      end
    end

    test "past the cap, what the setup printed to the same device does not count towards it" do
      # The setup writes through `:user`, the code's own device, more than
      # the cap: the code's first bytes are still the ones kept.
      result =
        Sandbox.execute("for i <- 1..5_000, do: IO.puts(i)",
          setup: ~S|IO.write(:user, String.duplicate("s", 5_000))|,
          max_output: 1_000
        )

      assert result.output_bytes == Enum.sum(for i <- 1..5_000, do: byte_size("#{i}\n"))
      first = Enum.map_join(1..5_000, &"#{&1}\n") |> binary_part(0, 1_000)
      assert String.starts_with?(result.output, first <> "\n...(truncated, showing first")
    end

    test "partial output on timeout is truncated the same way" do
      assert {:error, :timeout, %{output: output}} =
               Sandbox.run(~S|IO.write(String.duplicate("z", 100)); Process.sleep(:infinity)|,
                 max_output: 10,
                 timeout: 500
               )

      assert output == "zzzzzzzzzz\n...(truncated, showing first 10B of 100B)"
    end
  end
end
