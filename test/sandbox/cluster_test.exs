defmodule Sandbox.ClusterTest do
  @moduledoc """
  Runs on other nodes of a cluster (`node:`) and cluster pools
  (`pool: {:cluster, group}`), against extra local nodes that run the
  package (see `Sandbox.TestCluster`).
  """
  # Turns distribution on in this VM for the module's length: not async.
  use ExUnit.Case, async: false

  alias Sandbox.{Cluster, Pool, Result, TestCluster, TestOS}

  @moduletag timeout: 180_000

  setup_all do
    TestCluster.distribute!()
    :ok
  end

  # Prints the peer's OS pid, then waits for ever.
  @print_pid_and_wait ~S"""
  IO.puts(System.pid())
  Process.sleep(:infinity)
  """

  defp receive_os_pid do
    assert_receive {:sandbox_output, _ref, chunk}, 30_000
    chunk |> String.trim() |> String.to_integer()
  end

  defp await_idle(pool, node, count) do
    assert TestOS.eventually(fn -> Pool.status({pool, node}).idle == count end, 30_000),
           "#{node} never had #{count} idle peers: #{inspect(Pool.status({pool, node}))}"

    Pool.status({pool, node}).idle_os_pids
  end

  defp peer_os_pid(opts) do
    assert {:ok, %{result: pid}} = Sandbox.run("System.pid()", opts)
    String.to_integer(pid)
  end

  describe "node:" do
    setup do
      %{member: TestCluster.start_node!()}
    end

    test "a remote run returns what a local run returns", %{member: member} do
      runs = [
        {~S|IO.puts("hi"); {:ok, 1 + 1}|, []},
        {~S|raise "boom"|, []},
        {"throw(:ball)", []},
        {"Process.sleep(:infinity)", [timeout: 300]},
        {~S|IO.write("x"); System.halt(3)|, []},
        {"Greeter.hello()", [setup: "defmodule Greeter, do: def(hello, do: :hi)"]},
        {~S|IO.gets("name? ")|, [stdin: "ada\n"]},
        {~S|IO.write(String.duplicate("y", 100))|, [max_output: 10]},
        {"1 + 1", [memory_limit: 1_000_000]},
        {~S|IO.write(String.duplicate("z", 100))|, [output_limit: 10]}
      ]

      for {code, opts} <- runs do
        here = Sandbox.run(code, opts)
        there = Sandbox.run(code, [node: member] ++ opts)
        assert there == here, "#{code}: here #{inspect(here)}, there #{inspect(there)}"
      end

      # execute/2 and its report: the status, value and output, measured there.
      assert %Result{status: :ok, value: 2, output: "hi\n"} =
               result = Sandbox.execute(~S|IO.puts("hi"); 1 + 1|, node: member)

      assert result.cpu_ms > 0 and result.max_rss_kb > 10_000
    end

    test "a strict run there is boxed there", %{member: member} do
      code = ~S|{String.trim(elem(System.cmd("id", ["-u"]), 0)), System.get_env("HOME")}|

      assert {:ok, %{result: {"65534", home}}} =
               Sandbox.run(code, node: member, isolation: :strict)

      assert {:ok, %{result: {_, host_home}}} = Sandbox.run(code, node: member)
      assert home != host_home

      # Then a wait: sampled every 10 ms, the count must not race the end.
      assert %Result{status: :process_limit} =
               Sandbox.execute(
                 ~S|for(_ <- 1..100, do: Port.open({:spawn, "sleep 30"}, [])); Process.sleep(10_000)|,
                 node: member,
                 isolation: :strict,
                 max_processes: 20
               )
    end

    test "the run uses the node's own files and pools", %{member: member} do
      # :cd names a directory there; here the check is left to that node.
      assert_raise ArgumentError, ~r/option :cd must be an existing directory/, fn ->
        Sandbox.run("File.cwd!()", node: member, cd: "/nonexistent-#{System.unique_integer()}")
      end

      {:ok, _} =
        :erpc.call(member, Supervisor, :start_child, [
          Sandbox.Supervisor,
          {Pool, name: __MODULE__.NodePool, size: 1}
        ])

      [idle] = await_idle(__MODULE__.NodePool, member, 1)
      assert peer_os_pid(node: member, pool: __MODULE__.NodePool) == idle
    end

    test "streaming: a pid gets every chunk, a function is called with each", %{member: member} do
      code = ~S|for i <- 1..3, do: IO.puts(i)|
      assert {:ok, _} = Sandbox.run(code, node: member, on_output: self())
      # All sent before the result, by the same process: all here now.
      assert received_chunks() == "1\n2\n3\n"

      test = self()
      assert {:ok, _} = Sandbox.run(code, node: member, on_output: &send(test, {:chunk, &1}))
      assert_received {:chunk, _}
    end

    test "cancel stops the run there", %{member: member} do
      handle = Sandbox.start(@print_pid_and_wait, node: member, on_output: self())
      os_pid = receive_os_pid()
      assert %Result{status: :cancelled, output: output} = Sandbox.cancel(handle)
      assert output == "#{os_pid}\n"
      assert TestOS.eventually(fn -> TestOS.stat(os_pid) == nil end, 5_000)
    end

    test "a node killed mid-run gives :noconnection with the output that came, and its tree is gone",
         %{member: member} do
      test = self()

      caller =
        Task.async(fn -> Sandbox.run(@print_pid_and_wait, node: member, on_output: test) end)

      os_pid = receive_os_pid()
      helper = TestOS.stat(os_pid).ppid
      TestCluster.kill_node!(member)

      assert {:error, :noconnection, %{output: output}} = Task.await(caller, 30_000)
      assert output == "#{os_pid}\n"

      assert TestOS.eventually(
               fn -> TestOS.stat(os_pid) == nil and TestOS.stat(helper) == nil end,
               5_000
             ),
             "left: #{inspect(Enum.filter([os_pid, helper], &TestOS.stat/1))}"
    end

    test "the caller killed mid-run cancels the run there", %{member: member} do
      test = self()
      caller = spawn(fn -> Sandbox.run(@print_pid_and_wait, node: member, on_output: test) end)
      os_pid = receive_os_pid()
      Process.exit(caller, :kill)
      assert TestOS.eventually(fn -> TestOS.stat(os_pid) == nil end, 5_000)
    end
  end

  test "a node without the package is an error that says so" do
    bare = TestCluster.start_node!([], package: false)

    assert_raise ArgumentError, ~r/does not run the sandbox package/, fn ->
      Sandbox.run("1", node: bare)
    end
  end

  test "a node that is not connected gives :noconnection" do
    assert {:error, :noconnection, %{output: ""}} =
             Sandbox.run("1", node: :"nobody_here@127.0.0.1")
  end

  describe "pool: {:cluster, group}" do
    test "placement goes to the member with the most idle warm peers" do
      group = __MODULE__.MostIdle
      start_supervised!({Pool, name: group, size: 1})
      busy = TestCluster.start_node!([{group, 2}])
      empty = TestCluster.start_node!([{group, 0}])
      assert TestOS.eventually(fn -> length(Cluster.members(group)) == 3 end, 5_000)

      await_idle(group, node(), 1)
      busy_idle = await_idle(group, busy, 2)
      await_idle(group, empty, 0)
      assert peer_os_pid(pool: {:cluster, group}) in busy_idle
    end

    test "placement prefers this node when members tie" do
      group = __MODULE__.Tie
      start_supervised!({Pool, name: group, size: 1})
      other = TestCluster.start_node!([{group, 1}])
      assert TestOS.eventually(fn -> length(Cluster.members(group)) == 2 end, 5_000)

      here_idle = await_idle(group, node(), 1)
      await_idle(group, other, 1)
      assert peer_os_pid(pool: {:cluster, group}) in here_idle
    end

    @tag :tmp_dir
    test "with no idle peer anywhere, the least loaded member boots one; this node first on ties",
         %{tmp_dir: dir} do
      group = __MODULE__.LeastLoaded
      start_supervised!({Pool, name: group, size: 0})
      other = TestCluster.start_node!([{group, 0}])
      assert TestOS.eventually(fn -> length(Cluster.members(group)) == 2 end, 5_000)

      # A VM's node name carries the OS pid of the node that booted it.
      booted_by = fn ->
        assert {:ok, %{result: name}} = Sandbox.run("node()", pool: {:cluster, group})
        name |> Atom.to_string() |> String.split("_") |> Enum.at(1)
      end

      assert booted_by.() == System.pid(), "a tie went to the other member"

      gate = Path.join(dir, "gate")

      code = """
      wait = fn wait -> if File.exists?(#{inspect(gate)}), do: :ok, else: (Process.sleep(20); wait.(wait)) end
      wait.(wait)
      """

      busy = Task.async(fn -> Sandbox.run(code, pool: group) end)
      assert TestOS.eventually(fn -> Pool.status(group).leased == 1 end, 5_000)
      assert booted_by.() == :erpc.call(other, System, :pid, [])
      File.write!(gate, "")
      assert {:ok, %{result: :ok}} = Task.await(busy, 30_000)
    end

    test "choose/1: most idle VMs first, then the least load, this node first on ties" do
      here = self()
      there = :erpc.call(TestCluster.start_node!(), :erlang, :whereis, [:sandbox_pools])
      idle = %{idle: 0, leased: 0, waiting: 0}

      assert Cluster.choose([{there, idle}, {here, idle}]) == here
      assert Cluster.choose([{there, idle}, {here, %{idle | leased: 1}}]) == there
      assert Cluster.choose([{there, %{idle | idle: 1}}, {here, idle}]) == there
      assert Cluster.choose([]) == nil
    end

    test "keeps serving when a member dies" do
      group = __MODULE__.Survivors
      doomed = TestCluster.start_node!([{group, 2}])
      survivor = TestCluster.start_node!([{group, 1}])
      doomed_idle = await_idle(group, doomed, 2)
      await_idle(group, survivor, 1)

      TestCluster.kill_node!(doomed)

      for _ <- 1..3 do
        assert {:ok, %{result: 2}} = Sandbox.run("1 + 1", pool: {:cluster, group})
      end

      assert TestOS.eventually(fn ->
               Enum.all?(Cluster.members(group), &(node(&1) == survivor))
             end)

      assert TestOS.eventually(fn -> Enum.all?(doomed_idle, &(TestOS.stat(&1) == nil)) end, 5_000)
    end

    test "a group with no member runs here, on a fresh VM" do
      assert {:ok, %{result: 2}} = Sandbox.run("1 + 1", pool: {:cluster, __MODULE__.Nobody})
    end
  end

  defp received_chunks do
    receive do
      {:sandbox_output, _ref, chunk} -> chunk <> received_chunks()
    after
      0 -> ""
    end
  end
end
