defmodule Sandbox.BootRetryTest do
  @moduledoc """
  A VM killed from outside before it has booted (an OOM kill, an
  operator's `kill`) is replaced once, transparently; a second one so
  killed raises `Sandbox.BootError`. Not async: a killer takes the first
  helpers the host starts, so no other run may start one meanwhile, the
  automatic pool's included (stopped for these tests).
  """
  use ExUnit.Case, async: false

  alias Sandbox.BootError

  setup do
    Sandbox.TestConfig.stop_auto_pool()
    # The cgroups of the helpers killed here, which a host removes only at
    # its next start.
    on_exit(fn -> Sandbox.Cgroup.remove_leftovers() end)
  end

  for target <- [:vm, :helper] do
    test "a run whose #{target} is killed while booting gets a fresh VM" do
      killer = kill_booting(unquote(target), 1)
      assert {:ok, %{result: 2, output: ""}} = Sandbox.run("1 + 1", pool: false)
      assert_receive {:killed, ^killer, [_pid]}
    end
  end

  test "the second VM killed while booting raises BootError" do
    killer = kill_booting(:vm, 2)
    error = assert_raise BootError, fn -> Sandbox.run("1 + 1", pool: false) end
    assert error.reason == :exited
    assert error.exit == {:signal, 9}
    assert_receive {:killed, ^killer, [_, _]}
  end

  test "a VM that fails on its own is not tried again" do
    # The code halts the VM once it has booted: a VM lost, not replaced.
    watcher = kill_booting(:none, 0)
    assert {:error, :noconnection, _} = Sandbox.run("System.halt(3)", pool: false)
    assert {:ok, %{result: 2}} = Sandbox.run("1 + 1", pool: false)
    send(watcher, {:helpers, self()})
    assert_receive {:helpers, ^watcher, helpers}
    assert length(helpers) == 2
  end

  # A bwrap that refuses the box, as a real one does ("bwrap: ..." on its
  # stderr), then dies of SIGKILL: an exit like a kill's. It would refuse
  # again: one helper, not two. It takes its time, as a real one does, so
  # the watcher (a scan of /proc each millisecond) sees its helper. On PATH for this test only (not async: no
  # other test runs meanwhile), in a directory the box's user can enter.
  test "a box its tools refuse to make is not tried again" do
    dir = Path.join(System.tmp_dir!(), "sandbox-fake-bwrap-#{System.unique_integer([:positive])}")
    File.mkdir_p!(dir)

    File.write!(
      Path.join(dir, "bwrap"),
      ~s|#!/bin/sh\nsleep 0.3\necho "bwrap: refused by the test" >&2\nkill -KILL $$\n|
    )

    File.chmod!(dir, 0o755)
    File.chmod!(Path.join(dir, "bwrap"), 0o755)
    path = System.get_env("PATH")
    System.put_env("PATH", dir <> ":" <> path)

    on_exit(fn ->
      System.put_env("PATH", path)
      File.rm_rf!(dir)
    end)

    watcher = kill_booting(:none, 0)

    error = assert_raise BootError, fn -> Sandbox.run("1", pool: false, isolation: :strict) end

    assert error.reason == {:isolation, "bwrap: refused by the test"}
    send(watcher, {:helpers, self()})
    assert_receive {:helpers, ^watcher, helpers}
    assert length(helpers) == 1
  end

  # Watches the host's children for new helpers and SIGKILLs the first
  # `count` of them (`:helper`), or the VM each starts (`:vm`), at once,
  # so before the boot is over; then sends {:killed, self, os_pids} to the
  # test. Asked {:helpers, test}, it says which helpers it has seen.
  defp kill_booting(target, count) do
    test = self()
    before = helpers()
    spawn_link(fn -> watch(test, target, count, before, MapSet.new(), []) end)
  end

  defp watch(test, target, count, before, seen, killed) do
    receive do
      {:helpers, asker} -> send(asker, {:helpers, self(), MapSet.to_list(seen)})
    after
      0 ->
        new = helpers() |> MapSet.difference(before) |> MapSet.difference(seen)

        now_killed =
          Enum.reduce(new, killed, fn helper, acc ->
            if length(acc) < count, do: kill(target, helper, acc), else: acc
          end)

        if length(killed) < count and length(now_killed) == count,
          do: send(test, {:killed, self(), Enum.reverse(now_killed)})

        Process.sleep(1)
        watch(test, target, count, before, MapSet.union(seen, new), now_killed)
    end
  end

  defp kill(:helper, helper, killed) do
    System.cmd("kill", ["-KILL", Integer.to_string(helper)])
    [helper | killed]
  end

  defp kill(:vm, helper, killed) do
    case children(helper) do
      [vm | _] ->
        System.cmd("kill", ["-KILL", Integer.to_string(vm)])
        [vm | killed]

      [] ->
        Process.sleep(1)
        kill(:vm, helper, killed)
    end
  end

  defp helpers do
    for pid <- children(String.to_integer(System.pid())),
        File.read("/proc/#{pid}/comm") == {:ok, "sandbox_helper\n"},
        into: MapSet.new(),
        do: pid
  end

  defp children(pid) do
    case File.ls("/proc/#{pid}/task") do
      {:ok, tasks} ->
        Enum.flat_map(tasks, fn task ->
          case File.read("/proc/#{pid}/task/#{task}/children") do
            {:ok, text} -> text |> String.split() |> Enum.map(&String.to_integer/1)
            {:error, _} -> []
          end
        end)

      {:error, _} ->
        []
    end
  end
end
