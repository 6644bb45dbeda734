defmodule Sandbox.StrictTest do
  @moduledoc """
  `isolation: :strict`: each attack a run could make on the host, shown to
  work without isolation (where that does no harm: fresh paths of the
  test's own, signal 0, mounts on a directory of its own, undone) and to
  fail in the box. Changes the host's environment: not async.
  """
  use ExUnit.Case, async: false

  alias Sandbox.{Result, TestOS}

  @moduletag :tmp_dir
  @moduletag timeout: 180_000

  @strict [isolation: :strict]

  defp result!(code, opts) do
    assert {:ok, %{result: result}} = Sandbox.run(code, opts)
    result
  end

  # A fresh path outside the project, cleaned up when the test ends.
  defp fresh_path(prefix) do
    path = Path.join(prefix, "sandbox-strict-#{System.unique_integer([:positive])}")
    on_exit(fn -> File.rm_rf(path) end)
    path
  end

  # A strict run that holds a marked `sleep` for as long as the test needs
  # it (its owner gone when the test ends, the run is killed); returns the
  # marker and the processes the host sees with it.
  defp hold_marked_process do
    marker = "sandbox-strict-marker-#{System.unique_integer([:positive])}"

    holder =
      Task.async(fn ->
        Sandbox.run(
          ~s|System.cmd("sh", ["-c", "sleep 30 # #{marker}"])|,
          @strict ++ [timeout: 60_000]
        )
      end)

    on_exit(fn -> Process.exit(holder.pid, :kill) end)
    found = fn -> Sandbox.TestCode.marked_processes(marker) end
    assert TestOS.eventually(fn -> found.() != [] end, 30_000)
    {marker, found.()}
  end

  defp received_chunks(acc \\ "") do
    receive do
      {:sandbox_output, _ref, chunk} -> received_chunks(acc <> chunk)
    after
      0 -> acc
    end
  end

  describe "1. identity" do
    @status ~S"""
    status = File.read!("/proc/self/status")
    field = fn key -> Regex.run(~r/^#{key}:[ \t]*(.*)$/m, status) |> List.last() |> String.trim() end
    {String.trim(elem(System.cmd("id", ["-u"]), 0)), field.("Groups"), field.("CapEff"),
     field.("CapPrm"), field.("CapBnd"), field.("NoNewPrivs")}
    """

    test "never root, no groups, no capabilities, no_new_privs" do
      if TestOS.root?() do
        assert {"0", _, caps, _, _, "0"} = result!(@status, [])
        assert caps != "0000000000000000"
      end

      assert {uid, "", "0000000000000000", "0000000000000000", "0000000000000000", "1"} =
               result!(@status, @strict)

      assert uid != "0"
    end

    @tag :root
    test "not root outside the box either: the host sees the box's processes as its user" do
      {_marker, [%{pid: pid} | _]} = hold_marked_process()

      [_, uids] = Regex.run(~r/^Uid:\s+(.*)$/m, File.read!("/proc/#{pid}/status"))
      refute "0" in String.split(uids), "a box process is root on the host: Uid #{uids}"
    end
  end

  describe "2. secrets" do
    test "the host's environment is not inherited: a minimal one, plus :env" do
      System.put_env("SANDBOX_TEST_SECRET", "api-key")
      on_exit(fn -> System.delete_env("SANDBOX_TEST_SECRET") end)
      code = ~S|{System.get_env("SANDBOX_TEST_SECRET"), System.get_env()}|

      assert {"api-key", _} = result!(code, [])
      assert {nil, env} = result!(code, @strict ++ [env: %{"GIVEN" => "yes"}])
      assert env["GIVEN"] == "yes"
      assert env["LANG"] == "C.UTF-8"
      assert env["HOME"] == env["TMPDIR"]
      # What erl and the shell add: nothing of the host's.
      assert Map.keys(env) -- ~w(GIVEN LANG HOME TMPDIR PATH PWD BINDIR EMU PROGNAME ROOTDIR) ==
               []
    end
  end

  describe "3. files" do
    test "a host file is not readable; code paths are, read-only", %{tmp_dir: dir} do
      secret = Path.join(dir, "secret.txt")
      File.write!(secret, "private")
      File.chmod!(secret, 0o644)
      code = ~s|File.read(#{inspect(secret)})|

      assert {:ok, "private"} = result!(code, [])
      assert {:error, _} = result!(code, @strict)

      # The project's sources and home directories neither.
      mix_exs = Path.expand("../../mix.exs", __DIR__)
      assert {:error, _} = result!(~s|File.read(#{inspect(mix_exs)})|, @strict)
      assert {:error, _} = result!(~S|File.ls("/root")|, @strict)

      assert {:error, _} =
               result!(~s|File.ls(#{inspect(Path.expand("../../lib", __DIR__))})|, @strict)

      # Nor the host's /tmp: a file there is not even seen.
      in_tmp = fresh_path("/tmp")
      File.write!(in_tmp, "private")
      File.chmod!(in_tmp, 0o644)
      assert {:ok, "private"} = result!(~s|File.read(#{inspect(in_tmp)})|, [])
      assert {:error, :enoent} = result!(~s|File.read(#{inspect(in_tmp)})|, @strict)

      # The code paths: readable, not writable.
      ebin = List.to_string(:code.lib_dir(:sandbox, :ebin))

      code =
        ~s|{File.exists?(#{inspect(Path.join(ebin, "Elixir.Sandbox.beam"))}), File.write(#{inspect(Path.join(ebin, "x"))}, "x")}|

      assert {true, {:error, _}} = result!(code, @strict)
    end

    test "writes land only in the run's own directory", %{tmp_dir: dir} do
      targets = [fresh_path("/tmp"), fresh_path("/var/tmp"), Path.join(dir, "written")]
      code = ~s|for path <- #{inspect(targets)}, do: File.write(path, "x")|

      assert Enum.all?(result!(code, []), &(&1 == :ok))
      Enum.each(targets, &File.rm/1)

      assert Enum.all?(result!(code, @strict), &match?({:error, _}, &1))
      refute Enum.any?(targets, &File.exists?/1)

      # Its own directory: working directory, HOME and TMPDIR, all one.
      assert {:ok, dir_inside, dir_inside, dir_inside} =
               result!(
                 ~S|{File.write("mine", "x"), File.cwd!(), System.get_env("HOME"), System.get_env("TMPDIR")}|,
                 @strict
               )
    end

    test ":read_paths are readable, :write_paths writable, and nothing else", %{tmp_dir: dir} do
      readable = Path.join(dir, "readable")
      writable = Path.join(dir, "writable")
      File.mkdir_p!(readable)
      File.mkdir_p!(writable)
      # The box's user (nobody, on a root host) must be let in, as with any
      # directory one gives another user.
      File.chmod!(writable, 0o777)
      File.write!(Path.join(readable, "in"), "given")

      code = """
      {File.read(#{inspect(Path.join(readable, "in"))}),
       File.write(#{inspect(Path.join(readable, "out"))}, "x"),
       File.write(#{inspect(Path.join(writable, "out"))}, "written")}
      """

      assert {{:ok, "given"}, {:error, _}, :ok} =
               result!(code, @strict ++ [read_paths: [readable], write_paths: [writable]])

      assert File.read!(Path.join(writable, "out")) == "written"
      refute File.exists?(Path.join(readable, "out"))
    end

    # Elixir installed under /root (asdf, mise, a CI's cache) is the usual
    # case: the box's user cannot enter /root, yet the VM needs that code.
    @tag :root
    test "code under a directory only root may enter is visible read-only, and no way out leaks",
         %{tmp_dir: dir} do
      private = Path.join(dir, "root-only")
      code_dir = Path.join(private, "lib")
      File.mkdir_p!(code_dir)
      File.write!(Path.join(code_dir, "code.txt"), "shared")
      File.chmod!(private, 0o700)

      code = """
      open =
        for fd <- File.ls!("/proc/self/fd"),
            {:ok, target} <- [File.read_link("/proc/self/fd/" <> fd)],
            String.starts_with?(target, "/"),
            do: target

      {File.read(#{inspect(Path.join(code_dir, "code.txt"))}),
       File.write(#{inspect(Path.join(code_dir, "out"))}, "x"), open}
      """

      assert {{:ok, "shared"}, {:error, _}, open} =
               result!(code, @strict ++ [read_paths: [code_dir]])

      assert open == ["/dev/null", "/dev/null"]
      refute File.exists?(Path.join(code_dir, "out"))
      # What made it reachable stayed in the run's own mount namespace.
      refute File.read!("/proc/self/mountinfo") =~ private
    end

    test "a :write_paths that does not exist is a BootError naming it, never a run" do
      missing = "/nonexistent-#{System.unique_integer([:positive])}"

      error =
        assert_raise Sandbox.BootError, fn ->
          Sandbox.run("1", @strict ++ [write_paths: [missing]])
        end

      assert Exception.message(error) =~ missing
    end
  end

  describe "4. processes" do
    test "no host process is visible or can be signalled; /proc agrees with System.pid()" do
      host = System.pid()

      code = """
      {File.exists?("/proc/#{host}"), elem(System.cmd("kill", ["-0", "#{host}"], stderr_to_stdout: true), 1),
       File.read("/proc/#{host}/environ") |> elem(0), System.pid() == File.read_link!("/proc/self")}
      """

      assert {true, 0, :ok, true} = result!(code, [])
      assert {false, status, :error, true} = result!(code, @strict)
      assert status != 0
    end

    test "a run cannot see another's processes" do
      {marker, _processes} = hold_marked_process()

      code = """
      Enum.any?(File.ls!("/proc"), fn pid ->
        match?({:ok, text} when is_binary(text), File.read("/proc/\#{pid}/cmdline")) and
          String.contains?(elem(File.read("/proc/\#{pid}/cmdline"), 1), #{inspect(marker)})
      end)
      """

      assert result!(code, [])
      refute result!(code, @strict)
    end
  end

  describe "5. network and sockets" do
    test "no network, no host unix socket (abstract or in the file system)" do
      {:ok, tcp} = :gen_tcp.listen(0, ip: {127, 0, 0, 1}, active: false)
      {:ok, port} = :inet.port(tcp)
      abstract = <<0, "sandbox-strict-#{System.unique_integer([:positive])}">>
      {:ok, abstract_socket} = :gen_tcp.listen(0, ifaddr: {:local, abstract}, active: false)
      path = fresh_path("/tmp")
      {:ok, path_socket} = :gen_tcp.listen(0, ifaddr: {:local, path}, active: false)

      on_exit(fn ->
        Enum.each([tcp, abstract_socket, path_socket], &:gen_tcp.close/1)
      end)

      code = """
      for address <- [{{127, 0, 0, 1}, #{port}}, {{:local, #{inspect(abstract)}}, 0}, {{:local, #{inspect(path)}}, 0}] do
        {host, port} = address
        elem(:gen_tcp.connect(host, port, [], 2_000), 0)
      end
      """

      assert [:ok, :ok, :ok] = result!(code, [])
      assert [:error, :error, :error] = result!(code, @strict)
    end

    test "its own IPC, UTS, mount and cgroup namespaces too" do
      kinds = ~w(ipc uts mnt net pid user)
      host = for kind <- kinds, do: File.stat!("/proc/self/ns/#{kind}").inode
      code = ~s|for kind <- #{inspect(kinds)}, do: File.stat!("/proc/self/ns/\#{kind}").inode|

      assert result!(code, []) == host
      boxed = result!(code, @strict)
      assert Enum.zip(host, boxed) |> Enum.all?(fn {h, b} -> h != b end)
    end

    test "a host name of its own: the host's does not show" do
      {:ok, host} = :inet.gethostname()
      code = "{:inet.gethostname(), :inet_db.res_option(:domain)}"
      assert {{:ok, ^host}, _} = result!(code, [])
      assert {{:ok, ~c"sandbox"}, ~c"box"} = result!(code, @strict)
    end
  end

  describe "6. kernel surface" do
    test "a seccomp filter: no new user namespace, no mount", %{tmp_dir: dir} do
      target = Path.join(dir, "mountpoint")
      File.mkdir_p!(target)
      on_exit(fn -> System.cmd("umount", [target], stderr_to_stdout: true) end)

      code = """
      unshare = elem(System.cmd("unshare", ["-U", "-r", "true"], stderr_to_stdout: true), 1)
      mount = elem(System.cmd("mount", ["-t", "tmpfs", "none", #{inspect(target)}], stderr_to_stdout: true), 1)
      seccomp = Regex.run(~r/^Seccomp:\\s*(\\d)/m, File.read!("/proc/self/status")) |> List.last()
      {unshare, mount, seccomp}
      """

      if TestOS.root?() do
        # Without isolation, root mounts on the host: on the test's own
        # directory, undone at once.
        assert {0, 0, "0"} = result!(code, [])
        {_, 0} = System.cmd("umount", [target])
      end

      assert {unshare, mount, "2"} = result!(code, @strict)
      assert unshare != 0 and mount != 0
    end
  end

  describe "7. bombs end the run, not the machine" do
    test "a fork bomb ends in :process_limit, a memory bomb in :memory_limit, a disk filler in a failed write" do
      fork_bomb =
        ~S|:os.cmd(~c"i=0; while [ $i -lt 300 ]; do sleep 100 & i=$((i + 1)); done; wait")|

      assert %Result{status: :process_limit} = Sandbox.execute(fork_bomb, @strict)

      memory_bomb = ~S|:binary.copy(<<1>>, 2_000_000_000)|
      assert %Result{status: :memory_limit} = Sandbox.execute(memory_bomb, @strict)

      filler = ~S"""
      chunk = :binary.copy("x", 1_000_000)
      Enum.reduce_while(1..1_000, :ok, fn i, :ok ->
        case File.write("fill#{i}", chunk) do
          :ok -> {:cont, :ok}
          error -> {:halt, error}
        end
      end)
      """

      assert {:error, reason} = result!(filler, @strict)
      assert reason in [:enospc, :efbig]
    end
  end

  describe "the box" do
    test "where it cannot be had, a BootError says what is missing, never a run" do
      path = System.get_env("PATH")
      System.put_env("PATH", "/nonexistent")
      on_exit(fn -> System.put_env("PATH", path) end)

      error = assert_raise Sandbox.BootError, fn -> Sandbox.run("1", @strict) end
      assert Exception.message(error) =~ "bubblewrap"
    end

    # A host VM in a user namespace of its own whose limit on user
    # namespaces is 0 (a per-namespace limit: the machine's stays as it is).
    test "without user namespaces: a BootError that names them, never a run" do
      script = ~S"""
      refused =
        try do
          Sandbox.run("1", isolation: :strict)
        rescue
          error in Sandbox.BootError -> {:raised, error.reason}
        end

      found = {Sandbox.info().isolation, refused, Sandbox.run("1")}
      IO.write(Base.encode64(:erlang.term_to_binary(found)))
      """

      assert {info, {:raised, {:isolation, why}}, {:ok, %{result: 1}}} =
               TestOS.in_user_namespace(~w(max_user_namespaces), script)

      assert why =~ "max_user_namespaces is 0"
      assert %{available: false, missing: [^why]} = info
    end

    # A refusal no setting shows (a container's seccomp profile, say) is
    # bwrap's to report: a bwrap that refuses stands in for it.
    test "a box its tools refuse to make: a BootError with their words" do
      bin = fresh_path("/tmp")
      File.mkdir_p!(bin)
      File.chmod!(bin, 0o755)
      fake = Path.join(bin, "bwrap")
      path = System.get_env("PATH")
      System.put_env("PATH", bin <> ":" <> path)
      on_exit(fn -> System.put_env("PATH", path) end)

      File.write!(fake, "#!/bin/sh\necho 'bwrap: refused for a test' >&2\nexit 1\n")
      File.chmod!(fake, 0o755)
      error = assert_raise Sandbox.BootError, fn -> Sandbox.run("1", @strict) end
      assert error.reason == {:isolation, "bwrap: refused for a test"}

      # A VM in the box that fails on its own is not blamed on the box.
      File.write!(fake, "#!/bin/sh\necho 'erl: it broke' >&2\nexit 1\n")
      error = assert_raise Sandbox.BootError, fn -> Sandbox.run("1", @strict) end
      assert error.reason == :exited
    end

    test "sandbox_confine refuses to start anything outside a box" do
      confine = Path.join(:code.priv_dir(:sandbox), "sandbox_confine")
      user = File.stat!("/proc/self/ns/user").inode

      {out, status} =
        System.cmd(confine, ["--not-ns", "user:#{user}", "--", "/bin/echo", "started"],
          stderr_to_stdout: true
        )

      assert status == 70
      refute out =~ "started"
    end

    # Not root, no capability, the filter on: only the namespace check
    # is left to refuse it.
    @tag :root
    test "sandbox_confine refuses the host's namespaces even to an unprivileged user" do
      confine = Path.join(:code.priv_dir(:sandbox), "sandbox_confine")
      user = File.stat!("/proc/self/ns/user").inode
      dir = Path.join(System.tmp_dir!(), "sandbox-confine-#{System.unique_integer([:positive])}")
      File.mkdir_p!(dir)
      on_exit(fn -> File.rm_rf!(dir) end)
      File.cp!(confine, Path.join(dir, "confine"))
      File.chmod!(Path.join(dir, "confine"), 0o755)
      File.chmod!(dir, 0o755)

      # The descriptor the helper would have opened for the VM (fd 5).
      with_output_fd =
        ~S{sysopen(F, "/dev/null", O_WRONLY | O_NONBLOCK) or die; POSIX::dup2(fileno(F), 5) or die; exec @ARGV}

      {out, status} =
        System.cmd(
          "setpriv",
          ~w(--reuid=65534 --regid=65534 --clear-groups --bounding-set=-all) ++
            ~w(perl -MPOSIX -MFcntl -e) ++
            [
              with_output_fd,
              Path.join(dir, "confine"),
              "--ro",
              "/proc",
              "--not-ns",
              "user:#{user}"
            ] ++
            ["--", "/bin/echo", "started"],
          stderr_to_stdout: true
        )

      assert status == 70, out
      assert out =~ "/proc/self/ns/user"
    end

    test "everything inside the box keeps working: output, :setup, :stdin, :on_output, limits, the report" do
      code = ~S"""
      IO.puts("out")
      IO.puts(:stderr, "err")
      {Greeter.hello(), IO.gets("name? ")}
      """

      setup = "defmodule Greeter, do: def(hello, do: :hi)"

      assert %Result{status: :ok, value: {:hi, "ada\n"}, output: output} =
               result =
               Sandbox.execute(code, @strict ++ [setup: setup, stdin: "ada\n", on_output: self()])

      assert output =~ "out\n" and output =~ "err\n" and output =~ "name? "
      assert received_chunks() == output
      assert result.cpu_ms > 0 and result.max_rss_kb > 10_000

      assert %Result{status: :timeout} =
               Sandbox.execute("Process.sleep(:infinity)", @strict ++ [timeout: 300])

      assert %Result{status: :output_limit} =
               Sandbox.execute(
                 ~S|IO.write(String.duplicate("z", 100))|,
                 @strict ++ [output_limit: 10]
               )
    end

    # Changes the application's environment: this module is not async.
    test "config :sandbox, isolation: :strict makes every run strict unless it says :none" do
      # HOME is the box's own directory in the box, the host's outside.
      code = ~S|System.get_env("HOME")|
      Application.put_env(:sandbox, :isolation, :strict)
      on_exit(fn -> Application.delete_env(:sandbox, :isolation) end)
      assert result!(code, []) == "/sandbox"
      assert result!(code, isolation: :none) == System.get_env("HOME")
    end

    test "Sandbox.info/0 says what a strict run uses here" do
      assert %{available: true, mechanisms: mechanisms} = Sandbox.info().isolation
      assert :seccomp in mechanisms and :pid_namespace in mechanisms
    end

    test "a strict pool serves warm runs; a run of another box boots its own" do
      pool = start_supervised!({Sandbox.Pool, size: 1, isolation: :strict}, id: make_ref())
      assert TestOS.eventually(fn -> Sandbox.Pool.status(pool).idle == 1 end, 30_000)

      assert %Result{status: :ok, value: "65534", boot_ms: +0.0} =
               Sandbox.execute(
                 ~S|String.trim(elem(System.cmd("id", ["-u"]), 0))|,
                 @strict ++ [pool: pool]
               )

      assert %Result{status: :ok, boot_ms: boot} = Sandbox.execute("1", pool: pool)
      assert boot > 0, "a run that is not strict took the strict pool's VM"
    end
  end

  describe "8. unprivileged hosts too" do
    # Root drops to nobody for it: the host VM then has no privilege at
    # all, and the box comes from user namespaces alone.
    @tag :root
    test "a host VM that is not root gets the same box" do
      # Inside the box: capabilities, no_new_privs, the filter, the host's
      # environment, a file the host user can read, the host VM's process,
      # the host's loopback, a user namespace.
      code = ~S"""
      status = File.read!("/proc/self/status")
      field = fn key -> Regex.run(~r/^#{key}:[ \t]*(.*)$/m, status) |> List.last() end
      [secret, host, port] = ARGS
      {field.("CapEff"), field.("NoNewPrivs"), field.("Seccomp"),
       System.get_env("SANDBOX_TEST_SECRET"), elem(File.read(secret), 0),
       File.exists?("/proc/" <> host),
       elem(:gen_tcp.connect({127, 0, 0, 1}, String.to_integer(port), [], 2_000), 0),
       elem(System.cmd("unshare", ["-U", "-r", "true"], stderr_to_stdout: true), 1) != 0}
      """

      script = fn dir ->
        """
        System.put_env("SANDBOX_TEST_SECRET", "api-key")
        {:ok, listener} = :gen_tcp.listen(0, ip: {127, 0, 0, 1}, active: false)
        {:ok, port} = :inet.port(listener)
        args = inspect([#{inspect(Path.join(dir, "secret"))}, System.pid(), Integer.to_string(port)])
        code = String.replace(#{inspect(code)}, "ARGS", args)
        found = {Sandbox.info().isolation.user, Sandbox.run(code, isolation: :strict)}
        IO.write(found |> :erlang.term_to_binary() |> Base.encode64())
        """
      end

      assert {:own,
              {:ok, %{result: {"0000000000000000", "1", "2", nil, :error, false, :error, true}}}} =
               TestOS.as_nobody(%{"secret" => "nobody's own"}, script)
    end
  end
end
