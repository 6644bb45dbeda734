defmodule Sandbox do
  @moduledoc """
  Evaluates Elixir code in a fresh, isolated Erlang VM and returns what it
  printed and the raw value of its last expression.

  Every call runs in a new OS-level VM (the *peer*) that serves that call
  only, so nothing carries over between calls. The VM is booted for the
  call, or taken ready from a `Sandbox.Pool` (about 2 ms instead of about
  200). The peer sees every code path the host has at the moment
  of the call, so the host's modules and dependencies are available, and
  `Mix.install/1` works where the host has Mix.

      iex> Sandbox.run("IO.puts(:hello); 1 + 1")
      {:ok, %{output: "hello\\n", result: 2}}

  `run/2` is a drop-in replacement for the pure-Elixir sandbox it was
  modelled on (same options, defaults and return shapes), with these
  differences:

    * The host never becomes a distributed node and no EPMD is started.
      The peer has a node name of its own (so its pids and refs never
      decode as the host's), no listener and no connections: `Node.list()`
      in a run is `[]`.
    * Everything the run prints is captured: standard output and standard
      error, Logger, and whatever is written to the VM's OS-level stdout
      and stderr (`:erlang.display/1`, ports, child processes). Reading
      standard input gets `:eof` at once.
    * Output is capped where it is captured (in C): the host holds at most
      `:max_output` bytes of it however much is printed, and the cut is
      made at a whole UTF-8 character.
    * The peer and everything it started (child processes, their children,
      processes that called `setsid`) are killed when the run ends, however
      it ends, and when the caller dies. Output printed before a timeout or
      a crash is kept.
    * Code that kills its own evaluating process gets
      `{:error, {:exit, reason, []}, %{output: ...}}` where the reference
      raised an exit in the caller.

  Without `isolation: :strict` it is best-effort isolation for trusted use
  (agents experimenting, scratch computation), not a security boundary:
  the code runs with the host's user and file system, and with its network
  unless given `network: false`. With `isolation: :strict` the VM runs in a
  box meant to hold against hostile code: see the README's "Isolation" for
  what it withstands and what it does not. Its resources can be bounded:
  see the limits among the options of `run/2`.

  Runs can also go to other nodes of a BEAM cluster that run this package
  (`:node`, or a cluster pool: `pool: {:cluster, group}`); see
  `Sandbox.Cluster`.

  ## How it works

  A C NIF starts a small helper executable (a child subreaper that owns
  the peer's whole process tree) with `posix_spawn` on a dirty scheduler.
  One C thread watches every run's pipes and deadlines and sends the
  outcome to the caller, so no scheduler is held while a run goes on. See
  the README for the process tree.
  """

  alias Sandbox.{Handle, Options, Result, Runner}
  import Sandbox.Handle, only: [is_handle: 1]

  @typedoc "What `run/2` returns: success, timeout or lost peer, or the exception raised."
  @type result ::
          {:ok, %{output: String.t(), result: term()}}
          | {:error,
             :timeout
             | :noconnection
             | :output_limit
             | :memory_limit
             | :cpu_limit
             | :process_limit
             | :result_too_large, %{output: String.t()}}
          | {:error, {:error | :exit | :throw, term(), Exception.stacktrace()},
             %{output: String.t()}}

  @typedoc "An option of `run/2`, `execute/2` and `start/2`: see the table in `run/2`."
  @type option :: Options.option()

  @doc """
  Evaluates `code` in a fresh VM and returns its output and raw result.

  ## Options

  #{Sandbox.Options.doc_table()}
  Past `:max_output` the output ends with the reference's line,
  `"\\n...(truncated, showing first X of Y)"`. A `:setup` that raises
  makes `run/2` raise in the caller as the reference does: errors as
  `{:exception, reason, stacktrace}`, exits as `{:exception, reason}`,
  throws as they are. A VM that cannot boot within `:boot_timeout` raises
  `Sandbox.BootError`; past `:max_new_atoms`, `Sandbox.AtomLimitError`.
  With `:node`, the run is started and owned on that node by a proxy of
  the caller, with that node's pools (`:pool` names one of them), code
  paths and files (`:cd`, `:tmp_dir` are there); if the node goes down
  mid-run the result is `{:error, :noconnection, %{output: output}}` with
  the output that had reached the caller, and if the caller dies the run
  is cancelled there. `{:cluster, group}` is described in `Sandbox.Cluster`.

  The resource limits (`:memory_limit`, `:cpu_time`, `:max_processes`,
  `:max_file_size`) are off by default. They are put in force once the VM
  has booted, so its boot never counts against them, and how each is
  enforced on this machine is in `info/0` (and, per run, in the
  `enforced_by` of `execute/2`'s result).

  Unknown options are ignored, as the reference ignores them.

  ## Results

    * `{:ok, %{output: output, result: value}}` - `value` is the raw value
      of the last expression (`nil` for empty code).
    * `{:error, {kind, reason, stacktrace}, %{output: output}}` - the code
      raised, threw or exited; `reason` is raw as caught (`:badarith`,
      `%RuntimeError{}`, ...). Syntax errors and invalid UTF-8 in `code`
      come back this way too.
    * `{:error, :timeout, %{output: output}}` - the deadline passed;
      `output` is what was printed until then.
    * `{:error, :noconnection, %{output: output}}` - the VM died before
      answering (`System.halt/1`, a crash, a kill from outside); `output`
      is what it printed until then.
    * `{:error, limit, %{output: output}}` - with the option of the same
      name set, the run crossed `:output_limit`, `:memory_limit`,
      `:cpu_limit` (`:cpu_time`) or `:process_limit` (`:max_processes`)
      and was stopped. These appear only when those options are used.
    * `{:error, :result_too_large, %{output: output}}` - with
      `:max_result_bytes` set, the code ended but its result (or error)
      took more than that many bytes to encode; it was not decoded.

  The result is decoded with `:erlang.binary_to_term/1`, so a run can
  create atoms in the host, and atoms are never garbage collected: a result
  holding the peer's pids or refs creates one (the peer's node name), a
  result of `String.to_atom/1` calls creates as many. Past `:max_new_atoms`
  the run raises `Sandbox.AtomLimitError` instead of returning.

  Raises `ArgumentError` for code that is not a binary and for an invalid
  option, naming it.
  """
  @spec run(String.t(), [option()]) :: result()
  def run(code, opts \\ []) do
    options = Options.validate!(code, opts)

    Sandbox.Telemetry.span(
      [:sandbox, :run],
      metadata(:run, options),
      fn ->
        Runner.run(code, options)
      end,
      fn
        {:ok, _} -> {%{}, %{status: :ok}}
        {:error, reason, _} when is_atom(reason) -> {%{}, %{status: reason}}
        {:error, _error, _} -> {%{}, %{status: :error}}
      end
    )
  end

  @doc """
  Evaluates `code` like `run/2` and returns the full report: how the run
  ended, its value or error, its output, and what it took (times, CPU,
  memory). See `Sandbox.Result`.

      iex> %Sandbox.Result{status: :ok, value: 2, output: "hi\\n"} =
      ...>   Sandbox.execute(~S|IO.puts("hi"); 1 + 1|)

  Takes the options of `run/2`. A setup that raises is reported (status
  `:error`, `failed_in: :setup`) rather than raised. Raises
  `Sandbox.BootError` and `Sandbox.AtomLimitError` as `run/2` does.
  """
  # The result's fields that telemetry's stop event carries as measurements.
  @measured [:wall_ms, :boot_ms, :setup_ms, :eval_ms, :cpu_ms, :max_rss_kb, :output_bytes]

  @spec execute(String.t(), [option()]) :: Result.t()
  def execute(code, opts \\ []) do
    options = Options.validate!(code, opts)

    Sandbox.Telemetry.span(
      [:sandbox, :run],
      metadata(:execute, options),
      fn ->
        handle = Runner.start(code, options, report: true)
        {:ok, {outcome, report}} = Runner.await(handle, :infinity)
        Result.from_outcome(outcome, report, handle)
      end,
      &{Map.take(&1, @measured), %{status: &1.status}}
    )
  end

  defp metadata(function, options),
    do: %{function: function, caller: self(), pool: options.pool, node: options.node || node()}

  @doc """
  Starts `code` (options as for `execute/2`) and returns at once with a
  handle for `await/2` and `cancel/1`.

  The run belongs to the calling process: only it can await or cancel the
  handle, and the run is killed if it dies. Await or cancel every handle
  once.
  """
  @spec start(String.t(), [option()]) :: Handle.t()
  def start(code, opts \\ []) do
    options = Options.validate!(code, opts)

    Sandbox.Telemetry.span(
      [:sandbox, :start],
      metadata(:start, options),
      fn -> Runner.start(code, options, report: true) end,
      &{%{}, %{handle: &1}}
    )
  end

  @doc """
  Waits up to `timeout` milliseconds for a started run and returns its
  `Sandbox.Result`. If it has not ended by then, exits with
  `{:timeout, {Sandbox, :await, [handle, timeout]}}` (as `Task.await/2`
  does) and the run goes on under its own `:timeout`.
  """
  @spec await(Handle.t(), timeout()) :: Result.t()
  def await(handle, timeout \\ :infinity) when is_handle(handle) do
    check_owner!(handle)

    handle_span([:sandbox, :await], handle, fn ->
      case Runner.await(handle, timeout) do
        {:ok, {outcome, report}} -> Result.from_outcome(outcome, report, handle)
        :timeout -> exit({:timeout, {__MODULE__, :await, [handle, timeout]}})
      end
    end)
  end

  @doc """
  Stops a started run, kills everything it started, and returns its
  `Sandbox.Result`: status `:cancelled`, with the output printed until
  then, unless it had already ended (then its own result).
  """
  @spec cancel(Handle.t()) :: Result.t()
  def cancel(handle) when is_handle(handle) do
    check_owner!(handle)

    handle_span([:sandbox, :cancel], handle, fn ->
      :ok = Runner.cancel(handle)
      {:ok, {outcome, report}} = Runner.await(handle, :infinity)
      Result.from_outcome(outcome, report, handle)
    end)
  end

  # await/2 and cancel/1: the stop event carries the result, as execute/2's.
  defp handle_span(prefix, handle, fun) do
    Sandbox.Telemetry.span(
      prefix,
      %{function: List.last(prefix), caller: self(), handle: handle},
      fun,
      &{Map.take(&1, @measured), %{status: &1.status}}
    )
  end

  defp check_owner!(%{owner: owner}) do
    unless owner == self() do
      raise ArgumentError,
            "a sandbox run can only be awaited or cancelled by the process that started it " <>
              "(#{inspect(owner)}), not #{inspect(self())}"
    end
  end

  @doc """
  What the sandbox runs on here: how a run's tree is killed, how each
  resource limit is enforced, and where the pieces are.

    * `:tree_kill` - `:cgroup_v2` when runs get a cgroup of their own
      (`cgroup.kill` ends the whole tree in one step), else `:subreaper`
      (the VM's process group, then every orphan the helper inherits). See
      `Sandbox.Cgroup` for how the cgroup is chosen and configured.
    * `:cgroup_parent` - the directory run cgroups are created in, or nil.
    * `:limits` - for each resource limit, how it is enforced, strongest
      first where there is a choice:
      * `:memory_limit` - `:cgroup_v2` (`memory.max` with swap off, the
        verdict from the kernel's out-of-memory kill in `memory.events`)
        where the memory controller is enabled for run cgroups, else
        `:sampling` (the helper sums the tree's resident memory every
        10 ms and kills it past the limit);
      * `:cpu_time` - `:cgroup_v2` (the run cgroup's `cpu.stat`, read every
        10 ms) with any run cgroup, else `:sampling` (the tree's times in
        `/proc`);
      * `:max_processes` - `:cgroup_v2` (`pids.max`: a fork past it fails,
        and the run is stopped) where the pids controller is enabled for
        run cgroups, else `:sampling` (the tree's processes counted every
        10 ms);
      * `:max_file_size` - `:rlimit` (`RLIMIT_FSIZE` on every process of
        the tree).
    * `:network` - how `network: false` gets a network namespace per run:
      `:netns` with `CAP_SYS_ADMIN`, else `:user_netns` (inside a user
      namespace of the run's own, mapping only this user onto itself). The
      kernel may still refuse it; the run then raises `Sandbox.BootError`.
    * `:isolation` - what an `isolation: :strict` run gets here:
      `:available` (false when something in `:missing` is: bubblewrap,
      `sandbox_confine`, or user namespaces turned off by a setting that
      is named), the `:mechanisms` it uses, the kernel's `:landlock_abi`
      (0: none, and no Landlock), the `:user` a root host's runs become
      (`:own` on a host that is not root) and the `:bwrap` it starts.
    * `:erl` and `:helper` - the executables a run starts.
  """
  @spec info() :: %{
          tree_kill: :cgroup_v2 | :subreaper,
          cgroup_parent: String.t() | nil,
          limits: %{
            memory_limit: :cgroup_v2 | :sampling,
            cpu_time: :cgroup_v2 | :sampling,
            max_processes: :cgroup_v2 | :sampling,
            max_file_size: :rlimit
          },
          network: :netns | :user_netns,
          isolation: %{
            available: boolean(),
            missing: [String.t()],
            mechanisms: [atom()],
            landlock_abi: non_neg_integer(),
            user: {pos_integer(), pos_integer()} | :own,
            bwrap: String.t() | nil
          },
          erl: String.t(),
          helper: String.t()
        }
  def info do
    parent = Sandbox.Cgroup.parent()
    controllers = Sandbox.Cgroup.controllers()
    by_cgroup = fn controller -> if controller in controllers, do: :cgroup_v2, else: :sampling end

    %{
      tree_kill: if(parent, do: :cgroup_v2, else: :subreaper),
      cgroup_parent: parent,
      limits: %{
        memory_limit: by_cgroup.("memory"),
        cpu_time: if(parent, do: :cgroup_v2, else: :sampling),
        max_processes: by_cgroup.("pids"),
        max_file_size: :rlimit
      },
      network: Sandbox.NetworkNamespace.mechanism(),
      isolation: Sandbox.Isolation.info(),
      erl: Sandbox.Launcher.erl_path(),
      helper: Sandbox.Launcher.helper_path()
    }
  end

  @doc """
  Does nothing and returns `:ok`.

  Kept so code written for the reference keeps compiling: the reference
  had to turn the host into a distributed node, and this package never
  does.
  """
  @spec ensure_distributed!() :: :ok
  def ensure_distributed!, do: :ok
end
