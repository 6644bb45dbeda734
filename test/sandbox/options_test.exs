defmodule Sandbox.OptionsTest do
  @moduledoc "Bad arguments raise ArgumentError naming what is wrong, before any VM starts."
  use ExUnit.Case, async: true

  alias Sandbox.Options

  test "defaults are the reference's" do
    assert %Options{timeout: 60_000, max_output: 50_000, setup: []} = Options.validate!("1", [])
  end

  test "accepts the reference's forms" do
    assert %Options{timeout: :infinity, max_output: :infinity} =
             Options.validate!("1", timeout: :infinity, max_output: :infinity)

    assert %Options{timeout: 0, max_output: 0} = Options.validate!("1", timeout: 0, max_output: 0)
    assert %Options{setup: ["a = 1"]} = Options.validate!("1", setup: "a = 1")
    assert %Options{setup: [{:+, _, [1, 2]}]} = Options.validate!("1", setup: quote(do: 1 + 2))
  end

  test "ignores options it does not know, as the reference does" do
    assert %Options{} = Options.validate!("1", something_else: true)
  end

  test "an unknown option that looks like a slip for one of ours is ignored with a warning naming it" do
    for {slip, meant} <- [
          timout: :timeout,
          max_ouput: :max_output,
          isolaton: :isolation,
          cpu_limit: :cpu_time,
          process_limit: :max_processes,
          result_too_large: :max_result_bytes
        ] do
      log =
        ExUnit.CaptureLog.capture_log(fn ->
          assert %Options{} = Options.validate!("1", [{slip, 1}])
        end)

      assert log =~
               "option #{inspect(slip)} is not an option and is ignored; did you mean #{inspect(meant)}?"
    end

    log = ExUnit.CaptureLog.capture_log(fn -> Options.validate!("1", something_else: 1) end)
    refute log =~ "did you mean"
  end

  for bad <- [-1, 1.5, "10", :forever, nil] do
    test "timeout #{inspect(bad)} is refused" do
      assert_raise ArgumentError,
                   ~r/option :timeout must be a non-negative integer or :infinity/,
                   fn ->
                     Sandbox.run("1", timeout: unquote(bad))
                   end
    end
  end

  for bad <- [-5, 10.0, "big", :all] do
    test "max_output #{inspect(bad)} is refused" do
      assert_raise ArgumentError, ~r/option :max_output must be/, fn ->
        Sandbox.run("1", max_output: unquote(bad))
      end
    end
  end

  test "a setup of the wrong type is refused" do
    for bad <- [%{a: 1}, [~S|IO.puts("ok")|, make_ref()], {1, 2, 3}, 1..2] do
      assert_raise ArgumentError, ~r/option :setup must be a string, quoted AST/, fn ->
        Sandbox.run("1", setup: bad)
      end
    end
  end

  test "a max_new_atoms that is not a non-negative integer or :infinity is refused" do
    assert_raise ArgumentError, ~r/option :max_new_atoms must be/, fn ->
      Sandbox.run("1", max_new_atoms: -1)
    end
  end

  test "a max_result_bytes that is not a non-negative integer or :infinity is refused" do
    for bad <- [-1, 1.5, "big"] do
      assert_raise ArgumentError, ~r/option :max_result_bytes must be/, fn ->
        Sandbox.run("1", max_result_bytes: bad)
      end
    end
  end

  test "a boot_timeout that is not a non-negative integer is refused" do
    assert_raise ArgumentError, ~r/option :boot_timeout/, fn ->
      Sandbox.run("1", boot_timeout: :infinity)
    end
  end

  test "a node that is not a node name is refused" do
    for bad <- ["sandbox@localhost", 42, true] do
      assert_raise ArgumentError, ~r/option :node must be a node name/, fn ->
        Sandbox.run("1", node: bad)
      end
    end
  end

  test "code that is not a binary is refused" do
    for bad <- [~c"1 + 1", nil, 42, quote(do: 1 + 1)] do
      assert_raise ArgumentError, ~r/code must be a binary/, fn -> Sandbox.run(bad) end
    end
  end

  test "options that are not a keyword list are refused" do
    assert_raise ArgumentError, ~r/options must be a keyword list/, fn ->
      Sandbox.run("1", [1])
    end

    assert_raise ArgumentError, ~r/options must be a keyword list/, fn ->
      Sandbox.run("1", %{})
    end
  end

  describe "isolation" do
    test "a strict run's limits are finite unless given" do
      strict = Options.validate!("1", isolation: :strict)

      for key <- [:memory_limit, :max_processes, :max_file_size, :disk_limit, :output_limit] do
        assert is_integer(Map.fetch!(strict, key)),
               "#{key} is #{inspect(Map.fetch!(strict, key))}"
      end

      assert %Options{memory_limit: :infinity} =
               Options.validate!("1", isolation: :strict, memory_limit: :infinity)

      assert %Options{memory_limit: :infinity, disk_limit: :infinity} = Options.validate!("1", [])
    end

    test "its options are refused without it, and wrong values with it" do
      for {key, value} <- [read_paths: ["/tmp"], write_paths: ["/tmp"], disk_limit: 1_000] do
        assert_raise ArgumentError, ~r/option :#{key} is only for isolation: :strict/, fn ->
          Sandbox.run("1", [{key, value}])
        end
      end

      for {key, value} <- [read_paths: "/tmp", write_paths: [""], read_paths: ["a\0b"]] do
        assert_raise ArgumentError, ~r/option :#{key} must be a list of paths/, fn ->
          Sandbox.run("1", [{key, value}, isolation: :strict])
        end
      end

      assert_raise ArgumentError, ~r/option :isolation must be :none or :strict/, fn ->
        Sandbox.run("1", isolation: :full)
      end

      assert %Options{read_paths: [absolute]} =
               Options.validate!("1", isolation: :strict, read_paths: ["data"])

      assert absolute == Path.expand("data")
    end
  end

  test "the README's option table is the one the options are documented with" do
    readme = File.read!(Path.expand("../../README.md", __DIR__))

    assert String.contains?(readme, Options.doc_table()),
           "README.md's option table differs from Sandbox.Options.doc_table/0 " <>
             "(MIX_ENV=test mix run scripts/readme_options.exs rewrites it):\n" <>
             Options.doc_table()
  end

  test "every option in the table has its default in the struct" do
    defaults = Map.from_struct(%Options{})

    for line <- String.split(Options.doc_table(), "\n"),
        [_, key] <- [Regex.run(~r/^\| `:(\w+)` \|/, line)] do
      assert Map.has_key?(defaults, String.to_atom(key)), "no :#{key} in %Sandbox.Options{}"
    end
  end
end
