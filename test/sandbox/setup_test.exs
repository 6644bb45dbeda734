defmodule Sandbox.SetupTest do
  @moduledoc "The :setup option: every form, order, output, and failures as the reference has them."
  use ExUnit.Case, async: true

  test "a string" do
    assert {:ok, %{result: 42}} =
             Sandbox.run("Helper.answer()", setup: "defmodule Helper, do: def(answer, do: 42)")
  end

  test "quoted AST" do
    setup = quote(do: defmodule(Quoted, do: def(value, do: :from_ast)))
    assert {:ok, %{result: :from_ast}} = Sandbox.run("Quoted.value()", setup: setup)
  end

  test "a list of both, evaluated in order" do
    setup = [
      "defmodule First, do: def(value, do: 1)",
      quote(do: defmodule(Second, do: def(value, do: First.value() + 1)))
    ]

    assert {:ok, %{result: 2}} = Sandbox.run("Second.value()", setup: setup)
  end

  test "its output, also OS-level output, is not included" do
    setup = [~S|IO.puts("from setup")|, ":erlang.display(:from_setup)"]

    assert Sandbox.run(~S|IO.puts("from code")|, setup: setup) ==
             {:ok, %{output: "from code\n", result: :ok}}
  end

  test "its output is not included on a pool's warm VM either" do
    {:ok, pool} = Sandbox.Pool.start_link(size: 1)
    on_exit(fn -> if Process.alive?(pool), do: GenServer.stop(pool) end)
    assert Sandbox.TestOS.eventually(fn -> Sandbox.Pool.status(pool).idle == 1 end, 30_000)
    setup = [~S|IO.puts("from setup")|, ":erlang.display(:from_setup)"]

    assert Sandbox.run(~S|IO.puts("from code")|, setup: setup, pool: pool) ==
             {:ok, %{output: "from code\n", result: :ok}}
  end

  test "runs in the same process as the code, as in the reference" do
    assert {:ok, %{result: :kept}} =
             Sandbox.run("Process.get(:mark)", setup: "Process.put(:mark, :kept)")
  end

  test "nil means no setup" do
    assert {:ok, %{result: 1}} = Sandbox.run("1", setup: nil)
  end

  describe "a setup that fails raises in the caller, in the shapes :erpc gave the reference" do
    test "an error" do
      error = catch_error(Sandbox.run("1", setup: ~S|raise "bad setup"|))
      assert {:exception, %RuntimeError{message: "bad setup"}, stack} = error
      assert is_list(stack)
    end

    test "an exit" do
      assert catch_exit(Sandbox.run("1", setup: "exit(:nope)")) == {:exception, :nope}
    end

    test "a throw" do
      assert catch_throw(Sandbox.run("1", setup: "throw(:thrown)")) == :thrown
    end
  end
end
