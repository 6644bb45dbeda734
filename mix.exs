defmodule Mix.Tasks.Compile.SandboxNative do
  @moduledoc """
  Builds sandbox's C core (`sandbox_nif.so`, `sandbox_guest_nif.so`,
  `sandbox_helper`, `sandbox_confine`) with `make`, into the `priv`
  directory of the application's build directory
  (`_build/<env>/lib/sandbox/priv`), objects beside it.

  Defined here rather than under `lib/` because Mix needs a compiler before
  it compiles the project it belongs to; this also makes it available when
  sandbox is a dependency.
  """
  use Mix.Task.Compiler

  @impl Mix.Task.Compiler
  def run(_args) do
    if why = no_c_core() do
      # One warning and no build: the application still compiles (a Mac
      # that deploys to Linux), and every run raises Sandbox.BootError.
      IO.warn(
        "sandbox: its C core is not built: #{why}; Sandbox.run/2 and the rest " <>
          "raise Sandbox.BootError here",
        []
      )

      {:noop, []}
    else
      build()
    end
  end

  defp build do
    # A link to a priv/ no longer there (one `make priv` made by hand,
    # since removed) would stop make's mkdir.
    priv = Path.join(Mix.Project.app_path(), "priv")

    if match?({:ok, %{type: :symlink}}, File.lstat(priv)) and not File.exists?(priv),
      do: File.rm!(priv)

    if up_to_date?() do
      {:noop, []}
    else
      case make(["priv"], into: IO.stream(:stdio, :line)) do
        {_, 0} -> {:ok, []}
        {_, status} -> Mix.raise("building sandbox's C core failed (make exited with #{status})")
      end
    end
  end

  @impl Mix.Task.Compiler
  def clean do
    make(["clean"], into: "")
    :ok
  end

  defp up_to_date?, do: match?({_, 0}, make(["--question", "priv"], into: ""))

  defp make(targets, opts) do
    erts_include =
      Path.join([:code.root_dir(), "erts-#{:erlang.system_info(:version)}", "include"])

    # Binaries and objects under this application's build directory: the
    # package's own sources are never written to.
    app = Mix.Project.app_path()
    places = ["PRIV=#{app}/priv", "OBJ=#{app}/native", "ERTS_INCLUDE_DIR=#{erts_include}"]
    args = ["-C", __DIR__, "--no-print-directory" | places ++ targets]
    System.cmd("make", args, [stderr_to_stdout: true] ++ opts)
  rescue
    e in ErlangError ->
      Mix.raise(
        "cannot run make (#{inspect(e.original)}): sandbox needs make and a C compiler " <>
          "(on Debian: apt-get install make gcc erlang-dev)"
      )
  end

  # Why the C core is not built here, or nil. SANDBOX_NATIVE=skip forces it
  # on Linux, which is how the tests see a system without it.
  defp no_c_core do
    cond do
      not match?({:unix, :linux}, :os.type()) ->
        "it runs on Linux only (prctl, pidfd, signalfd, epoll, namespaces) " <>
          "and this system is #{inspect(:os.type())}"

      System.get_env("SANDBOX_NATIVE") == "skip" ->
        "SANDBOX_NATIVE=skip"

      true ->
        nil
    end
  end
end

defmodule Sandbox.MixProject do
  use Mix.Project

  @source_url "https://github.com/sandbox-ex/sandbox"

  def project do
    [
      app: :sandbox,
      version: "0.1.0",
      elixir: "~> 1.14",
      compilers: [:sandbox_native | Mix.compilers()],
      elixirc_paths: elixirc_paths(Mix.env()),
      start_permanent: Mix.env() == :prod,
      deps: [],
      description: "Evaluate Elixir code in a fresh, isolated Erlang VM, on a C core.",
      source_url: @source_url,
      package: package(),
      docs: [main: "Sandbox", extras: ["README.md", "CHANGELOG.md"]]
    ]
  end

  # What a Hex package holds: the sources and what builds them, never
  # objects or binaries (each machine builds its own C core).
  defp package do
    [
      licenses: ["Apache-2.0"],
      links: %{"Source" => @source_url},
      files: ~w(lib c_src/nif c_src/helper c_src/guest c_src/confine c_src/common
                Makefile mix.exs README.md CHANGELOG.md LICENSE .formatter.exs)
    ]
  end

  # What the tests share (test/support): compiled only for them.
  defp elixirc_paths(:test), do: ["lib", "test/support"]
  defp elixirc_paths(_env), do: ["lib"]

  def application do
    [mod: {Sandbox.Application, []}, extra_applications: [:logger]]
  end
end
