defmodule Sandbox.Options do
  @moduledoc """
  The checked options of a run. `validate!/2` raises `ArgumentError`, naming
  the option, for anything `Sandbox.run/2` cannot honour.
  """

  @default_timeout 60_000
  @default_max_output 50_000
  @default_boot_timeout Sandbox.Protocol.boot_timeout_ms()
  @default_max_new_atoms 100_000

  defstruct timeout: @default_timeout,
            max_output: @default_max_output,
            setup: [],
            boot_timeout: @default_boot_timeout,
            max_new_atoms: @default_max_new_atoms,
            pool: :default,
            env: [],
            cd: nil,
            tmp_dir: false,
            stdin: nil,
            on_output: nil,
            output_limit: :infinity,
            memory_limit: :infinity,
            cpu_time: :infinity,
            max_processes: :infinity,
            max_file_size: :infinity,
            network: true,
            node: nil

  @type t :: %__MODULE__{
          timeout: timeout(),
          max_output: non_neg_integer() | :infinity,
          setup: [String.t() | Macro.t()],
          boot_timeout: non_neg_integer(),
          max_new_atoms: non_neg_integer() | :infinity,
          pool: :default | false | Sandbox.Pool.pool() | {:cluster, term()},
          env: [{String.t(), String.t() | nil}],
          cd: String.t() | nil,
          tmp_dir: boolean(),
          stdin: binary() | nil,
          on_output: pid() | (binary() -> any()) | nil,
          output_limit: non_neg_integer() | :infinity,
          memory_limit: non_neg_integer() | :infinity,
          cpu_time: non_neg_integer() | :infinity,
          max_processes: non_neg_integer() | :infinity,
          max_file_size: non_neg_integer() | :infinity,
          network: boolean(),
          node: node() | nil
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

    node = node!(Keyword.get(opts, :node))
    # On another node, :cd names a directory there.
    local? = node == nil

    options = %__MODULE__{
      node: node,
      timeout: limit!(opts, :timeout, @default_timeout),
      max_output: limit!(opts, :max_output, @default_max_output),
      setup: setup!(Keyword.get(opts, :setup)),
      boot_timeout: non_neg_integer!(opts, :boot_timeout, @default_boot_timeout),
      max_new_atoms: limit!(opts, :max_new_atoms, @default_max_new_atoms),
      pool: pool!(Keyword.get(opts, :pool, :default)),
      env: env!(Keyword.get(opts, :env, [])),
      cd: cd!(Keyword.get(opts, :cd), local?),
      tmp_dir: tmp_dir!(Keyword.get(opts, :tmp_dir, false), Keyword.get(opts, :cd)),
      stdin: stdin!(Keyword.get(opts, :stdin)),
      on_output: on_output!(Keyword.get(opts, :on_output)),
      output_limit: limit!(opts, :output_limit, :infinity),
      memory_limit: resource_limit!(opts, :memory_limit),
      cpu_time: resource_limit!(opts, :cpu_time),
      max_processes: resource_limit!(opts, :max_processes),
      max_file_size: resource_limit!(opts, :max_file_size),
      network: network!(Keyword.get(opts, :network, true))
    }

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

  defp resource_limit!(opts, key) do
    case Keyword.get(opts, key, :infinity) do
      value when value == :infinity or (is_integer(value) and value in 0..@max_resource_limit) ->
        value

      other ->
        bad!(key, "an integer from 0 to 2^50, or :infinity", other)
    end
  end

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

  defp bad!(key, expected, value) do
    raise ArgumentError, "option #{inspect(key)} must be #{expected}, got: #{inspect(value)}"
  end
end
