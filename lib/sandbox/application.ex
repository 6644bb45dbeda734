defmodule Sandbox.Application do
  @moduledoc """
  Starts the pool that runs without a `:pool` option take their VMs from.

  With nothing configured, that is a `Sandbox.Pool` with `size: :auto`,
  registered as `Sandbox.AutoPool`: it boots nothing until the first run,
  then keeps as many VMs waiting as runs lately used at once (up to the
  number of schedulers), and kills them after a minute without a run. So
  an agent's loop of `Sandbox.run/2` calls is served warm from its second
  call on, and a program that never runs a sandbox starts no VM.

  Configured instead:

      config :sandbox, pool: [size: 2]       # a fixed pool, as Sandbox.Pool
      config :sandbox, pool: [size: :auto, max_size: 4, idle_timeout: 10_000]
      config :sandbox, pool: false           # no default pool: every run boots its own

  A configured pool is registered as `Sandbox.Pool`, with the options of
  `Sandbox.Pool` (a `:name` given there is ignored). When both are
  registered, `Sandbox.Pool` is the one used.

  It always starts the `:pg` scope pools join (`Sandbox.Cluster`), a
  process that does nothing until there are pools. Its supervisor is
  registered as `Sandbox.Supervisor`: more pools can be started under it
  with `Supervisor.start_child(Sandbox.Supervisor, {Sandbox.Pool, opts})`.
  """

  use Application

  @impl Application
  def start(_type, _args) do
    Supervisor.start_link(
      [Sandbox.Cluster | children(Application.get_env(:sandbox, :pool))],
      strategy: :one_for_one,
      name: Sandbox.Supervisor
    )
  end

  defp children(false), do: []

  # (It joins no cluster group: it is this node's own.)
  defp children(nil),
    do: [{Sandbox.Pool, name: Sandbox.AutoPool, size: :auto, join: false}]

  defp children(opts) when is_list(opts),
    do: [{Sandbox.Pool, Keyword.put(opts, :name, Sandbox.Pool)}]

  defp children(other) do
    raise ArgumentError,
          "config :sandbox, :pool must be a keyword list of Sandbox.Pool options or false, " <>
            "got: #{inspect(other)}"
  end
end
