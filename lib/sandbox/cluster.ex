defmodule Sandbox.Cluster do
  @moduledoc """
  Pools across the nodes of a BEAM cluster, and where a cluster run goes.

  Every named `Sandbox.Pool` joins the `:pg` group named by its name, in
  the scope this application starts (`:sandbox_pools`). A pool
  of the same name on each node makes one cluster pool:
  `Sandbox.run(code, pool: {:cluster, name})`. `place/1` picks the member:

    1. the one with the most idle warm VMs, this node's first on ties;
    2. when none has an idle VM, the least loaded one (fewest runs in
       progress and waiting), this node's first on ties, where the run
       boots a VM of its own as with an empty pool.

  A member that does not answer within 500 ms (its node going down, or
  overloaded) is skipped; `:pg` drops the members of a node that leaves.
  With no member at all, the run boots a fresh VM on this node.

  `:pg` works over the cluster's own distribution: nothing here starts
  distribution, and on a node that is not distributed the members are this
  node's pools.
  """

  alias Sandbox.Pool

  @scope :sandbox_pools
  @status_timeout_ms 500

  @doc false
  @spec child_spec(term()) :: Supervisor.child_spec()
  def child_spec(_arg), do: %{id: __MODULE__, start: {:pg, :start_link, [@scope]}}

  @doc "Makes `pool` a member of `group` (when the scope runs)."
  @spec join(term(), pid()) :: :ok
  def join(group, pool) do
    if Process.whereis(@scope), do: :ok = :pg.join(@scope, group, pool)
    :ok
  end

  @doc "The pools of `group` on every node."
  @spec members(term()) :: [pid()]
  def members(group) do
    if Process.whereis(@scope), do: :pg.get_members(@scope, group), else: []
  end

  @doc """
  The pool of `group` a run should go to, or nil when the group has no
  member that answers.
  """
  @spec place(term()) :: pid() | nil
  def place(group) do
    group
    |> members()
    |> statuses()
    |> choose()
  end

  # Asked all at once, each for at most @status_timeout_ms.
  defp statuses(members) do
    members
    |> Task.async_stream(&{&1, status(&1)},
      timeout: @status_timeout_ms * 2,
      on_timeout: :kill_task,
      max_concurrency: max(length(members), 1)
    )
    |> Enum.flat_map(fn
      {:ok, {pool, {:ok, status}}} -> [{pool, status}]
      _failed -> []
    end)
  end

  defp status(pool) do
    {:ok, Pool.status(pool, @status_timeout_ms)}
  catch
    :exit, _ -> :error
  end

  @doc false
  # The rule itself, on {pool, Pool.status/1} pairs.
  @spec choose([{pid(), map()}]) :: pid() | nil
  def choose([]), do: nil

  def choose(members) do
    here = fn pool -> if node(pool) == node(), do: 0, else: 1 end
    {pool, status} = Enum.min_by(members, fn {pool, status} -> {-status.idle, here.(pool)} end)

    if status.idle > 0 do
      pool
    else
      {pool, _status} = Enum.min_by(members, fn {pool, status} -> {load(status), here.(pool)} end)

      pool
    end
  end

  defp load(status), do: status.leased + status.waiting
end
