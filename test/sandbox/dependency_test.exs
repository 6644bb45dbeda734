defmodule Sandbox.DependencyTest do
  @moduledoc "A fresh Mix project that depends on sandbox by path builds it and runs code, with no other step."
  use ExUnit.Case, async: true

  @moduletag :tmp_dir
  @moduletag timeout: 300_000

  @root Path.expand("../..", __DIR__)

  setup %{tmp_dir: dir} do
    app = Path.join(dir, "consumer")
    File.mkdir_p!(Path.join(app, "lib"))

    File.write!(Path.join(app, "mix.exs"), """
    defmodule Consumer.MixProject do
      use Mix.Project

      def project do
        [app: :consumer, version: "0.1.0", deps: [{:sandbox, path: #{inspect(@root)}}]]
      end
    end
    """)

    %{app: app}
  end

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
end
