defmodule Sandbox.CaptureStartTest do
  @moduledoc """
  Where a run's output begins: after whatever its VM printed while it
  booted and waited, whether the capture begins at 'C' (after a setup, or
  on a VM launched for its run) or at the submit (`capture_early`: a warm
  VM, no setup, no capture round trip). Fake peers (`/bin/sh` in place of
  `erl`) speak the frame protocol with printf.
  """
  use ExUnit.Case, async: true

  alias Sandbox.Native

  # Says it booted (a 'B' frame and a pid), printing before and after.
  @booted ~S"printf 'booting\n'; printf '\000\000\000\002B1' >&4; printf 'waiting\n'"
  # Takes its request (4-byte length + "request") and says 'S'.
  @take ~S"head -c 11 <&3 >/dev/null"
  @started ~S"printf '\000\000\000\001S' >&4"
  # 'C', then the host's 'G' (4-byte length + tag) taken.
  @capturing ~S"printf '\000\000\000\001C' >&4; head -c 5 <&3 >/dev/null"
  @result ~S"printf '\000\000\000\002Rx' >&4; sleep 5"

  # A fake peer that has booted (the pool's kind), and its ref.
  defp booted_peer(script) do
    ref = make_ref()
    helper = Path.join(:code.priv_dir(:sandbox), "sandbox_helper")
    env = ["PATH=/usr/bin:/bin"]
    {:ok, run} = Native.spawn(helper, ["-", "/bin/sh", "-c", script], env, ref, 10_000)
    assert_receive {:sandbox, ^ref, {:ready, _os_pid}}, 10_000
    # What it prints once booted is in the pipe before the submit.
    Process.sleep(200)
    {run, ref}
  end

  # The outcome, and what was streamed before it.
  defp submit({run, ref}, early?) do
    terms =
      Sandbox.TestNative.terms(10_000, 1_000)
      |> Map.merge(%{capture_early: early?, stream_to: self()})

    :ok = Native.submit(run, "request", terms)
    assert_receive {:sandbox, ^ref, outcome}, 15_000
    {outcome, streamed(ref, "")}
  end

  defp streamed(ref, acc) do
    receive do
      {:sandbox_output, ^ref, chunk} -> streamed(ref, acc <> chunk)
    after
      0 -> acc
    end
  end

  test "captured early, the output is all that was printed after the submit, before 'S' too" do
    script = "#{@booted}; #{@take}; printf 'code\n'; #{@started}; printf 'more\n'; #{@result}"
    {outcome, streamed} = script |> booted_peer() |> submit(true)
    assert outcome == {:ok, "x", "code\nmore\n"}
    # Streamed too, all of it, even what is read before the 'S' is.
    assert streamed == "code\nmore\n"
  end

  test "captured at 'C', what the setup printed goes as well" do
    script =
      "#{@booted}; #{@take}; #{@started}; printf 'setup\n'; #{@capturing}; printf 'code\n'; #{@result}"

    assert {{:ok, "x", "code\n"}, "code\n"} = script |> booted_peer() |> submit(false)
  end

  test "captured early, a 'C' breaks the protocol" do
    script = "#{@booted}; #{@take}; #{@started}; #{@capturing}; #{@result}"
    assert {{:noconnection, _output, _exit}, _} = script |> booted_peer() |> submit(true)
  end
end
