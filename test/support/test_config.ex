defmodule Sandbox.TestConfig do
  @moduledoc "Application settings changed for one test, restored after it."
  import ExUnit.Callbacks, only: [on_exit: 1]

  @doc """
  Sets `config :sandbox, cgroup: setting` until the calling test ends,
  with the automatic pool stopped meanwhile: its VMs, launched under the
  setting of their time, would outlive the test's cgroups.
  """
  def put_cgroup(setting) do
    stop_auto_pool()
    previous = Application.fetch_env(:sandbox, :cgroup)
    Application.put_env(:sandbox, :cgroup, setting)

    on_exit(fn ->
      case previous do
        {:ok, value} -> Application.put_env(:sandbox, :cgroup, value)
        :error -> Application.delete_env(:sandbox, :cgroup)
      end
    end)
  end

  @doc """
  Stops the application's automatic pool (`Sandbox.AutoPool`) until the
  calling test ends, for tests that count the host's processes or
  cgroups: its warm VMs are meant to outlive the runs.
  """
  def stop_auto_pool do
    case Supervisor.terminate_child(Sandbox.Supervisor, Sandbox.AutoPool) do
      :ok ->
        on_exit(fn ->
          {:ok, _} = Supervisor.restart_child(Sandbox.Supervisor, Sandbox.AutoPool)
        end)

      {:error, :not_found} ->
        :ok
    end
  end
end
