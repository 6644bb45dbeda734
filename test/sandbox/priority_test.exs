defmodule Sandbox.PriorityTest do
  @moduledoc """
  VMs and everything they start run below the host's CPU priority
  (`config :sandbox, priority:`, default `:idle`, `SCHED_IDLE`), so that
  the host's own processes get the CPU when they wake; and without the
  host's terminal. Not async: it changes the setting.
  """
  use ExUnit.Case, async: false

  @sched_other 0
  @sched_idle 5

  # {niceness, policy} of the VM and of a program it starts: fields 19
  # and 41 of /proc/<pid>/stat (counted after the command's closing paren).
  @priorities ~S"""
  parse = fn text ->
    fields = text |> String.split(")") |> List.last() |> String.split()
    {String.to_integer(Enum.at(fields, 16)), String.to_integer(Enum.at(fields, 38))}
  end
  {parse.(File.read!("/proc/self/stat")), parse.(List.to_string(:os.cmd(~c"cat /proc/self/stat")))}
  """

  defp host_niceness do
    fields =
      "/proc/self/stat" |> File.read!() |> String.split(")") |> List.last() |> String.split()

    String.to_integer(Enum.at(fields, 16))
  end

  defp put_priority(value) do
    Application.put_env(:sandbox, :priority, value)
    on_exit(fn -> Application.delete_env(:sandbox, :priority) end)
  end

  test "by default the VM and what it starts run under SCHED_IDLE" do
    host = host_niceness()

    assert {:ok, %{result: {{^host, @sched_idle}, {^host, @sched_idle}}}} =
             Sandbox.run(@priorities, pool: false)
  end

  test "priority: n runs them n steps of niceness below the host; 0 at the host's priority" do
    host = host_niceness()
    put_priority(0)

    assert {:ok, %{result: {{^host, @sched_other}, {^host, @sched_other}}}} =
             Sandbox.run(@priorities, pool: false)

    put_priority(4)
    expected = min(host + 4, 19)

    assert {:ok, %{result: {{^expected, @sched_other}, {^expected, @sched_other}}}} =
             Sandbox.run(@priorities, pool: false)
  end

  # The cgroup of the cgroup v1 `cpu` hierarchy a process is in, from its
  # /proc/<pid>/cgroup text, or nil on a host without one.
  defp cpu_cgroup(text) do
    Enum.find_value(String.split(text, "\n", trim: true), fn line ->
      [_id, controllers, path] = String.split(line, ":", parts: 3)
      if "cpu" in String.split(controllers, ","), do: path
    end)
  end

  defp vm_cpu_cgroup do
    {:ok, %{result: text}} = Sandbox.run(~S|File.read!("/proc/self/cgroup")|, pool: false)
    cpu_cgroup(text)
  end

  test "by default, where the host may write a cgroup v1 cpu hierarchy, VMs share one idle CPU cgroup beside the host's" do
    host = cpu_cgroup(File.read!("/proc/self/cgroup"))

    # A host such as CI's: root, with the cpu hierarchy where systemd and
    # Debian mount it, on a kernel with cpu.idle (5.15+).
    if host && Sandbox.TestOS.root?() && File.exists?("/sys/fs/cgroup/cpu/cpu.idle") do
      expected = Path.join(host, "sandbox-idle")
      assert vm_cpu_cgroup() == expected
      dir = Path.join("/sys/fs/cgroup/cpu", expected)
      assert File.read!(Path.join(dir, "cpu.idle")) == "1\n"
    else
      # Nowhere to make the group: the VM stays where the host is.
      assert vm_cpu_cgroup() == host
    end
  end

  test "with priority: n or cgroup: false, VMs stay in the host's CPU cgroup" do
    host = cpu_cgroup(File.read!("/proc/self/cgroup"))
    put_priority(3)
    assert vm_cpu_cgroup() == host

    Application.delete_env(:sandbox, :priority)
    Application.put_env(:sandbox, :cgroup, false)
    on_exit(fn -> Application.delete_env(:sandbox, :cgroup) end)
    assert vm_cpu_cgroup() == host
  end

  test "a setting other than :idle or 0..19 is refused before anything starts" do
    for bad <- [20, -1, :low] do
      put_priority(bad)

      assert_raise ArgumentError, ~r/:priority must be :idle or an integer from 0 to 19/, fn ->
        Sandbox.run("1", pool: false)
      end
    end
  end
end
