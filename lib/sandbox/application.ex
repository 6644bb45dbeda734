defmodule Sandbox.Application do
  @moduledoc """
  Starts the default pool (`Sandbox.Pool`, registered under that name) when
  the application environment asks for one:

      config :sandbox, pool: [size: 2]

  The options are those of `Sandbox.Pool` (a `:name` given there is
  ignored). Without that setting, or with `pool: false`, no pool is
  started and runs without a `:pool` option boot their own VM.

  It always starts the `:pg` scope pools join (`Sandbox.Cluster`), a
  process that does nothing until there are pools. Its supervisor is
  registered as `Sandbox.Supervisor`: more pools can be started under it
  with `Supervisor.start_child(Sandbox.Supervisor, {Sandbox.Pool, opts})`.
  """

  use Application

  @impl Application
  def start(_type, _args) do
    Supervisor.start_link(
      [Sandbox.Cluster | children(Application.get_env(:sandbox, :pool, false))],
      strategy: :one_for_one,
      name: Sandbox.Supervisor
    )
  end

  defp children(false), do: []
  defp children(nil), do: []

  defp children(opts) when is_list(opts),
    do: [{Sandbox.Pool, Keyword.put(opts, :name, Sandbox.Pool)}]

  defp children(other) do
    raise ArgumentError,
          "config :sandbox, :pool must be a keyword list of Sandbox.Pool options or false, " <>
            "got: #{inspect(other)}"
  end
end
