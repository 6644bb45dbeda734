defmodule Sandbox.HostilePeerTest do
  @moduledoc """
  A peer that misbehaves on its channels gets :noconnection (or truncated
  output), never a host crash, a hang or an unbounded allocation. Some
  cases go through the real API (code in a run can write to the peer's
  frame channel, fd 4); others use a fake peer: `/bin/sh` started by the
  helper in place of `erl`, speaking the frame protocol with printf.
  """
  use ExUnit.Case, async: true

  alias Sandbox.{Native, TestOS}

  @moduletag :tmp_dir

  # Frames as sh's printf writes them: 4-byte big-endian length, then the tag.
  # A peer says it is booted ("B" and its OS pid), takes its request
  # (4-byte length + "request"), then says "S".
  @started ~S"printf '\000\000\000\002B1' >&4; head -c 11 <&3 >/dev/null; printf '\000\000\000\001S' >&4"
  @capturing ~S"printf '\000\000\000\001C' >&4"

  defp fake_peer(script, opts \\ []) do
    ref = make_ref()
    helper = Path.join(:code.priv_dir(:sandbox), "sandbox_helper")
    max_output = Keyword.get(opts, :max_output, 1_000)
    boot_timeout = Keyword.get(opts, :boot_timeout, 10_000)
    env = ["PATH=/usr/bin:/bin"]

    {:ok, run} = Native.spawn(helper, ["-", "/bin/sh", "-c", script], env, ref, boot_timeout)

    :ok =
      Native.submit(
        run,
        Keyword.get(opts, :request, "request"),
        Sandbox.TestNative.terms(Keyword.get(opts, :timeout, 10_000), max_output)
      )

    {microseconds, outcome} = :timer.tc(fn -> await_outcome(ref) end)

    {outcome, div(microseconds, 1000)}
  end

  # A fake peer may say "B" before the submit arrives: that is :ready.
  defp await_outcome(ref) do
    receive do
      {:sandbox, ^ref, {:ready, _os_pid}} -> await_outcome(ref)
      {:sandbox, ^ref, outcome} -> outcome
    after
      30_000 -> :no_answer
    end
  end

  defp read_pid(path) do
    TestOS.eventually(fn -> File.exists?(path) end, 5_000)
    path |> File.read!() |> String.trim() |> String.to_integer()
  end

  defp gone?(pid), do: TestOS.eventually(fn -> TestOS.stat(pid) == nil end, 1_000)

  describe "through the real API" do
    test "a 4 GB frame length on the frame channel" do
      code = ~S"""
      port = Port.open({:fd, 0, 4}, [:out, :binary])
      IO.puts("before")
      Port.command(port, <<255, 255, 255, 255>>)
      Process.sleep(:infinity)
      """

      # Well before the timeout, with room for a slow boot on a loaded machine.
      {microseconds, result} = :timer.tc(fn -> Sandbox.run(code, timeout: 45_000) end)
      assert result == {:error, :noconnection, %{output: "before\n"}}
      assert microseconds < 30_000_000
    end

    test "a frame with an unknown tag" do
      code = ~S"""
      port = Port.open({:fd, 0, 4}, [:out, :binary])
      Port.command(port, <<0, 0, 0, 3, "XYZ">>)
      Process.sleep(:infinity)
      """

      assert {:error, :noconnection, _} = Sandbox.run(code, timeout: 30_000)
    end

    test "a result frame that is not a term" do
      code = ~S"""
      port = Port.open({:fd, 0, 4}, [:out, :binary])
      Port.command(port, <<0, 0, 0, 3, "R", 1, 2>>)
      Process.sleep(:infinity)
      """

      assert {:error, :noconnection, _} = Sandbox.run(code, timeout: 30_000)
    end
  end

  describe "a fake peer" do
    test "that sends garbage while booting is refused as not a sandbox peer", %{tmp_dir: dir} do
      pid_file = Path.join(dir, "pid")
      script = ~s"echo $$ > #{pid_file}; printf '\\000\\000\\000\\003XYZ' >&4; exec sleep 30"
      {outcome, ms} = fake_peer(script)
      assert {:boot_failed, :protocol, _, _} = outcome
      assert ms < 5_000
      assert gone?(read_pid(pid_file))
    end

    test "that says it is booted wrongly, or starts without saying so, is refused" do
      booted_twice = ~S"printf '\000\000\000\002B1\000\000\000\002B1' >&4"

      for script <- [
            # no pid, a pid that is not a number, a zero pid, an 11-digit pid
            ~S"printf '\000\000\000\001B' >&4",
            ~S"printf '\000\000\000\003Bxy' >&4",
            ~S"printf '\000\000\000\002B0' >&4",
            ~S"printf '\000\000\000\014B12345678901' >&4",
            booted_twice,
            # "S" for a request taken before saying "B"
            ~S"head -c 11 <&3 >/dev/null; printf '\000\000\000\001S' >&4"
          ] do
        {outcome, ms} = fake_peer(script <> "; exec sleep 30")
        assert {:boot_failed, :protocol, _, _} = outcome, script
        assert ms < 5_000
      end
    end

    test "that announces a 4 GB frame and sends no more", %{tmp_dir: dir} do
      pid_file = Path.join(dir, "pid")

      script =
        ~s"echo $$ > #{pid_file}; #{@started}; #{@capturing}; printf '\\377\\377\\377\\377' >&4; exec sleep 30"

      {outcome, ms} = fake_peer(script)
      assert {:noconnection, _, _} = outcome
      assert ms < 5_000
      assert gone?(read_pid(pid_file))
    end

    test "that closes its frame channel early", %{tmp_dir: dir} do
      pid_file = Path.join(dir, "pid")
      script = ~s"echo $$ > #{pid_file}; #{@started}; #{@capturing}; exec 4>&-; exec sleep 30"
      {outcome, ms} = fake_peer(script)
      assert {:noconnection, _, _} = outcome
      assert ms < 5_000
      assert gone?(read_pid(pid_file))
    end

    test "that floods output faster than it can be read gets it truncated" do
      script = "#{@started}; #{@capturing}; sleep 0.2; head -c 100000000 /dev/zero; exec sleep 30"
      {outcome, _ms} = fake_peer(script, timeout: 3_000, max_output: 1_000)
      assert {:timeout, output} = outcome
      assert byte_size(output) < 1_100
      assert output =~ ~r/showing first 1000B of \d+\.\dMB\)\z/
    end

    test "that never reads a large request is given up at the boot deadline" do
      request = :binary.copy("q", 10_000_000)
      {outcome, ms} = fake_peer("exec sleep 30", request: request, boot_timeout: 1_000)
      assert {:boot_failed, :timeout, _, _} = outcome
      assert ms < 5_000
    end
  end
end
