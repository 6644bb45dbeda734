defmodule Sandbox.Peer do
  @moduledoc """
  The entry point inside a peer VM (`-s Elixir.Sandbox.Peer start`).
  Internal: it never runs in the host.

  The host and the peer talk over two pipes with `{:packet, 4}` frames.
  The peer reads the request on fd 3, then writes on fd 4:

    * `"S"` when it has the request (the run's deadline starts),
    * `"C"` when setup is done and its output flushed; it then waits for the
      host's `"G"` on fd 3, sent once the host has dropped the setup's output,
      before the code may print anything,
    * `"R" <> term_to_binary(result)` at the end, after flushing output.

  Output goes to fd 1 and 2, which the helper points at the output pipe.
  After `"R"` the peer waits to be killed.
  """

  alias Sandbox.Peer.OutputDevice

  @doc "Called by `-s`; serves the run in a process of its own."
  @spec start() :: :ok
  def start do
    spawn(&serve/0)
    :ok
  end

  defp serve do
    channel = Port.open({:fd, 3, 4}, [:binary, packet: 4])
    request = receive_request(channel)
    prepare(request.paths)
    send_frame(channel, "S")

    parent = self()
    {evaluator, monitor} = spawn_monitor(fn -> evaluate(parent, request) end)
    send_frame(channel, ["R" | await_result(channel, evaluator, monitor)])
    Process.sleep(:infinity)
  end

  defp receive_request(channel) do
    receive do
      {^channel, {:data, frame}} -> :erlang.binary_to_term(frame)
    end
  end

  # What the reference did before starting its timed call, plus Elixir's
  # Logger: without its application running, Logger calls print nothing.
  defp prepare(paths) do
    :ok = :code.add_pathsa(Enum.reverse(paths))
    {:ok, _} = :application.ensure_all_started(:elixir)
    _ = :application.ensure_all_started(:logger)
    :ok = :logger.set_primary_config(:level, :warning)
  end

  defp await_result(channel, evaluator, monitor) do
    receive do
      {^evaluator, :setup_done} ->
        flush_vm_output()
        send_frame(channel, "C")

        receive do
          {^channel, {:data, "G"}} -> send(evaluator, {self(), :capture})
        end

        await_result(channel, evaluator, monitor)

      {^evaluator, {:result, encoded, device}} ->
        Process.demonitor(monitor, [:flush])
        OutputDevice.sync(device)
        flush_vm_output()
        encoded

      {:DOWN, ^monitor, :process, ^evaluator, reason} ->
        # The code killed its own process: there is no caught exception.
        flush_vm_output()
        :erlang.term_to_binary({:error, {:exit, reason, []}})
    end
  end

  # Setup and code run in one process, as in the reference (where both ran
  # in the same :erpc process), so process state set up carries over.
  defp evaluate(parent, %{setup: setup, code: code}) do
    Process.group_leader(self(), OutputDevice.start(:discard))

    case run_setup(setup) do
      :ok ->
        send(parent, {self(), :setup_done})

        receive do
          {^parent, :capture} -> :ok
        end

        device = OutputDevice.start(:write)
        Process.group_leader(self(), device)
        result = eval_code(code)
        send(parent, {self(), {:result, :erlang.term_to_binary(result), device}})

      setup_error ->
        send(parent, {self(), {:result, :erlang.term_to_binary(setup_error), nil}})
    end
  end

  defp run_setup(items) do
    Enum.each(items, fn
      code when is_binary(code) -> Code.eval_string(code)
      ast -> Code.eval_quoted(ast)
    end)
  catch
    kind, reason -> {:setup_error, kind, reason, __STACKTRACE__}
  end

  defp eval_code(code) do
    {value, _binding} = Code.eval_string(code)
    {:ok, value}
  catch
    kind, reason -> {:error, {kind, reason, __STACKTRACE__}}
  end

  # Output written outside our device (Logger, the VM's own stdout and
  # stderr servers) is asynchronous: wait until each writer has handed what
  # it was sent to its port, and each port has written it, before telling
  # the host where to cut.
  defp flush_vm_output do
    for id <- :logger.get_handler_ids(),
        match?({:ok, %{module: :logger_std_h}}, :logger.get_handler_config(id)) do
      :logger_std_h.filesync(id)
    end

    if Process.whereis(Logger), do: apply(Logger, :flush, [])

    for name <- [:user, :standard_error], pid = Process.whereis(name), pid != nil do
      # Answered in turn, after the writes it was sent before.
      :io.request(pid, {:get_geometry, :columns})
      {:links, links} = Process.info(pid, :links)
      links |> Enum.filter(&is_port/1) |> Enum.each(&OutputDevice.wait_until_written/1)
    end

    :ok
  end

  defp send_frame(channel, frame), do: Port.command(channel, frame)
end
