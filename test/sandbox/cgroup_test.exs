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

  test "info names the executables a run starts" do
    info = Sandbox.info()
    assert File.exists?(info.erl) and File.exists?(info.helper)
  end

  @tag :root
  test "on a cgroup v2 hierarchy each run gets a cgroup of its own, killed whole", %{tmp_dir: dir} do
    mount = Path.join(dir, "cgroup2")
    File.mkdir_p!(mount)
    {_, 0} = System.cmd("mount", ["-t", "cgroup2", "none", mount])
    # There is one cgroup2 hierarchy, whatever the mount: a directory of
    # this test's own keeps other sandbox users' cgroups out of its sight.
    parent = Path.join(mount, "sandbox-test-#{System.unique_integer([:positive])}")
    File.mkdir!(parent)

    on_exit(fn ->
      File.rmdir(parent)
      System.cmd("umount", [mount])
    end)

    Sandbox.TestConfig.put_cgroup(parent)
    assert %{tree_kill: :cgroup_v2, cgroup_parent: ^parent} = Sandbox.info()

    assert {:ok, %{result: cgroup}} = Sandbox.run(~S|File.read!("/proc/self/cgroup")|)
    assert cgroup =~ ~r{^0::/sandbox-test-\d+/sandbox-run-\d+$}m

    marker = "sandbox-cgroup-tree-#{System.unique_integer([:positive])}"
    assert {:ok, %{result: forking}} = Sandbox.run(TestCode.fork_tree(marker))
    assert forking >= 31
    assert TestOS.eventually(fn -> TestCode.marked_processes(marker) == [] end, 1_000)

    run_cgroups = fn ->
      parent |> File.ls!() |> Enum.filter(&String.starts_with?(&1, "sandbox-"))
    end

    assert TestOS.eventually(fn -> run_cgroups.() == [] end, 2_000),
           "left: #{inspect(run_cgroups.())}"
  end
end
