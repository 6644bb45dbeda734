defmodule Sandbox.Native do
  @moduledoc """
  The C core (`priv/sandbox_nif.so`). Internal: use `Sandbox`.

  A run is a resource. `spawn/6` starts the helper with the given arguments
  (after the host's pid: the cgroup parent or `"-"`, then the peer's argv)
  and returns it; `submit/3` hands over the request; the outcome arrives as a message
  `{:sandbox, ref, outcome}` to the process that submitted it:

    * `{:ok, result_etf, output}`
    * `{:timeout, output}`
    * `{:noconnection, output, exit}`
    * `{:boot_failed, :timeout | :exited | :protocol, output, exit}`
    * `{:cancelled, output}` (after `cancel/1`)

  where `exit` is `{:exit_status, code}`, `{:signal, number}`,
  `{:helper_failed, stage, errno}` or `:unknown`. If the owner dies, the
  run is killed and nothing is sent.
  """

  @on_load :load

  @typedoc "A run of the C core (a NIF resource)."
  @opaque run :: reference()

  @doc false
  def load do
    path = :filename.join(:code.priv_dir(:sandbox), ~c"sandbox_nif")

    case :erlang.load_nif(path, 0) do
      :ok ->
        :ok

      {:error, {reason, text}} ->
        :logger.error("sandbox: cannot load its NIF #{path}: #{reason} #{text}")
        {:error, reason}
    end
  end

  @doc "Starts the helper, which starts the peer (dirty IO scheduler)."
  @spec spawn(
          String.t(),
          [String.t()],
          [String.t()],
          reference(),
          non_neg_integer() | :infinity,
          non_neg_integer()
        ) :: {:ok, run()} | {:error, {String.t(), integer(), String.t()}}
  def spawn(_helper, _helper_args, _env, _ref, _max_output, _boot_timeout),
    do: :erlang.nif_error(:not_loaded)

  @doc "Sends the request frame; the caller becomes the run's owner."
  @spec submit(run(), binary(), timeout()) :: :ok
  def submit(_run, _request, _timeout), do: :erlang.nif_error(:not_loaded)

  @doc "Kills the run; its owner gets `{:cancelled, output}` unless it already had an answer."
  @spec cancel(run()) :: :ok
  def cancel(_run), do: :erlang.nif_error(:not_loaded)
end
