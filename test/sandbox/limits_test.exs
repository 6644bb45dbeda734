defmodule Sandbox.LimitsTest do
  @moduledoc """
  Resource limits (:memory_limit, :cpu_time, :max_processes,
  :max_file_size) and :network. Each is shown to stop (or fail) what
  crosses it and to leave alone the same kind of run under it. Some tests
  run once with the default cgroup setting and once without any cgroup,
  so both ways of measuring the tree are used.
  """
  # Some tests change the application's cgroup setting: not async.
  use ExUnit.Case, async: false

  alias Sandbox.{Pool, Result, TestOS}

  @moduletag :tmp_dir

  # Holds 2 GB as one binary, touching every page, then returns its size.
  @allocate_2gb ~S"""
  IO.puts("allocating")
  big = :binary.copy(<<1>>, 2_000_000_000)
  byte_size(big)
  """

  # Computes without pause for `ms` of wall time.
  defp busy_for(ms) do
    """
    deadline = System.monotonic_time(:millisecond) + #{ms}
    spin = fn spin, n -> if System.monotonic_time(:millisecond) < deadline, do: spin.(spin, n + 1), else: n end
    spin.(spin, 0)
    :done
    """
  end

  describe ":memory_limit" do
    test "stops a run that allocates 2 GB, not one that stays under it" do
      result = Sandbox.execute(@allocate_2gb, memory_limit: 500_000_000, timeout: 60_000)
      assert %Result{status: :memory_limit, output: "allocating\n", value: nil} = result
      assert Map.has_key?(result.enforced_by, :memory_limit)
      # Stopped near the limit, long before 2 GB.
      assert result.max_rss_kb < 1_500_000

      under =
        Sandbox.execute("byte_size(:binary.copy(<<1>>, 100_000_000))", memory_limit: 1_000_000_000)

      assert %Result{status: :ok, value: 100_000_000} = under
    end

    test "run/2 returns {:error, :memory_limit, output}" do
      assert {:error, :memory_limit, %{output: "allocating\n"}} =
               Sandbox.run(@allocate_2gb, memory_limit: 500_000_000)
    end

    test "the VM counts: a limit below what it uses alone stops the run at once" do
      assert {:error, :memory_limit, %{output: ""}} =
               Sandbox.run("1 + 1", memory_limit: 1_000_000)
    end

    # The host sends the request once the limits are in force; a quick run
    # must not finish before the verdict on what the VM already uses. Without
    # a cgroup the helper's first check walks /proc, which is slow enough
    # that the race showed here about once in ten runs.
    test "a limit below what the VM uses stops even a run that needs no time (cgroup: false)" do
      Sandbox.TestConfig.put_cgroup(false)
      pool = start_supervised!({Pool, size: 2}, id: make_ref())

      outcomes =
        for _ <- 1..20 do
          assert TestOS.eventually(fn -> Pool.status(pool).idle == 2 end, 20_000)
          elem(Sandbox.run("1 + 1", memory_limit: 1_000_000, pool: pool), 1)
        end ++ for(_ <- 1..10, do: elem(Sandbox.run("1 + 1", memory_limit: 1_000_000), 1))

      assert Enum.frequencies(outcomes) == %{memory_limit: 30}
    end
  end

  describe ":cpu_time" do
    for cgroup <- [:auto, false] do
      @tag cgroup: cgroup
      test "stops a busy run but not a sleeping one of the same length (cgroup: #{cgroup})",
           %{cgroup: cgroup} do
        Sandbox.TestConfig.put_cgroup(cgroup)
        expected = if cgroup == false, do: :sampling, else: Sandbox.info().limits.cpu_time
        opts = [cpu_time: 400, timeout: 30_000]

        busy = Sandbox.execute(busy_for(3_000), opts)
        sleeping = Sandbox.execute("Process.sleep(3_000); :slept", opts)

        assert %Result{status: :cpu_limit, enforced_by: %{cpu_time: ^expected}} = busy
        assert %Result{status: :ok, value: :slept, enforced_by: %{cpu_time: ^expected}} = sleeping
        # Stopped well before its 3 s were up.
        assert busy.wall_ms < sleeping.wall_ms
        assert {:error, :cpu_limit, %{output: ""}} = Sandbox.run(busy_for(3_000), opts)
      end
    end

    test "a pool's VM does not count its boot" do
      pool = start_supervised!({Pool, size: 1}, id: make_ref())
      assert TestOS.eventually(fn -> Pool.status(pool).idle == 1 end, 20_000)
      # Booting took ~300 ms of CPU: more than the whole limit.
      result = Sandbox.execute("1 + 1", cpu_time: 150, pool: pool)
      assert %Result{status: :ok, value: 2, boot_ms: +0.0} = result
      assert result.cpu_ms > 150
    end
  end

  describe ":max_processes" do
    # 300 processes, then a wait: far past the limit, yet bounded, so that
    # with the limit broken the test fails on its timeout instead of
    # filling the machine's pid space.
    @fork_loop ~S"""
    IO.puts("forking")
    :os.cmd(~c"i=0; while [ $i -lt 300 ]; do sleep 100 & i=$((i + 1)); done; wait")
    """

    for cgroup <- [:auto, false] do
      @tag cgroup: cgroup
      test "stops a fork loop, and lets a few processes run (cgroup: #{cgroup})", %{
        cgroup: cgroup
      } do
        Sandbox.TestConfig.put_cgroup(cgroup)
        result = Sandbox.execute(@fork_loop, max_processes: 20, timeout: 30_000)
        assert %Result{status: :process_limit, output: "forking\n"} = result
        assert Map.has_key?(result.enforced_by, :max_processes)

        few = ~S"""
        :os.cmd(~c"sleep 0.3 & sleep 0.3 & wait; echo done")
        """

        assert {:ok, %{result: ~c"done\n"}} = Sandbox.run(few, max_processes: 20)
      end
    end
  end

  describe ":max_file_size" do
    test "a write past it fails with :efbig and the run goes on", %{tmp_dir: dir} do
      code = """
      small = File.write(#{inspect(Path.join(dir, "small"))}, :binary.copy("a", 1_000))
      big = File.write(#{inspect(Path.join(dir, "big"))}, :binary.copy("a", 100_000))
      {small, big}
      """

      result = Sandbox.execute(code, max_file_size: 10_000)
      assert %Result{status: :ok, value: {:ok, {:error, :efbig}}} = result
      assert %{max_file_size: :rlimit} = result.enforced_by
      assert File.stat!(Path.join(dir, "big")).size <= 10_000

      assert {:ok, %{result: {:ok, :ok}}} = Sandbox.run(code)
      assert File.stat!(Path.join(dir, "big")).size == 100_000
    end

    test "a program the code starts is stopped as under ulimit -f", %{tmp_dir: dir} do
      code = ~s|:os.cmd(~c"dd if=/dev/zero of=#{dir}/dd bs=1024 count=100 2>/dev/null; echo $?")|
      assert {:ok, %{result: status}} = Sandbox.run(code, max_file_size: 4096)
      # 128 + SIGXFSZ (25)
      assert status == ~c"153\n"
      assert File.stat!(Path.join(dir, "dd")).size <= 4096
    end
  end

  describe ":network" do
    test "false cuts the run off from a listener on the host's loopback" do
      {:ok, listener} = :gen_tcp.listen(0, ip: {127, 0, 0, 1}, active: false)
      {:ok, port} = :inet.port(listener)
      code = "elem(:gen_tcp.connect({127, 0, 0, 1}, #{port}, [], 5_000), 0)"

      assert {:ok, %{result: :ok}} = Sandbox.run(code)
      assert {:ok, %{result: :error}} = Sandbox.run(code, network: false)
      :gen_tcp.close(listener)
    end

    test "false leaves the VM no interface that is up" do
      code = ~S"""
      {:ok, interfaces} = :inet.getifaddrs()
      for {name, opts} <- interfaces, :up in List.flatten(Keyword.get_values(opts, :flags)), do: name
      """

      assert {:ok, %{result: []}} = Sandbox.run(code, network: false)
      assert {:ok, %{result: [_ | _]}} = Sandbox.run(code)
    end

    # Root drops to nobody for it; elsewhere the tests above already run
    # without CAP_SYS_ADMIN.
    @tag :root
    test "without CAP_SYS_ADMIN, false gives a user namespace that keeps the user" do
      script = ~S'''
      {:ok, listener} = :gen_tcp.listen(0, ip: {127, 0, 0, 1}, active: false)
      {:ok, port} = :inet.port(listener)

      code = """
      {uid, 0} = System.cmd("id", ["-u"])
      {String.trim(uid), elem(:gen_tcp.connect({127, 0, 0, 1}, #{port}, [], 5_000), 0)}
      """

      found = {
        Sandbox.info().network,
        Sandbox.run(code),
        Sandbox.run(code, network: false),
        Sandbox.execute("1", network: false).enforced_by
      }
      IO.write(found |> :erlang.term_to_binary() |> Base.encode64())
      '''

      assert {:user_netns, {:ok, %{result: {"65534", :ok}}}, {:ok, %{result: {"65534", :error}}},
              %{network: :user_netns}} = TestOS.as_nobody(fn _dir -> script end)
    end

    # A host VM in a user namespace of its own whose limits on network and
    # user namespaces are 0 (those limits are per user namespace: the
    # machine's stay as they are): the kernel refuses both kinds.
    test "a kernel's refusal is an error that says why, never a run with a network" do
      script = ~S"""
      refused =
        try do
          Sandbox.run("1", network: false)
        rescue
          error in Sandbox.BootError -> {:raised, Exception.message(error)}
        end

      IO.write(Base.encode64(:erlang.term_to_binary({Sandbox.run("1"), refused})))
      """

      assert {{:ok, %{result: 1}}, {:raised, message}} =
               TestOS.in_user_namespace(~w(max_net_namespaces max_user_namespaces), script)

      assert message =~ "network: false"
      assert message =~ "ENOSPC"
    end
  end

  describe "a run stopped by a limit leaves nothing behind" do
    for {limit, option, crossing} <- [
          {:memory_limit, [memory_limit: 500_000_000], ":binary.copy(<<1>>, 2_000_000_000)"},
          {:cpu_limit, [cpu_time: 300], "Stream.repeatedly(fn -> :spin end) |> Stream.run()"},
          {:process_limit, [max_processes: 20],
           ~S|:os.cmd(~c"i=0; while [ $i -lt 300 ]; do sleep 100 & i=$((i + 1)); done; wait")|}
        ] do
      test "#{limit}: the VM and what it started are gone within 1 s" do
        code =
          Sandbox.TestCode.orphan_spawner() <>
            """
            IO.puts(System.pid())
            IO.puts(spawn_orphan.("setsid"))
            #{unquote(crossing)}
            """

        assert {:error, unquote(limit), %{output: output}} =
                 Sandbox.run(code, unquote(option) ++ [timeout: 60_000])

        pids = output |> String.split() |> Enum.map(&String.to_integer/1)
        assert length(pids) == 2

        assert TestOS.eventually(fn -> Enum.all?(pids, &(TestOS.stat(&1) == nil)) end, 1_000),
               "left: #{inspect(Enum.filter(pids, &TestOS.stat/1))}"
      end
    end
  end

  test "the mechanisms a run reports are the ones info/0 names" do
    result =
      Sandbox.execute("1",
        memory_limit: 1_000_000_000,
        cpu_time: 10_000,
        max_processes: 100,
        max_file_size: 1_000_000
      )

    assert %Result{status: :ok} = result
    assert result.enforced_by == Sandbox.info().limits

    assert %Result{status: :ok, enforced_by: alone} = Sandbox.execute("1", network: false)

    assert alone == %{network: Sandbox.info().network}
    assert %Result{enforced_by: enforced_by} = Sandbox.execute("1")
    assert enforced_by == %{}
  end

  test "limits are checked like the other options" do
    for {key, bad} <- [memory_limit: -1, cpu_time: 1.5, max_processes: :none, max_file_size: "1"] do
      assert_raise ArgumentError, ~r/option #{inspect(key)} must be/, fn ->
        Sandbox.run("1", [{key, bad}])
      end
    end

    assert_raise ArgumentError, ~r/option :network must be a boolean/, fn ->
      Sandbox.run("1", network: :off)
    end
  end
end
