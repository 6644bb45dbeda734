defmodule Sandbox.EnvironmentTest do
  @moduledoc "The :env, :cd, :tmp_dir and :stdin options, cold and from a pool."
  use ExUnit.Case, async: true

  alias Sandbox.TestOS

  @moduletag :tmp_dir

  test ":env sets and unsets variables for the code and the processes it starts" do
    System.put_env("SANDBOX_ENV_TEST_UNSET", "host")
    on_exit(fn -> System.delete_env("SANDBOX_ENV_TEST_UNSET") end)

    code = ~S"""
    {System.get_env("SANDBOX_ENV_TEST"), System.get_env("SANDBOX_ENV_TEST_UNSET"),
     System.cmd("sh", ["-c", "echo $SANDBOX_ENV_TEST"]) |> elem(0)}
    """

    opts = [env: %{"SANDBOX_ENV_TEST" => "yes", "SANDBOX_ENV_TEST_UNSET" => nil}]
    assert {:ok, %{result: {"yes", nil, "yes\n"}}} = Sandbox.run(code, opts)
    # Without it, the host's environment as before.
    assert {:ok, %{result: {nil, "host", "\n"}}} = Sandbox.run(code)
  end

  test ":cd sets the working directory of the code and what it starts", %{tmp_dir: dir} do
    code = ~S"""
    {File.cwd!(), System.cmd("pwd", []) |> elem(0) |> String.trim()}
    """

    real = Path.expand(dir)
    assert {:ok, %{result: {^real, ^real}}} = Sandbox.run(code, cd: dir)
  end

  test "a pool's VM, booted before its run, gets the run's :env and :cd", %{tmp_dir: dir} do
    pool = start_supervised!({Sandbox.Pool, size: 1}, id: make_ref())
    assert TestOS.eventually(fn -> Sandbox.Pool.status(pool).idle == 1 end, 20_000)

    code = ~S|{File.cwd!(), System.get_env("SANDBOX_POOL_ENV")}|
    real = Path.expand(dir)

    assert {:ok, %{result: {^real, "1"}}} =
             Sandbox.run(code, pool: pool, cd: dir, env: [{"SANDBOX_POOL_ENV", "1"}])
  end

  test ":tmp_dir gives each run a private directory, removed afterwards, even after a timeout" do
    code = ~S"""
    dir = File.cwd!()
    File.write!("file", "x")
    {dir, System.get_env("TMPDIR"), File.stat!(dir).access, File.ls!(dir)}
    """

    assert {:ok, %{result: {dir, dir, :read_write, ["file"]}}} = Sandbox.run(code, tmp_dir: true)
    refute File.exists?(dir)
    assert {:ok, %{result: {other, _, _, _}}} = Sandbox.run(code, tmp_dir: true)
    assert other != dir

    timed_out = ~S|File.write!("left", "x"); IO.puts(File.cwd!()); Process.sleep(:infinity)|

    assert {:error, :timeout, %{output: output}} =
             Sandbox.run(timed_out, tmp_dir: true, timeout: 500)

    refute File.exists?(String.trim(output))
  end

  test ":tmp_dir is removed when the run's owner dies mid-run" do
    test = self()
    # The file is written before the directory is printed, so it is there when the test looks.
    code = ~S|File.write!("left", "x"); IO.puts(File.cwd!()); Process.sleep(:infinity)|

    owner =
      spawn(fn ->
        handle = Sandbox.start(code, tmp_dir: true, on_output: test)
        Sandbox.await(handle)
      end)

    assert_receive {:sandbox_output, _ref, chunk}, 30_000
    dir = String.trim(chunk)
    assert File.exists?(Path.join(dir, "left"))
    Process.exit(owner, :kill)
    assert TestOS.eventually(fn -> not File.exists?(dir) end, 5_000), "#{dir} is still there"
  end

  test "the directory is private to the user" do
    assert {:ok, %{result: mode}} = Sandbox.run(~S|File.stat!(File.cwd!()).mode|, tmp_dir: true)

    assert Bitwise.band(mode, 0o777) == 0o700
  end

  test ":stdin is what the code reads; prompts go to the output" do
    code = ~S"""
    name = IO.gets("name? ")
    {name, IO.read(:stdio, :eof), IO.gets("more? ")}
    """

    assert {:ok, %{output: "name? more? ", result: {"ada\n", "line 2\nline 3", :eof}}} =
             Sandbox.run(code, stdin: "ada\nline 2\nline 3")

    # Without it, at end of file at once.
    assert {:ok, %{result: :eof}} = Sandbox.run(~S|IO.gets("")|)
  end

  test "a pool's VM reads the run's :stdin" do
    pool = start_supervised!({Sandbox.Pool, size: 1}, id: make_ref())
    assert TestOS.eventually(fn -> Sandbox.Pool.status(pool).idle == 1 end, 20_000)

    assert {:ok, %{result: "pooled\n"}} =
             Sandbox.run("IO.gets(\"\")", pool: pool, stdin: "pooled\n")
  end

  test "invalid environment options raise, naming the option" do
    assert_raise ArgumentError, ~r/:env/, fn -> Sandbox.run("1", env: [{"A=B", "1"}]) end
    assert_raise ArgumentError, ~r/:env/, fn -> Sandbox.run("1", env: [{:a, "1"}]) end
    assert_raise ArgumentError, ~r/:env/, fn -> Sandbox.run("1", env: "A=1") end
    assert_raise ArgumentError, ~r/:cd/, fn -> Sandbox.run("1", cd: "/nonexistent/dir") end
    assert_raise ArgumentError, ~r/:tmp_dir/, fn -> Sandbox.run("1", tmp_dir: "yes") end
    assert_raise ArgumentError, ~r/:stdin/, fn -> Sandbox.run("1", stdin: ~c"chars") end
    assert_raise ArgumentError, ~r/together/, fn -> Sandbox.run("1", tmp_dir: true, cd: "/") end
  end
end
