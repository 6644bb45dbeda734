defmodule Sandbox.BootFile do
  @moduledoc false
  # The boot file peer VMs start from: the installation's own
  # `no_dot_erlang.boot` (what `erl` boots when given none, less the
  # evaluation of the first `.erlang` file found in the working directory
  # or HOME: a host user's file is not the run's, and reading it loaded 3
  # modules more), plus batches of modules loaded ahead of the kernel's
  # start. A peer loads the same 70-odd modules before its run whatever the
  # run is: the kernel's, which it loads one at a time as it starts, each
  # a code server call and a search of the code path, and Elixir's and the
  # evaluator's (`Sandbox.Guest.preload/0`). Init reads and prepares
  # each batch in parallel and makes it current at once: measured on 2
  # cores, a cold run's VM used 5% less CPU and answered 20% sooner. A
  # second file (`:common`) also loads what most runs call
  # (`Sandbox.Guest.common/0`), for a pool's VM booted alone, which an
  # agent's next call is likely to take (see `Sandbox.Launcher`).
  #
  # Each made once per host VM and written where every peer can read it, a
  # strict one included: this application's priv directory, else the
  # user's cache. Named by its content, so hosts that share a directory
  # share the file, and a host with other paths writes its own.
  #
  # Where there is no `no_dot_erlang.boot` to start from or nowhere to
  # write, there is no boot file and peers boot as `erl` does (nil below).

  alias Sandbox.Guest

  # What a peer's kernel, Logger's OTP handler and the I/O path load
  # lazily before its run, on OTP 25 (see the module doc). A
  # module the installation lacks is left out; one missing from the list
  # loads when first called, as without a boot file.
  @otp_modules ~w(
    auth beam_lib binary erl_anno erl_distribution erl_features erl_internal
    erl_scan erl_signal_handler erpc gb_sets gb_trees global global_group
    inet inet_config inet_db inet_gethost_native inet_parse inet_udp io
    kernel_config kernel_refc logger_formatter logger_h_common
    logger_handler_watcher logger_olp logger_proxy logger_std_h logger_sup
    maps net_kernel ordsets os peer proplists queue rand rpc standard_error
    string supervisor_bridge unicode unicode_util user user_sup
  )a

  # Init loads each primLoad's modules at once: all read and prepared
  # before any is made current. Batches of this many keep that while
  # holding less at a time: a VM booted with all of them in one batch
  # stayed 15 MB larger (resident) to the end, with the same CPU and wall.
  @batch_size 32

  @typedoc """
  Which boot file: `:run` loads what every run needs; `:common` also what
  most runs call (`Sandbox.Guest.common/0`), for a pool's VM booted ahead
  of a run that is likely to come soon (see Sandbox.Pool).
  """
  @type kind :: :run | :common

  @doc """
  The boot file for peers, as `-boot` takes it (without `.boot`), or nil
  where there is none. Made on the first call, and again if it has been
  removed since (a `mix clean`, a cache cleaner).
  """
  @spec path(kind()) :: String.t() | nil
  def path(kind \\ :run) do
    case Sandbox.Once.get(key(kind), fn -> make_here(kind) end) do
      nil -> nil
      path -> if File.regular?(path <> ".boot"), do: path, else: remake(kind)
    end
  end

  defp key(kind), do: {__MODULE__, :path, kind}

  defp remake(kind) do
    path = make_here(kind)
    :persistent_term.put(key(kind), path)
    path
  end

  defp make_here(kind) do
    source = Path.join([List.to_string(:code.root_dir()), "bin", "no_dot_erlang.boot"])
    make(source, Enum.reject([priv_dir(), cache_dir()], &is_nil/1), modules(kind))
  end

  @doc "The modules a boot file of `kind` loads ahead of the kernel, where they are."
  @spec modules(kind()) :: [module()]
  def modules(kind \\ :run)
  def modules(:run), do: Enum.uniq(@otp_modules ++ Guest.preload())
  def modules(:common), do: Enum.uniq(modules(:run) ++ Guest.common())

  @doc """
  A boot file made from the boot file `source`, loading `modules` in
  batches, and written into the first of `dirs` that takes it; its path
  without `.boot`, or nil.
  """
  @spec make(String.t(), [String.t()], [module()]) :: String.t() | nil
  def make(source, dirs, modules \\ modules()) do
    with {:ok, binary} <- File.read(source),
         {:script, _, instructions} = script <- decode(binary),
         {:ok, instructions} <- add_batch(instructions, modules),
         {:ok, instructions} <- add_app_loads(instructions) do
      write(:erlang.term_to_binary(put_elem(script, 2, instructions)), dirs)
    else
      _ -> nil
    end
  end

  # The batches go last before `kernel_load_completed`: init loads what
  # comes before it, in interactive mode too. What it loads already is
  # left out (a module loaded twice is an error).
  defp add_batch(instructions, modules) do
    case Enum.split_while(instructions, &(&1 != {:kernel_load_completed})) do
      {_, []} ->
        :error

      {before, rest} ->
        taken = for {kind, mods} <- before, kind in [:preLoaded, :primLoad], mod <- mods, do: mod

        found =
          for mod <- modules, mod not in taken, file = beam(mod), do: {mod, Path.dirname(file)}

        {:ok, before ++ Enum.flat_map(batches(found), &load_batch/1) ++ rest}
    end
  end

  # Modules grouped by directory (a stable sort), in batches: init looks
  # for each module in each directory of the batch's path in turn (a
  # failed open for every directory before its own), so a batch mostly
  # holds one directory's, and its path lists its directories, most used
  # first.
  defp batches(found) do
    dirs = found |> Enum.map(fn {_mod, dir} -> dir end) |> Enum.uniq()

    found
    |> Enum.sort_by(fn {_mod, dir} -> Enum.find_index(dirs, &(&1 == dir)) end)
    |> Enum.chunk_every(@batch_size)
  end

  defp load_batch(batch) do
    dirs =
      batch
      |> Enum.frequencies_by(fn {_mod, dir} -> dir end)
      |> Enum.sort_by(fn {_dir, count} -> -count end)
      |> Enum.map(fn {dir, _count} -> String.to_charlist(dir) end)

    [{:path, dirs}, {:primLoad, Enum.map(batch, fn {mod, _dir} -> mod end)}]
  end

  # Elixir's application and the one it needs, loaded from their specs
  # where the kernel's and stdlib's are, as init loads those: every peer
  # starts Elixir, and `application:load/1` of a name searches every
  # directory of the code path for the `.app` file and parses it (with
  # `epp`, which no trivial run needs otherwise): 3 to 4 ms, and 2 for
  # loading `epp`. The specs are the files the peer would find (its code
  # path is the host's), read here; an application without one is left to
  # load as before.
  @apps [:compiler, :elixir]

  defp add_app_loads(instructions) do
    case Enum.split_while(instructions, &(&1 != {:progress, :applications_loaded})) do
      {_, []} ->
        :error

      {before, rest} ->
        loads =
          for app <- @apps, spec = app_spec(app), do: {:apply, {:application, :load, [spec]}}

        {:ok, before ++ loads ++ rest}
    end
  end

  defp app_spec(app) do
    with file when is_list(file) <- :code.where_is_file(~c"#{app}.app"),
         {:ok, [{:application, ^app, _} = spec]} <- :file.consult(file) do
      spec
    else
      _ -> nil
    end
  end

  # Where the host would load the module from (a peer boots with the same
  # installation and the host's paths), or nil for one it would not find
  # in a file.
  defp beam(mod) do
    case :code.which(mod) do
      file when is_list(file) ->
        if :filename.extension(file) == ~c".beam", do: List.to_string(file)

      _ ->
        nil
    end
  end

  defp write(binary, dirs) do
    name = "peer-" <> Base.encode16(:erlang.md5(binary), case: :lower)
    Enum.find_value(dirs, &write_in(&1, name, binary))
  end

  # Written whole under a name of its own, then renamed into place, so a
  # peer never reads half a file, whoever else writes the same one. Mode
  # 644 and the directory 755 (where it is ours), whatever the umask: a
  # strict run's user reads it.
  defp write_in(dir, name, binary) do
    target = Path.join(dir, name)
    partial = "#{target}.#{System.unique_integer([:positive])}.part"

    with :ok <- File.mkdir_p(dir),
         _ = File.chmod(dir, 0o755),
         :ok <- File.write(partial, binary, [:exclusive]),
         :ok <- File.chmod(partial, 0o644),
         :ok <- File.rename(partial, target <> ".boot") do
      target
    else
      _ ->
        _ = File.rm(partial)
        nil
    end
  end

  defp decode(binary) do
    :erlang.binary_to_term(binary)
  rescue
    ArgumentError -> :error
  end

  defp priv_dir do
    case :code.priv_dir(:sandbox) do
      dir when is_list(dir) -> Path.join(List.to_string(dir), "boot")
      {:error, _} -> nil
    end
  end

  # The user's cache, where there is one (it takes HOME or XDG_CACHE_HOME).
  defp cache_dir do
    List.to_string(:filename.basedir(:user_cache, ~c"sandbox"))
  rescue
    _ -> nil
  end
end
