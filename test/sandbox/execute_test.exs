defmodule Sandbox.ExecuteTest do
  @moduledoc """
  Sandbox.execute/2's full report, and runs started with start/2, awaited
  with await/2 and stopped with cancel/1.
  """
  use ExUnit.Case, async: true

  alias Sandbox.{Result, TestCode, TestOS}

  describe "execute/2" do
    test "reports a run that ended well, with what it took" do
      result = Sandbox.execute(~S|IO.puts("hi"); 1 + 1|)

      assert %Result{status: :ok, value: 2, error: nil, output: "hi\n"} = result
      assert result.output_bytes == 3 and result.truncated == false
      assert result.exit_status == nil and result.signal == nil

      for field <- [:boot_ms, :setup_ms, :eval_ms, :cpu_ms] do
        assert is_float(Map.fetch!(result, field)), "#{field}: #{inspect(result)}"
      end

      assert result.boot_ms + result.setup_ms + result.eval_ms <= result.wall_ms
      # A whole BEAM with Elixir loaded: tens of MB, not bytes, not GBs.
      assert result.max_rss_kb in 10_000..1_000_000
      assert result.cpu_ms > 0
    end

    test "an error in the code or in the setup is reported, not raised" do
      assert %Result{status: :error, failed_in: :code, error: {:error, :badarith, [_ | _]}} =
               Sandbox.execute("1 / 0")

      assert %Result{status: :error, failed_in: :setup, error: {:throw, :no, _}, output: ""} =
               Sandbox.execute("1", setup: "throw(:no)")
    end

    test "a timeout keeps what was printed" do
      assert %Result{status: :timeout, output: "before\n", value: nil} =
               Sandbox.execute(~S|IO.puts("before"); Process.sleep(:infinity)|, timeout: 300)
    end

    test "a VM that dies says how: exit status or signal" do
      assert %Result{status: :crashed, exit_status: 3, signal: nil, output: "1\n"} =
               Sandbox.execute("IO.puts(1); System.halt(3)")

      assert %Result{status: :crashed, exit_status: nil, signal: 9} =
               Sandbox.execute(~S|System.cmd("kill", ["-9", System.pid()])|)
    end

    test "counts every byte printed, and says when output was cut" do
      result = Sandbox.execute(~S|IO.write(String.duplicate("x", 100))|, max_output: 10)
      assert result.output_bytes == 100 and result.truncated
      assert String.starts_with?(result.output, "xxxxxxxxxx\n...(truncated")
    end

    test "CPU is counted for work, not for waiting" do
      # The same boot; one then computes (a fixed amount of work, whatever
      # the machine's load), the other sleeps.
      busy = Sandbox.execute("for _ <- 1..20, do: Enum.reduce(1..1_000_000, 0, &+/2)")
      idle = Sandbox.execute("Process.sleep(300)")

      assert busy.status == :ok and idle.status == :ok
      assert busy.cpu_ms - idle.cpu_ms > 150, "busy #{busy.cpu_ms} ms, idle #{idle.cpu_ms} ms"
    end

    test "cpu_ms and max_rss_kb cover the whole tree: a child's CPU and memory show in them" do
      # The child reports its own CPU time (`times`: user and system of the
      # shell, in minutes and seconds); dd holds a 300 MB buffer, far more
      # than the VM's own resident set.
      code = ~S"""
      {out, 0} = System.cmd("sh", ["-c", "i=0; while [ $i -lt 400000 ]; do i=$((i + 1)); done; times"])
      [user, system] = out |> String.split("\n", trim: true) |> hd() |> String.split()
      seconds = fn time -> [_, m, s] = Regex.run(~r/(\d+)m([\d.]+)s/, time); String.to_integer(m) * 60 + String.to_float(s) end
      {_, 0} = System.cmd("dd", ["if=/dev/zero", "of=/dev/null", "bs=300M", "count=1"], stderr_to_stdout: true)
      (seconds.(user) + seconds.(system)) * 1000
      """

      result = Sandbox.execute(code)
      assert %Result{status: :ok, value: child_cpu_ms} = result
      assert child_cpu_ms > 100, "the child burnt only #{child_cpu_ms} ms"

      assert result.cpu_ms > child_cpu_ms,
             "cpu_ms #{result.cpu_ms}, the child alone #{child_cpu_ms}"

      assert result.max_rss_kb > 300 * 1024, "max_rss_kb #{result.max_rss_kb}: not dd's 300 MB"
    end

    test "a pool's VM spent its boot before the run" do
      pool = start_supervised!({Sandbox.Pool, size: 1}, id: make_ref())
      assert TestOS.eventually(fn -> Sandbox.Pool.status(pool).idle == 1 end, 20_000)
      assert %Result{status: :ok, value: 2, boot_ms: +0.0} = Sandbox.execute("1 + 1", pool: pool)
    end

    test "leaves nothing in the caller's mailbox" do
      for code <- ["1", "raise :x", "System.halt(1)"], do: Sandbox.execute(code)
      Sandbox.execute("Process.sleep(:infinity)", timeout: 100)
      assert Process.info(self(), :messages) == {:messages, []}
    end

    # The default :boot_timeout is 30 s: a VM stopped before it booted is
    # given up after that, not sooner and not never.
    @tag :slow
    @tag timeout: 120_000
    test "a VM that does not boot is given up after 30 s by default" do
      test = self()
      earlier_helpers = helpers()
      started = System.monotonic_time(:millisecond)

      caller =
        spawn(fn ->
          send(test, {:raised, catch_error(Sandbox.execute("1", pool: false))})
        end)

      # Stop the VM as soon as it exists: it never says it has booted. Only
      # a stop that took counts (a pid seen may be gone by the kill).
      peer =
        TestOS.eventually(
          fn ->
            with [helper | _] <- helpers() -- earlier_helpers,
                 [%{pid: peer} | _] <- TestOS.children(helper),
                 {_, 0} <-
                   System.cmd("kill", ["-STOP", Integer.to_string(peer)], stderr_to_stdout: true),
                 %{state: "T"} <- TestOS.stat(peer) do
              peer
            else
              _ -> nil
            end
          end,
          10_000
        )

      assert peer, "no VM was seen starting"
      assert_receive {:raised, %Sandbox.BootError{reason: :timeout}}, 60_000
      waited = System.monotonic_time(:millisecond) - started
      assert waited >= 29_000, "gave up after #{waited} ms"
      refute Process.alive?(caller)
    end

    test "raises for a VM that cannot boot, as run/2 does" do
      assert_raise Sandbox.BootError, fn -> Sandbox.execute("1", boot_timeout: 0) end
    end
  end

  describe "start/2, await/2, cancel/1" do
    test "await returns the result; a short await exits and the run goes on" do
      handle = Sandbox.start("Process.sleep(300); :late")

      assert {:timeout, {Sandbox, :await, [^handle, 10]}} = catch_exit(Sandbox.await(handle, 10))
      assert %Result{status: :ok, value: :late} = Sandbox.await(handle)
    end

    @tag timeout: 120_000
    test "cancel stops the run and everything it started" do
      marker = "sandbox-cancel-#{System.unique_integer([:positive])}"
      handle = Sandbox.start(TestCode.fork_tree(marker) <> "; Process.sleep(:infinity)")
      await_tree!(marker, fn -> inspect(Sandbox.cancel(handle)) end)

      assert %Result{status: :cancelled} = Sandbox.cancel(handle)
      TestCode.assert_marked_gone(marker, 5_000)
    end

    @tag :tmp_dir
    test "cancelling a run that already ended gives its own result", %{tmp_dir: dir} do
      pid_file = Path.join(dir, "pid")
      handle = Sandbox.start(~s|File.write!(#{inspect(pid_file)}, System.pid()); :done|)
      # The VM is killed once the run has answered: once it is gone, the
      # run is over.
      [peer] = TestOS.read_pids(pid_file, 1, 30_000)
      assert TestOS.eventually(fn -> TestOS.stat(peer) == nil end, 10_000)
      assert %Result{status: :ok, value: :done} = Sandbox.cancel(handle)
    end

    test "only the process that started a run may await or cancel it" do
      handle = Sandbox.start("Process.sleep(200)")

      test = self()

      spawn(fn ->
        send(
          test,
          {:tried, Enum.map([&Sandbox.await/1, &Sandbox.cancel/1], &try_call(&1, handle))}
        )
      end)

      assert_receive {:tried, [%ArgumentError{} = awaiting, %ArgumentError{}]}, 5_000
      assert awaiting.message =~ "only be awaited or cancelled by the process that started it"

      assert %Result{status: :ok} = Sandbox.await(handle)
    end

    @tag timeout: 120_000
    test "a run whose owner dies is killed" do
      marker = "sandbox-owner-#{System.unique_integer([:positive])}"
      test = self()

      owner =
        spawn(fn ->
          Sandbox.start(TestCode.fork_tree(marker) <> "; Process.sleep(:infinity)")
          send(test, :started)
          Process.sleep(:infinity)
        end)

      assert_receive :started, 5_000
      await_tree!(marker, fn -> "the run is the owner's" end)
      Process.exit(owner, :kill)
      TestCode.assert_marked_gone(marker, 5_000)
    end
  end

  # Waits for the run's fork tree to show up. A run that boots on a loaded
  # machine at idle priority can take long to get there, and one that never
  # does (it failed) is reported with what `run_state` says of it, rather
  # than as a bare timeout.
  defp await_tree!(marker, run_state) do
    unless TestOS.eventually(fn -> TestCode.marked_processes(marker) != [] end, 45_000) do
      flunk("the run's processes never showed up in 45 s; the run: #{run_state.()}")
    end
  end

  # This VM's helpers now, by OS pid.
  defp helpers do
    for %{pid: pid} <- TestOS.children(System.pid()),
        match?({:ok, "sandbox_helper" <> _}, File.read("/proc/#{pid}/comm")),
        do: pid
  end

  defp try_call(fun, handle) do
    fun.(handle)
  rescue
    error -> error
  end
end
