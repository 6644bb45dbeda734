defmodule Sandbox.TestOS do
  @moduledoc "What the tests look at in /proc: processes, their state, fds and memory."

  @doc "Every process: os pid, parent, state letter."
  def processes do
    for name <- File.ls!("/proc"),
        pid = parse_pid(name),
        pid != nil,
        info = stat(pid),
        info != nil do
      info
    end
  end

  @doc "The OS pids /proc lists now, zombies included."
  def pids do
    for name <- File.ls!("/proc"), pid = parse_pid(name), pid != nil, into: MapSet.new(), do: pid
  end

  @doc "The stat of one process, or nil if it is gone."
  def stat(pid) do
    case File.read("/proc/#{pid}/stat") do
      {:ok, text} ->
        # The command name may hold spaces and parens: parse after the last ")".
        [_, rest] = Regex.run(~r/\)([^)]*)$/s, text)
        [state, ppid | _] = String.split(rest)
        %{pid: pid, ppid: String.to_integer(ppid), state: state}

      {:error, _} ->
        nil
    end
  end

  @doc "True while the process exists and is not a zombie."
  def alive?(pid) do
    case stat(pid) do
      %{state: "Z"} -> false
      nil -> false
      _ -> true
    end
  end

  def zombies, do: Enum.filter(processes(), &(&1.state == "Z"))

  @doc "The children of an OS pid, given as an integer or as `System.pid/0` gives it."
  def children(ppid) when is_binary(ppid), do: children(String.to_integer(ppid))
  def children(ppid) when is_integer(ppid), do: Enum.filter(processes(), &(&1.ppid == ppid))

  @doc "The host VM's open fds: number => link target."
  def fds(pid \\ System.pid()) do
    for fd <- File.ls!("/proc/#{pid}/fd"), into: %{} do
      {String.to_integer(fd), link("/proc/#{pid}/fd/#{fd}")}
    end
  end

  defp link(path) do
    case File.read_link(path) do
      {:ok, target} -> target
      {:error, _} -> nil
    end
  end

  @doc "Resident set size of the host VM in kB."
  def rss_kb do
    [_, kb] = Regex.run(~r/VmRSS:\s+(\d+) kB/, File.read!("/proc/self/status"))
    String.to_integer(kb)
  end

  @doc """
  The `count` OS pids a run writes to `path`, once all are there: the file
  can be seen created but not yet written.
  """
  def read_pids(path, count, timeout) do
    pids = fn ->
      case File.read(path) do
        {:ok, text} -> String.split(text)
        {:error, _} -> []
      end
    end

    eventually(fn -> length(pids.()) == count end, timeout)
    Enum.map(pids.(), &String.to_integer/1)
  end

  @doc "Polls `fun` until it returns a truthy value or `timeout` ms pass; returns its last value."
  def eventually(fun, timeout \\ 2_000) do
    deadline = System.monotonic_time(:millisecond) + timeout
    poll(fun, deadline)
  end

  defp poll(fun, deadline) do
    value = fun.()

    cond do
      value -> value
      System.monotonic_time(:millisecond) >= deadline -> value
      true -> Process.sleep(20) && poll(fun, deadline)
    end
  end

  defp parse_pid(name) do
    case Integer.parse(name) do
      {pid, ""} -> pid
      _ -> nil
    end
  end
end

defmodule Sandbox.TestCode do
  @moduledoc "Code for runs that start processes the sandbox must then kill."

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

defmodule Sandbox.TestConfig do
  @moduledoc "Application settings changed for one test, restored after it."
  import ExUnit.Callbacks, only: [on_exit: 1]

  @doc "Sets `config :sandbox, cgroup: setting` until the calling test ends."
  def put_cgroup(setting) do
    previous = Application.fetch_env(:sandbox, :cgroup)
    Application.put_env(:sandbox, :cgroup, setting)

    on_exit(fn ->
      case previous do
        {:ok, value} -> Application.put_env(:sandbox, :cgroup, value)
        :error -> Application.delete_env(:sandbox, :cgroup)
      end
    end)
  end
