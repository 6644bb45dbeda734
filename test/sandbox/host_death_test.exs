defmodule Sandbox.HostDeathTest do
  @moduledoc """
  A host VM killed with SIGKILL in the middle of a run takes the run with
  it: the helper gets its parent-death signal (and EOF on its orders pipe)
  and kills the tree. The host runs under a test-only reaper that stands in
  for an init that reaps (PID 1 here does not), so "gone" means reaped.
  """
  use ExUnit.Case, async: false

  alias Sandbox.TestOS

  @moduletag :tmp_dir
  @moduletag timeout: 120_000

  @root Path.expand("../..", __DIR__)

  for setting <- [:auto, false] do
    test "SIGKILL of the host mid-run, cgroup: #{inspect(setting)}: the run's tree is gone within 1 s",
         %{tmp_dir: dir} do
      host_dies_mid_run(dir, unquote(setting), fn _host, _helper -> :ok end)
    end
  end

  # Another process holding the orders pipe's write end keeps the helper
  # from seeing EOF when the host dies: the parent-death signal alone must
  # end the run.
  test "SIGKILL of the host mid-run with its orders pipe held open elsewhere: the parent-death signal ends the run",
       %{tmp_dir: dir} do
    host_dies_mid_run(dir, :auto, &hold_orders_pipe/2)
  end

  defp hold_orders_pipe(host, helper) do
    {:ok, orders} = File.read_link("/proc/#{helper}/fd/#{Sandbox.Protocol.fd_orders()}")
    assert "pipe:" <> _ = orders

    [host_end] =
      for fd <- File.ls!("/proc/#{host}/fd"),
          File.read_link("/proc/#{host}/fd/#{fd}") == {:ok, orders},
          do: fd

    holder =
      Port.open({:spawn_executable, "/bin/sh"}, [
        :binary,
        args: ["-c", "exec 3>/proc/#{host}/fd/#{host_end}; echo held; exec sleep 1000"]
      ])

    assert_receive {^holder, {:data, "held\n"}}, 5_000
    {:os_pid, holder_pid} = Port.info(holder, :os_pid)
    # When the test ends, pass or fail: the helper then sees EOF at last.
    on_exit(fn -> System.cmd("kill", ["-KILL", Integer.to_string(holder_pid)]) end)
  end

  defp host_dies_mid_run(dir, cgroup_setting, before_kill) do
    {_, 0} = System.cmd("make", ["-s", "-C", @root, "_build/native/reaper"])

    [host_file, pids_file, code_file, script] =
      Enum.map(~w(host pids code.exs host.exs), &Path.join(dir, &1))

    File.write!(
      code_file,
      Sandbox.TestCode.orphan_spawner() <>
        ~s"""
        pids = [System.pid(), spawn_orphan.(""), spawn_orphan.("setsid")]
        File.write!(#{inspect(pids_file)}, Enum.join(pids, " "))
        Process.sleep(:infinity)
        """
    )

    File.write!(script, """
    Application.put_env(:sandbox, :cgroup, #{inspect(cgroup_setting)})
    File.write!(#{inspect(host_file)}, System.pid())
    Sandbox.run(File.read!(#{inspect(code_file)}), timeout: 60_000)
    """)

    paths = Enum.flat_map(:code.get_path(), &["-pa", List.to_string(&1)])

    port =
      Port.open(
        {:spawn_executable, Path.join(@root, "_build/native/reaper")},
        [
          :binary,
          :exit_status,
          :stderr_to_stdout,
          args: [System.find_executable("elixir") | paths] ++ [script]
        ]
      )

    [peer, child, escaped] = TestOS.read_pids(pids_file, 3, 60_000)
    host = host_file |> File.read!() |> String.to_integer()
    helper = TestOS.stat(peer).ppid
    assert Enum.all?([host, helper, peer, child, escaped], &TestOS.alive?/1)
    before_kill.(host, helper)

    {_, 0} = System.cmd("kill", ["-KILL", Integer.to_string(host)])

    assert TestOS.eventually(
             fn -> Enum.all?([helper, peer, child, escaped], &(TestOS.stat(&1) == nil)) end,
             1_000
           ),
           "left: #{inspect(Enum.filter([helper, peer, child, escaped], &TestOS.stat/1))}"

    # The reaper exits once nothing at all is left below it.
    assert_receive {^port, {:exit_status, _}}, 10_000
  end
end
