defmodule Sandbox.LoggerLevelTest do
  @moduledoc """
  Logger inside a run prints at the host's level of the moment, cold or
  warm: what the host's own Logger calls would print, the run's print.
  Changes the host's Logger level: not async.
  """
  use ExUnit.Case, async: false

  alias Sandbox.Pool

  @code ~S"""
  require Logger
  Logger.debug("debugged")
  Logger.info("informed")
  Logger.warning("warned")
  Logger.error("failed")
  """

  setup do
    level = Logger.level()
    on_exit(fn -> Logger.configure(level: level) end)
  end

  defp printed(opts) do
    assert {:ok, %{output: output}} = Sandbox.run(@code, opts)

    for {word, level} <- [debugged: :debug, informed: :info, warned: :warning, failed: :error],
        output =~ "[#{level}] #{word}",
        do: level
  end

  test "a run prints at the host's level" do
    Logger.configure(level: :info)
    assert printed(pool: false) == [:info, :warning, :error]
    Logger.configure(level: :error)
    assert printed(pool: false) == [:error]
    Logger.configure(level: :debug)
    assert printed(pool: false) == [:debug, :info, :warning, :error]
  end

  test "a pool's VM, booted before the level changed, prints at the level of its run" do
    pool = start_supervised!({Pool, size: 1}, id: make_ref())
    Logger.configure(level: :error)
    assert printed(pool: pool) == [:error]
    Logger.configure(level: :info)
    assert printed(pool: pool) == [:info, :warning, :error]
  end

  test "logger_level: a level of the run's own, as the reference's :warning" do
    Logger.configure(level: :debug)
    assert printed(pool: false, logger_level: :warning) == [:warning, :error]

    assert_raise ArgumentError, ~r/option :logger_level must be/, fn ->
      Sandbox.run("1", logger_level: :loud)
    end
  end
end
