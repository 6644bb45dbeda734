defmodule Sandbox.PoolTest do
  @moduledoc """
  Sandbox.Pool: warm single-use peers, refill, an empty pool, :max_peers,
  code paths added after boot, and peers that die while idle.
  """
  use ExUnit.Case, async: true

  alias Sandbox.{Pool, TestOS}

  @moduletag :tmp_dir

  defp start_pool!(opts) do
    start_supervised!({Pool, opts}, id: make_ref())
  end

  defp await_idle(pool, count) do
    assert TestOS.eventually(fn -> Pool.status(pool).idle == count end, 20_000),
           "the pool never had #{count} idle peers: #{inspect(Pool.status(pool))}"

    Pool.status(pool).idle_os_pids
  end

  # Code that waits until `path` exists, then returns :gate_opened.
  defp wait_for_file(path) do
    ~s"""
    wait = fn wait -> if File.exists?(#{inspect(path)}), do: :gate_opened, else: (Process.sleep(20); wait.(wait)) end
    wait.(wait)
    """
  end

  defp peer_os_pid(opts) do
    assert {:ok, %{result: pid}} = Sandbox.run("System.pid()", opts)
    String.to_integer(pid)
  end

  test "a run takes a booted peer, which serves only that run" do
    pool = start_pool!(size: 1)
    [idle] = await_idle(pool, 1)

    assert peer_os_pid(pool: pool) == idle
    # Destroyed after its run like any other peer.
    assert TestOS.eventually(fn -> TestOS.stat(idle) == nil end, 5_000)

    [replacement] = await_idle(pool, 1)
    assert replacement != idle
    assert peer_os_pid(pool: pool) == replacement
  end

  # The warm-up loads what interpolation needs, which a cold run's boot
  # file does not (the code below does not interpolate), and notes when it
  # is done.
  test "a pool's VM warms up while it waits; a VM booted for its run does not, limits or none" do
    refute :elixir_interpolation in Sandbox.BootFile.modules(:run)

    loaded? =
      "{:erlang.module_loaded(:elixir_interpolation), :persistent_term.get({Sandbox.Guest, :warmed_up}, false)}"

    pool = start_pool!(size: 1)
    [idle] = await_idle(pool, 1)
    # It warms up once booted, while it waits: until it has nothing left to do.
    assert TestOS.eventually(fn -> TestOS.quiet?(idle) end, 20_000)
    assert {:ok, %{result: {true, true}}} = Sandbox.run(loaded?, pool: pool)
    assert {:ok, %{result: {false, false}}} = Sandbox.run(loaded?, pool: false)
    # With limits, the request follows the booted frame (once they are in force).
    assert {:ok, %{result: {false, false}}} =
             Sandbox.run(loaded?, pool: false, max_processes: 10_000)
  end

  # On one, a boot spends less CPU but takes longer (see Sandbox.Launcher
  # and Sandbox.Pool): a pool's first VM boots alone, the second while the
  # first does.
  test "a pool's VM boots on one scheduler while another of the pool boots, on all alone; its run has them all, as a cold run does" do
    code = ~S"""
    {String.contains?(File.read!("/proc/self/cmdline"), <<0, "-S", 0, ":1", 0>>),
     :erlang.system_info(:schedulers_online), :erlang.system_info(:schedulers)}
    """

    pool = start_pool!(size: 2)
    await_idle(pool, 2)

    runs =
      for _ <- 1..2 do
        assert {:ok, %{result: {one?, online, all}}} = Sandbox.run(code, pool: pool)
        assert online == all
        one?
      end

    assert Enum.sort(runs) == [false, true]
    assert {:ok, %{result: {false, all, all}}} = Sandbox.run(code, pool: false)
  end

  test "a run that takes a VM still warming up stops the warm-up (it does not wait), which leaves no process behind" do
    # The pool's VM boots from the run's boot file, as one booted under
    # load does, so that its warm-up has modules to load and is still
    # going when the run comes: from the one with what most runs call
    # (Sandbox.BootFile), it can be over before. Either boots the same VM
    # but for speed, so other tests may boot from it meanwhile.
    key = {Sandbox.BootFile, :path, :common}
    kept = Sandbox.BootFile.path(:common)
    :persistent_term.put(key, Sandbox.BootFile.path(:run))
    on_exit(fn -> :persistent_term.put(key, kept) end)
    pool = start_pool!(size: 1)
    # Whether the warm-up got to its end, and how many processes the run
    # sees.
    code = "{:persistent_term.get({Sandbox.Guest, :warmed_up}, false), length(Process.list())}"
    # Taken as it finishes booting: the request comes as the warm-up starts.
    assert {:ok, %{result: {false, processes}}} = Sandbox.run(code, pool: pool)
    [idle] = await_idle(pool, 1)
    assert TestOS.eventually(fn -> TestOS.quiet?(idle) end, 20_000)
    assert {:ok, %{result: {true, ^processes}}} = Sandbox.run(code, pool: pool)
  end

  test "nothing carries over from one pooled run to the next" do
    pool = start_pool!(size: 2)
    await_idle(pool, 2)

    assert {:ok, %{result: :ok}} =
             Sandbox.run(":persistent_term.put(:carried, 1); Process.put(:carried, 1); :ok",
               pool: pool
             )

    assert {:ok, %{result: {nil, :none}}} =
             Sandbox.run("{Process.get(:carried), :persistent_term.get(:carried, :none)}",
               pool: pool
             )
  end

  test "refills in the background to its size" do
    pool = start_pool!(size: 2)
    first = await_idle(pool, 2)

    for _ <- 1..3, do: assert({:ok, _} = Sandbox.run("1", pool: pool))

    refilled = await_idle(pool, 2)
    assert MapSet.disjoint?(MapSet.new(first), MapSet.new(refilled))
    assert %{booting: 0, leased: 0, waiting: 0} = Pool.status(pool)
  end

  test "an empty pool boots a fresh peer for the run instead of waiting", %{tmp_dir: dir} do
    pool = start_pool!(size: 0)
    assert {:ok, %{output: "hi\n", result: 2}} = Sandbox.run("IO.puts(:hi); 1 + 1", pool: pool)
    assert %{idle: 0, booting: 0, leased: 0} = Pool.status(pool)

    # With its one peer busy until the test opens the gate, a second run
    # does not wait for the first: it ends while the gate is still shut.
    pool = start_pool!(size: 1)
    await_idle(pool, 1)
    gate = Path.join(dir, "gate")
    slow = Task.async(fn -> Sandbox.run(wait_for_file(gate), pool: pool) end)
    assert TestOS.eventually(fn -> Pool.status(pool).leased == 1 end, 5_000)

    assert {:ok, %{result: :quick}} = Sandbox.run(":quick", pool: pool)
    assert Task.yield(slow, 0) == nil
    File.write!(gate, "")
    assert {:ok, %{result: :gate_opened}} = Task.await(slow, 30_000)
  end

  describe "a run that finds the pool's VM still booting" do
    test "takes it rather than booting its own" do
      pool = start_pool!(size: 1)
      # Asked at once: the pool's VM has only just been launched.
      assert %{idle: 0, booting: 1} = Pool.status(pool)
      assert %Sandbox.Result{status: :ok, boot_ms: +0.0} = Sandbox.execute("1", pool: pool)
    end

    test "takes it only if no earlier run was promised it: a second boots its own at once" do
      pool = start_pool!(size: 1)
      assert %{booting: 1} = Pool.status(pool)
      runs = for _ <- 1..2, do: Task.async(fn -> Sandbox.execute("1", pool: pool) end)

      # While the pool's VM boots: one run waits for it, the other boots.
      assert TestOS.eventually(fn -> match?(%{waiting: 1, leased: 1}, Pool.status(pool)) end),
             "not one waiting and one booting its own: #{inspect(Pool.status(pool))}"

      boots = runs |> Enum.map(&Task.await(&1, 30_000).boot_ms) |> Enum.sort()
      assert [+0.0, own] = boots
      assert own > 0
    end

    @tag :capture_log
    test "boots its own if that VM fails" do
      # The pool's VMs fail 50 ms into their boot; the run's own boots.
      pool = start_pool!(size: 1, boot_timeout: 50)
      assert %{booting: 1} = Pool.status(pool)
      result = Sandbox.execute("1", pool: pool, boot_timeout: 10_000)
      assert %Sandbox.Result{status: :ok, value: 1} = result
      assert result.boot_ms > 0
    end

    test "raises with reason :timeout if it does not boot within the run's :boot_timeout" do
      pool = start_pool!(size: 1)
      assert %{booting: 1} = Pool.status(pool)

      error =
        assert_raise Sandbox.BootError, fn ->
          Sandbox.run("1", pool: pool, boot_timeout: 20)
        end

      assert error.reason == :timeout
      assert Exception.message(error) =~ ":boot_timeout"
      assert %{waiting: 0, leased: 0} = Pool.status(pool)
    end
  end

  test "a pooled run keeps its :timeout" do
    pool = start_pool!(size: 1)
    [idle] = await_idle(pool, 1)

    task =
      Task.async(fn ->
        Sandbox.execute("IO.puts(System.pid()); Process.sleep(:infinity)",
          pool: pool,
          timeout: 300
        )
      end)

    case Task.yield(task, 20_000) || Task.shutdown(task, :brutal_kill) do
      {:ok, result} ->
        assert %Sandbox.Result{status: :timeout, boot_ms: +0.0} = result
        assert result.output == "#{idle}\n", "the run did not take the pool's VM"

      nil ->
        flunk("a pooled run with timeout: 300 was still running after 20 s")
    end

    assert TestOS.eventually(fn -> TestOS.stat(idle) == nil end, 5_000)
  end

  test ":max_peers queues runs first come, first served, and gives up after :boot_timeout",
       %{tmp_dir: dir} do
    pool = start_pool!(size: 1, max_peers: 1)
    await_idle(pool, 1)
    gate = Path.join(dir, "gate")
    served = Path.join(dir, "served")
    serve = fn name -> ~s|File.write!(#{inspect(served)}, "#{name} ", [:append]); :#{name}| end

    first =
      Task.async(fn -> Sandbox.run(serve.(:first) <> "\n" <> wait_for_file(gate), pool: pool) end)

    assert TestOS.eventually(fn -> Pool.status(pool).leased == 1 end, 5_000)

    # Three waiters, each queued before the next arrives.
    waiters =
      for {name, queued} <- [second: 1, third: 2, fourth: 3] do
        task = Task.async(fn -> Sandbox.run(serve.(name), pool: pool) end)
        assert TestOS.eventually(fn -> Pool.status(pool).waiting == queued end, 5_000)
        {name, task}
      end

    # Past the bound, a run that cannot wait long enough raises.
    error =
      assert_raise Sandbox.BootError, fn ->
        Sandbox.run(":late", pool: pool, boot_timeout: 200)
      end

    assert error.reason == :busy
    assert Exception.message(error) =~ ":max_peers"

    File.write!(gate, "")
    assert {:ok, %{result: :gate_opened}} = Task.await(first, 30_000)

    for {name, task} <- waiters do
      assert {:ok, %{result: ^name}} = Task.await(task, 30_000)
    end

    assert File.read!(served) == "first second third fourth "
    assert %{waiting: 0, leased: 0} = Pool.status(pool)
  end

  test "a warm peer sees code paths the host added after it booted", %{tmp_dir: dir} do
    pool = start_pool!(size: 1)
    [idle] = await_idle(pool, 1)

    [{module, beam}] =
      Code.compile_string("defmodule Sandbox.PoolTest.AddedLater, do: def(hello, do: :later)")

    File.write!(Path.join(dir, "#{module}.beam"), beam)
    :code.purge(module)
    :code.delete(module)
    true = Code.prepend_path(dir)
    on_exit(fn -> Code.delete_path(dir) end)

    assert {:ok, %{result: {:later, pid}}} =
             Sandbox.run("{Sandbox.PoolTest.AddedLater.hello(), System.pid()}", pool: pool)

    assert String.to_integer(pid) == idle
  end

  test "a peer that dies while idle is replaced, and runs still get a fresh VM" do
    pool = start_pool!(size: 1)
    [idle] = await_idle(pool, 1)

    System.cmd("kill", ["-KILL", Integer.to_string(idle)])

    # Straight away: the run may find the dead peer still listed.
    assert {:ok, %{result: 2}} = Sandbox.run("1 + 1", pool: pool)

    [replacement] = await_idle(pool, 1)
    assert replacement != idle
    assert peer_os_pid(pool: pool) == replacement
  end

  test "a VM leased to a caller that dies before it submits is killed" do
    pool = start_pool!(size: 1)
    [idle] = await_idle(pool, 1)
    test = self()

    caller =
      spawn(fn ->
        send(test, {:leased, Pool.checkout(pool, 5_000)})
        Process.sleep(:infinity)
      end)

    assert_receive {:leased, {:warm, _lease, _run, _ref}}, 5_000
    Process.exit(caller, :kill)
    assert TestOS.eventually(fn -> TestOS.stat(idle) == nil end, 5_000)
    assert TestOS.eventually(fn -> Pool.status(pool).leased == 0 end, 5_000)
  end

  @tag :capture_log
  test "VMs that keep failing to boot are retried with a growing delay" do
    # With no time to boot, every VM fails at once.
    pool = start_pool!(size: 1, boot_timeout: 0)
    failures = fn -> :sys.get_state(pool).failures end
    assert TestOS.eventually(fn -> failures.() >= 2 end, 5_000)
    seen = failures.()

    # Retried at once, a failure takes a spawn (milliseconds): there would
    # be hundreds in a second. With the delay doubling from 100 ms, there
    # are at most a handful more.
    receive after: (1_000 -> :ok)
    assert failures.() - seen <= 4, "#{failures.() - seen} failed boots in 1 s"
    assert failures.() > seen, "no retry within 1 s"
  end

  test "a run whose caller dies gives its slot back" do
    pool = start_pool!(size: 1, max_peers: 1)
    await_idle(pool, 1)

    caller = spawn(fn -> Sandbox.run("Process.sleep(:infinity)", pool: pool) end)
    assert TestOS.eventually(fn -> Pool.status(pool).leased == 1 end, 5_000)
    Process.exit(caller, :kill)

    assert TestOS.eventually(fn -> Pool.status(pool).leased == 0 end, 5_000)
    assert {:ok, %{result: :after}} = Sandbox.run(":after", pool: pool)
  end

  test "stopping the pool kills its idle peers" do
    pool = start_pool!(size: 2)
    idle = await_idle(pool, 2)

    # Synchronous: returns once the pool has terminated (its supervisor
    # then starts a new one, with new peers).
    :ok = GenServer.stop(pool)

    for os_pid <- idle do
      assert TestOS.eventually(fn -> TestOS.stat(os_pid) == nil end, 5_000)
    end
  end

  test "pool: false never takes a pooled peer" do
    pool = start_pool!(size: 1)
    [idle] = await_idle(pool, 1)
    assert peer_os_pid(pool: false) != idle
    assert Pool.status(pool).idle_os_pids == [idle]
  end

  test "invalid pool options raise, naming the option" do
    assert_raise ArgumentError, ~r/:size/, fn -> Pool.start_link(size: -1) end
    assert_raise ArgumentError, ~r/:max_peers/, fn -> Pool.start_link(max_peers: 0) end
    assert_raise ArgumentError, ~r/:pool/, fn -> Sandbox.run("1", pool: true) end
    assert_raise ArgumentError, ~r/:pool/, fn -> Sandbox.run("1", pool: "name") end
  end

  test "a :pool that names no running pool raises ArgumentError naming it" do
    dead = spawn(fn -> :ok end)
    ref = Process.monitor(dead)
    assert_receive {:DOWN, ^ref, :process, ^dead, _}

    for pool <- [:"#{__MODULE__}.Nowhere", dead] do
      error = assert_raise ArgumentError, fn -> Sandbox.run("1", pool: pool) end
      assert error.message =~ "option :pool names no running Sandbox.Pool: #{inspect(pool)}"
    end
  end

  test "a cluster pool on a node that is not distributed is this node's pool; distribution stays off" do
    group = :"#{__MODULE__}.Local#{System.unique_integer([:positive])}"
    start_pool!(name: group, size: 1)
    [idle] = await_idle(group, 1)

    assert peer_os_pid(pool: {:cluster, group}) == idle
    refute Node.alive?()
  end
end
