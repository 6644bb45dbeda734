defmodule Sandbox.PeerLauncher do
  @moduledoc """
  Starts one peer VM through the C core: its helper, in the run cgroup
  parent when there is one. Internal: used by `Sandbox.Runner` for cold
  runs and by `Sandbox.Pool` for warm ones.
  """

  alias Sandbox.{Cgroup, Native, PeerCommand}

  @doc """
  Spawns a peer whose outcome messages carry `ref` and go to the caller
  until a submit hands the run on. With `network` false, the peer is born
  in a network namespace of its own, empty; if the kernel refuses one, the
  run fails to boot (the helper reports it) rather than run with a network.
  """
  @spec launch(reference(), non_neg_integer(), boolean()) ::
          {:ok, Native.run()} | {:error, {:spawn, String.t(), integer(), String.t()}}
  def launch(ref, boot_timeout, network \\ true) do
    %{argv: argv, env: env} = PeerCommand.build()
    helper_args = [Cgroup.parent() || "-" | argv]
    helper_args = if network, do: helper_args, else: ["--no-network" | helper_args]

    case Native.spawn(helper_path(), helper_args, env, ref, boot_timeout) do
      {:ok, run} -> {:ok, run}
      {:error, {step, errno, text}} -> {:error, {:spawn, step, errno, text}}
    end
  end

  @doc "The helper executable that owns each peer and its tree."
  @spec helper_path() :: String.t()
  def helper_path, do: Path.join(:code.priv_dir(:sandbox), "sandbox_helper")
end
