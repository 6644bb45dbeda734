defmodule Sandbox.Runner do
  @moduledoc """
  The host's side of one run: starts a peer through the C core, hands it the
  request, waits for the outcome in `receive` (so no scheduler is held while
  the run goes on), and turns the outcome into `Sandbox.run/2`'s result.
  """

  alias Sandbox.{AtomLimitError, BootError, Cgroup, Native, Options, PeerCommand}

  @doc "Runs `code` in a fresh peer with checked options."
  @spec run(String.t(), Options.t()) :: Sandbox.result()
  def run(code, %Options{} = options) do
    ref = make_ref()
    run = spawn_peer!(ref, options)
    :ok = Native.submit(run, request(code, options), options.timeout)

    receive do
      {:sandbox, ^ref, outcome} -> result(outcome, options)
    end
  end

  defp spawn_peer!(ref, options) do
    %{argv: argv, env: env} = PeerCommand.build()
    helper_args = [Cgroup.parent() || "-" | argv]

    case Native.spawn(
           helper_path(),
           helper_args,
           env,
           ref,
           options.max_output,
           options.boot_timeout
         ) do
      {:ok, run} ->
        run

      {:error, {step, errno, text}} ->
        raise BootError, reason: {:spawn, step, errno, text}, output: "", exit: :unknown
    end
  end

  @doc "The helper executable that owns each peer and its tree."
  @spec helper_path() :: String.t()
  def helper_path, do: Path.join(:code.priv_dir(:sandbox), "sandbox_helper")

  # Everything the peer needs, in one frame: the host's code paths as they
  # are now (also those added at run time), the setup and the code.
  defp request(code, options) do
    :erlang.term_to_binary(%{paths: :code.get_path(), setup: options.setup, code: code})
  end

  defp result({:ok, encoded, output}, options) do
    case decode(encoded, options.max_new_atoms) do
      {:ok, value} -> {:ok, %{output: output, result: value}}
      {:error, {_kind, _reason, _stack} = error} -> {:error, error, %{output: output}}
      {:setup_error, kind, reason, stack} -> raise_like_erpc(kind, reason, stack)
      :malformed -> {:error, :noconnection, %{output: output}}
    end
  end

  defp result({:timeout, output}, _options), do: {:error, :timeout, %{output: output}}

  defp result({:noconnection, output, _exit}, _options),
    do: {:error, :noconnection, %{output: output}}

  defp result({:boot_failed, reason, output, exit}, _options),
    do: raise(BootError, reason: reason, output: output, exit: exit)

  # Results are raw terms (the contract), so atoms they hold are created.
  # Counted around the decoding (other processes may add a few meanwhile:
  # the count errs on the high side).
  defp decode(encoded, max_new_atoms) do
    atoms_before = :erlang.system_info(:atom_count)
    term = :erlang.binary_to_term(encoded)
    created = :erlang.system_info(:atom_count) - atoms_before

    if max_new_atoms != :infinity and created > max_new_atoms do
      raise AtomLimitError, created: created, limit: max_new_atoms
    end

    case term do
      {:ok, _value} = ok -> ok
      {:error, {_, _, _}} = error -> error
      {:setup_error, _, _, _} = setup_error -> setup_error
      _other -> :malformed
    end
  rescue
    ArgumentError -> :malformed
  end

  # The reference ran setup inside :erpc.call/4, which re-raises a remote
  # exception in the caller in these shapes.
  defp raise_like_erpc(:error, reason, stack), do: :erlang.error({:exception, reason, stack})
  defp raise_like_erpc(:exit, reason, _stack), do: exit({:exception, reason})
  defp raise_like_erpc(:throw, value, _stack), do: throw(value)
end
