defmodule Sandbox.Guest do
  @moduledoc false
  # The entry point inside a peer VM (`-s Elixir.Sandbox.Guest start`).
  # Internal: it never runs in the host.
  #
  # The host and the peer talk over two pipes with `{:packet, 4}` frames,
  # the peer reading its request on one and writing on the other (the fds
  # and the tags are in `c_src/common/protocol.h`, read by `Sandbox.Protocol`):
  #
  #   * booted (its OS pid follows) once booted (the boot deadline ends;
  #     a pool's peer then waits here for as long as it is idle, warming
  #     up meanwhile); then it reads its request,
  #   * started when it has the request,
  #   * capturing when setup is done and its output flushed; it then waits
  #     for the host's capture-begun frame, sent once the host has dropped
  #     the setup's output, before the code may print anything (unless the
  #     request says `capture_early`: a warm VM with no setup, whose output
  #     the host captures from the submit: then neither frame),
  #   * result (`term_to_binary(result)` follows) at the end, after flushing
  #     output.
  #
  # Output goes to fd 1 and 2, which the helper points at the output pipe.
  # After the result the peer waits to be killed.

  alias Sandbox.Guest.{LazyLogger, Native, OutputDevice}
  alias Sandbox.Protocol

  @booted Protocol.tag_booted()
  @started Protocol.tag_started()
  @capturing Protocol.tag_capturing()
  @result Protocol.tag_result()
  @capture_begun Protocol.tag_capture_begun()
  @fd_request Protocol.fd_request()
  @fd_reply Protocol.fd_reply()
  @fd_unwritten Protocol.fd_guest_unwritten()

  # What every peer loads between its boot and its first evaluation
  # (Elixir, the evaluator, the I/O path, this module's own), measured on
  # Elixir 1.14 and 1.18 with `1 + 1`. Loading a module costs about a
  # millisecond of CPU here, most of it the JIT's. The boot file
  # (`Sandbox.BootFile`) loads these with the kernel's, in parallel
  # batches; a peer booted without one has :code.ensure_modules_loaded/1
  # spread them over the cores while it names its node. A hint only: a
  # module missing from another Elixir is skipped, one not listed loads
  # when first called. Only what every run needs: a module some runs call
  # (`Enum`, `IO`, the compiler's for aliases, matches or `fn`) costs those
  # runs the millisecond rather than every run, and a pool's VM loads the
  # common ones while it waits (@warm_up). Logger's start when a run needs
  # it (`LazyLogger`). For the same reason the peer's own code calls
  # Erlang's modules (`:lists`, `:maps`, `:erlang`), loaded anyway, where
  # Elixir's (`Enum`, `Map`, `Process`) would add theirs to every run.
  # (`Sandbox.Guest.Native` is left out: init cannot run an on_load.)
  @preload ~w(
    elixir elixir_code_server elixir_config elixir_dispatch elixir_env
    elixir_erl elixir_erl_pass elixir_erl_var elixir_expand elixir_parser
    elixir_rewrite elixir_sup elixir_tokenizer elixir_utils
    Elixir.Code Elixir.Kernel Elixir.List.Chars Elixir.List.Chars.BitString
    Elixir.Macro.Env Elixir.Module.ParallelChecker Elixir.String
    Elixir.String.Tokenizer Elixir.System
    Elixir.Sandbox.Guest Elixir.Sandbox.Guest.LazyLogger
    Elixir.Sandbox.Guest.OutputDevice
  )a

  @doc "The modules a peer loads ahead of its first evaluation."
  @spec preload() :: [module()]
  def preload, do: @preload

  # What most snippets load on top of those (lists, ranges, maps, matches,
  # `fn`, interpolation, comprehensions, `inspect`, `IO.puts`): what the
  # warm-up below loads, measured on Elixir 1.14 and 1.18. A pool's VM
  # booted ahead of a run that is likely to come soon has them in its boot
  # file's batches (`Sandbox.BootFile`, `:common`), loaded in parallel
  # before the kernel starts rather than one by one by its warm-up, so that
  # an agent's loop finds them loaded a few hundred ms later even on a slow
  # machine. The two Elixirs differ in one: 1.14 loads `elixir_locals`,
  # 1.18 `elixir_import` (boot_file_test checks the list is complete).
  @common ~w(
    elixir_aliases elixir_bitstring elixir_clauses elixir_erl_clauses
    elixir_erl_for elixir_fn elixir_import elixir_interpolation elixir_locals
    elixir_map elixir_module elixir_quote erl_bits eval_bits orddict
    Elixir.Code.Identifier Elixir.Enum Elixir.IO Elixir.Inspect
    Elixir.Inspect.Algebra Elixir.Inspect.Integer Elixir.Inspect.List
    Elixir.Inspect.Map Elixir.Inspect.Opts Elixir.Keyword Elixir.List
    Elixir.Macro Elixir.Range Elixir.String.Chars Elixir.String.Chars.Integer
  )a

  @doc "The modules most runs load on top of `preload/0`."
  @spec common() :: [module()]
  def common, do: @common

  @doc "Called by `-s`; serves the run in a process of its own."
  @spec start() :: :ok
  def start do
    spawn(fn ->
      try do
        serve()
      catch
        kind, reason ->
          # A broken bootstrap must not leave the host waiting for a boot
          # that will never finish: say why on stderr (the host attaches
          # it to its error) and end the VM.
          message = Exception.format(kind, reason, __STACKTRACE__)
          :erlang.display_string(~c"sandbox peer failed: " ++ String.to_charlist(message))
          :erlang.halt(70)
      end
    end)

    :ok
  end

  defp serve do
    :ok = add_launch_paths()
    :ok = Native.reap_children_normally()
    booted_vm = cpu_ms()
    preloading = spawn_monitor(fn -> :code.ensure_modules_loaded(@preload) end)
    channel = Port.open({:fd, @fd_request, @fd_reply}, [:binary, packet: 4])
    :ok = name_node()
    await_down(preloading)
    named = cpu_ms()
    [stdout, _stderr] = devices = take_over_stdio()
    {:ok, _} = :application.ensure_all_started(:elixir)
    elixir = cpu_ms()
    LazyLogger.install()

    :persistent_term.put({__MODULE__, :boot_cpu_ms},
      vm: booted_vm,
      node_name_and_preload: named,
      elixir: elixir,
      devices_and_logger_filter: cpu_ms()
    )

    send_frame(channel, [@booted, :os.getpid()])
    warming = warm_up_unless_cold()
    request = :maps.put(:launch_context, launch_context(), receive_request(channel))
    stop_warm_up(warming)
    all_schedulers_online()
    add_new_paths(request.paths)

    if :maps.get(:ignore_file_size_signal, request, false),
      do: :ok = Native.ignore_file_size_signal()

    give_stdin(stdout, :maps.get(:stdin, request, nil))
    send_frame(channel, [@started])

    parent = self()
    {evaluator, monitor} = spawn_monitor(fn -> evaluate(parent, request, stdout) end)

    capture =
      {devices, :maps.get(:output_cap, request, nil), :maps.get(:capture_early, request, false)}

    send_frame(channel, [@result | await_result(channel, evaluator, monitor, capture)])
    # Until the helper kills the VM (a message nobody can send).
    never = make_ref()

    receive do
      ^never -> :ok
    end
  end

  # Synchronous writers for all the VM prints through `:user` and
  # `:standard_error` (Logger's console among them): their own servers
  # write through ports, which write to pipes from an async thread. Each
  # write is done before it is answered, so order across the two holds.
  # The `:user` device is also the code's group leader.
  defp take_over_stdio do
    {:ok, unwritten} = Native.open_unwritten(@fd_unwritten)

    :lists.map(
      fn name ->
        device = OutputDevice.start({:write, unwritten})
        if :erlang.whereis(name) != :undefined, do: :erlang.unregister(name)
        :erlang.register(name, device)
        device
      end,
      [:user, :standard_error]
    )
  end

  defp receive_request(channel) do
    receive do
      {^channel, {:data, frame}} -> :erlang.binary_to_term(frame)
    end
  end

  # A node name of its own, so the peer's pids and refs never decode as the
  # host's, and nothing else of distribution: no net_kernel, so no
  # listener, no EPMD, no connection in or out (`Node.connect/1` is
  # `:ignored`, as in a VM without a name). `:erlang.setnode/2` is what
  # net_kernel calls once it has a name, and only a process registered as
  # `net_kernel` may call it. Starting net_kernel for the name alone cost
  # every run 4 modules more (`re`, the TCP distribution's, EPMD's client)
  # and about 5 ms of CPU. The creation tells apart
  # nodes of the same name, which these never share: any valid one will
  # do. The cookie server runs as under net_kernel (`Node.get_cookie/0`:
  # the launcher's random `-setcookie`), under the kernel's supervisor.
  defp name_node do
    {:ok, [[name]]} = :init.get_argument(:sandbox_node)
    node = :erlang.list_to_atom(name ++ ~c"@" ++ :inet_db.gethostname())
    true = :erlang.register(:net_kernel, self())

    try do
      true = :erlang.setnode(node, :rand.uniform(0xFFFFFFF0) + 3)
    after
      :erlang.unregister(:net_kernel)
    end

    {:ok, _} = :supervisor.start_child(:kernel_sup, %{id: :auth, start: {:auth, :start_link, []}})

    :ok
  end

  # A first evaluation loads what the boot file leaves out (the modules
  # only some runs call, tens of ms): a peer booted ahead of its run (a
  # pool's) loads the common ones while it waits, in a process that leaves
  # nothing behind. Only while it waits: the request stops it, so a run
  # never waits for it, and under load, where a pool's VMs are taken as
  # soon as they have booted, they do not spend the CPU (measured: 7% of a
  # trivial run's). A peer launched for its run (a cold one,
  # `-sandbox_cold`) skips it: the run loads what it needs, no more.
  # What most snippets use: lists, ranges, maps, string interpolation,
  # comprehensions, inspect. Each module it loads is about a millisecond
  # off the first run that needs it.
  @warm_up ~S"""
  x = [1, 2]
  m = %{a: x}
  IO.puts(inspect(Enum.map(x, &(&1 * 2))))
  IO.puts("#{Enum.sum(1..2)} #{inspect(%{m | a: for(i <- x, do: i)})}")
  :ok
  """

  @doc "The code a pool's VM evaluates while it waits: what `common/0` lists is what it loads."
  @spec warm_up() :: String.t()
  def warm_up, do: @warm_up

  defp warm_up_unless_cold do
    case :init.get_argument(:sandbox_cold) do
      {:ok, _} ->
        nil

      :error ->
        spawn_monitor(fn ->
          # Linked: a warm-up stopped takes its device along.
          discard = OutputDevice.start_link(:discard)
          :erlang.group_leader(discard, self())
          Code.eval_string(@warm_up)
          # What a run can tell a finished warm-up by (a new key: no GC).
          :persistent_term.put({__MODULE__, :warmed_up}, true)
          :erlang.exit(discard, :kill)
        end)
    end
  end

  # Gone before the run starts; its device, linked, goes with it.
  defp stop_warm_up(nil), do: :ok

  defp stop_warm_up({pid, _monitor} = warming) do
    :erlang.exit(pid, :kill)
    await_down(warming)
  end

  defp await_down({pid, monitor}) do
    receive do
      {:DOWN, ^monitor, :process, ^pid, _reason} -> :ok
    end
  end

  # A pool's VM boots with one scheduler online (see Sandbox.Launcher):
  # the run has them all, as in any VM.
  defp all_schedulers_online do
    all = :erlang.system_info(:schedulers)

    if :erlang.system_info(:schedulers_online) < all,
      do: :erlang.system_flag(:schedulers_online, all)

    :ok
  end

  # The digest of the environment and directory this VM was launched with.
  defp launch_context do
    case :init.get_argument(:sandbox_context) do
      {:ok, [[digest]]} -> :erlang.list_to_integer(digest)
      _ -> nil
    end
  end

  # A warm VM launched when the host's environment or directory were not
  # what they are at its run takes the run's: variables the host no longer
  # has go, the rest are set, and the directory changes. (`:file`, not
  # `File`, which a warm VM has not loaded: a millisecond a run.)
  defp adopt_host_context(%{digest: digest}, digest), do: :ok
  defp adopt_host_context(nil, _launched), do: :ok

  defp adopt_host_context(%{env: env, cwd: cwd}, _launched) do
    :lists.foreach(
      fn name -> if not :maps.is_key(name, env), do: System.delete_env(name) end,
      :maps.keys(System.get_env())
    )

    System.put_env(env)
    :ok = :file.set_cwd(cwd)
  end

  # The host's code paths when this peer was launched, as `-pa` would
  # have put them (ahead of OTP's, in the host's order), before anything
  # loads from them: `Sandbox.Guest.Native` (no boot file loads it), the
  # warm-up, a run's first call of a module no boot file loaded. Given
  # apart from `-pa` where there is a boot file (see Sandbox.Launcher).
  defp add_launch_paths do
    case :init.get_argument(:sandbox_paths) do
      {:ok, [paths]} -> :code.add_pathsa(paths)
      :error -> :ok
    end
  end

  # Paths the host added after this peer booted (a pool's peer may have
  # waited a while), in the host's order, ahead of the rest.
  defp add_new_paths(paths) do
    # (`--` rather than MapSet: a module the warm-up has not loaded would
    # cost a load, about 1 ms, in every run.)
    case paths -- :code.get_path() do
      [] -> :ok
      new -> :ok = :code.add_pathsa(:lists.reverse(new))
    end
  end

  # A run's :stdin, read through Erlang I/O (IO.gets, IO.read) from the
  # code's group leader. Without it, reads are at end of file at once.
  defp give_stdin(_device, nil), do: :ok

  defp give_stdin(device, stdin) do
    {:ok, input} = StringIO.open(stdin)
    OutputDevice.set_input(device, input)
  end

  # `cap`: the run's :max_output, unless its output is streamed: what the
  # host keeps no more of, and the devices may count rather than write.
  # `early?`: the host's capture began at the submit (a warm VM, no
  # setup): no capture round trip.
  defp await_result(channel, evaluator, monitor, {devices, cap, early?} = capture) do
    receive do
      {^evaluator, :setup_done} ->
        await_capture(channel, devices, early?)
        # Before the code can print: the devices count from here, as the
        # host's capture does.
        :lists.foreach(&OutputDevice.cap(&1, cap), devices)
        send(evaluator, {self(), :capture})
        await_result(channel, evaluator, monitor, capture)

      {^evaluator, {:result, encoded}} ->
        :erlang.demonitor(monitor, [:flush])
        flush_vm_output(devices)
        encoded

      {:DOWN, ^monitor, :process, ^evaluator, reason} ->
        # The code killed its own process: there is no caught exception.
        flush_vm_output(devices)
        :erlang.term_to_binary({:error, {:exit, reason, []}})
    end
  end

  defp await_capture(_channel, _devices, true), do: :ok

  defp await_capture(channel, devices, false) do
    flush_vm_output(devices)
    send_frame(channel, [@capturing])

    receive do
      {^channel, {:data, <<@capture_begun>>}} -> :ok
    end
  end

  # Setup and code run in one process, as in the reference (where both ran
  # in the same :erpc process), so process state set up carries over.
  defp evaluate(parent, %{code: code} = request, device) do
    :erlang.group_leader(OutputDevice.start(:discard), self())

    case run_setup(request) do
      :ok ->
        send(parent, {self(), :setup_done})

        receive do
          {^parent, :capture} -> :ok
        end

        :erlang.group_leader(device, self())
        send(parent, {self(), {:result, :erlang.term_to_binary(eval_code(code))}})

      setup_error ->
        send(parent, {self(), {:result, :erlang.term_to_binary(setup_error)}})
    end
  end

  defp run_setup(request) do
    apply_environment(request)
    LazyLogger.start_if_named([request.code | request.setup])

    :lists.foreach(
      fn
        code when is_binary(code) -> Code.eval_string(code)
        ast -> Code.eval_quoted(ast)
      end,
      request.setup
    )
  catch
    kind, reason -> {:setup_error, kind, reason, __STACKTRACE__}
  end

  # The run's :env and :cd (a :tmp_dir comes as both), for setup, code and
  # every process they start. Applied here rather than at boot, so a pool's
  # peer, booted before its run was known, gets them too.
  defp apply_environment(request) do
    adopt_host_context(:maps.get(:host, request, nil), request.launch_context)
    # The host's level: what its own Logger calls would print, a run's print.
    :ok = :logger.set_primary_config(:level, :maps.get(:logger_level, request, :warning))

    :lists.foreach(
      fn
        {name, nil} -> System.delete_env(name)
        {name, value} -> System.put_env(name, value)
      end,
      :maps.get(:env, request, [])
    )

    if dir = :maps.get(:cd, request, nil), do: File.cd!(dir)
    :ok
  end

  defp eval_code(code) do
    {value, _binding} = Code.eval_string(code)
    {:ok, value}
  catch
    kind, reason -> {:error, {kind, reason, __STACKTRACE__}}
  end

  # Logger formats and writes from processes of its own: wait until it has
  # started if an event started it, until they have written what they were
  # given, then until the devices have.
  defp flush_vm_output(devices) do
    :ok = LazyLogger.await()

    :lists.foreach(
      fn id ->
        case :logger.get_handler_config(id) do
          {:ok, %{module: :logger_std_h}} -> :logger_std_h.filesync(id)
          _ -> :ok
        end
      end,
      :logger.get_handler_ids()
    )

    if :erlang.whereis(Logger) != :undefined, do: apply(Logger, :flush, [])
    :lists.foreach(&OutputDevice.sync/1, devices)
  end

  defp send_frame(channel, frame), do: Port.command(channel, frame)

  # The VM's CPU time so far (all its threads, user and system), at the
  # end of each stage of its boot: kept in a persistent term,
  # {Sandbox.Guest, :boot_cpu_ms}, for `mix sandbox.bench`'s account of
  # where a run's CPU goes. One put, before any process of the run exists.
  defp cpu_ms do
    {:ok, us} = Native.cpu_us()
    us / 1000
  end
end
