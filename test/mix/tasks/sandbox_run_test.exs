defmodule Mix.Tasks.Sandbox.RunTest do
  @moduledoc "mix sandbox.run: where the code comes from, what it prints, how it exits."
  use ExUnit.Case, async: true

  import ExUnit.CaptureIO

  alias Mix.Tasks.Sandbox.Run

  @moduletag :tmp_dir

  test "evaluates its arguments and prints the output, then the pretty result" do
    assert capture_io(fn -> Run.run(["IO.puts(1 + 1);", "%{list: Enum.to_list(1..3)}"]) end) ==
             "2\n%{list: [1, 2, 3]}\n"
  end

  test "reads the code from --file", %{tmp_dir: dir} do
    path = Path.join(dir, "snippet.exs")
    File.write!(path, "IO.write(:no_newline)\n:done")
    assert capture_io(fn -> Run.run(["--file", path]) end) == "no_newline\n:done\n"
  end

  test "reads the code from standard input when given none" do
    assert capture_io("Enum.sum(1..10)", fn -> Run.run([]) end) == "55\n"
  end

  test "an exception is printed formatted and exits with status 1" do
    stderr =
      capture_io(:stderr, fn ->
        assert catch_exit(capture_io(fn -> Run.run([~S|raise "bad"|]) end)) == {:shutdown, 1}
      end)

    assert stderr =~ "** (RuntimeError) bad"
  end

  test "--timeout and --max-output are passed on" do
    stderr =
      capture_io(:stderr, fn ->
        output =
          capture_io(fn ->
            assert catch_exit(
                     Run.run([
                       "--timeout",
                       "300",
                       "--max-output",
                       "3",
                       ~S|IO.puts("abcdef"); Process.sleep(:infinity)|
                     ])
                   ) == {:shutdown, 1}
          end)

        assert output == "abc\n...(truncated, showing first 3B of 7B)\n"
      end)

    assert stderr =~ "** (timeout) the code did not finish within 300 ms"
  end

  test "bad usage exits with status 2 and says why" do
    stderr =
      capture_io(:stderr, fn ->
        assert catch_exit(Run.run(["--timeout", "soon", "1"])) == {:shutdown, 2}
        assert catch_exit(Run.run(["--file", "x.exs", "1"])) == {:shutdown, 2}
        assert catch_exit(Run.run(["--bogus"])) == {:shutdown, 2}
        assert catch_exit(Run.run(["--file", "/nonexistent/missing.exs"])) == {:shutdown, 2}
      end)

    assert stderr =~
             "mix sandbox.run: cannot read /nonexistent/missing.exs: no such file or directory"

    assert stderr =~ "--timeout takes a number or infinity"
    assert stderr =~ "not both"
    assert stderr =~ "usage: mix sandbox.run"
  end
end
