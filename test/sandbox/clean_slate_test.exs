defmodule Sandbox.CleanSlateTest do
  @moduledoc "Each run is a fresh VM: nothing carries over."
  use ExUnit.Case, async: true

  test "modules, global state and the environment of one run are gone in the next" do
    assert {:ok, %{result: :ok}} =
             Sandbox.run("""
             defmodule LeftBehind, do: def(x, do: 1)
             :persistent_term.put(:left_behind, 1)
             Application.put_env(:elixir, :left_behind, 1)
             System.put_env("LEFT_BEHIND", "1")
             :ok
             """)

    assert Sandbox.run("""
           {Code.ensure_loaded?(LeftBehind), :persistent_term.get(:left_behind, nil),
            Application.get_env(:elixir, :left_behind), System.get_env("LEFT_BEHIND")}
           """) == {:ok, %{output: "", result: {false, nil, nil, nil}}}
  end

  test "each run is a different OS process" do
    {:ok, %{result: first}} = Sandbox.run("System.pid()")
    {:ok, %{result: second}} = Sandbox.run("System.pid()")
    assert first != second
    refute first == System.pid()
  end
end
