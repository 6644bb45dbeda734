defmodule Mix.Tasks.Sandbox.Run do
  @shortdoc "Evaluates Elixir code in a fresh sandbox VM"

  @moduledoc """
  Evaluates Elixir code in a fresh sandbox VM with `Sandbox.run/2` and prints
  what it printed, then its result (`inspect(result, pretty: true)`) or the
  error.

      mix sandbox.run 'IO.puts(1 + 1)'
      mix sandbox.run --file script.exs
      echo 'Enum.sum(1..10)' | mix sandbox.run

  The code comes from the arguments (joined with spaces), from `--file PATH`,
  or else from standard input.

  ## Options

    * `--timeout MS` - milliseconds for the run, or `infinity` (default: 60000)
    * `--max-output BYTES` - bytes of output to keep, or `infinity` (default: 50000)
    * `--file PATH` - read the code from a file

  The exit status is 0 when the code ran to the end, 1 when it raised,
  timed out or its VM died, and 2 for bad usage.
  """

  use Mix.Task

  @switches [file: :string, timeout: :string, max_output: :string]

  @impl Mix.Task
  def run(argv) do
    {opts, args} = parse!(argv)
    code = read_code!(opts, args)
    Mix.Task.run("compile")

    # One run and done: a warm VM booted for a next run would be wasted.
    run_opts = [
      pool: false,
      timeout: limit!(opts, :timeout, 60_000),
      max_output: limit!(opts, :max_output, 50_000)
    ]

    case Sandbox.run(code, run_opts) do
      {:ok, %{output: output, result: result}} ->
        print_output(output)
        IO.puts(inspect(result, pretty: true))

      {:error, reason, %{output: output}} ->
        print_output(output)
        IO.puts(:stderr, describe(reason, run_opts))
        exit({:shutdown, 1})
    end
  end

  defp parse!(argv) do
    OptionParser.parse!(argv, strict: @switches)
  rescue
    e in OptionParser.ParseError -> usage!(Exception.message(e))
  end

  defp read_code!(opts, args) do
    cond do
      opts[:file] && args != [] -> usage!("give the code as arguments or with --file, not both")
      path = opts[:file] -> read_file!(path)
      args != [] -> Enum.join(args, " ")
      true -> IO.read(:stdio, :eof) |> eof_as_empty()
    end
  end

  # A file that cannot be read is a usage error (status 2), not a crash.
  defp read_file!(path) do
    case File.read(path) do
      {:ok, code} -> code
      {:error, reason} -> usage!("cannot read #{path}: #{:file.format_error(reason)}")
    end
  end

  defp eof_as_empty(:eof), do: ""
  defp eof_as_empty(data), do: data

  defp limit!(opts, key, default) do
    case opts[key] do
      nil ->
        default

      "infinity" ->
        :infinity

      text ->
        case Integer.parse(text) do
          {value, ""} when value >= 0 -> value
          _ -> usage!("--#{String.replace(to_string(key), "_", "-")} takes a number or infinity")
        end
    end
  end

  defp print_output(""), do: :ok

  defp print_output(output) do
    IO.write(output)
    unless String.ends_with?(output, "\n"), do: IO.write("\n")
  end

  defp describe(:timeout, opts),
    do: "** (timeout) the code did not finish within #{opts[:timeout]} ms"

  defp describe(:noconnection, _), do: "** (noconnection) the sandbox VM died before answering"

  defp describe({kind, reason, stacktrace}, _),
    do: String.trim_trailing(Exception.format(kind, reason, stacktrace))

  defp usage!(message) do
    IO.puts(
      :stderr,
      "mix sandbox.run: #{message}\nusage: mix sandbox.run [--timeout MS] [--max-output BYTES] (CODE... | --file PATH)"
    )

    exit({:shutdown, 2})
  end
end
