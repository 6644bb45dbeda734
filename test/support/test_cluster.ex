defmodule Sandbox.TestCluster do
  @moduledoc """
  Extra local nodes running the package, for the cluster tests. They are
  started with `:peer` over distribution, which is turned on in this test
  VM for them (the package never turns it on), and run under the
  test-only reaper, so a node killed on purpose leaves no zombie behind.
  """
  import ExUnit.Callbacks, only: [on_exit: 1]

  @root Path.expand("../..", __DIR__)

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
