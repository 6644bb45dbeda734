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

  test "an empty pool boots a fresh peer for the run instead of waiting" do
    pool = start_pool!(size: 0)
    assert {:ok, %{output: "hi\n", result: 2}} = Sandbox.run("IO.puts(:hi); 1 + 1", pool: pool)
    assert %{idle: 0, booting: 0, leased: 0} = Pool.status(pool)

    # With its one peer busy, a second run does not wait for the first.
    pool = start_pool!(size: 1)
    await_idle(pool, 1)
    slow = Task.async(fn -> Sandbox.run("Process.sleep(3_000)", pool: pool) end)
    assert TestOS.eventually(fn -> Pool.status(pool).leased == 1 end, 5_000)

    assert {:ok, %{result: :quick}} = Sandbox.run(":quick", pool: pool)
    assert Task.yield(slow, 0) == nil, "the second run waited for the first"
    assert {:ok, %{result: :ok}} = Task.await(slow, 10_000)
  end

  test ":max_peers queues runs in order, and gives up after :boot_timeout" do
    pool = start_pool!(size: 1, max_peers: 1)
    await_idle(pool, 1)

    first = Task.async(fn -> Sandbox.run("Process.sleep(1_500); :first", pool: pool) end)
    assert TestOS.eventually(fn -> Pool.status(pool).leased == 1 end, 5_000)

    second =
      Task.async(fn ->
        result = Sandbox.run(":second", pool: pool)
        {result, System.monotonic_time(:millisecond)}
      end)

    assert TestOS.eventually(fn -> Pool.status(pool).waiting == 1 end, 5_000)
    # Past the bound, a run that cannot wait long enough raises.
    error =
      assert_raise Sandbox.BootError, fn ->
        Sandbox.run(":third", pool: pool, boot_timeout: 200)
      end

    assert error.reason == :busy
    assert Exception.message(error) =~ ":max_peers"

    assert {:ok, %{result: :first}} = Task.await(first, 10_000)
    first_done = System.monotonic_time(:millisecond)
    assert {{:ok, %{result: :second}}, second_done} = Task.await(second, 20_000)
    assert second_done >= first_done - 50
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

  test "a cluster pool on a node that is not distributed is this node's pool; distribution stays off" do
    group = :"#{__MODULE__}.Local#{System.unique_integer([:positive])}"
    start_pool!(name: group, size: 1)
    [idle] = await_idle(group, 1)

    assert peer_os_pid(pool: {:cluster, group}) == idle
    refute Node.alive?()
  end
end
