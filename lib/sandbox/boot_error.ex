defmodule Sandbox.BootError do
  @moduledoc """
  Raised when the sandbox VM cannot be started: the helper cannot be
  spawned, `erl` is missing or fails, it sends what a sandbox peer never
  sends, booting takes longer than `:boot_timeout`, (`:busy`) a pool
  at its `:max_peers` had no room for the run within `:boot_timeout`, or
  (`{:unsupported, why}`) the C core is not built on this system (it
  builds on Linux only).
  `output` holds what the VM printed while trying (at most
  #{div(Sandbox.Protocol.boot_output_limit(), 1024)} KB); `exit` says how it
  ended, when that is known.
  """

  alias Sandbox.{Native, Protocol}

  defexception [:reason, :output, :exit]

  # The helper's stages that come from the run's options.
  @stage_network Protocol.stage_network()
  @stage_limits Protocol.stage_limits()

  @type t :: %__MODULE__{
          reason:
            :timeout
            | :exited
            | :protocol
            | :busy
            | {:spawn, String.t(), integer(), String.t()}
            | {:isolation, String.t()}
            | {:unsupported, String.t()},
          output: binary(),
          exit: term()
        }

  @impl true
  def message(%__MODULE__{reason: reason, output: output, exit: exit}) do
    "the sandbox VM could not boot: " <> describe(reason, exit) <> shown(output)
  end

  defp describe(:timeout, _exit), do: "it did not start within :boot_timeout"

  defp describe(:exited, {:helper_failed, @stage_network, errno}),
    do:
      "network: false needs a network namespace of its own, and the kernel refused one " <>
        "(unshare: errno #{errno}#{errno_hint(errno)})"

  defp describe(:exited, {:helper_failed, @stage_limits, errno}),
    do: "its resource limits could not be put in force (errno #{errno})"

  defp describe(:exited, exit), do: "it #{ended(exit)} before starting"

  defp describe(:protocol, _exit),
    do: "it broke the sandbox protocol (not a sandbox peer, or a broken one)"

  defp describe(:busy, _exit),
    do: "its pool had :max_peers VMs live for all of :boot_timeout"

  defp describe({:isolation, why}, _exit),
    do: "isolation: :strict cannot be had here: #{why}; it never runs less confined"

  defp describe({:unsupported, why}, _exit),
    do: "sandbox's C core, which starts and watches every VM, #{why}"

  defp describe({:spawn, step, errno, text}, _exit),
    do: "starting its helper failed at #{step}: #{text} (errno #{errno})"

  defp ended({:exit_status, code}), do: "exited with status #{code}"
  defp ended({:signal, signal}), do: "was killed by signal #{signal}"

  defp ended({:helper_failed, stage, errno}),
    do: "failed in its helper (stage #{stage}, errno #{errno})"

  defp ended(_unknown), do: "ended"

  defp errno_hint(errno) do
    errnos = Map.take(Native.constants(), [:eperm, :einval, :enospc])

    case Enum.find(errnos, fn {_name, value} -> value == errno end) do
      {:eperm, _} ->
        ", EPERM: it needs CAP_SYS_ADMIN, as root has, or else a kernel and security " <>
          "policy that let users create user namespaces (container seccomp profiles often " <>
          "forbid them)"

      {:einval, _} ->
        ", EINVAL: this kernel has no network or user namespaces"

      {:enospc, _} ->
        ", ENOSPC: user namespaces are used up or disabled (sysctl user.max_user_namespaces)"

      _other ->
        ""
    end
  end

  defp shown(output) when output in [nil, ""], do: ""
  defp shown(output), do: "; it printed:\n" <> output
end
