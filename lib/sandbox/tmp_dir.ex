defmodule Sandbox.TmpDir do
  @moduledoc false
  # The private directory of a run with `tmp_dir: true`. Internal: used by
  # `Sandbox.Runner`.
  #
  # Its owner removes it once the run's tree is gone. A small janitor
  # process removes it instead if the owner dies first: the run is then
  # killed by the C core, and the janitor retries until its processes have
  # stopped writing there (for at most the C core's teardown grace).

  # As long as the C core gives a helper to report the tree gone.
  @retry_for_ms Sandbox.Protocol.teardown_grace_ms()
  @retry_every_ms 100

  @typedoc "A directory and its janitor."
  @type t :: {Path.t(), pid()}

  @doc "Creates a fresh directory only this user can enter, watched on behalf of `owner`."
  @spec create(pid()) :: t()
  def create(owner) do
    name = "sandbox-run-#{System.pid()}-#{System.unique_integer([:positive])}"
    dir = Path.join(System.tmp_dir!(), name)
    File.mkdir!(dir)
    File.chmod!(dir, 0o700)
    {dir, spawn(fn -> watch(owner, dir) end)}
  end

  @doc "Removes the directory now (its run is over) and stops its janitor."
  @spec remove(t()) :: :ok
  def remove({dir, janitor}) do
    File.rm_rf(dir)
    send(janitor, :removed)
    :ok
  end

  defp watch(owner, dir) do
    monitor = Process.monitor(owner)

    receive do
      :removed ->
        :ok

      {:DOWN, ^monitor, :process, _, _} ->
        remove_when_quiet(dir, div(@retry_for_ms, @retry_every_ms))
    end
  end

  defp remove_when_quiet(dir, tries) do
    File.rm_rf(dir)

    if File.exists?(dir) and tries > 0 do
      Process.sleep(@retry_every_ms)
      remove_when_quiet(dir, tries - 1)
    end
  end
end
