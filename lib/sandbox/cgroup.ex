defmodule Sandbox.Cgroup do
  @moduledoc """
  Where runs get a cgroup v2 of their own, the strongest way to kill a
  run's whole tree (one write to `cgroup.kill`).

  Configured with `config :sandbox, cgroup: setting`:

    * `:auto` (default) - the host's own cgroup, on a cgroup v2 mount found
      in `/proc/self/mountinfo`, if runs can create cgroups in it;
    * a directory - a cgroup v2 directory to create run cgroups in;
    * `false` - never: the process group and the subreaper do it alone.

  A directory is used only if a cgroup can be created in it that has
  `cgroup.kill` (Linux 5.14+); the answer is found once per setting and
  cached. Where none can be had, runs fall back to the process group and
  the subreaper, which is also what a run does after `cgroup.kill`.
  """

  @doc "The directory run cgroups are created in, or nil when there is none to be had."
  @spec parent() :: String.t() | nil
  def parent do
    setting = Application.get_env(:sandbox, :cgroup, :auto)
    Sandbox.Once.get({__MODULE__, setting}, fn -> find(setting) end)
  end

  @doc """
  The controllers run cgroups get (their parent's `cgroup.subtree_control`):
  with `"memory"` and `"pids"` among them, `:memory_limit` and
  `:max_processes` are enforced by the kernel rather than by sampling.
  Empty without a cgroup parent.

  A cgroup can hand controllers to its children only if it has no
  processes of its own, so the host's own cgroup rarely can: give runs a
  delegated cgroup with both enabled (for example a systemd unit with
  `Delegate=yes`, or a directory prepared by hand) in
  `config :sandbox, cgroup: dir`.
  """
  @spec controllers() :: [String.t()]
  def controllers do
    with dir when is_binary(dir) <- parent(),
         {:ok, text} <- File.read(Path.join(dir, "cgroup.subtree_control")) do
      String.split(text)
    else
      _ -> []
    end
  end

  @doc false
  # The removal of leftovers a host does at its first run, again now (for
  # tests that SIGKILL helpers on purpose).
  @spec remove_leftovers() :: :ok
  def remove_leftovers do
    if dir = parent(), do: remove_leftovers(dir)
    :ok
  end

  defp find(false), do: nil

  defp find(:auto),
    do: with(dir when is_binary(dir) <- Sandbox.OwnCgroup.dir(:v2), do: usable(dir))

  defp find(dir) when is_binary(dir), do: usable(dir)

  defp usable(dir) do
    probe = Path.join(dir, "sandbox-probe-#{System.pid()}-#{System.unique_integer([:positive])}")

    case File.mkdir(probe) do
      :ok ->
        killable = File.exists?(Path.join(probe, "cgroup.kill"))
        File.rmdir(probe)
        if killable, do: remove_leftovers(dir)

      {:error, _} ->
        nil
    end
  end

  # A helper removes its run's cgroup (sandbox-run-<its pid>) as it exits;
  # one killed by SIGKILL cannot. Those of helpers no longer alive are
  # removed here, once per host and setting: rmdir takes a cgroup only when
  # nothing is left in it, so one still in use, whoever owns it, stays.
  defp remove_leftovers(dir) do
    strict_subtrees = Path.wildcard(Path.join(dir, "sandbox-strict-*"))

    for parent <- [dir | strict_subtrees],
        run <- Path.wildcard(Path.join(parent, "sandbox-run-*")),
        [_, pid] <- [Regex.run(~r/^sandbox-run-(\d+)$/, Path.basename(run))],
        not File.exists?("/proc/" <> pid) do
      File.rmdir(run)
    end

    dir
  end
end
