defmodule Sandbox.NetworkNamespace do
  @moduledoc false
  # How `network: false` gets a run's VM a network namespace of its own on
  # this host. Internal: used by `Sandbox.info/0`; the helper makes the
  # same choice itself, for each run.
  #
  #   * `:netns` - with `CAP_SYS_ADMIN` (root, or a container that grants
  #     it): `unshare(CLONE_NEWNET)`.
  #   * `:user_netns` - without it: the same inside a user namespace of the
  #     run's own, which maps only this user's uid and gid, onto themselves.
  #     Files, signals and limits work as for any process of this user.
  #     Kernels may forbid users such namespaces (`user.max_user_namespaces`
  #     0, some distributions' policies); a run then raises
  #     `Sandbox.BootError`.

  import Bitwise

  # capability(7)'s bit number.
  @cap_sys_admin 21

  @doc "The kind of namespace `network: false` asks the kernel for here."
  @spec mechanism() :: :netns | :user_netns
  def mechanism, do: if(cap_sys_admin?(), do: :netns, else: :user_netns)

  defp cap_sys_admin? do
    with {:ok, status} <- File.read("/proc/self/status"),
         [_, hex] <- Regex.run(~r/^CapEff:\s*([0-9a-fA-F]+)$/m, status) do
      (String.to_integer(hex, 16) >>> @cap_sys_admin &&& 1) == 1
    else
      _ -> false
    end
  end
end
