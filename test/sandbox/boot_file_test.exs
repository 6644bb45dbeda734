defmodule Sandbox.BootFileTest do
  @moduledoc """
  The peers' boot file: the installation's `no_dot_erlang.boot` (`erl`'s
  own boot, without reading `.erlang` files) with batches of modules loaded
  ahead of the kernel's start. Swaps the cached boot file in one
  test: not async.
  """
  use ExUnit.Case, async: false

  alias Sandbox.BootFile

  @moduletag :tmp_dir

  @source Path.join([List.to_string(:code.root_dir()), "bin", "no_dot_erlang.boot"])

  defp script(path) do
    {:script, _, instructions} = path |> File.read!() |> :erlang.binary_to_term()
    instructions
  end

  # The instructions a boot file adds to its source.
  defp added(path), do: script(path) -- script(@source)

  # The host's own code paths in `path`, in its order (OTP's left out).
  defp hosts(path), do: Enum.reject(path, &List.starts_with?(&1, :code.lib_dir()))

  # Where each module is, as the host would load it.
  defp dirs_of(mods), do: Enum.map(mods, &(&1 |> :code.which() |> Path.dirname()))

  # The modules `instructions` have init load (its primLoads).
  defp prim_loaded(instructions),
    do: for({:primLoad, mods} <- instructions, mod <- mods, do: mod)

  # A pool of one boots its VM alone: from the boot file with what most
  # runs call (see Sandbox.Pool).
  test "cold, pooled and strict peers boot from the boot file" do
    path = BootFile.path()
    assert is_binary(path)
    booted_from = ":init.get_argument(:boot)"
    assert {:ok, %{result: {:ok, [[cold]]}}} = Sandbox.run(booted_from, pool: false)
    assert List.to_string(cold) == path

    pool = start_supervised!({Sandbox.Pool, size: 1, name: :boot_file_pool})
    assert {:ok, %{result: {:ok, [[pooled]]}}} = Sandbox.run(booted_from, pool: pool)
    assert List.to_string(pooled) == BootFile.path(:common)

    assert {:ok, %{result: {:ok, [[strict]]}}} =
             Sandbox.run(booted_from, pool: false, isolation: :strict)

    assert List.to_string(strict) == path
  end

  test "it is no_dot_erlang.boot, plus the modules every peer loads in batches ahead of the kernel" do
    path = BootFile.path() <> ".boot"
    source = script(@source)
    instructions = script(path)

    {app_loads, added} = Enum.split_with(added(path), &match?({:apply, _}, &1))
    assert instructions -- (added ++ app_loads) == source
    # Batches, each after the path init looks for its modules in.
    batches = Enum.chunk_every(added, 2)
    assert [_, _ | _] = batches
    assert Enum.all?(batches, &match?([{:path, _}, {:primLoad, _}], &1))
    assert Enum.all?(batches, fn [_, {:primLoad, mods}] -> length(mods) <= 32 end)
    batch = for [_, {:primLoad, mods}] <- batches, mod <- mods, do: mod

    {before, [{:kernel_load_completed} | _]} =
      Enum.split_while(instructions, &(&1 != {:kernel_load_completed}))

    assert Enum.take(before, -length(added)) == added

    # The kernel's, Elixir's and the evaluator's; none
    # that init loads anyway (a module loaded twice fails the boot), none
    # missing from the directories given.
    for mod <- [:net_kernel, :unicode_util, :elixir, :elixir_parser, Kernel, Code],
        do: assert(mod in batch)

    taken =
      for {kind, mods} <- Enum.take_while(source, &(&1 != {:kernel_load_completed})),
          kind in [:preLoaded, :primLoad],
          mod <- mods,
          do: mod

    assert batch -- taken == batch
    assert Enum.uniq(batch) == batch

    for [{:path, dirs}, {:primLoad, mods}] <- batches do
      for mod <- mods do
        assert Enum.any?(dirs, &File.exists?(Path.join(&1, "#{mod}.beam"))), "#{mod} not found"
      end
    end
  end

  # Init looks for each module of a batch in each directory of its path in
  # turn: every directory before the module's own is a failed open.
  test "each batch's path is the directories of its modules, most used first" do
    added = added(BootFile.path() <> ".boot")
    batches = added |> Enum.reject(&match?({:apply, _}, &1)) |> Enum.chunk_every(2)

    for [{:path, dirs}, {:primLoad, mods}] <- batches do
      counts = Enum.frequencies(dirs_of(mods))
      dirs = Enum.map(dirs, &List.to_string/1)
      assert Enum.sort(dirs) == Enum.sort(Map.keys(counts))
      assert Enum.map(dirs, &counts[&1]) == Enum.sort(Map.values(counts), :desc)
    end

    # Each directory's modules together, so that few share a batch with
    # another directory's.
    in_order = dirs_of(prim_loaded(added))
    assert length(Enum.dedup(in_order)) == length(Enum.uniq(in_order))
  end

  # Given as `-pa`, the host's paths would come first in every batch's
  # path: a failed open in each of them for every module init loads.
  test "a peer's boot looks for its modules in none of the host's code paths; its runs have them, in the host's order" do
    code = "{:erl_prim_loader.get_path(), :code.get_path()}"
    assert {:ok, %{result: {{:ok, loader_path}, run_path}}} = Sandbox.run(code, pool: false)
    assert loader_path != [] and hosts(loader_path) == []
    assert [_, _ | _] = hosts(:code.get_path())
    assert hosts(run_path) == hosts(:code.get_path())
    assert Enum.take(run_path, length(hosts(run_path))) == hosts(run_path)
  end

  test "a boot file outside the code paths (the user's cache) is seen in the strict box",
       %{tmp_dir: tmp} do
    path = BootFile.make(@source, [Path.join(tmp, "cache")])
    key = {BootFile, :path, :run}
    kept = BootFile.path()
    :persistent_term.put(key, path)
    on_exit(fn -> :persistent_term.put(key, kept) end)

    assert {:ok, %{result: {:ok, [[boot]]}}} =
             Sandbox.run(":init.get_argument(:boot)", pool: false, isolation: :strict)

    assert List.to_string(boot) == path
  end

  test "Elixir's application and the compiler's load from their specs in the boot file, not from a search of the code path" do
    instructions = script(BootFile.path() <> ".boot")

    {before, [{:progress, :applications_loaded} | _]} =
      Enum.split_while(instructions, &(&1 != {:progress, :applications_loaded}))

    for app <- [:compiler, :elixir] do
      {:ok, [spec]} = :file.consult(:code.where_is_file(~c"#{app}.app"))
      assert {:apply, {:application, :load, [spec]}} in before
    end

    assert {:ok, %{result: vsn}} = Sandbox.run("Application.spec(:elixir, :vsn)", pool: false)
    assert vsn == Application.spec(:elixir, :vsn)
  end

  # Which modules init loads itself changes with OTP's release: one listed
  # here may be among them elsewhere.
  test "a module that init loads anyway is left out of the batches (a module loaded twice fails the boot)",
       %{tmp_dir: tmp} do
    path = BootFile.make(@source, [tmp], [:lists, :erl_eval, :elixir_parser])
    batch = prim_loaded(added(path <> ".boot"))
    assert batch == [:elixir_parser]

    {_, 0} =
      System.cmd(Sandbox.Launcher.erl_path(), [
        "-boot",
        path,
        "-noshell",
        "-eval",
        "erlang:module_loaded(elixir_parser) orelse halt(3), halt(0)."
      ])
  end

  test "no module in the batch has an on_load function, which init cannot load" do
    [_ | loads] = added(BootFile.path() <> ".boot")

    for {:primLoad, mods} <- loads, mod <- mods do
      {^mod, binary, _} = :code.get_object_code(mod)
      prepared = :erlang.prepare_loading(mod, binary)
      refute :erlang.has_prepared_code_on_load(prepared), "#{mod} has an on_load function"
    end
  end

  test "it goes in the first directory that takes it, readable by all, named by its content",
       %{tmp_dir: tmp} do
    not_a_dir = Path.join(tmp, "file")
    File.write!(not_a_dir, "")
    dir = Path.join(tmp, "boot")

    path = BootFile.make(@source, [Path.join(not_a_dir, "boot"), dir])
    assert Path.dirname(path) == dir
    assert %File.Stat{mode: mode} = File.stat!(path <> ".boot")
    assert Bitwise.band(mode, 0o777) == 0o644
    assert File.ls!(dir) == [Path.basename(path) <> ".boot"]

    # Made again, as by a second host: the same file, nothing left over.
    assert BootFile.make(@source, [dir]) == path
    assert File.ls!(dir) == [Path.basename(path) <> ".boot"]
    assert added(path <> ".boot") == added(BootFile.path() <> ".boot")
  end

  test "without a start.boot to start from, or anywhere to write it, there is none",
       %{tmp_dir: tmp} do
    assert BootFile.make(Path.join(tmp, "missing.boot"), [tmp]) == nil
    not_a_boot_file = Path.join(tmp, "garbage.boot")
    File.write!(not_a_boot_file, "not a term")
    assert BootFile.make(not_a_boot_file, [tmp]) == nil
    File.rm!(not_a_boot_file)
    not_a_dir = Path.join(tmp, "file")
    File.write!(not_a_dir, "")
    assert BootFile.make(@source, [Path.join(not_a_dir, "boot")]) == nil
    assert File.ls!(tmp) == ["file"]
  end

  test "a host without HOME (so without a user's cache) still makes one, in priv" do
    key = {BootFile, :path, :run}
    kept = BootFile.path()
    home = System.get_env("HOME")
    System.delete_env("HOME")

    on_exit(fn ->
      System.put_env("HOME", home)
      :persistent_term.put(key, kept)
    end)

    :persistent_term.erase(key)
    assert BootFile.path() == kept
    assert String.starts_with?(kept, List.to_string(:code.priv_dir(:sandbox)))
  end

  test "one removed while the host runs is made again: runs never fail for it" do
    path = BootFile.path()
    File.rm!(path <> ".boot")

    assert {:ok, %{result: {:ok, [[boot]]}}} =
             Sandbox.run(":init.get_argument(:boot)", pool: false)

    assert List.to_string(boot) == path
    assert File.regular?(path <> ".boot")
  end

  test "without a boot file, peers boot as erl does and runs work as before" do
    for kind <- [:run, :common] do
      key = {BootFile, :path, kind}
      kept = BootFile.path(kind)
      :persistent_term.put(key, nil)
      on_exit(fn -> :persistent_term.put(key, kept) end)
    end

    # No -boot: erl's default; the host's paths as -pa, in its order.
    assert {:ok, %{result: :error}} = Sandbox.run(":init.get_argument(:boot)", pool: false)
    assert {:ok, %{result: run_path}} = Sandbox.run(":code.get_path()", pool: false)
    assert hosts(run_path) == hosts(:code.get_path())
    assert {:ok, %{output: "3\n", result: :ok}} = Sandbox.run("IO.puts(1 + 2)", pool: false)
    pool = start_supervised!({Sandbox.Pool, size: 1, name: :no_boot_file_pool})
    assert {:ok, %{result: :error}} = Sandbox.run(":init.get_argument(:boot)", pool: pool)
  end

  # The lists of modules are kept by hand (measured with `:erlang.loaded()`
  # in a run): on this Elixir, what they leave out would load one by one
  # in every run, through the code server. Each VM here boots from the
  # run's boot file (cold, no warm-up); init's own boot loads the rest.
  defp loaded_beyond(kind, code) do
    booted = prim_loaded(script(BootFile.path(kind) <> ".boot"))
    assert {:ok, %{result: loaded}} = Sandbox.run(code, pool: false)
    # Its on_load function is why init cannot load it (see Sandbox.Guest).
    loaded -- [Sandbox.Guest.Native | booted ++ :erlang.pre_loaded()]
  end

  test "a trivial run loads nothing beyond its boot file (the lists of what every run loads are complete)" do
    assert loaded_beyond(:run, ":erlang.loaded()") == []
  end

  test "the warm-up loads nothing beyond the pool's boot file (Guest.common/0 is complete)" do
    code = "Code.eval_string(#{inspect(Sandbox.Guest.warm_up())}); :erlang.loaded()"
    assert loaded_beyond(:common, code) == []
    # What it loads is not all in the run's boot file: the test can fail.
    refute loaded_beyond(:run, code) == []
  end

  test "the pool's boot file is the run's plus what most runs call, in its batches" do
    run = BootFile.modules(:run)
    common = BootFile.modules(:common)
    assert common -- run == Sandbox.Guest.common() -- run
    assert [_ | _] = common -- run

    batch = fn kind -> prim_loaded(added(BootFile.path(kind) <> ".boot")) end

    assert batch.(:run) -- batch.(:common) == []
    assert Enum.all?([Enum, Inspect.Map, :elixir_fn], &(&1 in batch.(:common)))
    refute Enum.any?([Enum, Inspect.Map, :elixir_fn], &(&1 in batch.(:run)))
  end
end
