defmodule Sandbox.LazyLoggerTest do
  @moduledoc """
  Logger starts in a VM when its run needs it, not before: a run that does
  not log pays nothing for it, and a run that does prints exactly what a
  VM that started Logger at boot would. (The code below avoids the word
  "Logger" where it must not start Logger: naming it starts it.)
  """
  use ExUnit.Case, async: true

  alias Sandbox.Pool

  defp run!(code, opts) do
    assert {:ok, %{output: output, result: result}} =
             Sandbox.run(code, Keyword.merge([pool: false, logger_level: :warning], opts))

    {output, result}
  end

  defp count(output, text), do: length(String.split(output, text)) - 1

  @started_or_loaded ~S"""
  {:logger in Enum.map(Application.started_applications(), &elem(&1, 0)),
   :code.is_loaded(String.to_atom("Elixir.Log" <> "ger"))}
  """

  test "a run that logs nothing neither starts Logger nor loads it, cold or warm" do
    assert {"", {false, false}} = run!(@started_or_loaded, [])

    pool = start_supervised!({Pool, size: 1}, id: make_ref())
    assert {"", {false, false}} = run!(@started_or_loaded, pool: pool)
  end

  test "the first event starts Logger, and is printed once, in Logger's format, at the run's level" do
    pool = start_supervised!({Pool, size: 1}, id: make_ref())

    for where <- [false, pool] do
      code = ~S"""
      :logger.warning("first event")
      :logger.info("below the level")
      :logger.error("second event")
      :logger in Enum.map(Application.started_applications(), &elem(&1, 0))
      """

      {output, started?} = run!(code, pool: where)
      assert started?
      assert count(output, "[warning] first event") == 1
      assert count(output, "[error] second event") == 1
      refute output =~ "below the level"
      refute output =~ "REPORT"
    end
  end

  test "a crashed process's report (OTP logs it from a process of its own) prints in Logger's format" do
    {output, _} = run!(~S|spawn(fn -> raise "boom" end); Process.sleep(300)|, [])
    assert output =~ ~r/\[error\] Process #PID<[\d.]+> .*raised an exception/
    assert output =~ "** (RuntimeError) boom"
  end

  test "an event from a registered process (which does not wait for Logger's start) is printed before the run ends" do
    {output, :ok} =
      run!(~S|Process.register(self(), :registered); :logger.warning("from it")|, [])

    assert count(output, "[warning] from it") == 1
  end

  test "code that names Logger has it running from its first line: Logger.configure/1 works" do
    code = ~S"""
    Logger.configure(level: :info)
    require Logger
    Logger.info("informed")
    Logger.debug("debugged")
    """

    {output, :ok} = run!(code, [])
    assert count(output, "[info] informed") == 1
    refute output =~ "debugged"

    # Named in the setup alone.
    {output, :ok} =
      run!(~S|:logger.info("after setup")|, setup: ["Logger.configure(level: :info)"])

    assert count(output, "[info] after setup") == 1

    # Named in a quoted setup.
    {output, :ok} =
      run!(~S|:logger.info("after quoted setup")|,
        setup: [quote(do: Logger.configure(level: :info))]
      )

    assert count(output, "[info] after quoted setup") == 1
  end

  test "Logger's start keeps the run's level (Logger sets one of its own)" do
    {output, :ok} =
      run!(~S|:logger.error("failed"); :logger.info("informed")|, logger_level: :notice)

    assert count(output, "[error] failed") == 1
    refute output =~ "informed"
  end

  test "events logged while Logger starts are held and printed once each; its own start's reports are not" do
    code = ~S"""
    parent = self()

    for i <- 1..20 do
      spawn(fn -> :logger.info("event #{i}"); send(parent, :logged) end)
    end

    for _ <- 1..20, do: receive(do: (:logged -> :ok))
    :ok
    """

    {output, :ok} = run!(code, logger_level: :debug)
    for i <- 1..20, do: assert(count(output, "[info] event #{i}\n") == 1, output)
    refute output =~ "REPORT"
    refute output =~ "supervisor"
  end
end
