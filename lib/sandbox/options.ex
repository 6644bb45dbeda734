defmodule Sandbox.Options do
  @moduledoc false
  # Internal: not part of the public API.
  # The checked options of a run. `validate!/2` raises `ArgumentError`, naming
  # the option, for anything `Sandbox.run/2` cannot honour.

  require Logger

  # The limits a :strict run gets unless it is given others: finite, so a
  # bomb ends the run and not the machine.
  @strict_limits [
    memory_limit: 512_000_000,
    max_processes: 64,
    max_file_size: 64_000_000,
    disk_limit: 64_000_000,
    output_limit: 16_000_000
  ]

  # Every option of run/2, execute/2 and start/2, documented once: the
  # table in run/2's doc, the README's (a test checks it is this one) and
  # the @type option are made from this list. `default` is the value taken
  # when the option is not given; `shown` how the table shows it when that
  # is not the value itself; `ours` marks what the reference does not have.
  @schema [
    timeout: [
      type: quote(do: timeout()),
      default: 60_000,
      doc:
        "ms for the setup and the evaluation together, or `:infinity`. Booting the VM is not counted."
    ],
    max_output: [
      type: quote(do: non_neg_integer() | :infinity),
      default: 50_000,
      doc:
        "bytes of output to keep, or `:infinity`; past it the output is cut on a whole UTF-8 character and ends with the reference's truncation line."
    ],
    setup: [
      type: quote(do: String.t() | Macro.t() | [String.t() | Macro.t()] | nil),
      default: nil,
      doc:
        "code evaluated first, in order: a string, quoted AST, or a list of either. Its output is not included; modules it defines are usable by `code`; it runs in the same process as `code`."
    ],
    boot_timeout: [
      type: quote(do: non_neg_integer()),
      default: Sandbox.Protocol.boot_timeout_ms(),
      ours: true,
      doc:
        "ms the VM may take to boot; with a pool at its `:max_peers`, also how long the run may queue for room"
    ],
    max_new_atoms: [
      type: quote(do: non_neg_integer() | :infinity),
      default: 100_000,
      ours: true,
      doc: "atoms decoding the result may create in the host, or `:infinity`"
    ],
    max_result_bytes: [
      type: quote(do: non_neg_integer() | :infinity),
      default: :infinity,
      ours: true,
      doc:
        "the largest result the host decodes, in bytes of its external term format; a larger one is not decoded and the run ends in `:result_too_large`"
    ],
    pool: [
      type: quote(do: Sandbox.Pool.pool() | false | {:cluster, term()}),
      default: :default,
      shown: "the default pool (`Sandbox.AutoPool` unless one is configured)",
      ours: true,
      doc:
        "a `Sandbox.Pool` (pid or name) to take a booted VM from, or `false` to boot a fresh one; `{:cluster, group}`: a pool of that name somewhere in the cluster"
    ],
    env: [
      type: quote(do: %{String.t() => String.t() | nil} | [{String.t(), String.t() | nil}]),
      default: [],
      ours: true,
      doc:
        "variables to set (`\"value\"`) or unset (`nil`) for the code and every process it starts, as a map or a list of pairs"
    ],
    cd: [
      type: quote(do: Path.t()),
      default: nil,
      shown: "the host's",
      ours: true,
      doc: "the run's working directory, an existing one"
    ],
    stdin: [
      type: quote(do: binary()),
      default: nil,
      ours: true,
      doc:
        "what the code reads with `IO.gets`/`IO.read` (prompts go to the output); without it, reads are at end of file; the OS-level stdin stays `/dev/null`"
    ],
    logger_level: [
      type: quote(do: :host | Logger.level()),
      default: :host,
      shown: "`:host`",
      ours: true,
      doc:
        "Logger's level in the run: `:host`, the host's level at the time of the run (what its own Logger calls would print, the run's print), or a level (`:warning` is the reference's)"
    ],
    on_output: [
      type: quote(do: pid() | (binary() -> any())),
      default: nil,
      ours: true,
      doc:
        "the output as it arrives, before the run ends: a local pid gets `{:sandbox_output, ref, chunk}`, or a one-argument function is called with each chunk in the waiting caller; uncapped, bytes as read, about a millisecond apart at most while the code prints (so a chunk can hold many lines); the result's `output` is unchanged"
    ],
    output_limit: [
      type: quote(do: non_neg_integer() | :infinity),
      default: :infinity,
      ours: true,
      doc:
        "bytes the code may print; past them the run is stopped: `{:error, :output_limit, %{output: ...}}` (`:max_output` only cuts what is kept)"
    ],
    tmp_dir: [
      type: quote(do: boolean()),
      default: false,
      ours: true,
      doc:
        "`true`: a fresh directory only the host's user can enter, the run's working directory and `TMPDIR`, removed with its contents once every process of the run is gone, after a timeout too, and when the caller dies mid-run; not with `:cd`"
    ],
    memory_limit: [
      type: quote(do: non_neg_integer() | :infinity),
      default: :infinity,
      ours: true,
      doc:
        "bytes of memory for the VM and all it starts, together (the VM alone takes about 50 MB); past it: `{:error, :memory_limit, %{output: ...}}`"
    ],
    cpu_time: [
      type: quote(do: non_neg_integer() | :infinity),
      default: :infinity,
      ours: true,
      doc:
        "ms of CPU (user + system, the VM and all it starts) for the setup and the code; past it: `{:error, :cpu_limit, %{output: ...}}`. Waiting costs none: `:timeout` bounds wall time"
    ],
    max_processes: [
      type: quote(do: non_neg_integer() | :infinity),
      default: :infinity,
      ours: true,
      doc:
        "OS processes the code may have at once besides the VM's own; past it: `{:error, :process_limit, %{output: ...}}`"
    ],
    max_file_size: [
      type: quote(do: non_neg_integer() | :infinity),
      default: :infinity,
      ours: true,
      doc:
        "bytes any file the run writes may grow to; a write past it fails (`{:error, :efbig}` in the VM; a program started by `:os.cmd/1` dies of `SIGXFSZ`, as under `ulimit -f`) and the run goes on"
    ],
    node: [
      type: quote(do: node()),
      default: nil,
      shown: "this node",
      ours: true,
      doc: "a node of the BEAM cluster to run on, which runs this package; see \"Scaling out\""
    ],
    network: [
      type: quote(do: boolean()),
      default: true,
      ours: true,
      doc:
        "`false`: the VM starts in a network namespace of its own with no interface up, so it reaches nothing, not even the host's loopback; it boots fresh (a pool's VMs have a network). Without `CAP_SYS_ADMIN` the namespace comes inside a user namespace of the run's own that maps only your user onto itself. Where the kernel refuses both, `Sandbox.BootError` says why: never a run with a network instead"
    ],
    isolation: [
      type: quote(do: :none | :strict),
      default: :none,
      shown: "`:none`, or `config :sandbox, isolation:`",
      ours: true,
      doc:
        "`:strict`: the VM runs in a box (see \"Isolation\"): as an unprivileged user with no capabilities, its own PID, mount, network, IPC and UTS namespaces, a read-only view of the system and its code paths, a directory of its own as its only writable place, a seccomp filter and Landlock; and with finite limits unless given (`:memory_limit` #{div(@strict_limits[:memory_limit], 1_000_000)} MB, `:max_processes` #{@strict_limits[:max_processes]}, `:max_file_size` and `:disk_limit` #{div(@strict_limits[:max_file_size], 1_000_000)} MB, `:output_limit` #{div(@strict_limits[:output_limit], 1_000_000)} MB). Where it cannot be had, `Sandbox.BootError` says why: never a run less confined"
    ],
    read_paths: [
      type: quote(do: [Path.t()]),
      default: [],
      ours: true,
      doc: "host paths a `:strict` run may read, besides the system and its code paths"
    ],
    write_paths: [
      type: quote(do: [Path.t()]),
      default: [],
      ours: true,
      doc: "host paths a `:strict` run may read and write (they must exist)"
    ],
    disk_limit: [
      type: quote(do: non_neg_integer() | :infinity),
      default: :infinity,
      shown: "`:infinity`; `:strict`: see `:isolation`",
      ours: true,
      doc:
        "bytes a `:strict` run's own directory (its working directory, `HOME` and `TMPDIR`) may hold; a write past it fails with `:enospc`"
    ]
  ]

  @defaults for {key, spec} <- @schema, do: {key, Keyword.fetch!(spec, :default)}

  defstruct Keyword.put(@defaults, :setup, [])

  @typedoc "An option of `Sandbox.run/2`, `Sandbox.execute/2` and `Sandbox.start/2`."
  @type option ::
          unquote(
            @schema
            |> Enum.map(fn {key, spec} -> {key, Keyword.fetch!(spec, :type)} end)
            |> Enum.reverse()
            |> Enum.reduce(fn pair, union -> {:|, [], [pair, union]} end)
          )

  @doc """
  The options as a Markdown table (option, default, meaning): in
  `Sandbox.run/2`'s doc and, word for word, in the README.
  """
  @spec doc_table() :: String.t()
  def doc_table do
    rows =
      for {key, spec} <- @schema do
        shown = Keyword.get_lazy(spec, :shown, fn -> "`#{shown(spec[:default])}`" end)
        ours = if spec[:ours], do: " (this package only)", else: ""
        "| `#{inspect(key)}` | #{shown} | #{spec[:doc]}#{ours} |"
      end

    Enum.join(["| option | default | meaning |", "|---|---|---|" | rows], "\n") <> "\n"
  end

  # 60000 as 60_000, as the docs write numbers.
  defp shown(value) when is_integer(value) and value >= 10_000 do
    value
    |> Integer.to_string()
    |> String.reverse()
    |> String.replace(~r/(\d{3})(?=\d)/, "\\1_")
    |> String.reverse()
  end

  defp shown(value), do: inspect(value)

  @default_timeout @defaults[:timeout]
  @default_max_output @defaults[:max_output]
  @default_boot_timeout @defaults[:boot_timeout]
  @default_max_new_atoms @defaults[:max_new_atoms]

  @type t :: %__MODULE__{
          timeout: timeout(),
          max_output: non_neg_integer() | :infinity,
          setup: [String.t() | Macro.t()],
          boot_timeout: non_neg_integer(),
          max_new_atoms: non_neg_integer() | :infinity,
          max_result_bytes: non_neg_integer() | :infinity,
          pool: :default | false | Sandbox.Pool.pool() | {:cluster, term()},
          env: [{String.t(), String.t() | nil}],
          cd: String.t() | nil,
          tmp_dir: boolean(),
          stdin: binary() | nil,
          logger_level: :host | Logger.level(),
          on_output: pid() | (binary() -> any()) | nil,
          output_limit: non_neg_integer() | :infinity,
          memory_limit: non_neg_integer() | :infinity,
          cpu_time: non_neg_integer() | :infinity,
          max_processes: non_neg_integer() | :infinity,
          max_file_size: non_neg_integer() | :infinity,
          network: boolean(),
          node: node() | nil,
          isolation: :none | :strict,
          read_paths: [String.t()],
          write_paths: [String.t()],
          disk_limit: non_neg_integer() | :infinity
        }

  # The C core takes limits up to 2^50 (ms of CPU become us there).
  @max_resource_limit Sandbox.Protocol.max_resource_limit()

  @doc """
  Checks `code` and `opts`; returns the options with defaults filled in and
  the setup as a list.
  """
  @spec validate!(term(), term()) :: t()
  def validate!(code, opts) do
    unless is_binary(code) do
      raise ArgumentError, "code must be a binary (a string of Elixir), got: #{inspect(code)}"
    end

    unless Keyword.keyword?(opts) do
      raise ArgumentError, "options must be a keyword list, got: #{inspect(opts)}"
    end

    warn_near_misses(opts)

    node = node!(Keyword.get(opts, :node))
    # On another node, :cd names a directory there.
    local? = node == nil

    isolation =
      isolation!(
        Keyword.get_lazy(opts, :isolation, fn ->
          Application.get_env(:sandbox, :isolation, :none)
        end)
      )

    strict? = isolation == :strict

    limit_default = fn key ->
      if strict?, do: Keyword.get(@strict_limits, key, :infinity), else: :infinity
    end

    options = %__MODULE__{
      node: node,
      isolation: isolation,
      read_paths: paths!(opts, :read_paths, strict?),
      write_paths: paths!(opts, :write_paths, strict?),
      disk_limit: strict_only!(opts, :disk_limit, strict?, limit_default.(:disk_limit)),
      timeout: limit!(opts, :timeout, @default_timeout),
      max_output: limit!(opts, :max_output, @default_max_output),
      setup: setup!(Keyword.get(opts, :setup)),
      boot_timeout: non_neg_integer!(opts, :boot_timeout, @default_boot_timeout),
      max_new_atoms: limit!(opts, :max_new_atoms, @default_max_new_atoms),
      max_result_bytes: limit!(opts, :max_result_bytes, :infinity),
      pool: pool!(Keyword.get(opts, :pool, :default)),
      env: env!(Keyword.get(opts, :env, [])),
      cd: cd!(Keyword.get(opts, :cd), local?),
      tmp_dir: tmp_dir!(Keyword.get(opts, :tmp_dir, false), Keyword.get(opts, :cd)),
      stdin: stdin!(Keyword.get(opts, :stdin)),
      logger_level: logger_level!(Keyword.get(opts, :logger_level, :host)),
      on_output: on_output!(Keyword.get(opts, :on_output)),
      output_limit: limit!(opts, :output_limit, limit_default.(:output_limit)),
      memory_limit: resource_limit!(opts, :memory_limit, limit_default.(:memory_limit)),
      cpu_time: resource_limit!(opts, :cpu_time, :infinity),
      max_processes: resource_limit!(opts, :max_processes, limit_default.(:max_processes)),
      max_file_size: resource_limit!(opts, :max_file_size, limit_default.(:max_file_size)),
      network: network!(Keyword.get(opts, :network, true))
    }

    if strict? and (options.cd != nil or options.tmp_dir) do
      raise ArgumentError,
            "options :cd and :tmp_dir are not for isolation: :strict, whose run has a " <>
              "directory of its own (give host directories in :write_paths)"
    end

    if node && match?({:cluster, _}, options.pool) do
      raise ArgumentError, "options :node and pool: {:cluster, group} cannot be used together"
    end

    options
  end

  @doc """
  The options as a keyword list that `validate!/2` takes again: what a
  run on another node is started with there.
  """
  @spec to_keyword(t()) :: keyword()
  def to_keyword(%__MODULE__{} = options) do
    options |> Map.from_struct() |> Map.delete(:node) |> Map.to_list()
  end

  # This node is nil: the run stays here.
  defp node!(nil), do: nil
  defp node!(node) when node == node(), do: nil
  defp node!(node) when is_atom(node) and node not in [true, false], do: node
  defp node!(other), do: bad!(:node, "a node name (an atom)", other)

  # Variables to set (a string) or unset (nil), as a map or a list of pairs.
  defp env!(env) when is_map(env) or is_list(env) do
    Enum.map(env, fn
      {name, value} when is_binary(name) and (is_binary(value) or is_nil(value)) ->
        if name == "" or String.contains?(name, ["=", <<0>>]) or
             (is_binary(value) and String.contains?(value, <<0>>)),
           do: bad!(:env, "names without \"=\" and values without NUL bytes", env)

        {name, value}

      _other ->
        bad!(:env, "a map or list of {name, value | nil} strings", env)
    end)
  end

  defp env!(other), do: bad!(:env, "a map or list of {name, value | nil} strings", other)

  defp cd!(nil, _local?), do: nil

  defp cd!(dir, true = _local?) when is_binary(dir) do
    if File.dir?(dir), do: Path.expand(dir), else: bad!(:cd, "an existing directory", dir)
  end

  # Checked where the run goes.
  defp cd!(dir, false) when is_binary(dir), do: dir
  defp cd!(other, _local?), do: bad!(:cd, "an existing directory", other)

  defp on_output!(target) when is_nil(target) or is_function(target, 1), do: target
  defp on_output!(target) when is_pid(target) and node(target) == node(), do: target

  defp on_output!(other), do: bad!(:on_output, "a local pid or a one-argument function", other)

  defp stdin!(stdin) when is_binary(stdin) or is_nil(stdin), do: stdin
  defp stdin!(other), do: bad!(:stdin, "a binary", other)

  defp tmp_dir!(false, _cd), do: false
  defp tmp_dir!(true, nil), do: true

  defp tmp_dir!(true, _cd),
    do: raise(ArgumentError, "options :tmp_dir and :cd cannot be used together")

  defp tmp_dir!(other, _cd), do: bad!(:tmp_dir, "a boolean", other)

  defp limit!(opts, key, default) do
    case Keyword.get(opts, key, default) do
      :infinity -> :infinity
      value when is_integer(value) and value >= 0 -> value
      other -> bad!(key, "a non-negative integer or :infinity", other)
    end
  end

  defp resource_limit!(opts, key, default) do
    case Keyword.get(opts, key, default) do
      value when value == :infinity or (is_integer(value) and value in 0..@max_resource_limit) ->
        value

      other ->
        bad!(key, "an integer from 0 to 2^50, or :infinity", other)
    end
  end

  defp isolation!(isolation) when isolation in [:none, :strict], do: isolation
  defp isolation!(other), do: bad!(:isolation, ":none or :strict", other)

  # Host paths for a :strict run's view: absolute once expanded. Whether
  # they exist is checked when the box is made (a BootError names one
  # missing), where the run goes.
  defp paths!(opts, key, strict?) do
    case Keyword.get(opts, key, []) do
      [] ->
        []

      paths when is_list(paths) ->
        unless strict?, do: only_strict!(key)

        Enum.map(paths, fn
          path when is_binary(path) and path != "" ->
            if String.contains?(path, <<0>>), do: bad!(key, "a list of paths", paths)
            Path.expand(path)

          _other ->
            bad!(key, "a list of paths", paths)
        end)

      other ->
        bad!(key, "a list of paths", other)
    end
  end

  defp strict_only!(opts, key, strict?, default) do
    if Keyword.get(opts, key, :infinity) != :infinity and not strict?, do: only_strict!(key)
    resource_limit!(opts, key, default)
  end

  defp only_strict!(key) do
    raise ArgumentError, "option #{inspect(key)} is only for isolation: :strict"
  end

  @logger_levels [:host, :all, :debug, :info, :notice, :warning, :error, :critical, :alert] ++
                   [:emergency, :none]

  defp logger_level!(level) when level in @logger_levels, do: level

  defp logger_level!(other),
    do: bad!(:logger_level, "`:host` or a Logger level (#{inspect(tl(@logger_levels))})", other)

  defp network!(network) when is_boolean(network), do: network
  defp network!(other), do: bad!(:network, "a boolean", other)

  @doc "Whether any of the resource limits the helper enforces is set."
  @spec resource_limits(t()) ::
          nil | {limit, limit, limit, limit}
        when limit: non_neg_integer() | :infinity
  def resource_limits(%__MODULE__{} = options) do
    limits =
      {options.memory_limit, options.cpu_time, options.max_processes, options.max_file_size}

    if limits != {:infinity, :infinity, :infinity, :infinity}, do: limits
  end

  defp non_neg_integer!(opts, key, default) do
    case Keyword.get(opts, key, default) do
      value when is_integer(value) and value >= 0 -> value
      other -> bad!(key, "a non-negative integer", other)
    end
  end

  # A pool is anything GenServer can call; nil means the default, as unset.
  defp pool!(nil), do: :default
  defp pool!(pool) when pool in [false, :default] or is_pid(pool), do: pool
  defp pool!(pool) when is_atom(pool) and pool != true, do: pool
  defp pool!({:global, _} = pool), do: pool
  defp pool!({:cluster, _group} = pool), do: pool
  defp pool!({:via, module, _} = pool) when is_atom(module), do: pool
  defp pool!(other), do: bad!(:pool, "false, a pool's pid or name, or {:cluster, group}", other)

  defp setup!(nil), do: []
  defp setup!(items) when is_list(items), do: Enum.map(items, &setup_item!/1)
  defp setup!(item), do: [setup_item!(item)]

  defp setup_item!(code) when is_binary(code), do: code

  defp setup_item!(ast) do
    case Macro.validate(ast) do
      :ok -> ast
      {:error, _} -> bad!(:setup, "a string, quoted AST, or a list of either", ast)
    end
  end

  # Options it does not know are ignored, as the reference ignores them;
  # but one that looks like a slip for one of ours (a typo, or a status
  # given as an option) would silently run without what was meant, so it
  # gets a warning that names the option meant.
  @known Keyword.keys(@schema)
  @status_options %{
    cpu_limit: :cpu_time,
    process_limit: :max_processes,
    result_too_large: :max_result_bytes
  }

  defp warn_near_misses(opts) do
    for {key, _value} <- opts, is_atom(key), key not in @known, meant = near_miss(key) do
      Logger.warning(
        "Sandbox: option #{inspect(key)} is not an option and is ignored; did you mean #{inspect(meant)}?"
      )
    end
  end

  defp near_miss(key) do
    Map.get_lazy(@status_options, key, fn ->
      name = Atom.to_string(key)

      Enum.find(@known, fn known ->
        edit_distance(name, Atom.to_string(known)) <= max(1, div(String.length(name), 4))
      end)
    end)
  end

  # Levenshtein distance between two short names.
  defp edit_distance(a, b) do
    b = String.graphemes(b)

    a
    |> String.graphemes()
    |> Enum.reduce(Enum.to_list(0..length(b)), fn char, [first | _] = previous ->
      previous
      |> Enum.zip(tl(previous))
      |> Enum.zip(b)
      |> Enum.reduce({[first + 1], first + 1}, fn {{diagonal, above}, other}, {row, left} ->
        cost = if char == other, do: 0, else: 1
        value = Enum.min([left + 1, above + 1, diagonal + cost])
        {[value | row], value}
      end)
      |> elem(0)
      |> Enum.reverse()
    end)
    |> List.last()
  end

  defp bad!(key, expected, value) do
    raise ArgumentError, "option #{inspect(key)} must be #{expected}, got: #{inspect(value)}"
  end
end
