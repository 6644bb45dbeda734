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
  end
end
