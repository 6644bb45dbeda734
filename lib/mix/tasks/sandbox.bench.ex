defmodule Mix.Tasks.Sandbox.Bench do
  @shortdoc "Benchmarks Sandbox.run/2 side by side with a pure-Elixir :peer baseline"

  @moduledoc """
  Measures `Sandbox.run/2` and a pure-Elixir baseline of the same API
  (`bench/baseline_sandbox.ex`: `:peer` over distribution, as the reference
  does it) in one VM, and prints a table with the targets.

      make bench
      elixir --erl "+SDio 2" -S mix sandbox.bench [--quick] [--output bench/RESULTS.md]

  Run it from the sandbox repository (it loads `bench/`). The host should
  be started with `+SDio 2`, as `make bench` does: the concurrency figure
  is defined for that. It starts EPMD for the baseline if none runs, and
  stops it again at the end.

    * `--quick` - fewer samples and a smaller flood (a smoke run)
    * `--output PATH` - also write the table, with the machine it ran on,
      to PATH as Markdown
  """

  use Mix.Task

  @impl Mix.Task
  def run(argv) do
    {opts, _args} = OptionParser.parse!(argv, strict: [quick: :boolean, output: :string])

    files = ["bench/baseline_sandbox.ex", "bench/bench.ex"]

    for file <- files, not File.exists?(file) do
      Mix.raise("mix sandbox.bench runs from the sandbox repository: #{file} is missing")
    end

    # Compiled to disk, not just loaded: the baseline's peers load its
    # functions from the host's code path.
    ebin = Path.join(Mix.Project.build_path(), "bench_ebin")
    File.rm_rf!(ebin)
    File.mkdir_p!(ebin)
    {:ok, _modules, _warnings} = Kernel.ParallelCompiler.compile_to_path(files, ebin)
    Code.prepend_path(ebin)

    Mix.Task.run("app.start")
    report = apply(Sandbox.Bench, :main, [Keyword.get(opts, :quick, false)])
    Mix.shell().info(report)

    if path = opts[:output] do
      File.write!(path, report)
      Mix.shell().info("written to #{path}")
    end
  end
end
