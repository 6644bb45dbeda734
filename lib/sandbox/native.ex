defmodule Sandbox.Native do
  @moduledoc false
  # The C core (`priv/sandbox_nif.so`). Internal: use `Sandbox`.
  #
  # A VM is a resource: `spawn/5` starts the helper with the given arguments
  # (after the host's pid: the cgroup parent or `"-"`, then the VM's argv)
  # and returns it; it serves one run. Once the peer has booted, a run not yet submitted sends
  # its owner (the caller of `spawn/5`) `{:sandbox, ref, {:ready, os_pid}}`.
  # `submit/4` hands over the request and makes the caller the owner; the
  # outcome arrives as a message `{:sandbox, ref, outcome}` to the owner:
  #
  #   * `{:ok, result_etf, output}`
  #   * `{:timeout, output}`
  #   * `{:noconnection, output, exit}`
  #   * `{:boot_failed, :timeout | :exited | :protocol, output, exit}`
  #   * `{:cancelled, output}` (after `cancel/1`)
  #   * `{:output_limit, output}`, and `{:memory_limit | :cpu_limit |
  #     :process_limit, output}` when the helper stopped the run for
  #     crossing a resource limit
  #   * `:gone`, to a new owner, when the run had already ended (and told
  #     its previous owner) before it was submitted
  #
  # where `exit` is `{:exit_status, code}`, `{:signal, number}`,
  # `{:helper_failed, stage, errno}` or `:unknown`. If the owner dies, the
  # run is killed and nothing is sent.

  @on_load :load

  @typedoc "A VM of the C core (a NIF resource): booting, idle in a pool, or running its one run."
  @opaque vm :: reference()

  @doc false
  # The module loads even without its NIF, so that the application starts
  # where the C core is not built (off Linux): available/0 then says why,
  # and every VM launch refuses with that (Sandbox.Launcher).
  def load do
    path = :filename.join(:code.priv_dir(:sandbox), ~c"sandbox_nif")

    unavailable =
      case :erlang.load_nif(path, 0) do
        :ok ->
          nil

        # Not built: the compiler has said why. Built but not loadable: a
        # broken build, said here.
        {:error, {reason, text}} ->
          if File.exists?("#{path}.so") do
            why = "cannot be loaded from #{path}.so (#{reason}: #{text})"
            :logger.error("sandbox: its C core " <> why)
            why
          else
            "is not built here (no #{path}.so): it builds on Linux only"
          end
      end

    :persistent_term.put({__MODULE__, :unavailable}, unavailable)
    :ok
  end

  @doc "`:ok` where the C core is loaded, else `{:error, why}`."
  @spec available() :: :ok | {:error, String.t()}
  def available do
    case :persistent_term.get({__MODULE__, :unavailable}, "it was never loaded") do
      nil -> :ok
      why -> {:error, why}
    end
  end

  @doc "Starts the helper, which starts the peer (dirty IO scheduler)."
  @spec spawn(String.t(), [String.t()], [String.t()], reference(), non_neg_integer()) ::
          {:ok, vm()} | {:error, {String.t(), integer(), String.t()}}
  def spawn(_helper, _helper_args, _env, _ref, _boot_timeout),
    do: :erlang.nif_error(:not_loaded)

  @doc """
  Sends the request frame with the run's terms: `:timeout`, `:max_output`,
  `:output_limit` (past it the run is stopped: `{:output_limit, output}`),
  `:report`, `:stream_to`, and optionally `:limits`: nil, or
  `{memory_bytes, cpu_ms, processes, file_bytes}` (each an integer up to
  2^50 or `:infinity`), which the helper puts in force once the peer has
  booted, before the request is sent. The caller becomes the run's owner. With
  `report: true`, the owner also gets
  `{:sandbox, ref, {:report, map}}` after the outcome, once the whole tree
  is gone: `:boot_us`, `:setup_us`, `:eval_us` (nil for a step not
  reached), `:output_bytes` (all the code printed), and `:cpu_us` and
  `:max_rss_kb` of the whole tree (nil if the helper could not say), and
  `:enforced_by` (`%{option => :cgroup_v2 | :sampling | :rlimit}` for
  each limit in force, and `network: :netns | :user_netns` for a peer
  born without a network). With a `:stream_to` pid,
  every chunk of the code's output goes there as it is read,
  `{:sandbox_output, ref, chunk}`, before the outcome. With
  `capture_early: true` (a request with no setup, which tells the peer
  so), the run's output is what arrives after the submit (or the boot, if
  later), and the peer evaluates without the capture round trip.
  """
  @spec submit(vm(), binary(), %{
          optional(:limits) => nil | {limit, limit, limit, limit},
          optional(:capture_early) => boolean(),
          timeout: timeout(),
          max_output: non_neg_integer() | :infinity,
          output_limit: non_neg_integer() | :infinity,
          report: boolean(),
          stream_to: pid() | nil
        }) :: :ok
        when limit: non_neg_integer() | :infinity
  def submit(_run, _request, _terms), do: :erlang.nif_error(:not_loaded)

  @doc """
  Decodes a result (external term format, nothing left over) on a dirty
  CPU scheduler. Creates atoms as `:erlang.binary_to_term/1` does.
  """
  @spec decode(binary()) :: {:ok, term()} | :error
  def decode(_encoded), do: :erlang.nif_error(:not_loaded)

  @doc "Kills the run; its owner gets `{:cancelled, output}` unless it already had an answer."
  @spec cancel(vm()) :: :ok
  def cancel(_run), do: :erlang.nif_error(:not_loaded)

  @doc """
  The values of `c_src/common/protocol.h` as the C compiler saw them, and
  the errno values `Sandbox.BootError` explains (`:eperm`, `:einval`,
  `:enospc`). `Sandbox.Protocol` reads the header itself; a test compares.
  """
  @spec constants() :: %{atom() => integer()}
  def constants, do: :erlang.nif_error(:not_loaded)
end
