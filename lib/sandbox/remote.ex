defmodule Sandbox.Remote do
  @moduledoc false
  # A run on another node of a BEAM cluster (`node:` or a cluster pool's
  # choice). Internal: used by `Sandbox.Runner`.
  #
  # The caller starts a *proxy* process on that node over `:erpc`. The proxy
  # owns the run there exactly as a local caller would (its pool, its code
  # paths, its file system) and sends the caller the run's output as it
  # comes and, at the end, its outcome and report, which the caller turns
  # into a result as for a local run. Each side watches the other:
  #
  #   * the caller monitors the proxy: if the node goes down (or the proxy
  #     dies), the run ends in the caller as `:noconnection`, with the output
  #     that had reached it;
  #   * a watcher next to the proxy monitors the caller: if the caller dies,
  #     the proxy cancels the run, so nothing is left running there.
  #
  # Nothing here starts distribution: it is used only on a node that is
  # already part of a cluster.

  alias Sandbox.{Handle, Options, Runner}

  # Waiting for the proxy to have started the run: its pool may queue it
  # for up to :boot_timeout first.
  @start_margin_ms 10_000

  # ---- the caller's side -----------------------------------------------------

  @doc "Starts the run on `options.node` and returns the caller's handle of it."
  @spec start(String.t(), Options.t(), [Sandbox.Runner.start_option()]) :: Handle.Remote.t()
  def start(code, %Options{node: node} = options, opts) do
    ref = make_ref()
    report? = Keyword.get(opts, :report, false)

    handle = %Handle.Remote{
      owner: self(),
      options: options,
      report?: report?,
      started_at: System.monotonic_time(),
      ref: ref,
      node: node
    }

    args = [
      self(),
      ref,
      code,
      Options.to_keyword(%{options | on_output: nil}),
      [report: report?, streaming: streaming(options)]
    ]

    case call(node, args, start_timeout(options)) do
      {:ok, proxy} ->
        %{handle | proxy: proxy, proxy_monitor: Process.monitor(proxy)}

      {:raise, kind, reason, stack} ->
        :erlang.raise(kind, reason, stack)

      :noconnection ->
        # Never reached: the run ends as if the node went down at once.
        send(self(), {:sandbox_remote, ref, {{:noconnection, "", :unknown}, nil}})
        handle
    end
  end

  defp call(node, args, timeout) do
    :erpc.call(node, __MODULE__, :start_proxy, args, timeout)
  rescue
    error in ErlangError ->
      case error.original do
        {:erpc, reason} when reason in [:noconnection, :timeout] ->
          :noconnection

        {:exception, :undef, [{__MODULE__, :start_proxy, _, _} | _]} ->
          raise ArgumentError, "node #{inspect(node)} does not run the sandbox package"

        _other ->
          reraise error, __STACKTRACE__
      end
  end

  defp start_timeout(%Options{boot_timeout: boot_timeout}), do: boot_timeout + @start_margin_ms

  # A function is called by the caller, so every chunk goes to it; a pid
  # gets every chunk from the proxy directly. Otherwise the caller gets only
  # what it keeps for a lost node's output.
  defp streaming(%Options{on_output: on_output}) when is_function(on_output), do: :caller
  defp streaming(%Options{on_output: on_output}) when is_pid(on_output), do: on_output
  defp streaming(_options), do: nil

  @doc """
  Waits for the remote run's outcome and report, as `Sandbox.Runner.await/2`
  does for a local one.
  """
  @spec await(Handle.Remote.t(), timeout()) :: {:ok, {term(), map() | nil}} | :timeout
  def await(%Handle.Remote{ref: ref, proxy_monitor: monitor, options: options} = handle, timeout) do
    receive do
      {:sandbox_remote_output, ^ref, chunk} ->
        keep(ref, chunk, options.max_output)
        if is_function(options.on_output), do: options.on_output.(chunk)
        await(handle, timeout)

      {:sandbox_remote, ^ref, outcome_and_report} ->
        if monitor, do: Process.demonitor(monitor, [:flush])
        Process.delete({__MODULE__, ref})
        {:ok, outcome_and_report}

      {:DOWN, ^monitor, :process, _proxy, _reason} ->
        {:ok, {{:noconnection, Process.delete({__MODULE__, ref}) || "", :unknown}, nil}}
    after
      timeout -> :timeout
    end
  end

  # What reached the caller, up to :max_output bytes: the output of a run
  # whose node was lost.
  defp keep(ref, chunk, max_output) do
    kept = Process.get({__MODULE__, ref}, "")

    kept =
      case max_output do
        :infinity -> kept <> chunk
        max -> binary_part(kept <> chunk, 0, min(max, byte_size(kept) + byte_size(chunk)))
      end

    Process.put({__MODULE__, ref}, kept)
  end

  @doc "Asks the proxy to cancel the run; its outcome follows as for a local cancel."
  @spec cancel(Handle.Remote.t()) :: :ok
  def cancel(%Handle.Remote{proxy: nil}), do: :ok

  def cancel(%Handle.Remote{proxy: proxy, ref: ref}) do
    send(proxy, {:sandbox_cancel, ref})
    :ok
  end

  # ---- the proxy's side, on the node that runs the code ------------------------

  @doc false
  # Called over :erpc on the node that runs the code. Returns once the
  # proxy has started the run (or failed to), so errors raise in the caller.
  # proxy_opts: report: boolean(), streaming: :caller | pid() | nil.
  @spec start_proxy(pid(), reference(), String.t(), keyword(), keyword()) ::
          {:ok, pid()} | {:raise, atom(), term(), list()}
  def start_proxy(caller, ref, code, opts, proxy_opts) do
    starter = self()

    {proxy, monitor} =
      spawn_monitor(fn -> proxy(starter, caller, ref, code, opts, proxy_opts) end)

    receive do
      {^proxy, reply} ->
        Process.demonitor(monitor, [:flush])
        reply

      {:DOWN, ^monitor, :process, ^proxy, reason} ->
        {:raise, :exit, reason, []}
    end
  end

  defp proxy(starter, caller, ref, code, opts, proxy_opts) do
    watch(self(), caller, ref)

    options = %{
      Options.validate!(code, opts)
      | on_output: forwarder(caller, ref, opts, Keyword.get(proxy_opts, :streaming))
    }

    handle =
      Runner.start_here(code, options,
        report: Keyword.get(proxy_opts, :report, false),
        cancel_tag: ref
      )

    send(starter, {self(), {:ok, self()}})
    {:ok, outcome_and_report} = Runner.await(handle, :infinity)
    send(caller, {:sandbox_remote, ref, outcome_and_report})
  catch
    kind, reason -> send(starter, {self(), {:raise, kind, reason, __STACKTRACE__}})
  end

  # Cancels the run if the caller dies (or its node is lost); ends with
  # the proxy.
  defp watch(proxy, caller, ref) do
    spawn(fn ->
      proxy_monitor = Process.monitor(proxy)
      caller_monitor = Process.monitor(caller)

      receive do
        {:DOWN, ^caller_monitor, :process, _, _} ->
          send(proxy, {:sandbox_cancel, ref})

        {:DOWN, ^proxy_monitor, :process, _, _} ->
          :ok
      end
    end)
  end

  # Chunks go to the caller: all of them (for its function) or the first
  # :max_output bytes, which is what it keeps; and all of them to an
  # :on_output pid, as a local run sends them.
  defp forwarder(caller, ref, opts, streaming) do
    max_output = Keyword.get(opts, :max_output, :infinity)
    counter = :counters.new(1, [])

    fn chunk ->
      if is_pid(streaming), do: send(streaming, {:sandbox_output, ref, chunk})
      sent = :counters.get(counter, 1)

      if streaming == :caller or max_output == :infinity or sent < max_output do
        :counters.add(counter, 1, byte_size(chunk))
        send(caller, {:sandbox_remote_output, ref, chunk})
      end
    end
  end
end
