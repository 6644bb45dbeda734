defmodule Sandbox.TestCode do
  @moduledoc "Code for runs that start processes the sandbox must then kill."

  require ExUnit.Assertions

  @doc """
  Code defining `spawn_orphan.(setsid)`: starts a background `sleep 300`
  that outlives the shell that started it and returns its OS pid (as a
  string); with `"setsid"` it also leaves the peer's process group.
  """
  def orphan_spawner do
    ~S"""
    spawn_orphan = fn setsid ->
      command = ~c"#{setsid} sh -c 'sleep 300 >/dev/null 2>&1 & echo $!'"
      command |> :os.cmd() |> to_string() |> String.trim()
    end
    """
  end

  @doc """
  Code that starts, out of the peer's process group, a tree of 31 shells
  (depth 4) that fork subshells without pause, waits 1.5 s, and returns how
  many processes carry `marker` in their command line.
  """
  def fork_tree(marker) do
    script = """
    # #{marker}
    tree() { if [ $1 -gt 0 ]; then tree $(($1 - 1)) & tree $(($1 - 1)) & fi; while :; do (:); done; }
    tree 4
    """

    """
    spawn(fn -> System.cmd("setsid", ["sh", "-c", #{inspect(script)}]) end)
    Process.sleep(1_500)

    Enum.count(File.ls!("/proc"), fn pid ->
      case File.read("/proc/\#{pid}/cmdline") do
        {:ok, text} -> String.contains?(text, #{inspect(marker)})
        {:error, _} -> false
      end
    end)
    """
  end

  @doc "A run of each way a run can end: {code, options}."
  def endings do
    [
      {"1 + 1", []},
      {~S|raise "boom"|, []},
      {"Process.sleep(:infinity)", [timeout: 200]},
      {"System.halt(1)", []},
      {~S|:erlang.halt(~c"boom")|, []},
      {~S|System.cmd("kill", ["-9", System.pid()])|, []}
    ]
  end

  @doc """
  Asserts that no process with `marker` in its command line is left after
  `timeout` ms; the failure names those that are.
  """
  def assert_marked_gone(marker, timeout) do
    gone? = Sandbox.TestOS.eventually(fn -> marked_processes(marker) == [] end, timeout)

    ExUnit.Assertions.assert(
      gone?,
      "left after #{timeout} ms: #{inspect(marked_processes(marker))}"
    )
  end

  @doc "OS processes whose command line holds `marker`."
  def marked_processes(marker) do
    Enum.filter(Sandbox.TestOS.processes(), fn %{pid: pid} ->
      case File.read("/proc/#{pid}/cmdline") do
        {:ok, text} -> String.contains?(text, marker)
        {:error, _} -> false
      end
    end)
  end
end
