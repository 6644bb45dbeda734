defmodule Sandbox.Pool do
  @moduledoc """
  A supervised pool of pre-booted, single-use sandbox VMs.

  A run given a pool (`Sandbox.run(code, pool: name)`) takes a peer that
  has already booted, started Elixir and loaded the evaluator,
  so the run costs milliseconds instead of a VM boot. Each peer serves
  exactly one run and is then destroyed like any other, so every run
  still starts from a clean slate. The pool boots a replacement in the
  background once the run that took a peer is over, or 25 ms after it
  took it if the run lasts longer: a boot beside a short run would share
  the cores with it.

      children = [
        {Sandbox.Pool, name: MyApp.Sandboxes, size: 2}
      ]

      Sandbox.run("1 + 1", pool: MyApp.Sandboxes)

  ## Options

    * `:name` - the name to register the pool under (optional). A named
      pool also joins the cluster group of that name: see
      `Sandbox.Cluster`.
    * `:size` - how many booted peers to keep waiting (default: `2`), or
      `:auto`: none until the pool is first used, then as many as runs
      have lately used at once, up to `:max_size`, and none again after
      `:idle_timeout` without a run (see below).
    * `:max_size` - with `size: :auto`, the most peers kept waiting
      (default: the number of schedulers online).
    * `:idle_timeout` - with `size: :auto`, how long (ms) the pool keeps
      peers after its last run before it kills them all (default:
      `60_000`).
    * `:max_peers` - the most live peers the pool may have at once:
      waiting, booting and in use, including those booted for callers
      when the pool was empty (default: `:infinity`).
    * `:boot_timeout` - how long one peer may take to boot (default:
      `#{Sandbox.Protocol.boot_timeout_ms()}`).
    * `:isolation` - `:strict` boots every peer in a box (see
      `Sandbox.run/2`'s `:isolation`), with `:read_paths`, `:write_paths`
      and `:disk_limit` as given here: a strict run takes one of them only
      if it asks for the same box, and boots its own otherwise, as does a
      run that is not strict. The box's view of the code paths is made
      when each peer boots.

  ## `size: :auto`

  What the application starts when nothing is configured (see
  `Sandbox.Application`): a pool that costs nothing until a run uses it.
  The first run boots its own peer, as with an empty pool, and once it is
  over the pool boots one in the background for the next. While runs keep coming,
  the pool keeps as many peers waiting as runs have been in progress at
  once, and one more each time a run has had to wait for a peer still
  booting (runs that come faster than one spare boots between them), never
  more than `:max_size`; once `:idle_timeout` passes with no
  run in progress (counted from the last run's end), it kills its waiting
  peers and boots none until the next run. An idle peer costs its memory (about 50 MB resident) and next
  to no CPU.

  ## When no peer is waiting, and `:max_peers`

  A run that finds no booted peer takes the next one to finish booting,
  unless earlier runs have been promised all those booting: a peer part
  booted is ready sooner than a fresh one, and a second boot beside it
  would only share the cores with it. With none booting for it, the run
  boots a fresh peer itself, as a run without a pool does. When
  `:max_peers` peers are live, the run queues (first come, first served)
  until a run ends. Either way it waits for at most its `:boot_timeout`,
  and then raises `Sandbox.BootError`: with reason `:busy` at
  `:max_peers`, else `:timeout`. Time spent waiting is not part of the
  run's `:timeout`.

  A peer that dies while it waits is replaced. If peers keep failing to
  boot, the pool retries with a growing delay (up to 5 s) rather than in a
  tight loop, and runs meanwhile boot their own peers (and raise the boot
  error, if there is one).

  The pool owns its waiting peers: when it stops, they are killed. Peers
  in use belong to their runs.
  """

  use GenServer

  alias Sandbox.{Launcher, Native, Options, Telemetry}

  require Logger

  @default_size 2
  @default_idle_timeout 60_000
  @default_boot_timeout Sandbox.Protocol.boot_timeout_ms()
  @max_backoff_ms 5_000
  # A run's replacement boots this long after its checkout, or when the run
  # is over if that is sooner. Its VMs, like the run's, get only the CPU
  # nothing else wants (priority :idle): booting beside a warm run (2 ms)
  # would share the cores with it and double its time.
  @refill_after_checkout_ms 25

  @typedoc "A pool: its pid or registered name."
  @type pool :: GenServer.server()

  @typedoc "What a run is given: a booted peer, or leave to boot its own."
  @type lease ::
          {:warm, reference(), Native.vm(), reference()}
          | {:cold, reference()}
          | :mismatch

  @typedoc "The box a pool's peers boot in: nil for none, else what makes it."
  @type box :: nil | {[String.t()], [String.t()], non_neg_integer() | :infinity}

  @type option ::
          {:name, GenServer.name()}
          | {:size, non_neg_integer() | :auto}
          | {:max_size, non_neg_integer()}
          | {:idle_timeout, pos_integer()}
          | {:max_peers, pos_integer() | :infinity}
          | {:boot_timeout, non_neg_integer()}

  @doc "Starts a pool linked to the caller. See the module doc for the options."
  @spec start_link([option()]) :: GenServer.on_start()
  def start_link(opts) do
    # (:join is internal: the application's automatic pool joins no
    # cluster group.)
    group = if Keyword.get(opts, :join, true), do: Keyword.get(opts, :name)
    config = Map.put(config!(Keyword.delete(opts, :join)), :group, group)

    case Keyword.fetch(opts, :name) do
      {:ok, name} -> GenServer.start_link(__MODULE__, config, name: name)
      :error -> GenServer.start_link(__MODULE__, config)
    end
  end

  @doc "A child spec whose id is the pool's name, so several pools can share a supervisor."
  @spec child_spec([option()]) :: Supervisor.child_spec()
  def child_spec(opts) do
    %{
      id: Keyword.get(opts, :name, __MODULE__),
      start: {__MODULE__, :start_link, [opts]},
      type: :worker
    }
  end

  @doc """
  How the pool stands: peers `:idle` (booted, waiting), `:booting`,
  `:leased` (given to runs, including runs booting their own), runs
  `:waiting` for `:max_peers`, and the OS pids of the idle peers. Exits
  as `GenServer.call/3` does if the pool does not answer within `timeout`.
  """
  @spec status(pool(), timeout()) :: %{
          idle: non_neg_integer(),
          booting: non_neg_integer(),
          leased: non_neg_integer(),
          waiting: non_neg_integer(),
          idle_os_pids: [pos_integer()],
          size: non_neg_integer() | :auto,
          max_peers: pos_integer() | :infinity
        }
  def status(pool, timeout \\ 5_000), do: GenServer.call(pool, :status, timeout)

  @doc false
  # Takes a peer, or leave to boot one; waits up to wait_ms for a peer
  # that is booting, or for a slot under :max_peers. The lease must be
  # given back with checkin/2. A run whose box is not the pool's gets
  # :mismatch and boots its own. A peer is given only if it booted within
  # wait_ms (the run's :boot_timeout), as a VM of the run's own would have
  # had to, and was launched as one would be now (Launcher.signature/0): a
  # pool's peers are indistinguishable from the VM the run would otherwise
  # have booted.
  @spec checkout(pool(), non_neg_integer(), box()) :: lease() | {:error, :busy | :timeout}
  def checkout(pool, wait_ms, box \\ nil) do
    started = System.monotonic_time()
    lease = GenServer.call(pool, {:checkout, wait_ms, box, Launcher.signature()}, :infinity)

    Telemetry.event(
      [:sandbox, :pool, :checkout],
      %{duration: System.monotonic_time() - started},
      %{pool: pool, caller: self(), result: checkout_result(lease)}
    )

    lease
  end

  defp checkout_result({:warm, _lease_id, _vm, _ref}), do: :hit
  defp checkout_result({:cold, _lease_id}), do: :miss
  defp checkout_result({:error, :busy}), do: :busy
  defp checkout_result({:error, :timeout}), do: :timeout
  defp checkout_result(:mismatch), do: :mismatch

  @doc false
  # The box of runs with these options, as checkout/3 compares it.
  @spec box(Options.t()) :: box()
  def box(%Options{isolation: :none}), do: nil

  def box(%Options{} = options),
    do: {options.read_paths, options.write_paths, options.disk_limit}

  @doc false
  @spec checkin(pool(), reference()) :: :ok
  def checkin(pool, lease_id), do: GenServer.cast(pool, {:checkin, lease_id})

  defp config!(opts) do
    unless Keyword.keyword?(opts) do
      raise ArgumentError, "pool options must be a keyword list, got: #{inspect(opts)}"
    end

    size = Keyword.get(opts, :size, @default_size)
    max_size = Keyword.get(opts, :max_size, System.schedulers_online())
    idle_timeout = Keyword.get(opts, :idle_timeout, @default_idle_timeout)
    max_peers = Keyword.get(opts, :max_peers, :infinity)
    boot_timeout = Keyword.get(opts, :boot_timeout, @default_boot_timeout)

    unless size == :auto or (is_integer(size) and size >= 0),
      do: bad!(:size, "a non-negative integer or :auto", size)

    unless is_integer(max_size) and max_size >= 0,
      do: bad!(:max_size, "a non-negative integer", max_size)

    unless is_integer(idle_timeout) and idle_timeout > 0,
      do: bad!(:idle_timeout, "a positive integer", idle_timeout)

    if size != :auto and
         (Keyword.has_key?(opts, :max_size) or Keyword.has_key?(opts, :idle_timeout)) do
      raise ArgumentError, "pool options :max_size and :idle_timeout apply only with size: :auto"
    end

    unless max_peers == :infinity or (is_integer(max_peers) and max_peers > 0),
      do: bad!(:max_peers, "a positive integer or :infinity", max_peers)

    unless is_integer(boot_timeout) and boot_timeout >= 0,
      do: bad!(:boot_timeout, "a non-negative integer", boot_timeout)

    # What each peer is launched with: the box options, checked as a run's.
    launch =
      Options.validate!(
        "",
        Keyword.take(opts, [:boot_timeout, :isolation, :read_paths, :write_paths, :disk_limit])
      )

    %{
      size: size,
      max_size: max_size,
      idle_timeout: idle_timeout,
      max_peers: max_peers,
      boot_timeout: boot_timeout,
      launch: launch,
      box: box(launch)
    }
  end

  defp bad!(key, expected, value) do
    raise ArgumentError, "pool option #{inspect(key)} must be #{expected}, got: #{inspect(value)}"
  end

  # ---- the server ----------------------------------------------------------

  @impl GenServer
  def init(config) do
    if config.group, do: Sandbox.Cluster.join(config.group, self())

    state =
      Map.merge(config, %{
        # booted VMs, oldest first: %{ref, vm, os_pid, boot_ms, signature}
        idle: :queue.new(),
        # ref => %{vm, started_at, signature}
        booting: %{},
        # lease id (the monitor of the run's process) => VM given, or nil
        leased: %{},
        # runs waiting for a peer that is booting, or for a slot, first
        # come first served: {from, monitor, timer, boot_timeout, signature}
        waiting: :queue.new(),
        failures: 0,
        backoff: nil,
        # How many peers to keep idle or booting: the size, or with
        # size: :auto what recent demand asks for.
        target: if(config.size == :auto, do: 0, else: config.size),
        # size: :auto: when a run last took or gave back a peer, and the
        # idle check.
        last_used: nil,
        idle_timer: nil,
        # Without the C core (off Linux) it boots nothing, and says so once;
        # runs raise before they ask it for a VM.
        unsupported: unsupported?(config.size)
      })

    {:ok, refill(state)}
  end

  @impl GenServer
  def handle_call({:checkout, _wait_ms, box, _signature}, _from, %{box: ours} = state)
      when box != ours,
      do: {:reply, :mismatch, state}

  def handle_call({:checkout, wait_ms, _box, signature}, {caller, _} = from, state) do
    state = drop_stale(state, signature)
    # size: :auto, first run since the pool was empty: its spare boots
    # once this run is over, not beside it (a one-shot program that exits
    # after its run then has it killed before it has cost a boot).
    dormant? = state.size == :auto and state.target == 0

    case next_lease(state, caller, wait_ms, signature, :queue.len(state.waiting)) do
      {reply, state} when dormant? ->
        {:reply, reply, state}

      {reply, state} ->
        Process.send_after(self(), :refill, @refill_after_checkout_ms)
        {:reply, reply, state}

      nil ->
        state = if below_max?(state), do: outpaced(state), else: state
        monitor = Process.monitor(caller)
        timer = Process.send_after(self(), {:wait_expired, monitor}, wait_ms)
        waiter = {from, monitor, timer, wait_ms, signature}
        {:noreply, %{state | waiting: :queue.in(waiter, state.waiting)}}
    end
  end

  def handle_call(:status, _from, state) do
    status = %{
      idle: :queue.len(state.idle),
      booting: map_size(state.booting),
      leased: map_size(state.leased),
      waiting: :queue.len(state.waiting),
      idle_os_pids: for(peer <- :queue.to_list(state.idle), do: peer.os_pid),
      size: state.size,
      max_peers: state.max_peers
    }

    {:reply, status, state}
  end

  @impl GenServer
  def handle_cast({:checkin, lease_id}, state) do
    Process.demonitor(lease_id, [:flush])
    {:noreply, state |> release(lease_id) |> serve_waiting() |> refill()}
  end

  @impl GenServer
  def handle_info({:sandbox, ref, {:ready, os_pid}}, state) do
    case Map.pop(state.booting, ref) do
      {nil, _} ->
        {:noreply, state}

      {booting_peer, booting} ->
        boot_ms = now_ms() - booting_peer.started_at
        peer = Map.merge(booting_peer, %{ref: ref, os_pid: os_pid, boot_ms: boot_ms})
        boot_event(:stop, boot_measurements(boot_ms), ref, %{result: :ok, os_pid: os_pid})
        idle = :queue.in(peer, state.idle)
        state = %{state | booting: booting, idle: idle, failures: 0}
        {:noreply, state |> serve_waiting() |> refill()}
    end
  end

  # Any other outcome for a peer still ours: it failed to boot, or died
  # while idle. Outcomes for peers already leased are their runs' business.
  def handle_info({:sandbox, ref, outcome}, state) do
    cond do
      Map.has_key?(state.booting, ref) ->
        log_failure(outcome)
        boot_ms = now_ms() - state.booting[ref].started_at
        boot_event(:stop, boot_measurements(boot_ms), ref, %{result: :error, reason: outcome})
        state = %{state | booting: Map.delete(state.booting, ref)}
        # Runs waiting for it boot their own (none boots while backing off).
        {:noreply, state |> back_off() |> serve_waiting() |> refill()}

      idle_ref?(state, ref) ->
        idle = :queue.filter(&(&1.ref != ref), state.idle)
        {:noreply, refill(%{state | idle: idle})}

      true ->
        {:noreply, state}
    end
  end

  def handle_info({:DOWN, monitor, :process, _pid, _reason}, state) do
    cond do
      Map.has_key?(state.leased, monitor) ->
        # The run's process died. A peer it had not yet submitted to is
        # still ours: kill it (one it had is killed by the C core).
        if vm = state.leased[monitor], do: Native.cancel(vm)
        {:noreply, state |> release(monitor) |> serve_waiting() |> refill()}

      true ->
        {:noreply, drop_waiting(state, monitor, nil)}
    end
  end

  # Queued at :max_peers, the run found no room; below it, the peer it
  # waited for did not finish booting in time.
  def handle_info({:wait_expired, monitor}, state) do
    Process.demonitor(monitor, [:flush])
    why = if below_max?(state), do: :timeout, else: :busy
    {:noreply, drop_waiting(state, monitor, {:error, why})}
  end

  def handle_info(:retry, state), do: {:noreply, refill(%{state | backoff: nil})}
  def handle_info(:refill, state), do: {:noreply, refill(state)}

  def handle_info(:idle_check, state), do: {:noreply, idle_check(%{state | idle_timer: nil})}

  def handle_info(_other, state), do: {:noreply, state}

  # ---- helpers --------------------------------------------------------------

  defp lease(state, caller, vm) do
    lease_id = Process.monitor(caller)
    {lease_id, %{state | leased: Map.put(state.leased, lease_id, vm)}}
  end

  defp release(state, lease_id),
    do: %{state | leased: Map.delete(state.leased, lease_id), last_used: now_ms()}

  defp live(state), do: :queue.len(state.idle) + map_size(state.booting) + map_size(state.leased)

  defp below_max?(%{max_peers: :infinity}), do: true
  defp below_max?(state), do: live(state) < state.max_peers

  defp idle_ref?(state, ref), do: Enum.any?(:queue.to_list(state.idle), &(&1.ref == ref))

  # Waiting runs come first: each takes a booted peer if there is one, or
  # leave to boot its own once no peer is booting for it, while the bound
  # allows.
  defp serve_waiting(state) do
    case :queue.peek(state.waiting) do
      {:value, {{caller, _} = from, monitor, timer, wait_ms, signature}} ->
        state = drop_stale(state, signature)

        case next_lease(state, caller, wait_ms, signature, 0) do
          {reply, state} ->
            Process.demonitor(monitor, [:flush])
            Process.cancel_timer(timer)
            GenServer.reply(from, reply)
            serve_waiting(%{state | waiting: :queue.drop(state.waiting)})

          nil ->
            state
        end

      :empty ->
        state
    end
  end

  # The oldest idle peer that booted within the run's boot_timeout; else
  # nil (wait) while a peer launched as the run's would be is booting and
  # not promised to one of the `ahead` runs queued before it; else leave to
  # boot its own, under :max_peers.
  defp next_lease(state, caller, boot_timeout, signature, ahead) do
    case Enum.split_while(:queue.to_list(state.idle), &(&1.boot_ms > boot_timeout)) do
      {slower, [peer | rest]} ->
        state = %{state | idle: :queue.from_list(slower ++ rest)}
        {lease_id, state} = lease(state, caller, peer.vm)
        {{:warm, lease_id, peer.vm, peer.ref}, demanded(state)}

      {_all, []} ->
        booting = Enum.count(state.booting, fn {_ref, peer} -> peer.signature == signature end)

        if booting <= ahead and below_max?(state) do
          {lease_id, state} = lease(state, caller, nil)
          {{:cold, lease_id}, demanded(state)}
        end
    end
  end

  # Peers launched otherwise than a VM would be now (the cgroup or
  # priority settings have changed since) are killed: no run can take
  # them.
  defp drop_stale(state, signature) do
    {stale, fresh} = Enum.split_with(:queue.to_list(state.idle), &(&1.signature != signature))
    Enum.each(stale, &Native.cancel(&1.vm))
    %{state | idle: :queue.from_list(fresh)}
  end

  defp drop_waiting(state, monitor, reply) do
    {gone, kept} = Enum.split_with(:queue.to_list(state.waiting), &(elem(&1, 1) == monitor))

    for {from, _monitor, timer, _wait_ms, _signature} <- gone do
      Process.cancel_timer(timer)
      if reply, do: GenServer.reply(from, reply)
    end

    %{state | waiting: :queue.from_list(kept)}
  end

  # size: :auto: a run has taken a peer (or leave to boot one). Keep as
  # many waiting as there are runs in progress now, if more than before.
  defp demanded(%{size: :auto} = state) do
    target = state.leased |> map_size() |> max(state.target) |> min(state.max_size)
    timer = state.idle_timer || Process.send_after(self(), :idle_check, state.idle_timeout)
    %{state | target: target, last_used: now_ms(), idle_timer: timer}
  end

  defp demanded(state), do: state

  # size: :auto: a run had to wait for a peer still booting, so runs come
  # faster than one spare can boot between them (a boot slower than the
  # caller's pause): keep one more, so that the next boots while this one
  # waits to be taken.
  defp outpaced(%{size: :auto} = state),
    do: %{state | target: min(state.target + 1, state.max_size)}

  defp outpaced(state), do: state

  # No run has been in progress for :idle_timeout: kill the waiting and
  # booting peers (their outcomes then find them gone) and keep none until
  # the next run.
  defp idle_check(state) do
    busy? = map_size(state.leased) > 0 or not :queue.is_empty(state.waiting)
    quiet_ms = if busy?, do: 0, else: now_ms() - state.last_used

    if quiet_ms >= state.idle_timeout do
      for peer <- :queue.to_list(state.idle), do: Native.cancel(peer.vm)
      for {_ref, peer} <- state.booting, do: Native.cancel(peer.vm)
      %{state | target: 0, idle: :queue.new(), booting: %{}}
    else
      timer = Process.send_after(self(), :idle_check, state.idle_timeout - quiet_ms)
      %{state | idle_timer: timer}
    end
  end

  defp now_ms, do: System.monotonic_time(:millisecond)

  # Boots peers until `target` are idle or booting, within :max_peers,
  # unless backing off after failures.
  # The automatic pool, which boots only for runs, says nothing.
  defp unsupported?(size) do
    case Native.available() do
      :ok ->
        false

      {:error, why} ->
        if size != :auto,
          do: Logger.warning("sandbox: a pool that boots no VM: its C core #{why}")

        true
    end
  end

  defp refill(%{backoff: backoff} = state) when backoff != nil, do: state
  defp refill(%{unsupported: true} = state), do: state

  defp refill(state) do
    if :queue.len(state.idle) + map_size(state.booting) < state.target and below_max?(state) do
      ref = make_ref()

      case Launcher.launch(ref, state.launch, {:pooled, schedulers(state)}) do
        {:ok, vm} ->
          peer = %{vm: vm, started_at: now_ms(), signature: Launcher.signature()}
          boot_event(:start, Telemetry.start_measurements(), ref, %{})

          refill(%{state | booting: Map.put(state.booting, ref, peer)})

        {:error, reason} ->
          log_failure({:spawn_failed, reason})

          boot_event(:stop, %{duration: 0}, ref, %{
            result: :error,
            reason: {:spawn_failed, reason}
          })

          back_off(state)
      end
    else
      state
    end
  end

  # With others of the pool booting, or runs waiting for one, a VM boots
  # on one scheduler (Sandbox.Launcher): the cores are busy with boots
  # already, and on one it spends less CPU for as many runs. Alone, it
  # boots on all, sooner, and with what most runs call in its boot file:
  # the VM an agent's loop takes a few hundred ms later is then booted and
  # warmed up in time.
  defp schedulers(state) do
    if map_size(state.booting) > 0 or not :queue.is_empty(state.waiting), do: :one, else: :all
  end

  defp back_off(%{backoff: nil} = state) do
    failures = state.failures + 1
    delay = min(50 * Integer.pow(2, min(failures, 10)), @max_backoff_ms)
    %{state | failures: failures, backoff: Process.send_after(self(), :retry, delay)}
  end

  defp back_off(state), do: %{state | failures: state.failures + 1}

  # [:sandbox, :pool, :boot, :start | :stop], in the pool's process; `ref`
  # pairs the two events of one boot.
  defp boot_event(event, measurements, ref, metadata) do
    pool = with {:registered_name, name} <- Process.info(self(), :registered_name), do: name
    pool = if pool == [], do: self(), else: pool

    Telemetry.event(
      [:sandbox, :pool, :boot, event],
      measurements,
      Map.merge(metadata, %{pool: pool, ref: ref})
    )
  end

  defp boot_measurements(boot_ms),
    do: %{duration: System.convert_time_unit(boot_ms, :millisecond, :native), boot_ms: boot_ms}

  defp log_failure(outcome) do
    Logger.warning("Sandbox.Pool: a peer failed to boot: #{inspect(outcome, limit: 5)}")
  end
end
