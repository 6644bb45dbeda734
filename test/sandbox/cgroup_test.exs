defmodule Sandbox.CgroupTest do
  @moduledoc """
  Which way a run's tree is killed, and the strongest one: a cgroup v2 per
  run, killed whole by cgroup.kill. The machines here have only cgroup v1
  mounted, so the test mounts a cgroup2 hierarchy of its own (root only).
  """
  # Changes the application's configuration: not async.
  use ExUnit.Case, async: false

  alias Sandbox.{TestCode, TestOS}

  @moduletag :tmp_dir

  test "false turns cgroups off: the process group and the subreaper do it" do
    Sandbox.TestConfig.put_cgroup(false)
    assert %{tree_kill: :subreaper, cgroup_parent: nil} = Sandbox.info()
  end

  test "a directory that is not a cgroup v2 falls back to the subreaper", %{tmp_dir: dir} do
    Sandbox.TestConfig.put_cgroup(dir)
    assert %{tree_kill: :subreaper, cgroup_parent: nil} = Sandbox.info()
    assert {:ok, %{result: 2}} = Sandbox.run("1 + 1")
    assert File.ls!(dir) == []
  end

  # With nothing configured, run cgroups go below the host's own cgroup
  # v2: found from /proc/self/cgroup and the mount that holds it. Seen
  # from inside the run, its cgroup is below the host's.
  test "by default (:auto), where root finds a cgroup v2 mount, a run's cgroup is below the host's own" do
    Sandbox.TestConfig.put_cgroup(:auto)
    host = v2_cgroup(File.read!("/proc/self/cgroup"))
    {:ok, %{result: text}} = Sandbox.run(~S|File.read!("/proc/self/cgroup")|, pool: false)
    vm = v2_cgroup(text)

    if TestOS.root?() and File.read!("/proc/self/mountinfo") =~ " - cgroup2 " do
      assert vm != host
      assert String.starts_with?(vm, String.trim_trailing(host, "/") <> "/")
    else
      assert vm == host
    end
  end

  defp v2_cgroup(text) do
    [_, path] = Regex.run(~r/^0::(\S+)$/m, text)
    path
  end

  test "info names the executables a run starts" do
    info = Sandbox.info()
    assert File.exists?(info.erl) and File.exists?(info.helper)
  end

  # Mounts a cgroup2 hierarchy in dir and makes runs use a directory of
  # its own there until the test ends. There is one cgroup2 hierarchy,
  # whatever the mount: a directory of the test's own keeps other sandbox
  # users' cgroups out of its sight.
  defp own_cgroup_parent!(dir) do
    mount = Path.join(dir, "cgroup2")
    File.mkdir_p!(mount)
    {_, 0} = System.cmd("mount", ["-t", "cgroup2", "none", mount])
    parent = Path.join(mount, "sandbox-test-#{System.unique_integer([:positive])}")
    File.mkdir!(parent)

    # A helper removes its run's cgroup just after the run has answered:
    # give it that moment before the mount goes.
    on_exit(fn ->
      TestOS.eventually(fn -> File.rmdir(parent) == :ok end, 5_000)
      System.cmd("umount", [mount])
    end)

    Sandbox.TestConfig.put_cgroup(parent)
    assert %{tree_kill: :cgroup_v2, cgroup_parent: ^parent} = Sandbox.info()
    parent
  end

  # A helper killed by SIGKILL cannot remove its run's cgroup; the next
  # helper given its pid (pid_max may be 32768) would then find the name
  # taken. Once CI saw runs go without a cgroup that way.
  @tag :root
  test "the cgroups of helpers no longer alive are removed, those in use are not", %{
    tmp_dir: dir
  } do
    mount = Path.join(dir, "cgroup2")
    File.mkdir_p!(mount)
    {_, 0} = System.cmd("mount", ["-t", "cgroup2", "none", mount])
    parent = Path.join(mount, "sandbox-test-#{System.unique_integer([:positive])}")
    pid_max = "/proc/sys/kernel/pid_max" |> File.read!() |> String.trim() |> String.to_integer()
    gone = Path.join(parent, "sandbox-run-#{pid_max + 1}")
    strict_gone = Path.join([parent, "sandbox-strict-65534", "sandbox-run-#{pid_max + 2}"])
    alive = Path.join(parent, "sandbox-run-#{System.pid()}")
    other = Path.join(parent, "sandbox-other-#{pid_max + 1}")
    Enum.each([gone, strict_gone, alive, other], &File.mkdir_p!/1)

    on_exit(fn ->
      for cgroup <- [gone, strict_gone, alive, other, Path.dirname(strict_gone)],
          do: File.rmdir(cgroup)

      # The run's helper removes its cgroup just after the run has answered.
      TestOS.eventually(fn -> File.rmdir(parent) == :ok end, 5_000)
      System.cmd("umount", [mount])
    end)

    Sandbox.TestConfig.put_cgroup(parent)
    assert %{cgroup_parent: ^parent} = Sandbox.info()
    refute File.exists?(gone)
    refute File.exists?(strict_gone)
    assert File.exists?(alive) and File.exists?(other)
    assert {:ok, %{result: 2}} = Sandbox.run("1 + 1")
  end

  @tag :root
  test "on a cgroup v2 hierarchy each run gets a cgroup of its own, killed whole", %{tmp_dir: dir} do
    parent = own_cgroup_parent!(dir)

    assert {:ok, %{result: cgroup}} = Sandbox.run(~S|File.read!("/proc/self/cgroup")|)
    assert cgroup =~ ~r{^0::/sandbox-test-\d+/sandbox-run-\d+$}m

    marker = "sandbox-cgroup-tree-#{System.unique_integer([:positive])}"
    assert {:ok, %{result: forking}} = Sandbox.run(TestCode.fork_tree(marker))
    assert forking >= 31
    TestCode.assert_marked_gone(marker, 1_000)

    run_cgroups = fn ->
      parent |> File.ls!() |> Enum.filter(&String.starts_with?(&1, "sandbox-"))
    end

    assert TestOS.eventually(fn -> run_cgroups.() == [] end, 2_000),
           "left: #{inspect(run_cgroups.())}"
  end

  # A reader in a session of its own, whose pipe's writer is in another:
  # killed one after the other (the process group and the subreaper do it
  # that way), the reader sees EOF and writes `saw` before its turn comes;
  # killed at once by cgroup.kill, it never runs again.
  @tag :root
  test "cgroup.kill ends the whole tree at once: no process of the run sees another die",
       %{tmp_dir: dir} do
    own_cgroup_parent!(dir)

    for i <- 1..3 do
      run_dir = Path.join(dir, "run#{i}")
      File.mkdir!(run_dir)
      [tree, ready, saw] = Enum.map(~w(tree.sh ready saw), &Path.join(run_dir, &1))

      File.write!(tree, """
      sleep 1000 | setsid sh -c 'setsid sh -c "echo > #{ready}; cat >/dev/null; echo > #{saw}"'
      """)

      code = """
      :os.cmd(~c"sh #{tree} >/dev/null 2>&1 &")
      wait = fn wait -> if File.exists?("#{ready}"), do: :ready, else: (Process.sleep(10); wait.(wait)) end
      wait.(wait)
      """

      # execute/2 returns once the helper has reaped the whole tree.
      assert %Sandbox.Result{status: :ok, value: :ready} = Sandbox.execute(code)
      refute File.exists?(saw), "run #{i}: a process saw another of the run die before it"
    end
  end
end
