defmodule Sandbox.Tool do
  @defaults [
    isolation: :strict,
    timeout: 60_000,
    cpu_time: 60_000,
    max_output: 50_000,
    max_result_bytes: 8_192,
    max_new_atoms: 1_000
  ]

  @moduledoc """
  The sandbox as a tool for a language model: a definition to hand the
  model, and a call that turns whatever happened into text it can read.
  No dependency: plug it into any agent framework (see the README for
  omni_tools, LangChain and Jido).

      tool = Sandbox.Tool.spec()
      #=> %{name: "repl", description: "...", input_schema: %{"type" => "object", ...}}

      Sandbox.Tool.call(%{"code" => "Enum.sum(1..10)"})
      #=> {:ok, "=> 55"}

  Where omni_tools' REPL tool formats an outcome (success, timeout, a VM
  that died, an exception), the text is the same, byte for byte: an agent
  prompted for one reads the other alike. Every other outcome (a limit
  crossed, a result too large, a sandbox that could not start) is an
  `{:error, text}` too: `call/2` never raises for what the code did.

  ## Options

  Both functions take the same options: `:name` (the tool's name, default
  `"repl"`) and any option of `Sandbox.run/2`, over these defaults, chosen
  for code nobody has read:

  #{Enum.map_join(@defaults, "\n", fn {key, value} -> "    * `#{inspect(key)}` - `#{inspect(value)}`" end)}

  and the finite limits a `:strict` run gets (`:memory_limit`,
  `:max_processes`, ...; see `Sandbox.run/2`). `:strict` needs user
  namespaces: where they are missing, every call is an `{:error, text}`
  saying so; pass `isolation: :none` only for code you trust. The
  description given to the model follows the options: the isolation, the
  timeout and the limits in force.

  The value is shown as `inspect(value, pretty: true)`, so inspect's
  default limits apply (50 items per collection, 4,096 characters per
  string); `:max_result_bytes` keeps a huge value from being copied into
  the host at all.
  """

  alias Sandbox.{Options, Result}

  @typedoc "What a model is given: its name, what it does, and its arguments' JSON schema."
  @type spec :: %{name: String.t(), description: String.t(), input_schema: map()}

  @doc """
  The tool's definition: `%{name:, description:, input_schema:}`, where
  `input_schema` is a JSON-schema map (string keys) with a required `code`
  and an optional `title`.
  """
  @spec spec(keyword()) :: spec()
  def spec(opts \\ []) do
    {name, run_opts} = options(opts)

    %{
      name: name,
      description: description(in_force(run_opts)),
      input_schema: %{
        "type" => "object",
        "properties" => %{
          "title" => %{
            "type" => "string",
            "description" =>
              "A few words on what the code does, in active form, e.g. 'Counting words in the text'"
          },
          "code" => %{"type" => "string", "description" => "The Elixir code to evaluate"}
        },
        "required" => ["code"]
      }
    }
  end

  @doc """
  Runs the model's arguments (`"code"` or `:code`; `title` is ignored) and
  returns `{:ok, text}` when the code ran to its end, `{:error, text}`
  otherwise: the output first, then `=> inspect(value)` or what went wrong.
  """
  @spec call(map(), keyword()) :: {:ok, String.t()} | {:error, String.t()}
  def call(arguments, opts \\ []) do
    {_name, run_opts} = options(opts)

    case code(arguments) do
      {:ok, code} -> run(code, run_opts, in_force(run_opts))
      :error -> {:error, "The argument \"code\" is required: a string of Elixir code."}
    end
  end

  defp options(opts) do
    {name, opts} = Keyword.pop(opts, :name, "repl")
    {name, Keyword.merge(@defaults, opts)}
  end

  # What a run with these options gets, defaults filled in (the limits a
  # :strict run is given among them).
  defp in_force(run_opts), do: Options.validate!("", run_opts)

  defp code(%{"code" => code}) when is_binary(code), do: {:ok, code}
  defp code(%{code: code}) when is_binary(code), do: {:ok, code}
  defp code(_), do: :error

  defp run(code, run_opts, limits) do
    code |> Sandbox.execute(run_opts) |> to_text(limits)
  rescue
    error in [Sandbox.BootError, Sandbox.AtomLimitError] ->
      {:error, "The sandbox could not run the code: " <> Exception.message(error)}
  end

  defp to_text(%Result{status: :ok, output: output, value: value}, _opts),
    do: {:ok, after_output(output, "=> " <> inspect(value, pretty: true))}

  defp to_text(%Result{status: :error, failed_in: :code, error: {kind, reason, stack}} = r, _),
    do: {:error, after_output(r.output, Exception.format(kind, reason, stack))}

  defp to_text(%Result{status: :error, error: {kind, reason, stack}} = r, _) do
    {:error,
     after_output(r.output, "The setup failed:\n" <> Exception.format(kind, reason, stack))}
  end

  defp to_text(%Result{status: status, output: output}, opts),
    do: {:error, after_output(output, why(status, opts))}

  defp after_output("", text), do: text
  defp after_output(output, text), do: output <> "\n" <> text

  defp why(:timeout, _), do: "Execution timed out"
  defp why(:crashed, _), do: "Sandbox node crashed"
  defp why(:cancelled, _), do: "Execution was cancelled"

  defp why(:memory_limit, opts),
    do: "Stopped: the code used more than #{bytes(limit(opts, :memory_limit))} of memory"

  defp why(:cpu_limit, opts),
    do: "Stopped: the code used more than #{seconds(limit(opts, :cpu_time))} of CPU time"

  defp why(:process_limit, opts),
    do: "Stopped: the code started more than #{limit(opts, :max_processes)} OS processes"

  defp why(:output_limit, opts),
    do: "Stopped: the code printed more than #{bytes(limit(opts, :output_limit))}"

  defp why(:result_too_large, opts) do
    "The code ran, but its result takes more than #{bytes(limit(opts, :max_result_bytes))}, " <>
      "too large to return: end with a smaller value (a count, a sample, a summary) " <>
      "or print what matters"
  end

  defp limit(limits, key), do: Map.fetch!(limits, key)

  defp bytes(n) when n >= 1_000_000, do: "#{div(n, 1_000_000)} MB"
  defp bytes(n) when n >= 1_000, do: "#{div(n, 1_000)} KB"
  defp bytes(n), do: "#{n} bytes"

  defp seconds(ms) when rem(ms, 1_000) == 0, do: "#{div(ms, 1_000)} s"
  defp seconds(ms), do: "#{ms} ms"

  # ---- what the model is told ------------------------------------------

  defp description(opts) do
    """
    Evaluates Elixir code in a fresh Erlang VM of its own and returns what \
    it printed and the value of its last expression.

    ## Use it for
    - Computing, transforming or generating data exactly, rather than by estimate
    - Checking how Elixir or a library actually behaves
    - Trying out code before proposing it

    ## The environment
    - Elixir and Erlang/OTP's standard libraries, and the host application's compiled code
    - Every call starts from nothing: no variable, module or process outlives it
    #{environment(opts)}
    ## Limits
    #{limits(opts)}
    ## What you get back
    - What the code prints (IO.puts, IO.inspect, Logger), then `=> ` and the \
    inspected value of the last expression
    - An exception comes back with its stacktrace; a limit crossed says which
    - Only you see this: tell the user what matters

    ## Tips
    - End with `:ok` when only the printed output matters
    - Return or print a summary of large data (IO.inspect(data, limit: 20)), not all of it
    - Modules you define exist for this call only
    """
  end

  defp environment(opts) do
    case opts.isolation do
      :strict ->
        """
        - A locked-down box: an unprivileged user, no network, the system visible read-only
        - The working directory is the only writable place, and is deleted after the call
        """

      _ ->
        network =
          if opts.network == false,
            do: "- No network",
            else: "- The network is reachable"

        """
        - Not isolated: the code runs as the host application's user, with its files
        #{network}
        """
    end
  end

  defp limits(opts) do
    [
      {:timeout, "Stopped after ", &seconds/1, " of wall time"},
      {:cpu_time, "Stopped after ", &seconds/1, " of CPU time"},
      {:memory_limit, "Memory: at most ", &bytes/1, ""},
      {:max_processes, "At most ", &Integer.to_string/1, " OS processes at once"},
      {:max_output, "Printed output past ", &bytes/1, " is cut"},
      {:max_result_bytes, "A result taking more than ", &bytes/1, " is not returned"}
    ]
    |> Enum.flat_map(fn {key, before, format, rest} ->
      case limit(opts, key) do
        n when is_integer(n) -> ["- #{before}#{format.(n)}#{rest}\n"]
        _ -> []
      end
    end)
    |> Enum.join()
  end
end
