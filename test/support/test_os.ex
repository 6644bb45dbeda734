defmodule Sandbox.TestOS do
  @moduledoc "What the tests look at in /proc: processes, their state, fds and memory."

  require ExUnit.Assertions

  @doc "Whether this VM runs as root."
  def root?, do: File.read!("/proc/self/status") =~ ~r/^Uid:\s+0\s/m

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

  @doc """
  Whether every thread of a process is asleep, three times 50 ms apart:
  it has nothing left to do (a thread that is merely starved of CPU is
  runnable, not asleep). A thread's stat is at /proc/<tid>/stat too.
  """
  def quiet?(pid) do
    Enum.all?(1..3, fn _ ->
      Process.sleep(50)

      case File.ls("/proc/#{pid}/task") do
        {:ok, tids} ->
          Enum.all?(tids, fn tid ->
            # A thread gone in between has nothing left to do either.
            case stat(String.to_integer(tid)) do
              nil -> true
              %{state: state} -> state == "S"
            end
          end)

        {:error, _} ->
          false
      end
    end)
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

  @doc """
  Runs `script` in a fresh host VM (this one's code paths, no cgroup) in a
  user namespace of its own where each of `zero_limits` (names under
  /proc/sys/user, such as "max_user_namespaces") is 0: those limits are
  per user namespace, so the machine's stay as they are. The script writes
  a term with `IO.write(Base.encode64(:erlang.term_to_binary(term)))`;
  returns that term.
  """
  def in_user_namespace(zero_limits, script) do
    limits = Enum.map_join(zero_limits, " && ", &"echo 0 > /proc/sys/user/#{&1}")
    paths = Enum.flat_map(:code.get_path(), &["-pa", List.to_string(&1)])

    prelude = ~S"""
    Application.put_env(:sandbox, :cgroup, false)
    {:ok, _} = Application.ensure_all_started(:sandbox)
    """

    {encoded, 0} =
      System.cmd(
        "unshare",
        ["-U", "-r", "sh", "-c", limits <> " && exec \"$@\"", "sh"] ++
          [System.find_executable("elixir")] ++ paths ++ ["-e", prelude <> script]
      )

    encoded |> Base.decode64!() |> :erlang.binary_to_term()
  end

  @doc """
  Runs a script in a fresh host VM as nobody (uid and gid 65534, no
  groups), the application started, from a copy of the built package that
  nobody can read, outside a checkout that may be private to root. The
  copy's directory (with `files` written in it first, name => text) is
  given to `script` and removed after. The script writes a term as for
  `in_user_namespace/2`; returns that term.
  """
  def as_nobody(files \\ %{}, script) do
    dir = Path.join(System.tmp_dir!(), "sandbox-nobody-#{System.unique_integer([:positive])}")
    File.mkdir_p!(dir)

    try do
      {_, 0} = System.cmd("cp", ["-rL", to_string(:code.lib_dir(:sandbox)), dir])
      for {name, text} <- files, do: File.write!(Path.join(dir, name), text)
      {_, 0} = System.cmd("chmod", ["-R", "a+rX", dir])
      prelude = "{:ok, _} = Application.ensure_all_started(:sandbox)\n"

      args =
        ~w(--reuid=65534 --regid=65534 --clear-groups) ++
          [elixir_for_nobody(dir), "-pa", Path.join(dir, "sandbox/ebin")] ++
          ["-e", prelude <> script.(dir)]

      {encoded, status} =
        System.cmd("setpriv", args, env: [{"HOME", dir}], stderr_to_stdout: true)

      ExUnit.Assertions.assert(status == 0, encoded)
      encoded |> Base.decode64!() |> :erlang.binary_to_term()
    after
      File.rm_rf!(dir)
    end
  end

  # This Elixir, or where nobody cannot reach it (installed under /root,
  # as a toolchain cache may be), a readable copy of it in dir.
  defp elixir_for_nobody(dir) do
    elixir = System.find_executable("elixir")
    nobody = ~w(--reuid=65534 --regid=65534 --clear-groups)

    case System.cmd("setpriv", nobody ++ ["test", "-r", elixir]) do
      {_, 0} ->
        elixir

      _ ->
        install = :elixir |> :code.lib_dir() |> to_string() |> Path.dirname() |> Path.dirname()
        {_, 0} = System.cmd("cp", ["-rL", install, Path.join(dir, "elixir")])
        {_, 0} = System.cmd("chmod", ["-R", "a+rX", Path.join(dir, "elixir")])
        Path.join([dir, "elixir", "bin", "elixir"])
    end
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
