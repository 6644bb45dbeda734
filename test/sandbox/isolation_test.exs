defmodule Sandbox.IsolationTest do
  @moduledoc "No distribution, what the peer sees of the host, and what it leaves on disk."
  # Changes the host's environment and code path: not async.
  use ExUnit.Case, async: false

  @moduletag :tmp_dir

  describe "no Erlang distribution" do
    test "the host stays non-distributed and no EPMD is started or told of the VM" do
      epmd_before = epmd_running?()

      # An EPMD already running (another test's) cannot show that none was
      # started: the VM then must not have registered its name with it.
      assert {:ok, %{result: {name, names}}} =
               Sandbox.run("""
               names = case :erl_epmd.names(~c"localhost") do
                 {:ok, names} -> Enum.map(names, &elem(&1, 0))
                 {:error, _} -> []
               end
               {node(), names}
               """)

      refute Node.alive?()
      assert node() == :nonode@nohost
      assert epmd_running?() == epmd_before
      [short_name, _host] = name |> Atom.to_string() |> String.split("@")
      refute String.to_charlist(short_name) in names
    end

    test "the peer is connected to nothing and has no socket to be reached on" do
      assert {:ok, %{result: {name, [], true, sockets}}} =
               Sandbox.run("""
               sockets = for port <- Port.list(), Port.info(port, :name) in [{:name, ~c"tcp_inet"}, {:name, ~c"udp_inet"}, {:name, ~c"sctp_inet"}], do: port
               {node(), Node.list(), Node.alive?(), sockets}
               """)

      assert name |> Atom.to_string() |> String.starts_with?("sandbox_")
      assert sockets == [], "the VM has sockets open: a distribution listener?"
    end

    test "each VM has a cookie of its own, and takes part in no global name traffic" do
      code = "{Node.get_cookie(), Application.get_env(:kernel, :connect_all)}"
      assert {:ok, %{result: {cookie, false}}} = Sandbox.run(code)
      assert {:ok, %{result: {other_cookie, false}}} = Sandbox.run(code)
      assert cookie != other_cookie
      # Long enough not to be guessed.
      assert byte_size(Atom.to_string(cookie)) >= 10
    end

    test "pids and refs in a result are never host-local" do
      assert {:ok, %{result: {pid, ref, peer}}} = Sandbox.run("{self(), make_ref(), node()}")
      assert is_pid(pid) and is_reference(ref)
      assert node(pid) == peer and node(ref) == peer
      refute peer == node()
    end

    test "two runs have different node names" do
      {:ok, %{result: a}} = Sandbox.run("node()")
      {:ok, %{result: b}} = Sandbox.run("node()")
      assert a != b
    end
  end

  describe "what the peer sees of the host" do
    # `erl`'s default boot evaluates the first `.erlang` it finds (the
    # working directory's, then HOME's): a host user's file would run in
    # every VM. A cold VM, booted with this HOME.
    test "a .erlang file in the home directory is not evaluated", %{tmp_dir: dir} do
      marker = Path.join(dir, "evaluated")
      File.write!(Path.join(dir, ".erlang"), ~s|file:write_file("#{marker}", <<"yes">>).\n|)
      home = System.get_env("HOME")
      System.put_env("HOME", dir)

      on_exit(fn -> if home, do: System.put_env("HOME", home), else: System.delete_env("HOME") end)

      # The VM had this HOME: the file was there to be read.
      assert {:ok, %{result: {:ok, [[home]]}}} =
               Sandbox.run(":init.get_argument(:home)", pool: false)

      assert List.to_string(home) == dir
      refute File.exists?(marker)
    end

    test "a code path added to the host at run time", %{tmp_dir: dir} do
      [{module, beam}] =
        Code.compile_string("defmodule AddedAtRunTime, do: def(hello, do: :from_added_path)")

      File.write!(Path.join(dir, "#{module}.beam"), beam)
      :code.purge(module)
      :code.delete(module)
      Code.prepend_path(dir)

      try do
        assert {:ok, %{result: :from_added_path}} = Sandbox.run("AddedAtRunTime.hello()")
      after
        Code.delete_path(dir)
      end
    end

    test "the host's modules and dependencies are available" do
      assert {:ok, %{result: %Sandbox.Options{}}} = Sandbox.run("%Sandbox.Options{}")
    end

    @tag timeout: 180_000
    test "Mix.install/1 works with a local path dependency", %{tmp_dir: dir} do
      dep = Path.join(dir, "local_dep")
      File.mkdir_p!(Path.join(dep, "lib"))

      File.write!(Path.join(dep, "mix.exs"), """
      defmodule LocalDep.MixProject do
        use Mix.Project
        def project, do: [app: :local_dep, version: "0.1.0"]
      end
      """)

      File.write!(Path.join(dep, "lib/local_dep.ex"), """
      defmodule LocalDep do
        def hello, do: :from_local_dep
      end
      """)

      code = """
      System.put_env("MIX_INSTALL_DIR", #{inspect(Path.join(dir, "installs"))})
      Mix.install([{:local_dep, path: #{inspect(dep)}}])
      LocalDep.hello()
      """

      assert {:ok, %{result: :from_local_dep}} = Sandbox.run(code, timeout: 120_000)
    end

    test "the host's environment and working directory", %{tmp_dir: dir} do
      System.put_env("SANDBOX_TEST_VARIABLE", "visible")
      previous = File.cwd!()
      File.cd!(dir)

      try do
        assert {:ok, %{result: {"visible", ^dir}}} =
                 Sandbox.run(~S|{System.get_env("SANDBOX_TEST_VARIABLE"), File.cwd!()}|)
      after
        File.cd!(previous)
        System.delete_env("SANDBOX_TEST_VARIABLE")
      end
    end

    for variable <- ~w(ERL_FLAGS ERL_AFLAGS ERL_ZFLAGS) do
      test "VM flags in #{variable} do not reach the peer's command line" do
        System.put_env(unquote(variable), "-sandbox_probe from_host_environment")

        try do
          assert {:ok, %{result: {:error, nil}}} =
                   Sandbox.run(
                     ~s|{:init.get_argument(:sandbox_probe), System.get_env("#{unquote(variable)}")}|
                   )

          # The host's own VM would see it.
          {out, 0} =
            System.cmd(
              "erl",
              ~w(-noshell -eval) ++
                ["io:format(\"~p\", [init:get_argument(sandbox_probe)]), halt()."]
            )

          assert out =~ "from_host_environment"
        after
          System.delete_env(unquote(variable))
        end
      end
    end
  end

  test "the VM cannot reach the host's terminal" do
    # A host with a controlling terminal: elixir started by script(1) on a
    # pseudo-terminal. The host can open /dev/tty; the run must not.
    ebin = Path.dirname(List.to_string(:code.which(Sandbox)))
    # (Not the test's tmp_dir: its name, from the test's, has a quote.)
    script = Path.join(System.tmp_dir!(), "sandbox-tty-#{System.unique_integer([:positive])}.exs")
    on_exit(fn -> File.rm(script) end)

    File.write!(script, ~S"""
    tty = ~S|elem(File.open("/dev/tty", [:write]), 0)|
    {host, _} = Code.eval_string(tty)
    {:ok, %{result: in_run}} = Sandbox.run(tty, pool: false)
    IO.puts("host: #{host} run: #{in_run}")
    """)

    command = "elixir -pa #{ebin} #{script} < /dev/null"
    {output, 0} = System.cmd("script", ["-qec", command, "/dev/null"], stderr_to_stdout: true)
    assert output =~ "host: ok run: error"
  end

  test "a crashing peer writes no erl_crash.dump", %{tmp_dir: dir} do
    previous = File.cwd!()
    File.cd!(dir)

    try do
      assert {:error, :noconnection, _} = Sandbox.run(~S|:erlang.halt(~c"crash on purpose")|)
      assert File.ls!(dir) == []
    after
      File.cd!(previous)
    end
  end

  defp epmd_running? do
    match?({:ok, _}, :erl_epmd.names(~c"localhost"))
  end
end
