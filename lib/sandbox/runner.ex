defmodule Sandbox.Runner do
  @moduledoc """
  The host's side of one run: takes a warm peer from a pool or starts one
  through the C core, hands it the request, waits for the outcome in
  `receive` (so no scheduler is held while the run goes on), and turns the
  outcome into `Sandbox.run/2`'s result.
  """

  alias Sandbox.{AtomLimitError, BootError, Native, Options, PeerLauncher, Pool}

  @doc "Runs `code` in a fresh peer (a pool's, if one applies) with checked options."
  @spec run(String.t(), Options.t()) :: Sandbox.result()
  def run(code, %Options{} = options) do
    request = request(code, options)

    case pool(options.pool) do
      nil -> run_cold(request, options)
      pool -> run_leased(pool, request, options)
    end
  end

  # `pool: false` boots a fresh peer; no :pool uses the application's
  # default pool when it runs.
  defp pool(false), do: nil
  defp pool(:default), do: Process.whereis(Pool)
  defp pool(pool), do: pool

  defp run_leased(pool, request, options) do
    case Pool.checkout(pool, options.boot_timeout) do
      {:error, :busy} ->
        raise BootError, reason: :busy, output: "", exit: :unknown

      {:warm, lease_id, run, ref} ->
        try do
          run_warm(run, ref, request, options)
        after
          Pool.checkin(pool, lease_id)
        end

      {:cold, lease_id} ->
        try do
          run_cold(request, options)
        after
          Pool.checkin(pool, lease_id)
        end
    end
  end

  # A warm peer that died while it waited (or failed in the instant it was
  # handed over) has not seen the code: run it on a fresh one instead.
  defp run_warm(run, ref, request, options) do
    :ok = Native.submit(run, request, options.timeout, options.max_output)

    case await(ref) do
      :gone -> run_cold(request, options)
      {:boot_failed, _reason, _output, _exit} -> run_cold(request, options)
      outcome -> result(outcome, options)
    end
  end

  defp run_cold(request, options) do
    ref = make_ref()

    run =
      case PeerLauncher.launch(ref, options.boot_timeout) do
        {:ok, run} -> run
        {:error, reason} -> raise BootError, reason: reason, output: "", exit: :unknown
      end

    :ok = Native.submit(run, request, options.timeout, options.max_output)
    result(await(ref), options)
  end

  # Waits in `receive`: no scheduler is held while the run goes on.
  defp await(ref) do
    receive do
      {:sandbox, ^ref, {:ready, _os_pid}} -> await(ref)
      {:sandbox, ^ref, outcome} -> outcome
    end
  end

  # Everything the peer needs, in one frame: the host's code paths as they
  # are now (the peer adds those it did not boot with), the setup and the
  # code.
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
    term = binary_to_term(encoded)
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

  # Decoding a result of megabytes took 7 to 15 ms in one go on a normal
  # scheduler (long_schedule events in the bench): large ones go to a
  # dirty scheduler.
  @dirty_decode_bytes 64 * 1024

  defp binary_to_term(encoded) when byte_size(encoded) < @dirty_decode_bytes,
    do: :erlang.binary_to_term(encoded)

  defp binary_to_term(encoded) do
    case Native.decode(encoded) do
      {:ok, term} -> term
      :error -> raise ArgumentError, "malformed result"
    end
  end

  # The reference ran setup inside :erpc.call/4, which re-raises a remote
  # exception in the caller in these shapes.
  defp raise_like_erpc(:error, reason, stack), do: :erlang.error({:exception, reason, stack})
  defp raise_like_erpc(:exit, reason, _stack), do: exit({:exception, reason})
  defp raise_like_erpc(:throw, value, _stack), do: throw(value)
end
