defmodule Sandbox.ToolTest do
  @moduledoc """
  `Sandbox.Tool`: the definition a model is given, and the text every
  outcome comes back as. Where omni_tools' REPL tool formats an outcome,
  the text must be that tool's, byte for byte: `omni_text/1` below is
  omni_tools' formatting (`Omni.Tools.Repl`) applied to what `run/2`
  returns for the same code, so the tool's own path (`execute/2`) is
  checked against the reference's shapes.
  """
  use ExUnit.Case, async: true

  alias Sandbox.Tool

  # Trusted code in most tests: quicker to boot, and the same texts.
  @none [isolation: :none, timeout: 5_000]

  # omni_tools' REPL: success, timeout, crashed VM, exception.
  defp omni_text({:ok, %{output: output, result: result}}),
    do: {:ok, omni_join(output, "=> #{inspect(result, pretty: true)}")}

  defp omni_text({:error, :timeout, %{output: output}}),
    do: {:error, omni_join(output, "Execution timed out")}

  defp omni_text({:error, :noconnection, %{output: output}}),
    do: {:error, omni_join(output, "Sandbox node crashed")}

  defp omni_text({:error, {kind, reason, stack}, %{output: output}}),
    do: {:error, omni_join(output, Exception.format(kind, reason, stack))}

  defp omni_join("", message), do: message
  defp omni_join(output, message), do: "#{output}\n#{message}"

  describe "the text of what omni_tools' REPL formats is that tool's" do
    for {name, code} <- [
          "a value": "Enum.sum(1..10)",
          "output and a value": ~S|IO.puts("hi"); %{a: [1, 2, 3], b: "text"}|,
          "a large value, cut by inspect's limits": "Enum.to_list(1..200)",
          "an exception": ~S|IO.puts("before"); raise ArgumentError, "boom"|,
          "a throw": "throw(:ball)",
          "an exit": "exit(:gone)",
          "a syntax error": "1 +",
          "a timeout": ~S|IO.puts("waiting"); Process.sleep(:infinity)|,
          "a VM that dies": ~S|IO.puts("bye"); System.halt(3)|
        ] do
      test "#{name}" do
        opts = Keyword.put(@none, :timeout, 2_000)
        text = Tool.call(%{"code" => unquote(code)}, opts)
        assert text == omni_text(Sandbox.run(unquote(code), opts))
      end
    end
  end

  test "the arguments may have string or atom keys; the title is not needed" do
    assert {:ok, "=> 3"} = Tool.call(%{"code" => "1 + 2", "title" => "Adding"}, @none)
    assert {:ok, "=> 3"} = Tool.call(%{code: "1 + 2"}, @none)
    assert {:error, message} = Tool.call(%{"title" => "No code"}, @none)
    assert message =~ ~s|"code"|
    assert {:error, _} = Tool.call(%{"code" => 42}, @none)
  end

  describe "every other outcome is an error text naming what happened" do
    test "a result too large to return" do
      assert {:error, message} = Tool.call(%{"code" => ~S|String.duplicate("x", 100_000)|}, @none)

      assert message =~ "more than 8 KB"

      assert {:ok, "=> " <> _} =
               Tool.call(
                 %{"code" => ~S|String.duplicate("x", 100_000)|},
                 @none ++ [max_result_bytes: 1_000_000]
               )
    end

    test "a limit crossed, with the output before it" do
      memory = ~S|IO.puts("allocating"); :binary.copy(<<1>>, 2_000_000_000)|

      assert {:error, "allocating\n\nStopped: the code used more than 300 MB of memory"} =
               Tool.call(%{"code" => memory}, @none ++ [memory_limit: 300_000_000])

      busy = "Stream.repeatedly(fn -> :ok end) |> Stream.run()"

      assert {:error, "Stopped: the code used more than 300 ms of CPU time"} =
               Tool.call(%{"code" => busy}, @none ++ [cpu_time: 300])

      forks = ~S|:os.cmd(~c"for i in 1 2 3 4 5 6 7 8; do sleep 5 & done; wait")|

      assert {:error, "Stopped: the code started more than 2 OS processes"} =
               Tool.call(%{"code" => forks}, @none ++ [max_processes: 2])

      printer =
        ~S{Stream.repeatedly(fn -> IO.write(String.duplicate("y", 1000)) end) |> Stream.run()}

      assert {:error, message} = Tool.call(%{"code" => printer}, @none ++ [output_limit: 5_000])

      assert message =~ ~r/\nStopped: the code printed more than 5 KB$/
    end

    test "a setup that raised" do
      assert {:error, "The setup failed:\n** (RuntimeError) no setup" <> _} =
               Tool.call(%{"code" => "1"}, @none ++ [setup: ~S|raise "no setup"|])
    end

    test "a result that would create too many atoms in the host" do
      code =
        ~S|for i <- 1..50, do: String.to_atom("sandbox_tool_atom_#{i}_#{System.unique_integer()}")|

      assert {:error, message} = Tool.call(%{"code" => code}, @none ++ [max_new_atoms: 10])
      assert message =~ "The sandbox could not run the code: " <> "the sandbox result created"
    end

    test "a sandbox that cannot start", %{} do
      missing = "/nonexistent-sandbox-tool-#{System.unique_integer([:positive])}"
      assert {:error, message} = Tool.call(%{"code" => "1"}, write_paths: [missing])
      assert message =~ "The sandbox could not run the code: "
      assert message =~ missing
    end
  end

  describe "by default" do
    test "the code runs in the strict box, as nobody, with finite limits" do
      assert {:ok, "=> " <> uid} =
               Tool.call(%{
                 "code" =>
                   ~S|[_, uid] = Regex.run(~r/^Uid:\s+(\d+)/m, File.read!("/proc/self/status")); uid|
               })

      assert uid == inspect("65534")
      description = Tool.spec().description
      assert description =~ "no network"
      assert description =~ "Memory: at most 512 MB"
      assert description =~ "Stopped after 60 s of wall time"
    end

    test "its name is repl, and its schema asks for code" do
      assert %{name: "repl", input_schema: schema} = Tool.spec()
      assert %{"type" => "object", "required" => ["code"]} = schema

      assert %{"code" => %{"type" => "string"}, "title" => %{"type" => "string"}} =
               schema["properties"]
    end
  end

  test "the description follows the options" do
    description =
      Tool.spec(isolation: :none, timeout: 5_000, memory_limit: 100_000_000).description

    assert description =~ "Not isolated"
    assert description =~ "Stopped after 5 s of wall time"
    assert description =~ "Memory: at most 100 MB"
    refute description =~ "OS processes"

    assert %{name: "elixir"} = Tool.spec(name: "elixir")
    assert Tool.spec(isolation: :none, network: false).description =~ "No network"
  end
end
