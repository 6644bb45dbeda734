defmodule Sandbox.PeerProcessTest do
  @moduledoc """
  The state a peer starts in, how its end is known, and the completeness of
  its output. Fake peers (`/bin/sh` in place of `erl`) print what the peer
  process itself sees; their output comes back with the boot failure.
  """
  use ExUnit.Case, async: true

  alias Sandbox.{Native, TestOS}

  defp fake_peer(script) do
    ref = make_ref()
    helper = Path.join(:code.priv_dir(:sandbox), "sandbox_helper")

    {:ok, run} =
      Native.spawn(
        helper,
        ["-", "/bin/sh", "-c", script],
        ["PATH=/usr/bin:/bin"],
        ref,
        10_000
      )

    :ok = Native.submit(run, "request", Sandbox.TestNative.terms(10_000, 100_000))
    assert_receive {:sandbox, ^ref, outcome}, 15_000
    outcome
  end

  test "starts with every signal at its default and none blocked" do
    assert {:boot_failed, :exited, output, {:exit_status, 0}} =
             fake_peer("exec grep -E '^Sig(Blk|Ign)' /proc/self/status")

    assert output == "SigBlk:\t0000000000000000\nSigIgn:\t0000000000000000\n"
  end

  test "holds only its own fds: /dev/null, the output pipe twice, its two channels, its page" do
    assert {:boot_failed, :exited, output, {:exit_status, 0}} =
             fake_peer("exec ls -l /proc/self/fd")

    fds =
      for line <- String.split(output, "\n"),
          [_, fd, target] <- [Regex.run(~r/ (\d+) -> (.+)$/, line)],
          # ls's own handle on the directory it lists
          not String.starts_with?(target, "/proc/"),
          into: %{},
          do: {String.to_integer(fd), target}

    page = Sandbox.Protocol.fd_guest_unwritten()
    assert Map.keys(fds) |> Enum.sort() == Enum.sort([0, 1, 2, 3, 4, page])
    assert fds[0] == "/dev/null"
    assert fds[1] == fds[2]
    assert Enum.all?([1, 3, 4], &String.starts_with?(fds[&1], "pipe:"))
    assert length(Enum.uniq([fds[1], fds[3], fds[4]])) == 3
    # The page where it counts output past the cap: a memfd of its own.
    assert fds[page] =~ ~r"^/memfd:sandbox_unwritten"
  end

  test "its exit status or the signal that ended it is known" do
    assert {:boot_failed, :exited, _, {:exit_status, 3}} = fake_peer("exit 3")
    assert {:boot_failed, :exited, _, {:signal, 9}} = fake_peer("kill -KILL $$")
    assert {:boot_failed, :exited, _, {:signal, 15}} = fake_peer("kill -TERM $$")
  end

  test "a peer that ignores SIGTERM is removed at the deadline" do
    code = ~S"""
    :os.set_signal(:sigterm, :ignore)
    IO.puts(System.pid())
    Process.sleep(:infinity)
    """

    assert {:error, :timeout, %{output: output}} = Sandbox.run(code, timeout: 1_000)
    peer = output |> String.trim() |> String.to_integer()
    assert TestOS.eventually(fn -> TestOS.stat(peer) == nil end, 1_000)
  end

  test "output is complete when a descendant holds the output pipe open: it is killed, then drained" do
    code = ~S"""
    # stdout to stderr: holding the output pipe, not System.cmd's own.
    System.cmd("sh", ["-c", "sleep 120 >&2 &"])
    IO.write(String.duplicate("d", 2_000_000))
    System.halt(0)
    """

    {microseconds, result} = :timer.tc(fn -> Sandbox.run(code, max_output: :infinity) end)
    assert {:error, :noconnection, %{output: output}} = result
    assert byte_size(output) == 2_000_000
    # Far from the descendant's 120 s, with room for a slow boot on a loaded machine.
    assert microseconds < 30_000_000, "waited for the descendant instead of killing it"
  end

  # 32 MB take the host tens of milliseconds to drain through the pipe,
  # far longer than the halt: a write answered before its bytes are in the
  # pipe loses most of them every time, not once in a while.
  test "output is complete when the VM ends the instant after writing it" do
    code = ~S|IO.write(String.duplicate("w", 32_000_000)); System.halt(0)|

    assert {:error, :noconnection, %{output: output}} = Sandbox.run(code, max_output: :infinity)

    assert byte_size(output) == 32_000_000
  end
end
