defmodule Sandbox.Launcher do
  @moduledoc false
  # Starts one VM through the C core: its helper (in the run cgroup parent
  # when there is one) and, through it, `erl` from the host's own root with
  # a unique node name but no distribution, no EPMD, no shell
  # and no input, crash dumps off, and `Sandbox.Guest` as the entry point.
  # Used by `Sandbox.Runner` for cold runs and by `Sandbox.Pool` for warm
  # ones.

  alias Sandbox.{BootFile, Cgroup, IdleGroup, Isolation, Native, Options}

  @doc """
  Spawns a VM for `options` (their `:boot_timeout`, `:network`,
  `:isolation` and the paths of a strict box) whose outcome messages carry
  `ref` and go to the caller until a submit hands the run on. With
  `network: false`, the VM is born in a network namespace of its own,
  empty; if the kernel refuses one, the run fails to boot (the helper
  reports it) rather than run with a network. With `isolation: :strict` it
  is born in a box (`Sandbox.Isolation`), or, where one cannot be had,
  the error says why. `use` is `:cold` for a VM launched for its run,
  `{:pooled, schedulers}` for a pool's, which warms up while it waits for
  one and boots with `:all` its schedulers online or `:one`.
  """
  @spec launch(reference(), Options.t(), :cold | {:pooled, :all | :one}) ::
          {:ok, Native.vm()}
          | {:error,
             {:spawn, String.t(), integer(), String.t()}
             | {:isolation, String.t()}
             | {:unsupported, String.t()}}
  def launch(ref, %Options{} = options, use) do
    with :ok <- c_core(),
         %{argv: argv, env: env} = command(use),
         {:ok, {flags, argv}} <- boxed(argv, options) do
      helper_args = flags ++ priority_flags() ++ [Cgroup.parent() || "-" | argv]

      case Native.spawn(helper_path(), helper_args, env, ref, options.boot_timeout) do
        {:ok, vm} -> {:ok, vm}
        {:error, {step, errno, text}} -> {:error, {:spawn, step, errno, text}}
      end
    end
  end

  defp c_core do
    with {:error, why} <- Native.available(), do: {:error, {:unsupported, why}}
  end

  defp boxed(argv, %Options{isolation: :strict} = options), do: Isolation.wrap(argv, options)
  defp boxed(argv, %Options{network: true}), do: {:ok, {[], argv}}
  defp boxed(argv, %Options{network: false}), do: {:ok, {["--no-network"], argv}}

  @doc """
  The CPU priority VMs (and everything they start) run at, below the
  host's: `config :sandbox, priority: setting`.

    * `:idle` (default) - under `SCHED_IDLE`: a VM gets only the CPU time
      that nothing else (the host among others) wants. Many VMs booting on
      every core then leave the host's own processes the CPU the moment
      they wake. Where the host can make one (a cgroup v1 `cpu`
      hierarchy it may write to), all VMs also share one CPU cgroup
      marked idle, `sandbox-idle` beside the host's own, which the kernel
      weighs as one entity below the host's: without it, the host's
      threads still waited up to a scheduler tick behind VMs' threads.
      With `cgroup: false` there is no such group. On a host whose own
      work keeps every core busy, runs wait for CPU (their deadlines still
      hold: the helper that keeps them runs at the host's priority).
    * `0..19` - that many steps of niceness below the host, under the
      normal policy: VMs get a share of a busy CPU rather than none. `0`
      runs them at the host's priority.
  """
  @spec priority() :: :idle | 0..19
  def priority do
    case Application.get_env(:sandbox, :priority, :idle) do
      :idle ->
        :idle

      n when is_integer(n) and n in 0..19 ->
        n

      other ->
        raise ArgumentError,
              "config :sandbox, :priority must be :idle or an integer from 0 to 19, " <>
                "got: #{inspect(other)}"
    end
  end

  defp priority_flags do
    case priority() do
      :idle -> ["--idle" | idle_group_flags()]
      0 -> []
      n -> ["--nice", Integer.to_string(n)]
    end
  end

  defp idle_group_flags do
    case IdleGroup.dir() do
      nil -> []
      dir -> ["--idle-group", dir]
    end
  end

  @doc """
  What a VM launched now is launched with, apart from the run's own
  options: the cgroup and priority settings. A pool's VM launched
  otherwise is not given to a run: it is not the VM the run would have
  booted. (The host's environment and working directory change more
  often, and a warm VM takes them on with its run: see `host_context/0`.)
  """
  @spec signature() :: term()
  def signature, do: {Cgroup.parent(), priority(), IdleGroup.dir()}

  @doc """
  The environment and working directory a VM launched now starts with,
  and their digest, which each VM is launched with (`-sandbox_context`):
  a warm VM whose digest is not the one of its run's moment takes the
  run's environment and directory before the code runs (`Sandbox.Guest`).
  """
  @spec host_context() :: %{digest: integer(), env: %{String.t() => String.t()}, cwd: String.t()}
  def host_context do
    {_exec, exec_env} = vm_executable()
    env = Map.merge(environment(), exec_env)
    cwd = File.cwd!()
    %{digest: :erlang.phash2({env, cwd}), env: env, cwd: cwd}
  end

  @doc "The helper executable that owns each VM and its tree."
  @spec helper_path() :: String.t()
  def helper_path, do: Path.join(:code.priv_dir(:sandbox), "sandbox_helper")

  # Variables that would change the peer VM's own arguments: the peer must
  # boot exactly as built here, whatever the host was started with.
  @vm_flag_variables ~w(ERL_FLAGS ERL_AFLAGS ERL_ZFLAGS ERL_CRASH_DUMP ERL_CRASH_DUMP_SECONDS)

  # The command for one fresh VM.
  defp command(use) do
    {exec, _exec_env} = vm_executable()
    context = host_context()
    env = Enum.map(context.env, fn {key, value} -> key <> "=" <> value end)
    %{argv: [exec | vm_args(context.digest, boot_kind(use)) ++ use_flags(use)], env: env}
  end

  # A pool's VM booted alone (the pool says when) is booted for a run
  # likely to come soon, an agent's next call say: its boot file loads
  # what most runs call too (Sandbox.Guest.common/0), about 30 modules
  # and 25 ms of CPU. Any other VM loads only what every run needs: a cold
  # run's VM, which the run waits for, and a pool's VM booted among others,
  # under load, where CPU per run is what counts; a run loads what else it
  # calls when it calls it.
  defp boot_kind({:pooled, :all}), do: :common
  defp boot_kind(_use), do: :run

  # A VM launched for its run skips the throwaway evaluation a pool's VM
  # runs while it waits (see Sandbox.Guest). A pool's VM may boot with one
  # scheduler online (`Sandbox.Guest` brings the others online when its
  # run comes; the pool says when, see there): on one scheduler a boot
  # spends less CPU, the schedulers not waking each other as they share
  # out the loading, but takes a quarter longer. Measured in one host, 4
  # callers of the automatic pool for 6 s each way in turn, 3 times: 226,
  # 227 and 231 ms of the machine's CPU per run against 236, 241 and 234,
  # and 4 to 8% more runs per second.
  defp use_flags(:cold), do: ["-sandbox_cold"]
  defp use_flags({:pooled, :all}), do: []
  defp use_flags({:pooled, :one}), do: ["+S", ":1"]

  @doc """
  What starts a VM: ERTS's `erlexec` with the variables `erl` would have
  set, or `erl` itself where there is no `erlexec` beside the running
  VM. (The `erl` script only finds those variables, with five programs
  forked on the way: a millisecond of CPU each, on every run.)
  """
  @spec vm_executable() :: {String.t(), %{String.t() => String.t()}}
  def vm_executable do
    # Found once: the running VM's installation does not move, and every
    # launch and every warm run (host_context/0) asks.
    Sandbox.Once.get({__MODULE__, :vm_executable}, &find_vm_executable/0)
  end

  defp find_vm_executable do
    root = List.to_string(:code.root_dir())
    bin = Path.join([root, "erts-#{:erlang.system_info(:version)}", "bin"])
    erlexec = Path.join(bin, "erlexec")

    if File.exists?(erlexec),
      do: {erlexec, %{"ROOTDIR" => root, "BINDIR" => bin, "EMU" => "beam", "PROGNAME" => "erl"}},
      else: {erl_path(), %{}}
  end

  @doc "The `erl` of the running VM's own installation."
  @spec erl_path() :: String.t()
  def erl_path do
    root = List.to_string(:code.root_dir())
    in_bin = Path.join([root, "bin", "erl"])

    if File.exists?(in_bin),
      do: in_bin,
      else: Path.join([root, "erts-#{:erlang.system_info(:version)}", "bin", "erl"])
  end

  defp vm_args(digest, boot_kind) do
    [
      # Schedulers that run out of work sleep at once rather than spin for
      # more: a VM's boot is short bursts of work on each scheduler, and
      # spinning after each costs CPU (a sixth of a bare VM's) that other
      # VMs and the host could use.
      "+sbwt",
      "none",
      "+sbwtdcpu",
      "none",
      "+sbwtdio",
      "none",
      # One instance of each memory allocator, shared by the VM's threads,
      # rather than one per scheduler and one more: each instance starts
      # with carriers of its own to set up and touch, and a VM that lives
      # for one snippet never gains from spreading its allocations.
      # Measured in one host, 40 cold runs each way in turn: 9 ms less CPU
      # per run (38 of 40 pairs better); with 4 callers back to back, 5%
      # more runs per second.
      "+Mut",
      "false",
      # Two dirty I/O schedulers rather than ten: threads a VM starts and
      # stops and that file reads (code loading) never keep busy. Two, not
      # one, so that code blocked reading a pipe or a FIFO does not stop
      # the VM loading modules. 4 ms less CPU per run (30 of 40 pairs).
      "+SDio",
      "2",
      # No shell, nothing read from stdin (the peer's stdin is /dev/null).
      "-noshell",
      "-noinput",
      # No node name on the command line: `Sandbox.Guest` names the node
      # itself, without distribution (see there). Whatever code may try,
      # no EPMD, no global name traffic, and a cookie nobody knows (also:
      # no ~/.erlang.cookie written).
      "-start_epmd",
      "false",
      "-connect_all",
      "false",
      "-setcookie",
      random_token(),
      "-sandbox_node",
      node_name(),
      "-sandbox_context",
      Integer.to_string(digest)
    ] ++ boot_and_paths(boot_kind) ++ ["-s", "Elixir.Sandbox.Guest", "start"]
  end

  # The installation's default boot with the modules every peer loads
  # ahead of the kernel, in batches, each from where it is
  # (Sandbox.BootFile), and the host's code paths for `Sandbox.Guest` to
  # add once booted. Not `-pa`: init puts those ahead of every directory
  # of the boot file, and would look for each module it loads in each of
  # them first (measured: about 770 failed opens per VM, 8 to 20 ms of
  # CPU). Where there is no boot file, erl's own default boot, and `-pa`,
  # without which init would not find `Sandbox.Guest` to start it.
  defp boot_and_paths(kind) do
    case BootFile.path(kind) do
      nil -> ["-pa" | host_paths()]
      path -> ["-boot", path, "-sandbox_paths" | host_paths()]
    end
  end

  @doc """
  The environment a VM launched now gets: the host's, without what would
  change how the VM boots.
  """
  @spec environment() :: %{String.t() => String.t()}
  def environment do
    System.get_env()
    |> Map.drop(@vm_flag_variables)
    |> Map.put("ERL_CRASH_DUMP_SECONDS", "0")
  end

  # The host's code paths as they are now, minus OTP's own (the peer has
  # those), reversed because `-pa` and `:code.add_pathsa/1` add them one
  # by one at the front.
  # Paths added later travel with the request.
  defp host_paths do
    otp_lib = :code.lib_dir()
    own = [own_ebin(), List.to_string(:code.lib_dir(:elixir, :ebin))]

    :code.get_path()
    |> Enum.reject(&List.starts_with?(&1, otp_lib))
    |> Enum.map(&List.to_string/1)
    |> Kernel.++(own)
    |> Enum.uniq()
    |> Enum.reverse()
  end

  defp own_ebin, do: Path.dirname(List.to_string(:code.which(Sandbox.Guest)))

  defp node_name do
    "sandbox_#{System.pid()}_#{System.unique_integer([:positive])}_#{random_token()}"
  end

  defp random_token do
    Integer.to_string(:rand.uniform(0x3FFFFFFFFFFFFFFF), 36) |> String.downcase()
  end
end
