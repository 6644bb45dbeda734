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
end
