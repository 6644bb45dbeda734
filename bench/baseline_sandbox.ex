defmodule Sandbox.Bench.Baseline do
  @moduledoc """
  The baseline the benchmark measures against: the same `run/2` API done
  the pure-Elixir way, as the reference does it. Each call starts a peer
  with `:peer` over Erlang distribution (the host must be a distributed
  node), adds the host's code paths, starts Elixir, and evaluates with
  `:erpc`, the peer's group leader being a `StringIO` in the host, so every
  `IO.puts` is a round trip over distribution. Output is capped only at
  the end.

  Not part of the package: loaded by `mix sandbox.bench` from `bench/`.
  """

  @doc "Evaluates `code` in a fresh `:peer` node (options: `:timeout`, `:max_output`, `:setup`)."
  @spec run(String.t(), keyword()) ::
          {:ok, %{output: String.t(), result: term()}}
          | {:error, term(), %{output: String.t()}}
  def run(code, opts \\ []) do
    timeout = Keyword.get(opts, :timeout, 60_000)
    max_output = Keyword.get(opts, :max_output, 50_000)
    setup = List.wrap(Keyword.get(opts, :setup, []))

    {:ok, peer, node} =
      :peer.start(%{name: :"bench_baseline_#{System.unique_integer([:positive])}"})

    {:ok, device} = StringIO.open("")

    try do
      :ok = :erpc.call(node, :code, :add_pathsa, [:code.get_path()])
      {:ok, _} = :erpc.call(node, :application, :ensure_all_started, [:elixir])
      :ok = :erpc.call(node, :logger, :set_primary_config, [:level, :warning])

      outcome =
        try do
          :erpc.call(node, fn -> evaluate(code, setup, device) end, timeout)
        catch
          :error, {:erpc, reason} when reason in [:timeout, :noconnection] -> {:error, reason}
        end

      {_, output} = StringIO.contents(device)
      shape(outcome, cap(output, max_output))
    after
      StringIO.close(device)

      try do
        :peer.stop(peer)
      catch
        :exit, _ -> :ok
      end
    end
  end

  defp evaluate(code, setup, device) do
    Enum.each(setup, fn
      text when is_binary(text) -> Code.eval_string(text)
      ast -> Code.eval_quoted(ast)
    end)

    Process.group_leader(self(), device)

    try do
      {value, _binding} = Code.eval_string(code)
      {:ok, value}
    catch
      kind, reason -> {:error, {kind, reason, __STACKTRACE__}}
    end
  end

  defp shape({:ok, value}, output), do: {:ok, %{output: output, result: value}}
  defp shape({:error, reason}, output), do: {:error, reason, %{output: output}}

  defp cap(output, :infinity), do: output
  defp cap(output, max) when byte_size(output) <= max, do: output

  defp cap(output, max),
    do: binary_part(output, 0, max) <> "\n...(truncated at #{max} of #{byte_size(output)} bytes)"
end
