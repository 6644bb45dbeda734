defmodule Sandbox.IdleGroup do
  @moduledoc false
  # The CPU cgroup every VM shares under `priority: :idle`, marked idle
  # (`cpu.idle`), where the host can make one: `sandbox-idle` beside the
  # host in its cgroup v1 `cpu` hierarchy. Each VM's threads already run
  # under SCHED_IDLE, but the kernel's scheduler (EEVDF) weighs each of
  # them on its own, beside the host's threads: with many of them waking
  # as VMs boot, the host's own threads, woken, still waited up to a tick
  # (4 ms here). Grouped, the VMs are one idle entity beside the host,
  # which the host's threads preempt at once: a host process sleeping 5 ms
  # woke 1.2 ms late at p99 against 2.2 to 3.3 ms (four callers back to
  # back, three rounds each in turn).
  #
  # The helper moves each VM in (see c_src/helper/args.h). Where there is
  # no such hierarchy (a host with cgroup v2 alone, whose cpu controller a
  # host's own cgroup cannot hand to its children) or the host may not
  # make the group, there is none and VMs run under SCHED_IDLE alone.
  # The group is shared by every host on the machine and stays when they
  # stop: an empty cgroup costs nothing, and one host cannot know that no
  # other is about to use it.

  alias Sandbox.{Launcher, OwnCgroup}

  @name "sandbox-idle"

  @doc """
  The group's directory, made on the first call, or nil where there is
  none or it does not apply (`priority:` other than `:idle`, or
  `cgroup: false`).
  """
  @spec dir() :: String.t() | nil
  def dir do
    if Launcher.priority() == :idle and Application.get_env(:sandbox, :cgroup, :auto) != false do
      Sandbox.Once.get({__MODULE__, :dir}, &find/0)
    end
  end

  defp find do
    with dir when is_binary(dir) <- OwnCgroup.dir({:v1, "cpu"}),
         do: make(Path.join(dir, @name))
  end

  # Made, or found made by another host; cpu.idle (Linux 5.15+) set
  # either way. A group that cannot be marked idle is none.
  defp make(dir) do
    made = File.mkdir(dir)

    with true <- made == :ok or made == {:error, :eexist},
         :ok <- File.write(Path.join(dir, "cpu.idle"), "1") do
      dir
    else
      _ ->
        if made == :ok, do: File.rmdir(dir)
        nil
    end
  end
end
