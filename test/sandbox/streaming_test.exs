defmodule Sandbox.StreamingTest do
  @moduledoc "The :on_output option: output as it arrives, before the run ends."
  use ExUnit.Case, async: true

  alias Sandbox.TestOS

  # Prints, then waits for a file before ending: the test sees the first
  # chunk while the run is still going, then lets it finish.
  defp gated_code(gate) do
    """
    IO.puts("first")
    wait = fn wait -> if File.exists?(#{inspect(gate)}), do: :ok, else: (Process.sleep(20); wait.(wait)) end
    wait.(wait)
    IO.puts("second")
    :done
    """
  end

  @tag :tmp_dir
  test "a pid receives chunks before the run ends", %{tmp_dir: dir} do
    gate = Path.join(dir, "gate")
    test = self()
    run = Task.async(fn -> Sandbox.execute(gated_code(gate), on_output: test) end)

    assert_receive {:sandbox_output, ref, "first\n"}, 20_000
    assert Task.yield(run, 0) == nil, "the run had already ended"
    File.write!(gate, "")

    assert %Sandbox.Result{status: :ok, value: :done, output: "first\nsecond\n"} =
             Task.await(run, 20_000)

    assert_receive {:sandbox_output, ^ref, "second\n"}
  end

  @tag :tmp_dir
  test "a function is called with each chunk as it arrives", %{tmp_dir: dir} do
    gate = Path.join(dir, "gate")
    test = self()
    on_output = fn chunk -> send(test, {:chunk, chunk}) end
    run = Task.async(fn -> Sandbox.run(gated_code(gate), on_output: on_output) end)

    assert_receive {:chunk, "first\n"}, 20_000
    File.write!(gate, "")
    assert {:ok, %{output: "first\nsecond\n", result: :done}} = Task.await(run, 20_000)
    assert_receive {:chunk, "second\n"}
  end

  test "streams everything while the result's output stays capped; setup output is not streamed" do
    test = self()

    assert {:ok, %{output: output}} =
             Sandbox.run(~S|IO.write(String.duplicate("x", 100_000))|,
               setup: ~S|IO.puts("setup")|,
               max_output: 10,
               on_output: &send(test, {:chunk, &1})
             )

    assert output =~ "showing first 10B"
    assert collect_chunks() == String.duplicate("x", 100_000)
  end

  test "printed line by line far past the cap, everything is streamed" do
    test = self()

    assert {:ok, %{output: output}} =
             Sandbox.run(~S|for i <- 1..20_000, do: IO.puts(i)|,
               max_output: 10,
               on_output: &send(test, {:chunk, &1})
             )

    assert output =~ "showing first 10B"
    assert collect_chunks() == Enum.map_join(1..20_000, &"#{&1}\n")
  end

  test "from a pool too" do
    pool = start_supervised!({Sandbox.Pool, size: 1}, id: make_ref())
    assert TestOS.eventually(fn -> Sandbox.Pool.status(pool).idle == 1 end, 20_000)
    test = self()
    Sandbox.run(~S|IO.puts("pooled")|, pool: pool, on_output: &send(test, {:chunk, &1}))
    assert collect_chunks() == "pooled\n"
  end

  @tag :tmp_dir
  test "what is printed while the pipe is left alone still arrives before the run ends",
       %{tmp_dir: dir} do
    gate = Path.join(dir, "gate")
    test = self()

    code = """
    IO.puts("one")
    IO.puts("two")
    Process.sleep(50)
    IO.puts("three")
    #{gated_code(gate)}
    """

    run = Task.async(fn -> Sandbox.execute(code, on_output: test) end)
    # The first line may wait for a boot; the rest comes within the run.
    printed = receive_output("one\n", 20_000, "")
    assert receive_output("first\n", 10_000, printed) == "one\ntwo\nthree\nfirst\n"
    assert Task.yield(run, 0) == nil, "the run had already ended"
    File.write!(gate, "")
    assert %Sandbox.Result{status: :ok, value: :done} = Task.await(run, 20_000)
  end

  # The host reads a run's output pipe, then leaves it for a millisecond,
  # so that a peer printing line after line does not wake it at every
  # line: those wake-ups cost more than the prints (the flood in `make
  # bench`). So at most about one read per millisecond of printing.
  test "lines printed back to back are read together, not each on its own" do
    test = self()
    lines = 3_000

    code = """
    started = System.monotonic_time(:microsecond)
    Enum.each(1..#{lines}, &IO.puts/1)
    System.monotonic_time(:microsecond) - started
    """

    assert {:ok, %{output: output, result: printing_us}} =
             Sandbox.run(code, on_output: &send(test, {:chunk, &1}), max_output: 100_000)

    chunks = collect_chunk_list()
    expected = Enum.map_join(1..lines, &"#{&1}\n")
    assert output == expected
    assert Enum.join(chunks) == expected

    # Twice the pace, and a few more for the first and last lines.
    bound = 2 * div(printing_us, 1000) + 10

    assert length(chunks) <= bound,
           "#{length(chunks)} reads for #{lines} lines printed in #{printing_us} µs"
  end

  test "an invalid :on_output raises" do
    assert_raise ArgumentError, ~r/:on_output/, fn -> Sandbox.run("1", on_output: :me) end

    assert_raise ArgumentError, ~r/:on_output/, fn ->
      Sandbox.run("1", on_output: fn -> :ok end)
    end
  end

  # `acc` and the chunks received after it, until they hold `line` or no
  # chunk has come for `ms`.
  defp receive_output(line, ms, acc) do
    if acc =~ line do
      acc
    else
      receive do
        {:sandbox_output, _ref, chunk} -> receive_output(line, ms, acc <> chunk)
      after
        ms -> acc
      end
    end
  end

  defp collect_chunk_list do
    receive do
      {:chunk, chunk} -> [chunk | collect_chunk_list()]
    after
      0 -> []
    end
  end

  defp collect_chunks, do: Enum.join(collect_chunk_list())
end
