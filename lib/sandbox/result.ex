defmodule Sandbox.Result do
  @moduledoc """
  The full report of one run, from `Sandbox.execute/2` and `Sandbox.await/2`.

    * `:status` - how the run ended:
      * `:ok` - the code ran to the end; `value` is its raw result.
      * `:error` - the setup or the code raised, threw or exited; `error`
        is `{kind, reason, stacktrace}` and `failed_in` says which.
      * `:timeout` - `:timeout` passed.
      * `:crashed` - the VM died before answering (`System.halt/1`, a
        crash, a kill from outside); `exit_status` or `signal` says how.
      * `:cancelled` - `Sandbox.cancel/1` stopped it.
      * `:output_limit` - it printed more than `:output_limit` bytes and
        was stopped there.
      * `:memory_limit`, `:cpu_limit`, `:process_limit` - it crossed
        `:memory_limit`, `:cpu_time` or `:max_processes` and was stopped.
      * `:result_too_large` - it ended, but its result (or error) took
        more than `:max_result_bytes` to encode, so the host did not
        decode it; `output` is kept.
    * `:value` - the raw value of the last expression (`:ok` only).
    * `:error` - `{kind, reason, stacktrace}` (`:error` only).
    * `:failed_in` - `:setup` or `:code` (`:error` only).
    * `:output` - what was printed, capped as `Sandbox.run/2` caps it.
    * `:output_bytes` - all the code printed, kept or not.
    * `:truncated` - whether `output` was cut at `:max_output`.
    * `:exit_status`, `:signal` - how the VM ended, for `:crashed` only (a
      VM that answered is stopped by the sandbox itself).
    * `:wall_ms` - the whole call, as the caller saw it.
    * `:boot_ms` - waiting for the VM to boot (0 with a pool's warm VM),
      `:setup_ms`, `:eval_ms` - the setup and the evaluation (nil for a
      step not reached).
    * `:cpu_ms` - user plus system CPU of the VM and everything it started,
      over the VM's whole life (for a pool's VM, its boot too);
      `:max_rss_kb` - the largest resident set among them. Both nil if the
      helper could not report them. They are known once the whole tree is
      reaped, which is when `Sandbox.execute/2` returns.
    * `:enforced_by` - for each resource limit the run was given
      (`:memory_limit`, `:cpu_time`, `:max_processes`, `:max_file_size`),
      how it was enforced: `:cgroup_v2`, `:sampling` or `:rlimit` (see
      `Sandbox.info/0`); with `network: false`, `:network` - the VM's
      network namespace: `:netns`, or `:user_netns` inside a user namespace
      of its own. Empty without either, or when the run ended before its
      limits were in force.

  Times are milliseconds, as floats with microsecond resolution.
  """

  alias Sandbox.{AtomLimitError, BootError, Isolation, Native}

  @typedoc "How a run ended."
  @type status ::
          :ok
          | :error
          | :timeout
          | :crashed
          | :cancelled
          | :output_limit
          | :memory_limit
          | :cpu_limit
          | :process_limit
          | :result_too_large

  @typedoc "How a resource limit was enforced."
  @type mechanism :: :cgroup_v2 | :sampling | :rlimit

  @type t :: %__MODULE__{
          status: status(),
          value: term(),
          error: {:error | :exit | :throw, term(), Exception.stacktrace()} | nil,
          failed_in: :setup | :code | nil,
          output: String.t(),
          output_bytes: non_neg_integer(),
          truncated: boolean(),
          exit_status: non_neg_integer() | nil,
          signal: pos_integer() | nil,
          wall_ms: float(),
          boot_ms: float() | nil,
          setup_ms: float() | nil,
          eval_ms: float() | nil,
          cpu_ms: float() | nil,
          max_rss_kb: non_neg_integer() | nil,
          enforced_by: %{
            optional(:memory_limit | :cpu_time | :max_processes | :max_file_size) => mechanism(),
            optional(:network) => :netns | :user_netns
          }
        }

  defstruct status: nil,
            value: nil,
            error: nil,
            failed_in: nil,
            output: "",
            output_bytes: 0,
            truncated: false,
            exit_status: nil,
            signal: nil,
            wall_ms: 0.0,
            boot_ms: nil,
            setup_ms: nil,
            eval_ms: nil,
            cpu_ms: nil,
            max_rss_kb: nil,
            enforced_by: %{}

  # ---- from the C core's outcome and report ----------------------------------

  @doc false
  # The result of a run whose outcome and report (nil when none was asked
  # for: run/2) Sandbox.Runner.await/2 returned. Raises as Sandbox.run/2
  # does for a VM that cannot boot and for too many new atoms.
  @spec from_outcome(term(), map() | nil, Sandbox.Handle.t()) :: t()
  def from_outcome(outcome, report, %{options: options, started_at: started_at}) do
    wall = System.convert_time_unit(System.monotonic_time() - started_at, :native, :microsecond)
    finish(outcome, with_report(%__MODULE__{wall_ms: wall / 1000}, report, options), options)
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

  # Not decoded at all: a result too large for the caller costs the host
  # no memory beyond the frame it came in.
  defp finish({:ok, encoded, output}, result, %{max_result_bytes: max} = _options)
       when is_integer(max) and byte_size(encoded) > max,
       do: %{result | status: :result_too_large, output: output}

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

  defp finish({:boot_failed, reason, output, exit}, _result, options) do
    why = reason == :exited and options.isolation == :strict and Isolation.refusal(output)
    reason = if why, do: {:isolation, why}, else: reason
    raise BootError, reason: reason, output: output, exit: exit
  end

  defp ms(nil), do: nil
  defp ms(us), do: us / 1000

  @doc false
  # run/2's shapes, the reference's: a setup that raised is raised again
  # as :erpc did, and a VM lost (or answering nonsense) is :noconnection.
  @spec to_run_return(t()) :: Sandbox.result()
  def to_run_return(%__MODULE__{status: :ok, output: output, value: value}),
    do: {:ok, %{output: output, result: value}}

  def to_run_return(%__MODULE__{status: :error, failed_in: :setup, error: {kind, reason, stack}}),
    do: raise_like_erpc(kind, reason, stack)

  def to_run_return(%__MODULE__{status: :error, output: output, error: error}),
    do: {:error, error, %{output: output}}

  def to_run_return(%__MODULE__{status: :crashed, output: output}),
    do: {:error, :noconnection, %{output: output}}

  def to_run_return(%__MODULE__{status: status, output: output}),
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
