defmodule Sandbox.Guest.LazyLogger do
  @moduledoc false
  # Elixir's Logger in a peer, started when the run first needs it rather
  # than in every VM: its application and the modules its start loads
  # (about 25) cost a trivial run about 7% of its CPU, and most runs never
  # log. Internal: it runs in the peer.
  #
  # What needs it, and what then happens:
  #
  #   * a log event that passes the level (the run's `Logger.info`, a
  #     module it calls, `:logger`, OTP's report of a crashed process): a
  #     primary filter of `:logger` holds it, Logger starts, and the event
  #     is logged again, now to Logger's handler; the held one is dropped.
  #   * code or setup that names `Logger` (`Logger.configure/1`, a backend,
  #     a level): Logger starts before the setup, as if it had always run
  #     (on Elixir 1.14, `Logger.configure/1` fails without it).
  #
  # One process of its own, the starter, starts Logger and logs the held
  # events again, in the order they came. The process that logged waits
  # for its event, so what it prints next comes after it, except a
  # registered one: `logger_proxy` (which logs a crashed process's
  # report), the application controller and the code server are among
  # those Logger's start calls, and must not be kept waiting for it.
  # Events are held until Logger has started, so none prints in Erlang's
  # format, and the reports of Logger's own start are dropped by Logger,
  # as in a VM that started it at boot. `await/0`, at the end of a run,
  # waits for all.
  #
  # Logger's start sets the level of its own (Elixir 1.18 always, 1.14
  # from `:notice`): the level of the moment is put back after it, so a
  # run keeps the level its request set.

  @starter __MODULE__
  @filter :sandbox_lazy_logger
  @pending {__MODULE__, :pending}

  # What Logger's start loads, loaded together rather than one by one as
  # it calls them (Elixir 1.14 and 1.18; one missing is skipped).
  @modules ~w(
    Elixir.Access Elixir.Application Elixir.GenServer Elixir.IO Elixir.Keyword
    Elixir.Logger Elixir.Logger.App Elixir.Logger.BackendSupervisor
    Elixir.Logger.Backends.Console Elixir.Logger.Config Elixir.Logger.Filter
    Elixir.Logger.Formatter Elixir.Logger.Handler Elixir.Logger.Utils
    Elixir.Logger.Watcher Elixir.Regex Elixir.Supervisor
    Elixir.Supervisor.Default
  )a

  # A waiting process gives up after this long (Logger's start takes tens
  # of ms); its event is still logged once Logger has started.
  @wait_ms 5_000

  @doc "Starts the starter and holds log events from now on, until Logger runs."
  @spec install() :: :ok
  def install do
    # Events handed to the starter and not yet logged again: `await/0`
    # has nothing to wait for when there are none, which is every run
    # that does not log (a round trip to a sleeping process costs a warm
    # run tens of µs to milliseconds under load).
    :persistent_term.put(@pending, :atomics.new(1, signed: false))
    :erlang.register(@starter, spawn(fn -> serve(:idle) end))
    :ok = :logger.add_primary_filter(@filter, {&__MODULE__.filter/2, :none})
  end

  @doc "Starts Logger now if any of `sources` (code strings or quoted setup) names it."
  @spec start_if_named([String.t() | Macro.t()]) :: :ok
  def start_if_named(sources) do
    if :lists.any(&names_logger?/1, sources), do: ask(:start), else: :ok
  end

  @doc """
  Returns once every event held so far has been logged again (a crashed
  process's report that OTP had queued included).
  """
  @spec await() :: :ok
  def await do
    # logger_proxy logs what the emulator reports (a crashed process):
    # once it has answered, what it had has been through the filter.
    if busy?(:logger_proxy) do
      try do
        _ = :sys.get_state(:logger_proxy, @wait_ms)
      catch
        :exit, _ -> :ok
      end
    end

    if :atomics.get(:persistent_term.get(@pending), 1) > 0, do: ask(:sync), else: :ok
  end

  defp busy?(name) do
    case :erlang.whereis(name) do
      :undefined ->
        false

      pid ->
        :erlang.process_info(pid, [:status, :message_queue_len]) != [
          status: :waiting,
          message_queue_len: 0
        ]
    end
  end

  @doc false
  # The primary filter (`:logger` calls it in the process that logs).
  @spec filter(:logger.log_event(), term()) :: :stop
  def filter(event, _extra) do
    :atomics.add(:persistent_term.get(@pending), 1, 1)

    cond do
      # (Erlang's answer for a process without a name is [].)
      :erlang.process_info(self(), :registered_name) == [] ->
        ask({:log, event})

      (starter = :erlang.whereis(@starter)) != :undefined ->
        send(starter, {{:log, event}, nil})

      true ->
        :ok
    end

    :stop
  end

  defp ask(request) do
    case :erlang.whereis(@starter) do
      :undefined ->
        :ok

      starter ->
        # An alias: an answer that comes after the wait gave up is dropped,
        # not left in the mailbox of the run's process.
        monitor = :erlang.monitor(:process, starter, [{:alias, :reply_demonitor}])
        send(starter, {request, monitor})

        receive do
          {^monitor, :done} -> :erlang.demonitor(monitor, [:flush])
          {:DOWN, ^monitor, _, _, _} -> :ok
        after
          @wait_ms -> :erlang.demonitor(monitor, [:flush])
        end

        :ok
    end
  end

  defp serve(state) do
    receive do
      {request, reply_to} ->
        state = handle(request, state)
        if reply_to, do: send(reply_to, {reply_to, :done})
        serve(state)
    end
  end

  defp handle(:sync, state), do: state
  defp handle(:start, state), do: start_logger(state)

  defp handle({:log, event}, state) do
    state = start_logger(state)
    log_again(event)
    :atomics.sub(:persistent_term.get(@pending), 1, 1)
    state
  end

  defp start_logger(:started), do: :started

  defp start_logger(:idle) do
    %{level: level} = :logger.get_primary_config()
    _ = :code.ensure_modules_loaded(@modules)
    _ = :application.ensure_all_started(:logger)
    :ok = :logger.set_primary_config(:level, level)
    _ = :logger.remove_primary_filter(@filter)
    :started
  end

  # The same event through `:logger`'s own API, so Logger's handler and
  # filters (its translation of OTP's reports) see it as they would have.
  # Its metadata (pid, group leader, time, location) is the original's.
  defp log_again(%{level: level, msg: msg, meta: meta}) do
    case msg do
      {:string, string} -> :logger.log(level, string, meta)
      {:report, report} -> :logger.log(level, report, meta)
      {format, args} -> :logger.log(level, format, args, meta)
    end
  end

  defp names_logger?(code) when is_binary(code), do: :binary.match(code, "Logger") != :nomatch
  defp names_logger?(quoted), do: names_logger?(:erlang.term_to_binary(quoted))
end
