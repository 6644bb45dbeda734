defmodule Sandbox.ResultsTest do
  @moduledoc "Every shape run/2 returns, as the reference returns it."
  use ExUnit.Case, async: true

  describe "{:ok, ...}" do
    test "holds the output and the raw value of the last expression" do
      assert Sandbox.run(~S|IO.puts("hello"); 1 + 2|) == {:ok, %{output: "hello\n", result: 3}}
    end

    test "the result is the raw term, not its inspection" do
      assert {:ok, %{result: %{a: [1, {:b, "c"}], d: 1.5}}} =
               Sandbox.run(~S|%{a: [1, {:b, "c"}], d: 1.5}|)
    end

    test "a large result arrives whole" do
      assert {:ok, %{result: result}} = Sandbox.run(~S|String.duplicate("r", 5_000_000)|)
      assert result == String.duplicate("r", 5_000_000)
    end

    test "a large structured result (decoded off the normal schedulers) arrives whole" do
      assert {:ok, %{result: result}} =
               Sandbox.run(~S|Enum.map(1..100_000, &{&1, Integer.to_string(&1)})|)

      assert result == Enum.map(1..100_000, &{&1, Integer.to_string(&1)})
    end

    test "a request larger than a pipe's buffer is delivered whole" do
      # About 1 MB of code: written to the peer in pieces as it reads.
      big = String.duplicate("a", 1_000_000)
      assert {:ok, %{result: 1_000_000}} = Sandbox.run(~s|byte_size("#{big}")|)
    end

    test "empty code evaluates to nil" do
      assert Sandbox.run("") == {:ok, %{output: "", result: nil}}
    end
  end

  describe "{:error, {kind, reason, stacktrace}, ...}" do
    test "1 / 0 gives the raw :badarith" do
      assert {:error, {:error, :badarith, stack}, %{output: ""}} = Sandbox.run("1 / 0")
      assert is_list(stack) and stack != []
    end

    test "raise gives the exception struct" do
      assert {:error, {:error, %RuntimeError{message: "boom"}, _}, %{output: ""}} =
               Sandbox.run(~S|raise "boom"|)
    end

    test "throw and exit give their class and value" do
      assert {:error, {:throw, :x, _}, _} = Sandbox.run("throw(:x)")
      assert {:error, {:exit, :x, _}, _} = Sandbox.run("exit(:x)")
    end

    test "output printed before the exception is kept" do
      assert {:error, {:error, %ArgumentError{}, _}, %{output: "before\n"}} =
               Sandbox.run(~S|IO.puts("before"); raise ArgumentError|)
    end

    test "a syntax error is an error triple" do
      assert {:error, {:error, %TokenMissingError{}, _}, %{output: ""}} = Sandbox.run("1 +")
    end

    test "invalid UTF-8 in the code is an error triple" do
      assert {:error, {:error, %UnicodeConversionError{}, _}, _} =
               Sandbox.run(<<"x = \"", 255, "\"">>)
    end

    test "code that kills its own process is an exit with no stacktrace" do
      assert Sandbox.run(~S|IO.puts("before"); Process.exit(self(), :kill)|) ==
               {:error, {:exit, :killed, []}, %{output: "before\n"}}
    end
  end

  describe "{:error, :noconnection, ...}" do
    test "when the VM halts, keeping what it printed" do
      assert Sandbox.run(~S|IO.puts("before"); System.halt(1)|) ==
               {:error, :noconnection, %{output: "before\n"}}
    end

    test "when the VM crashes with a slogan" do
      assert {:error, :noconnection, %{output: output}} =
               Sandbox.run(~S|IO.puts("before"); :erlang.halt(~c"boom")|)

      assert output =~ ~r/\Abefore\n/
    end

    test "when the VM is killed from outside" do
      assert Sandbox.run(~S"""
             IO.puts("about to die")
             System.cmd("kill", ["-9", System.pid()])
             Process.sleep(:infinity)
             """) == {:error, :noconnection, %{output: "about to die\n"}}
    end
  end

  describe "{:error, :timeout, ...}" do
    test "keeps what was printed before the deadline" do
      assert Sandbox.run(~S|IO.puts("hi"); Process.sleep(:infinity)|, timeout: 500) ==
               {:error, :timeout, %{output: "hi\n"}}
    end

    test "a timeout of 0 times out" do
      assert {:error, :timeout, _} = Sandbox.run("Process.sleep(1_000)", timeout: 0)
    end

    test "the deadline covers the setup" do
      assert Sandbox.run(":never_reached", setup: "Process.sleep(:infinity)", timeout: 300) ==
               {:error, :timeout, %{output: ""}}
    end

    test ":infinity waits for code that a finite timeout cuts short" do
      code = "Process.sleep(1_500); :done"
      assert {:error, :timeout, _} = Sandbox.run(code, timeout: 1_000)
      assert {:ok, %{result: :done}} = Sandbox.run(code, timeout: :infinity)
    end

    test "booting the VM is not counted" do
      # The boot alone (200 ms or more) is longer than this timeout; the
      # code itself takes well under a millisecond.
      result = Sandbox.execute(":booted", timeout: 100, pool: false)
      assert %Sandbox.Result{status: :ok, value: :booted} = result

      assert result.boot_ms > 100,
             "the boot took only #{result.boot_ms} ms: this machine cannot show it"
    end
  end

  describe "atoms created by decoding the result" do
    test "past :max_new_atoms raise Sandbox.AtomLimitError" do
      code = ~S"""
      salt = :rand.uniform(1_000_000_000_000)
      for i <- 1..50, do: String.to_atom("sandbox_atom_limit_#{salt}_#{i}")
      """

      error = assert_raise Sandbox.AtomLimitError, fn -> Sandbox.run(code, max_new_atoms: 10) end
      assert error.created >= 50 and error.limit == 10
      assert Exception.message(error) =~ "over :max_new_atoms (10)"
    end

    test "are counted in large results too" do
      code = ~S"""
      salt = :rand.uniform(1_000_000_000_000)
      atoms = for i <- 1..50, do: String.to_atom("sandbox_atom_large_#{salt}_#{i}")
      {atoms, String.duplicate("x", 200_000)}
      """

      error = assert_raise Sandbox.AtomLimitError, fn -> Sandbox.run(code, max_new_atoms: 10) end
      assert error.created >= 50
    end

    @tag timeout: 120_000
    test "by default, past 100,000 raise" do
      code = ~S"""
      salt = :rand.uniform(1_000_000_000_000)
      for i <- 1..100_001, do: String.to_atom("sandbox_atom_default_#{salt}_#{i}")
      """

      error = assert_raise Sandbox.AtomLimitError, fn -> Sandbox.run(code) end
      assert error.created >= 100_001 and error.limit == 100_000
    end

    test "within it, or with :infinity, are returned" do
      code = ~S|String.to_atom("sandbox_atom_ok_#{:rand.uniform(1_000_000_000_000)}")|
      assert {:ok, %{result: atom}} = Sandbox.run(code, max_new_atoms: 10)
      assert is_atom(atom)
      assert {:ok, %{result: _}} = Sandbox.run(code, max_new_atoms: :infinity)
    end
  end

  describe ":max_result_bytes" do
    # The peer encodes {:ok, value} as the host would.
    @value_code ~S|IO.puts("before"); String.duplicate("x", 100_000)|
    @encoded_size byte_size(:erlang.term_to_binary({:ok, String.duplicate("x", 100_000)}))

    test "a result that takes more bytes than that is not decoded: :result_too_large, output kept" do
      assert {:error, :result_too_large, %{output: "before\n"}} =
               Sandbox.run(@value_code, max_result_bytes: @encoded_size - 1)

      assert %Sandbox.Result{status: :result_too_large, output: "before\n", value: nil} =
               Sandbox.execute(@value_code, max_result_bytes: @encoded_size - 1)
    end

    test "one of exactly that many bytes, or :infinity (the default), is returned" do
      value = String.duplicate("x", 100_000)

      assert {:ok, %{result: ^value}} = Sandbox.run(@value_code, max_result_bytes: @encoded_size)
      assert {:ok, %{result: ^value}} = Sandbox.run(@value_code)
    end

    test "a result not decoded creates no atom in the host" do
      name = "sandbox_too_large_#{System.unique_integer([:positive])}"
      code = "{String.to_atom(#{inspect(name)}), String.duplicate(\"x\", 10_000)}"

      assert {:error, :result_too_large, _} = Sandbox.run(code, max_result_bytes: 1_000)
      assert_raise ArgumentError, fn -> String.to_existing_atom(name) end
    end
  end

  test "ensure_distributed!/0 returns :ok and leaves the host alone" do
    assert Sandbox.ensure_distributed!() == :ok
    refute Node.alive?()
  end
end
