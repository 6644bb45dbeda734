defmodule Sandbox.AutoPoolTest do
  @moduledoc """
  `size: :auto` pools, and the one the application starts when nothing is
  configured: nothing booted before the first run, warm from the second,
  as many as runs use at once up to `:max_size`, none after
  `:idle_timeout`; and a warm VM is the VM the run would have booted (the
  host's environment and directory of the moment, its `:boot_timeout`,
  the launch settings of the moment). Not async: it restarts the
  application and changes its settings.
  """
  use ExUnit.Case, async: false

  alias Sandbox.{BootError, Pool, Result, TestOS}

  defp auto_pool(opts \\ []) do
    start_supervised!({Pool, [size: :auto] ++ opts}, id: make_ref())
  end

  defp counts(pool), do: Map.take(Pool.status(pool), [:idle, :booting, :leased])

  # A first run, then the spare the pool boots after it: its OS pid.
  defp first_run_and_spare(pool) do
    assert {:ok, _} = Sandbox.run("1", pool: pool)
    assert TestOS.eventually(fn -> Pool.status(pool).idle == 1 end, 20_000)
    [spare] = Pool.status(pool).idle_os_pids
    spare
  end

  # `idle` VMs booted, and after a while still no more than that.
  defp assert_settles(pool, idle) do
    assert TestOS.eventually(fn -> Pool.status(pool).idle == idle end, 20_000)
    Process.sleep(500)
    assert counts(pool) == %{idle: idle, booting: 0, leased: 0}
  end

  test "nothing boots before the first run; the second run is warm" do
    pool = auto_pool()
    Process.sleep(300)
    assert counts(pool) == %{idle: 0, booting: 0, leased: 0}

    assert %Result{status: :ok, boot_ms: first_boot} = Sandbox.execute("1", pool: pool)
    assert first_boot > 0
    assert TestOS.eventually(fn -> Pool.status(pool).idle == 1 end, 20_000)
    [idle] = Pool.status(pool).idle_os_pids

    assert %Result{status: :ok, value: pid, boot_ms: +0.0} =
             Sandbox.execute("System.pid()", pool: pool)

    assert String.to_integer(pid) == idle
  end

  test "the first run's spare boots once that run is over, not beside it" do
    pool = auto_pool()
    run = Task.async(fn -> Sandbox.run("Process.sleep(1_500)", pool: pool) end)
    assert TestOS.eventually(fn -> Pool.status(pool).leased == 1 end, 20_000)
    Process.sleep(1_000)
    assert %{idle: 0, booting: 0, leased: 1} = counts(pool)
    assert {:ok, _} = Task.await(run, 30_000)
    assert TestOS.eventually(fn -> Pool.status(pool).idle == 1 end, 20_000)
  end

  test "grows with runs in progress at once, up to :max_size" do
    pool = auto_pool(max_size: 2)

    runs =
      for _ <- 1..3, do: Task.async(fn -> Sandbox.run("Process.sleep(1_500)", pool: pool) end)

    Enum.each(runs, &assert({:ok, _} = Task.await(&1, 30_000)))
    # Three at once asked for three: :max_size keeps two.
    assert_settles(pool, 2)
  end

  test "one run at a time, each once the spare has booted, keeps one VM waiting" do
    pool = auto_pool(max_size: 2)

    for _ <- 1..3 do
      assert {:ok, _} = Sandbox.run("1", pool: pool)
      assert TestOS.eventually(fn -> Pool.status(pool).idle == 1 end, 20_000)
    end

    assert_settles(pool, 1)
  end

  test "runs that come faster than a spare boots keep one more, up to :max_size" do
    pool = auto_pool(max_size: 2)
    for _ <- 1..4, do: assert({:ok, _} = Sandbox.run("1", pool: pool))
    assert_settles(pool, 2)
  end

  test "a run waiting for a VM still booting is a run in progress: the pool does not empty" do
    # The spare boots after the first run; the second, right behind it,
    # waits for it for longer than :idle_timeout.
    pool = auto_pool(idle_timeout: 50)
    assert {:ok, _} = Sandbox.run("1", pool: pool)

    assert %Result{status: :ok, boot_ms: +0.0} =
             Sandbox.execute("1", pool: pool, boot_timeout: 10_000)
  end

  test "after :idle_timeout without a run, no VM is left" do
    pool = auto_pool(idle_timeout: 3_000)
    idle = first_run_and_spare(pool)

    assert TestOS.eventually(fn -> counts(pool) == %{idle: 0, booting: 0, leased: 0} end, 10_000)
    assert TestOS.eventually(fn -> not TestOS.alive?(idle) end, 2_000)
    # And nothing boots until the next run.
    Process.sleep(300)
    assert counts(pool) == %{idle: 0, booting: 0, leased: 0}
  end

  test "a warm VM has the host's environment and directory of its run, not of its boot" do
    dir = System.tmp_dir!() |> Path.join("sandbox-auto-#{System.unique_integer([:positive])}")
    File.mkdir_p!(dir)
    cwd = File.cwd!()
    pool = auto_pool()
    System.put_env("SANDBOX_AUTO_GONE", "booted with it")

    on_exit(fn ->
      File.cd!(cwd)
      File.rm_rf!(dir)
      System.delete_env("SANDBOX_AUTO_GONE")
      System.delete_env("SANDBOX_AUTO_NEW")
    end)

    code =
      ~S|{System.get_env("SANDBOX_AUTO_GONE"), System.get_env("SANDBOX_AUTO_NEW"), File.cwd!()}|

    assert %Result{value: {"booted with it", nil, ^cwd}} = Sandbox.execute(code, pool: pool)
    assert TestOS.eventually(fn -> Pool.status(pool).idle == 1 end, 20_000)

    System.delete_env("SANDBOX_AUTO_GONE")
    System.put_env("SANDBOX_AUTO_NEW", "set after its boot")
    File.cd!(dir)

    assert %Result{value: {nil, "set after its boot", ^dir}, boot_ms: +0.0} =
             Sandbox.execute(code, pool: pool)
  end

  test "a warm VM that took longer to boot than the run's :boot_timeout is not used" do
    pool = auto_pool()
    _spare = first_run_and_spare(pool)

    assert_raise BootError, fn -> Sandbox.run("1", pool: pool, boot_timeout: 0) end
    assert %{idle: 1} = Pool.status(pool)
  end

  test "a warm VM launched with other settings (priority) is not used" do
    pool = auto_pool()
    stale = first_run_and_spare(pool)

    Application.put_env(:sandbox, :priority, 3)
    on_exit(fn -> Application.delete_env(:sandbox, :priority) end)

    assert {:ok, %{result: pid}} = Sandbox.run("System.pid()", pool: pool)
    refute String.to_integer(pid) == stale
    assert TestOS.eventually(fn -> not TestOS.alive?(stale) end, 2_000)
  end

  test "a run longer than :idle_timeout does not empty the pool under it" do
    pool = auto_pool(idle_timeout: 1_000)
    spare = first_run_and_spare(pool)

    # Takes the spare; its replacement boots, and must still be there
    # when the 2.5 s run ends, 1.5 s past the :idle_timeout.
    assert {:ok, %{result: pid}} = Sandbox.run("Process.sleep(2_500); System.pid()", pool: pool)
    assert String.to_integer(pid) == spare
    assert %{idle: 1} = counts(pool)
  end

  test ":max_size and :idle_timeout are checked, and only go with size: :auto" do
    for opts <- [
          [size: :auto, max_size: -1],
          [size: :auto, idle_timeout: 0],
          [size: :many],
          [size: 2, max_size: 2],
          [size: 2, idle_timeout: 1_000]
        ] do
      assert_raise ArgumentError, fn -> Pool.start_link(opts) end
    end
  end

  describe "the application's pool" do
    # Restarting the application logs its stop.
    @describetag :capture_log

    defp restart_with(setting) do
      restart = fn ->
        :ok = Application.stop(:sandbox)
        {:ok, _} = Application.ensure_all_started(:sandbox)
      end

      previous = Application.fetch_env(:sandbox, :pool)

      on_exit(fn ->
        case previous do
          {:ok, value} -> Application.put_env(:sandbox, :pool, value)
          :error -> Application.delete_env(:sandbox, :pool)
        end

        restart.()
      end)

      case setting do
        :unset -> Application.delete_env(:sandbox, :pool)
        value -> Application.put_env(:sandbox, :pool, value)
      end

      restart.()
      Map.new(Supervisor.which_children(Sandbox.Supervisor), &{elem(&1, 0), elem(&1, 1)})
    end

    test "with nothing configured: Sandbox.AutoPool, idle until used, then used by runs without :pool" do
      children = restart_with(:unset)
      pool = Process.whereis(Sandbox.AutoPool)
      assert is_pid(pool) and children[Sandbox.AutoPool] == pool
      assert Process.whereis(Pool) == nil
      assert %{size: :auto, idle: 0, booting: 0} = Pool.status(pool)

      assert {:ok, _} = Sandbox.run("1")
      assert TestOS.eventually(fn -> Pool.status(pool).idle == 1 end, 20_000)
      [idle] = Pool.status(pool).idle_os_pids
      assert {:ok, %{result: pid}} = Sandbox.run("System.pid()")
      assert String.to_integer(pid) == idle
    end

    test "pool: false starts none" do
      children = restart_with(false)
      refute Map.has_key?(children, Sandbox.AutoPool)
      refute Map.has_key?(children, Pool)
      assert {:ok, %{result: 2}} = Sandbox.run("1 + 1")
    end

    test "a configured pool replaces it" do
      children = restart_with(size: :auto, max_size: 1)
      refute Map.has_key?(children, Sandbox.AutoPool)
      assert %{size: :auto} = Pool.status(Pool)
    end
  end
end
