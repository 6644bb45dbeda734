defmodule Sandbox.Runner do
  @moduledoc """
  The host's side of one run: takes a warm peer from a pool or starts one
  through the C core, hands it the request, waits for the outcome in
  `receive` (so no scheduler is held while the run goes on), and turns the
  outcome into `Sandbox.run/2`'s result. A run for another node (`:node`,
  or where a cluster pool places it) is handed to `Sandbox.Remote`.
  """

  alias Sandbox.{
    AtomLimitError,
    BootError,
    Cluster,
    Handle,
    Native,
    Options,
    PeerLauncher,
    Pool,
    Remote,
    Result,
    TmpDir
  }

  @doc "Runs `code` in a fresh peer (a pool's, if one applies) with checked options."
  @spec run(String.t(), Options.t()) :: Sandbox.result()
  def run(code, %Options{} = options) do
    handle = start(code, options, false)
    {:ok, {outcome, report}} = await(handle, :infinity)
    outcome |> to_result(report, handle) |> run_result()
  end

  @doc """
  Starts a run: takes a pool's peer or boots one, and submits the request.
  With `report?`, the C core reports the run's resource use after its
  outcome. The caller owns the run: it alone can await or cancel it, and
  the run is killed if it dies.
  """
  @spec start(String.t(), Options.t(), boolean()) :: Handle.t()
  def start(code, %Options{} = options, report?) do
    case place(options) do
      %Options{node: nil} = options -> start_here(code, options, report?, nil)
      options -> Remote.start(code, options, report?)
    end
  end

  # A cluster pool's run goes to the member it places it on: here, or on
  # another node with that node's pool.
  defp place(%Options{pool: {:cluster, group}} = options) do
    case Cluster.place(group) do
      nil -> %{options | pool: false}
      pool when node(pool) == node() -> %{options | pool: pool}
      pool -> %{options | pool: pool, node: node(pool)}
    end
  end

  defp place(options), do: options

  @doc """
  Starts a run on this node, as `start/3` does. `cancel_tag`, when not
  nil, lets another process cancel it by sending the caller
  `{:sandbox_cancel, cancel_tag}` while it awaits (a remote run's proxy).
  """
  @spec start_here(String.t(), Options.t(), boolean(), term()) :: Handle.t()
  def start_here(code, %Options{} = options, report?, cancel_tag) do
    started_at = System.monotonic_time()
    {options, tmp_dir} = make_tmp_dir(options, self())

    handle = %Handle{
      owner: self(),
      options: options,
      # A private directory is removed once the whole tree is gone, which
      # the report says.
      report?: report? or tmp_dir != nil,
      request: request(code, options),
      started_at: started_at,
      tmp_dir: tmp_dir,
      cancel_tag: cancel_tag
    }

    # A pool's peers were booted with a network; network: false needs a
    # peer born in a namespace of its own.
    case options.network && pool(options.pool) do
      pool when pool in [nil, false] -> launch(handle)
      pool -> lease(handle, pool)
    end
  end

  @doc """
  Waits for the run's outcome (and its report, when asked for) for up to
  `timeout`; `:timeout` leaves the run going. Gives a pool's lease back
  once the run is over.
  """
  @spec await(Handle.t(), timeout()) :: {:ok, {term(), map() | nil}} | :timeout
  def await(%Handle{node: node} = handle, timeout) when node != nil,
    do: Remote.await(handle, timeout)

  def await(%Handle{} = handle, timeout) do
    case receive_outcome(handle, timeout) do
      :timeout ->
        :timeout

      outcome ->
        report = if handle.report? and outcome != :gone, do: receive_report(handle.ref)

        if handle.warm? and fell_through?(outcome) do
          # A warm peer that died while it waited (or in the instant it was
          # handed over) has not seen the code: run it on a fresh one.
          handle |> launch() |> await(timeout)
        else
          release(handle)
          {:ok, {outcome, report}}
        end
    end
  catch
    kind, reason ->
      release(handle)
      :erlang.raise(kind, reason, __STACKTRACE__)
  end

  @doc "Kills the run; its outcome is then `{:cancelled, output}` unless it had already ended."
  @spec cancel(Handle.t()) :: :ok
  def cancel(%Handle{node: node} = handle) when node != nil, do: Remote.cancel(handle)
  def cancel(%Handle{run: run}), do: Native.cancel(run)

  defp fell_through?(:gone), do: true
  defp fell_through?({:boot_failed, _reason, _output, _exit}), do: true
  defp fell_through?(_outcome), do: false

  # `pool: false` boots a fresh peer; no :pool uses the application's
  # default pool when it runs.
  defp pool(false), do: nil
  defp pool(:default), do: Process.whereis(Pool)
  defp pool(pool), do: pool

  defp lease(handle, pool) do
    case Pool.checkout(pool, handle.options.boot_timeout) do
      {:error, :busy} ->
        release(handle)
        raise BootError, reason: :busy, output: "", exit: :unknown

      {:warm, lease_id, run, ref} ->
        submit(%{handle | pool: pool, lease: lease_id, run: run, ref: ref, warm?: true})

      {:cold, lease_id} ->
        launch(%{handle | pool: pool, lease: lease_id})
    end
  end

  defp launch(handle) do
    ref = make_ref()

    case PeerLauncher.launch(ref, handle.options.boot_timeout, handle.options.network) do
      {:ok, run} ->
        submit(%{handle | run: run, ref: ref, warm?: false})

      {:error, reason} ->
        release(handle)
        raise BootError, reason: reason, output: "", exit: :unknown
    end
  end

  defp submit(handle) do
    options = handle.options

    terms = %{
      timeout: options.timeout,
      max_output: options.max_output,
      output_limit: options.output_limit,
      report: handle.report?,
      # A function is called by the awaiting owner, so chunks come to it.
      stream_to: if(is_function(options.on_output), do: handle.owner, else: options.on_output),
      limits: Options.resource_limits(options)
    }

    :ok = Native.submit(handle.run, handle.request, terms)
    handle
  end

  # The run is over: its pool lease goes back, its private directory goes.
  defp release(handle) do
    if handle.pool, do: Pool.checkin(handle.pool, handle.lease)
    if handle.tmp_dir, do: TmpDir.remove(handle.tmp_dir)
    :ok
  end

  # `tmp_dir: true`: a fresh directory only this user can enter, the run's
  # working directory and TMPDIR.
  defp make_tmp_dir(%Options{tmp_dir: false} = options, _owner), do: {options, nil}

  defp make_tmp_dir(options, owner) do
    {dir, _janitor} = tmp_dir = TmpDir.create(owner)
    {%{options | cd: dir, env: options.env ++ [{"TMPDIR", dir}]}, tmp_dir}
  end

  # Waits in `receive`: no scheduler is held while the run goes on.
  defp receive_outcome(%Handle{ref: ref, cancel_tag: cancel_tag} = handle, timeout) do
    on_output = handle.options.on_output

    receive do
      {:sandbox_output, ^ref, chunk} when is_function(on_output) ->
        on_output.(chunk)
        receive_outcome(handle, timeout)

      {:sandbox, ^ref, {:ready, _os_pid}} ->
        receive_outcome(handle, timeout)

      {:sandbox_cancel, ^cancel_tag} when cancel_tag != nil ->
        Native.cancel(handle.run)
        receive_outcome(handle, timeout)

      {:sandbox, ^ref, outcome} ->
        outcome
    after
      timeout -> :timeout
    end
  end

  # The C core sends it once the tree is gone: within its teardown grace.
  defp receive_report(ref) do
    receive do
      {:sandbox, ^ref, {:report, report}} -> report
    end
  end

  # Everything the peer needs, in one frame: the host's code paths as they
  # are now (the peer adds those it did not boot with), the setup and the
  # code.
  defp request(code, options) do
    :erlang.term_to_binary(%{
      paths: :code.get_path(),
      setup: options.setup,
      code: code,
      env: options.env,
      cd: options.cd,
      stdin: options.stdin,
      ignore_file_size_signal: options.max_file_size != :infinity
    })
  end

  @doc """
  The full report of a run whose outcome and report `await/2` returned.
  Raises as `Sandbox.run/2` does for a VM that cannot boot and for too many
  new atoms. Without a report (`run/2` asks for none), only what the
  outcome itself says is filled in.
  """
  @spec to_result(term(), map() | nil, Handle.t()) :: Result.t()
  def to_result(outcome, report, %Handle{options: options} = handle) do
    wall =
      System.convert_time_unit(System.monotonic_time() - handle.started_at, :native, :microsecond)

    finish(outcome, with_report(%Result{wall_ms: wall / 1000}, report, options), options)
  end

  defp with_report(result, nil, _options), do: result

  defp with_report(result, report, options) do
    %{
      result
      | output_bytes: report.output_bytes,
        truncated: options.max_output != :infinity and report.output_bytes > options.max_output,
        boot_ms: ms(report.boot_us),
        setup_ms: ms(report.setup_us),
        eval_ms: ms(report.eval_us),
        cpu_ms: ms(report.cpu_us),
        max_rss_kb: report.max_rss_kb,
        enforced_by: report.enforced_by
    }
  end

  defp finish({:ok, encoded, output}, result, options) do
    result = %{result | output: output}

    case decode(encoded, options.max_new_atoms) do
      {:ok, value} ->
        %{result | status: :ok, value: value}

      {:error, {_kind, _reason, _stack} = error} ->
        %{result | status: :error, error: error, failed_in: :code}

      {:setup_error, kind, reason, stack} ->
        %{result | status: :error, error: {kind, reason, stack}, failed_in: :setup}

      :malformed ->
        %{result | status: :crashed}
    end
  end

  defp finish({:timeout, output}, result, _options),
    do: %{result | status: :timeout, output: output}

  defp finish({:output_limit, output}, result, _options),
    do: %{result | status: :output_limit, output: output}

  defp finish({limit, output}, result, _options)
       when limit in [:memory_limit, :cpu_limit, :process_limit],
       do: %{result | status: limit, output: output}

  defp finish({:cancelled, output}, result, _options),
    do: %{result | status: :cancelled, output: output}

  defp finish({:noconnection, output, exit}, result, _options) do
    result = %{result | status: :crashed, output: output}

    case exit do
      {:exit_status, code} -> %{result | exit_status: code}
      {:signal, signal} -> %{result | signal: signal}
      _unknown -> result
    end
  end

  defp finish({:boot_failed, reason, output, exit}, _result, _options),
    do: raise(BootError, reason: reason, output: output, exit: exit)

  defp ms(nil), do: nil
  defp ms(us), do: us / 1000

  # run/2's shapes, the reference's: a setup that raised is raised again
  # as :erpc did, and a VM lost (or answering nonsense) is :noconnection.
  defp run_result(%Result{status: :ok, output: output, value: value}),
    do: {:ok, %{output: output, result: value}}

  defp run_result(%Result{status: :error, failed_in: :setup, error: {kind, reason, stack}}),
    do: raise_like_erpc(kind, reason, stack)

  defp run_result(%Result{status: :error, output: output, error: error}),
    do: {:error, error, %{output: output}}

  defp run_result(%Result{status: :crashed, output: output}),
    do: {:error, :noconnection, %{output: output}}

  defp run_result(%Result{status: status, output: output}),
    do: {:error, status, %{output: output}}

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
