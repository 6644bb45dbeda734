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

  defp put_cgroup(value) do
    Application.put_env(:sandbox, :cgroup, value)
    on_exit(fn -> Application.delete_env(:sandbox, :cgroup) end)
  end

  test "by default the VM and what it starts run under SCHED_IDLE" do
    host = host_niceness()
    # Without the idle CPU cgroup, SCHED_IDLE alone keeps the VM below the
    # host, booted or not (see the booted VM's test below).
    put_cgroup(false)

    assert {:ok, %{result: {{^host, @sched_idle}, {^host, @sched_idle}}}} =
             Sandbox.run(@priorities, pool: false)
  end

  # {niceness, policy} of each thread of an OS process, and of its
  # children's main threads, read from the host.
  defp thread_priorities(os_pid) do
    tasks = Path.wildcard("/proc/#{os_pid}/task/*/stat")
    children = "/proc/#{os_pid}/task/*/children" |> Path.wildcard() |> Enum.map(&File.read!/1)
    child_pids = children |> Enum.join(" ") |> String.split()
    stat = fn path -> parse_stat(File.read!(path)) end
    {Enum.map(tasks, stat), Enum.map(child_pids, &stat.("/proc/#{&1}/stat"))}
  end

  defp parse_stat(text) do
    fields = text |> String.split(")") |> List.last() |> String.split()
    {String.to_integer(Enum.at(fields, 16)), String.to_integer(Enum.at(fields, 38))}
  end

  # The helper takes the order a moment after the pool hears of the boot.
  defp eventually(fun, tries \\ 100) do
    value = fun.()

    if elem(value, 0) or tries == 0,
      do: value,
      else:
        (
          Process.sleep(50)
          eventually(fun, tries - 1)
        )
  end

  # The OS pid a booted pool VM reports (in a strict box: in its own pid
  # namespace).
  defp booted_pool_vm(opts \\ []) do
    {:ok, pool} = Sandbox.Pool.start_link([size: 1] ++ opts)
    on_exit(fn -> if Process.alive?(pool), do: GenServer.stop(pool) end)

    {true, [os_pid]} =
      eventually(fn ->
        {Sandbox.Pool.status(pool).idle == 1, Sandbox.Pool.status(pool).idle_os_pids}
      end)

    os_pid
  end

  # In the idle CPU cgroup, a booted VM's threads at nice 19 under the
  # normal policy, and erl_child_setup (which forks every program the run
  # starts) under SCHED_IDLE; with no group to keep the VM below the host,
  # all of it under SCHED_IDLE. Returns whether there was a group.
  defp assert_booted_priorities(os_pid) do
    host = host_niceness()

    if Sandbox.IdleGroup.dir() do
      {true, {threads, children}} =
        eventually(fn ->
          {threads, _} = now = thread_priorities(os_pid)
          {Enum.all?(threads, &(&1 == {19, @sched_other})), now}
        end)

      assert length(threads) > 1
      assert [_ | _] = children
      assert Enum.all?(children, &(&1 == {host, @sched_idle}))
      true
    else
      Process.sleep(200)
      {threads, _} = thread_priorities(os_pid)
      assert Enum.all?(threads, &(&1 == {host, @sched_idle}))
      false
    end
  end

  test "in the idle CPU cgroup a booted VM's threads leave SCHED_IDLE for nice 19; what it started stays under SCHED_IDLE" do
    assert_booted_priorities(booted_pool_vm())
  end

  # Fields of /proc/<pid>/status, each as its list of words.
  defp status_fields(os_pid) do
    case File.read("/proc/#{os_pid}/status") do
      {:ok, text} ->
        for line <- String.split(text, "\n", trim: true), into: %{} do
          [key, value] = String.split(line, ":", parts: 2)
          {key, String.split(value)}
        end

      {:error, _} ->
        %{}
    end
  end

  # The OS processes from `os_pid` up to the first one, `os_pid` first.
  defp ancestry(os_pid) do
    Stream.unfold(os_pid, fn
      pid when pid in [0, 1] -> nil
      pid -> {pid, (Sandbox.TestOS.stat(pid) || %{ppid: 0}).ppid}
    end)
    |> Enum.to_list()
  end

  # A strict pool's VM reports its pid in its box's pid namespace: the
  # process this host started (through a helper and bubblewrap) whose
  # innermost pid it is, and that process's helper (the host's child).
  defp strict_vm(ns_pid) do
    host = String.to_integer(System.pid())
    inner = Integer.to_string(ns_pid)

    Enum.find_value(Sandbox.TestOS.pids(), fn pid ->
      fields = status_fields(pid)

      with ["beam.smp"] <- fields["Name"],
           [_, ^inner] <- fields["NSpid"],
           {below_host, [^host | _]} <- Enum.split_while(ancestry(pid), &(&1 != host)) do
        {pid, List.last(below_host)}
      else
        _ -> nil
      end
    end)
  end

  test "in a strict box too, a booted VM's threads leave SCHED_IDLE for nice 19 (its helper keeps CAP_SYS_NICE alone); what it started stays under SCHED_IDLE" do
    ns_pid = booted_pool_vm(isolation: :strict)
    assert {os_pid, helper} = strict_vm(ns_pid)
    assert os_pid != ns_pid

    if assert_booted_priorities(os_pid) do
      # The box's user, with CAP_SYS_NICE (bit 23) and nothing else.
      assert %{"Uid" => [uid | _], "CapEff" => [eff], "CapPrm" => [prm]} = status_fields(helper)
      assert uid != "0"
      assert {eff, prm} == {"0000000000800000", "0000000000800000"}
    end
  end

  test "with cgroup: false a booted VM stays under SCHED_IDLE" do
    host = host_niceness()
    put_cgroup(false)
    os_pid = booted_pool_vm()
    # Long enough for the order to be carried out, were it to be.
    Process.sleep(300)
    {threads, children} = thread_priorities(os_pid)
    assert length(threads) > 1
    assert Enum.all?(threads ++ children, &(&1 == {host, @sched_idle}))
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
    put_cgroup(false)
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