end

defmodule Sandbox.TestNative do
  @moduledoc "Calls to the C core for tests that drive it directly."

  @doc "The terms of a plain submit: a deadline and an output cap, nothing else."
  def terms(timeout, max_output) do
    %{
      timeout: timeout,
      max_output: max_output,
      output_limit: :infinity,
      report: false,
      stream_to: nil
    }
  end
end

# :slow tests take minutes: `make test-slow` runs them (CI does). :root
# tests need root (mounting a cgroup2 hierarchy); CI runs as root.
root? = File.read!("/proc/self/status") =~ ~r/^Uid:\s+0\s/m
ExUnit.start(exclude: [:slow] ++ if(root?, do: [], else: [:root]))

defmodule Sandbox.TestCluster do
  @moduledoc """
  Extra local nodes running the package, for the cluster tests. They are
  started with `:peer` over distribution, which is turned on in this test
  VM for them (the package never turns it on), and run under the
  test-only reaper, so a node killed on purpose leaves no zombie behind.
  """
  import ExUnit.Callbacks, only: [on_exit: 1]

  @root Path.expand("..", __DIR__)

  @doc "Makes this VM a distributed node (with an EPMD of its own if none runs) until the module ends."
  def distribute! do
    epmd_started = ensure_epmd()
    {:ok, _} = Node.start(:"sandbox_test_#{System.pid()}@127.0.0.1", :longnames)

    on_exit(fn ->
      Node.stop()
      # epmd refuses -kill while a node is registered: hence after Node.stop.
      if epmd_started, do: System.cmd("epmd", ["-kill"], stderr_to_stdout: true)
    end)
  end

  defp ensure_epmd do
    case :erl_epmd.names() do
      {:ok, _} ->
        false

      {:error, _} ->
        Port.open({:spawn_executable, System.find_executable("epmd")}, [:binary, :nouse_stdio])
        true = Sandbox.TestOS.eventually(fn -> match?({:ok, _}, :erl_epmd.names()) end, 5_000)
        true
    end
  end

  @doc """
  Starts a node running the package with the named pools
  (`[{name, size}]`) and returns it; it is stopped when the test ends.
  With `package: false`, a bare node without the package's code.
  """
  def start_node!(pools \\ [], opts \\ []) do
    package? = Keyword.get(opts, :package, true)
    {_, 0} = System.cmd("make", ["-s", "-C", @root, "_build/native/reaper"])
    reaper = Path.join(@root, "_build/native/reaper")
    otp = :code.root_dir()
    paths = for path <- :code.get_path(), package?, not List.starts_with?(path, otp), do: path

    name = :"sandbox_member_#{System.unique_integer([:positive])}"

    {:ok, peer, node} =
      :peer.start(%{
        name: name,
        host: ~c"127.0.0.1",
        longnames: true,
        exec: {String.to_charlist(reaper), [:os.find_executable(~c"erl")]},
        args:
          Enum.flat_map(paths, &[~c"-pa", &1]) ++
            [~c"-setcookie", Atom.to_charlist(Node.get_cookie())]
      })

    on_exit(fn ->
      try do
        :peer.stop(peer)
      catch
        :exit, _ -> :ok
      end
    end)

    if package?, do: {:ok, _} = :erpc.call(node, Application, :ensure_all_started, [:sandbox])

    for {pool, size} <- pools do
      spec = {Sandbox.Pool, name: pool, size: size}
      {:ok, _} = :erpc.call(node, Supervisor, :start_child, [Sandbox.Supervisor, spec])
    end

    node
  end

  @doc "Kills a node's VM with SIGKILL."
  def kill_node!(node) do
    os_pid = :erpc.call(node, System, :pid, [])
    {_, 0} = System.cmd("kill", ["-KILL", os_pid])
    :ok
  end
end
