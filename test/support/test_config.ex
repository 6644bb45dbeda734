defmodule Sandbox.TestConfig do
  @moduledoc "Application settings changed for one test, restored after it."
  import ExUnit.Callbacks, only: [on_exit: 1]

  @doc "Sets `config :sandbox, cgroup: setting` until the calling test ends."
  def put_cgroup(setting) do
    previous = Application.fetch_env(:sandbox, :cgroup)
    Application.put_env(:sandbox, :cgroup, setting)

    on_exit(fn ->
      case previous do
        {:ok, value} -> Application.put_env(:sandbox, :cgroup, value)
        :error -> Application.delete_env(:sandbox, :cgroup)
      end
    end)
  end
end
