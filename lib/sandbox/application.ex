defmodule Sandbox.Application do
  @moduledoc """
  Starts the default pool (`Sandbox.Pool`, registered under that name) when
  the application environment asks for one:

      config :sandbox, pool: [size: 2]

  The options are those of `Sandbox.Pool` (a `:name` given there is
  ignored). Without that setting, or with `pool: false`, nothing is
  started and runs without a `:pool` option boot their own VM.
  """

  use Application

  @impl Application
  def start(_type, _args) do
    Supervisor.start_link(children(Application.get_env(:sandbox, :pool, false)),
      strategy: :one_for_one
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
