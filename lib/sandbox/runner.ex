defmodule Sandbox.Runner do
  @moduledoc false
  # Internal: not part of the public API.
  # The host's side of one run: takes a warm VM from a pool or starts one
  # through the C core, hands it the request, and waits for the outcome in
  # `receive` (so no scheduler is held while the run goes on); `Sandbox.Result`
  # turns the outcome into a result. A run for another node (`:node`, or
  # where a cluster pool places it) is handed to `Sandbox.Remote`.

  alias Sandbox.{
    BootError,
    Cluster,
    Handle,
    Isolation,
    Launcher,
    Native,
    Options,
    Pool,
    Remote,
    Result,
    TmpDir
  }

  @typedoc """
  `report: true` asks the C core for the run's resource use after its
  outcome (`execute/2`); `cancel_tag`, when set, lets another process
  cancel the run by sending the caller `{:sandbox_cancel, cancel_tag}`
  while it awaits (a remote run's proxy).
  """
  @type start_option :: {:report, boolean()} | {:cancel_tag, term()}

  @doc "Runs `code` in a fresh VM (a pool's, if one applies) with checked options."
  @spec run(String.t(), Options.t()) :: Sandbox.result()
  def run(code, %Options{} = options) do
    handle = start(code, options)
    {:ok, {outcome, report}} = await(handle, :infinity)
    outcome |> Result.from_outcome(report, handle) |> Result.to_run_return()
  end

  @doc """
  Starts a run: takes a pool's VM or boots one, and submits the request.
  The caller owns the run: it alone can await or cancel it, and the run is
  killed if it dies.
  """
  @spec start(String.t(), Options.t(), [start_option()]) :: Handle.t()
  def start(code, %Options{} = options, opts \\ []) do
    case place(options) do
      %Options{node: nil} = options -> start_here(code, options, opts)
      options -> Remote.start(code, options, opts)
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

  @doc "Starts a run on this node, as `start/3` does."
  @spec start_here(String.t(), Options.t(), [start_option()]) :: Handle.Local.t()
  def start_here(code, %Options{} = options, opts) do
    started_at = System.monotonic_time()
    {options, tmp_dir} = make_tmp_dir(options, self())

    handle = %Handle.Local{
      owner: self(),
      options: options,
      # A private directory is removed once the whole tree is gone, which
      # the report says.
      report?: Keyword.get(opts, :report, false) or tmp_dir != nil,
      code: code,
      started_at: started_at,
      tmp_dir: tmp_dir,
      cancel_tag: Keyword.get(opts, :cancel_tag)
    }

    # A pool's VMs were booted with a network; network: false needs a VM
    # born in a namespace of its own. A strict run takes a pool's VM only if
    # it was booted in the same box.
    case options.network && pool(options.pool) do
      pool when pool in [nil, false] -> launch(handle)
      pool -> lease(handle, pool, Pool.box(options))
    end
  end

  @doc """
  Waits for the run's outcome (and its report, when asked for) for up to
  `timeout`; `:timeout` leaves the run going. Gives a pool's lease back
  once the run is over.
  """
  @spec await(Handle.t(), timeout()) :: {:ok, {term(), map() | nil}} | :timeout
  def await(%Handle.Remote{} = handle, timeout), do: Remote.await(handle, timeout)

  def await(%Handle.Local{} = handle, timeout) do
    case receive_outcome(handle, timeout) do
      :timeout ->
        :timeout

      outcome ->
        report = if handle.report? and outcome != :gone, do: receive_report(handle.ref)

        cond do
          handle.warm? and fell_through?(outcome) ->
            # A warm VM that died while it waited (or in the instant it was
            # handed over) has not seen the code: run it on a fresh one.
            handle |> launch() |> await(timeout)

          killed_booting?(outcome, handle.options) and not handle.rebooted? ->
            # Killed from outside before it booted (an OOM kill, an
            # operator's kill): the code never ran, so one fresh VM may
            # take its place. A VM that fails on its own fails again.
            %{handle | rebooted?: true} |> launch() |> await(timeout)

          true ->
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
  def cancel(%Handle.Remote{} = handle), do: Remote.cancel(handle)
  def cancel(%Handle.Local{vm: vm}), do: Native.cancel(vm)

  defp fell_through?(:gone), do: true
  defp fell_through?({:boot_failed, _reason, _output, _exit}), do: true
  defp fell_through?(_outcome), do: false

  # A signal ended the VM, or its helper (whose exit then goes unreported),
  # before the boot was over; and not a box's tools refusing to make the
  # box (which would refuse again).
  defp killed_booting?({:boot_failed, :exited, output, exit}, options)
       when exit == :unknown or elem(exit, 0) == :signal,
       do: not (options.isolation == :strict and Isolation.refusal(output) != nil)

  defp killed_booting?(_outcome, _options), do: false

  # `pool: false` boots a fresh peer; no :pool uses the application's
  # default pool when it runs: a configured one, else the automatic one.
  defp pool(false), do: nil
  defp pool(:default), do: Process.whereis(Pool) || Process.whereis(Sandbox.AutoPool)
  defp pool(pool), do: pool

  defp lease(handle, pool, box) do
    case checkout(handle, pool, box) do
      {:error, why} when why in [:busy, :timeout] ->
        release(handle)
        raise BootError, reason: why, output: "", exit: :unknown

      {:warm, lease_id, vm, ref} ->
        submit(%{handle | pool: pool, lease: lease_id, vm: vm, ref: ref, warm?: true})

      {:cold, lease_id} ->
        launch(%{handle | pool: pool, lease: lease_id})

      :mismatch ->
        launch(handle)
    end
  end

  # A :pool that names no running pool is the caller's mistake: say which.
  defp checkout(handle, pool, box) do
    Pool.checkout(pool, handle.options.boot_timeout, box)
  catch
    :exit, {:noproc, _} ->
      release(handle)
      raise ArgumentError, "option :pool names no running Sandbox.Pool: #{inspect(pool)}"
  end

  defp launch(handle) do
    ref = make_ref()

    case Launcher.launch(ref, handle.options, :cold) do
      {:ok, vm} ->
        submit(%{handle | vm: vm, ref: ref, warm?: false})

      {:error, reason} ->
        release(handle)
        raise BootError, reason: reason, output: "", exit: :unknown
    end
  end

  defp submit(handle) do
    options = handle.options
    # The C core and the peer must agree on it: decided once, told to both.
    capture_early? = capture_early?(handle)

    terms = %{
      timeout: options.timeout,
      max_output: options.max_output,
      output_limit: options.output_limit,
      report: handle.report?,
      # A function is called by the awaiting owner, so chunks come to it.
      stream_to: if(is_function(options.on_output), do: handle.owner, else: options.on_output),
      limits: Options.resource_limits(options),
      capture_early: capture_early?
    }

    :ok = Native.submit(handle.vm, request(handle, capture_early?), terms)
    handle
  end

  # A warm VM with no setup to run: the C core captures its output from the
  # submit, and the VM evaluates without the capture round trip. A VM
  # launched for its run keeps the round trip, which drops what ERTS may
  # still be writing of its boot (through a port, from an async thread).
  defp capture_early?(handle), do: handle.warm? and handle.options.setup == []

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
  defp receive_outcome(%Handle.Local{ref: ref, cancel_tag: cancel_tag} = handle, timeout) do
    on_output = handle.options.on_output

    receive do
      {:sandbox_output, ^ref, chunk} when is_function(on_output) ->
        on_output.(chunk)
        receive_outcome(handle, timeout)

      {:sandbox, ^ref, {:ready, _os_pid}} ->
        receive_outcome(handle, timeout)

      {:sandbox_cancel, ^cancel_tag} when cancel_tag != nil ->
        Native.cancel(handle.vm)
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
  # are now (the peer adds those it did not boot with), the host's
  # environment for a warm VM and its Logger level, the setup and the code.
  defp request(%Handle.Local{code: code, options: options} = handle, capture_early?) do
    # A warm VM's environment and directory are those of its launch: it
    # gets those of this moment, as a VM launched now would have.
    host = if handle.warm? and options.isolation == :none, do: Launcher.host_context()

    :erlang.term_to_binary(%{
      host: host,
      paths: :code.get_path(),
      setup: options.setup,
      code: code,
      env: options.env,
      cd: options.cd,
      stdin: options.stdin,
      capture_early: capture_early?,
      # Past it, what the code prints is counted rather than written: the
      # C core keeps no more, unless it streams everything.
      output_cap:
        if(options.on_output == nil and options.max_output != :infinity,
          do: options.max_output
        ),
      ignore_file_size_signal: options.max_file_size != :infinity,
      logger_level: logger_level(options.logger_level)
    })
  end

  defp logger_level(:host), do: Logger.level()
  defp logger_level(level), do: level
end
