defmodule Sandbox.PriorityTest do
  @moduledoc """
  VMs and everything they start run below the host's priority (`config
  :sandbox, nice: n`, default 10), so that the host's own processes get
  the CPU when they wake. Not async: it changes the setting.
  """
  use ExUnit.Case, async: false

  # Field 19 of /proc/<pid>/stat, after the command name's closing paren.
  @niceness ~S"""
  read = fn path -> path |> File.read!() |> String.split(")") |> List.last() |> String.split() |> Enum.at(16) |> String.to_integer() end
  child = :os.cmd(~c"cat /proc/self/stat") |> List.to_string() |> String.split(")") |> List.last() |> String.split() |> Enum.at(16) |> String.to_integer()
  {read.("/proc/self/stat"), child}
  """

  defp host_niceness do
    "/proc/self/stat"
    |> File.read!()
    |> String.split(")")
    |> List.last()
    |> String.split()
    |> Enum.at(16)
    |> String.to_integer()
  end

  defp put_nice(value) do
    Application.put_env(:sandbox, :nice, value)
    on_exit(fn -> Application.delete_env(:sandbox, :nice) end)
  end

  test "by default the VM and what it starts run 10 steps below the host" do
    expected = min(host_niceness() + 10, 19)
    assert {:ok, %{result: {^expected, ^expected}}} = Sandbox.run(@niceness, pool: false)
  end

  test "config :sandbox, nice: n sets the step; 0 runs VMs at the host's priority" do
    put_nice(0)
    host = host_niceness()
    assert {:ok, %{result: {^host, ^host}}} = Sandbox.run(@niceness, pool: false)

    put_nice(4)
    expected = min(host + 4, 19)
    assert {:ok, %{result: {^expected, ^expected}}} = Sandbox.run(@niceness, pool: false)
  end

  test "a setting outside 0..19 is refused before anything starts" do
    put_nice(20)

    assert_raise ArgumentError, ~r/:nice must be an integer from 0 to 19/, fn ->
      Sandbox.run("1", pool: false)
    end
  end
end
