defmodule Sandbox.DependencyTest do
  @moduledoc "A fresh Mix project that depends on sandbox by path builds it and runs code, with no other step."
  # Not async: each test runs Mix and the C compiler at the host's
  # priority for seconds on both cores, and other modules' VMs, which run
  # under SCHED_IDLE, would get no CPU meanwhile and miss their deadlines.
  use ExUnit.Case, async: false

  @moduletag :tmp_dir
  @moduletag timeout: 300_000

  @root Path.expand("../..", __DIR__)

  setup %{tmp_dir: dir}, do: %{app: consumer!(dir, "consumer", @root)}

  # A Mix project in dir/name that depends on the package at `source`.
  defp consumer!(dir, name, source) do
    app = Path.join(dir, name)
    File.mkdir_p!(Path.join(app, "lib"))

    File.write!(Path.join(app, "mix.exs"), """
    defmodule #{Macro.camelize(name)}.MixProject do
      use Mix.Project

      def project do
        [app: :#{name}, version: "0.1.0", deps: [{:sandbox, path: #{inspect(source)}}]]
      end
    end
    """)

    app
  end

  # The package's sources as a fresh clone has them: nothing built.
  defp copy_sources(dir) do
    source = Path.join(dir, "sandbox")
    File.mkdir_p!(source)

    for path <- ~w(mix.exs Makefile lib c_src scripts .formatter.exs),
        do: File.cp_r!(Path.join(@root, path), Path.join(source, path))

    source
  end

  defp tree(dir), do: dir |> Path.join("**") |> Path.wildcard(match_dot: true) |> Enum.sort()

  defp mix(app, args) do
    System.cmd("mix", args,
      cd: app,
      stderr_to_stdout: true,
      env: [{"MIX_ENV", "dev"}, {"MIX_BUILD_ROOT", nil}, {"MIX_BUILD_PATH", nil}]
    )
  end

  test "compiles and calls Sandbox.run/2", %{app: app} do
    {output, status} =
      mix(app, ["run", "-e", ~S|IO.inspect(Sandbox.run("IO.puts(:from_dep); 40 + 2"))|])

    assert status == 0, output
    assert output =~ ~s|{:ok, %{output: "from_dep\\n", result: 42}}|

    # The dependency's task is the main job: exit status 0 on :ok, 1 otherwise.
    assert {"2\n:ok\n", 0} = mix(app, ["sandbox.run", "IO.puts(1 + 1)"])
    assert {output, 1} = mix(app, ["sandbox.run", ~S|raise "nope"|])
    assert output =~ "** (RuntimeError) nope"

    # The default pool, from the consumer's config: runs without :pool
    # take its booted VM.
    File.mkdir_p!(Path.join(app, "config"))

    File.write!(
      Path.join([app, "config", "config.exs"]),
      "import Config\nconfig :sandbox, pool: [size: 1]\n"
    )

    script = ~S"""
    wait = fn wait -> if Sandbox.Pool.status(Sandbox.Pool).idle == 1, do: :ok, else: (Process.sleep(50); wait.(wait)) end
    wait.(wait)
    [idle] = Sandbox.Pool.status(Sandbox.Pool).idle_os_pids
    {:ok, %{result: pid}} = Sandbox.run("System.pid()")
    IO.puts("pooled: #{String.to_integer(pid) == idle}")
    """

    {output, status} = mix(app, ["run", "-e", script])
    assert status == 0, output
    assert output =~ "pooled: true"
  end

  # A dependency's directory may be read-only (a shared deps/, a Nix
  # store): the C core is built into the consumer's _build, as
  # elixir_make's packages are, and nothing is written where the sources
  # are (the peers' boot file goes with the binaries).
  test "builds into the _build of its consumer and writes nothing into the dependency", %{
    tmp_dir: dir
  } do
    source = copy_sources(dir)
    before = tree(source)
    app = consumer!(dir, "reader", source)

    {output, status} = mix(app, ["run", "-e", ~S|IO.inspect(Sandbox.run("1 + 1"))|])
    assert status == 0, output
    assert output =~ "{:ok, %{output: \"\", result: 2}}"
    assert tree(source) == before

    assert app
           |> Path.join("_build/dev/lib/sandbox/priv/*")
           |> Path.wildcard()
           |> Enum.map(&Path.basename/1) ==
             ~w(boot sandbox_confine sandbox_guest_nif.so sandbox_helper sandbox_nif.so)

    # The peers' boot file, made at the first run, is there too.
    assert [_] = Path.wildcard(Path.join(app, "_build/dev/lib/sandbox/priv/boot/peer-*.boot"))
  end

  # Off Linux (a Mac that deploys to Linux) the C core cannot be built:
  # the application still compiles, with one warning, and starts; every
  # run raises one BootError saying why, at once, a configured pool's
  # too. SANDBOX_NATIVE=skip makes this Linux such a system, for a copy of
  # the package's sources with nothing built in it.
  test "without its C core the package compiles and starts, and runs raise saying why", %{
    tmp_dir: dir
  } do
    source = copy_sources(dir)

    app = consumer!(dir, "no_core", source)
    File.mkdir_p!(Path.join(app, "config"))

    File.write!(Path.join([app, "config", "config.exs"]), """
    import Config
    config :sandbox, pool: [size: 1]
    """)

    env = [
      {"SANDBOX_NATIVE", "skip"},
      {"MIX_ENV", "dev"},
      {"MIX_BUILD_ROOT", nil},
      {"MIX_BUILD_PATH", nil}
    ]

    {output, status} = System.cmd("mix", ["compile"], cd: app, stderr_to_stdout: true, env: env)
    assert status == 0, output
    assert [_one] = Regex.scan(~r/sandbox: its C core is not built: SANDBOX_NATIVE=skip/, output)
    assert Path.wildcard(Path.join(source, "priv/*.so")) == []

    script = ~S"""
    started = System.monotonic_time(:millisecond)
    error = try do: Sandbox.run("1 + 1"), rescue: (e in Sandbox.BootError -> e)
    waited = System.monotonic_time(:millisecond) - started
    {:error, text} = Sandbox.Tool.call(%{"code" => "1"}, isolation: :none)
    IO.puts(Exception.message(error))
    IO.puts("waited #{waited} ms; tool: #{text}; info: #{is_map(Sandbox.info())}")
    """

    {output, status} =
      System.cmd("mix", ["run", "-e", script], cd: app, stderr_to_stdout: true, env: env)

    assert status == 0, output
    assert output =~ "the sandbox VM could not boot: sandbox's C core, which starts and watches"
    assert output =~ "is not built here (no "
    assert [_, waited] = Regex.run(~r/waited (\d+) ms/, output)
    assert String.to_integer(waited) < 1_000
    assert output =~ "tool: The sandbox could not run the code: the sandbox VM could not boot"
    assert output =~ "info: true"
    assert output =~ "a pool that boots no VM"
  end
end
