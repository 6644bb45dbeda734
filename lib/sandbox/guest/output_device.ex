defmodule Sandbox.Guest.OutputDevice do
  @moduledoc false
  # The I/O server behind everything a peer prints: the group leader of the
  # evaluated code, and `:user` and `:standard_error`. It writes to the
  # output pipe (see `Sandbox.Guest.Native`), or discards (the setup's
  # group leader). Internal: it runs in the peer.
  #
  # Requests that are waiting together are written with one `write(2)`, and
  # each is answered only once its bytes are in the pipe, so what the code
  # printed before it crashed, halted or ran out of time is never lost.
  #
  # Past the cap (`cap/2`, a run's :max_output, when the host keeps no more
  # of it and streams nothing) the bytes are counted instead, in a page the
  # host reads (`Native.count_unwritten/2`): an add in memory rather than a
  # system call per line, and as durable once answered. Only what this
  # device itself wrote counts towards the cap, so the host surely holds
  # that much; and it still writes once per @unwritten_span bytes counted,
  # so the host keeps reading and :output_limit still stops a flood.
  # Reading returns `:eof`, unless an input device was given (`set_input/2`,
  # a run's `:stdin`): reads then go to it, their prompts to the output.
  # Encodings follow `StringIO`'s rules.

  @max_batch 256

  alias Sandbox.Guest.Native
  alias Sandbox.Protocol

  @unwritten_span Protocol.unwritten_span()

  @doc """
  Starts a device that writes to the output pipe (`{:write, unwritten}`,
  with the page where it counts what it does not write past a cap) or
  drops everything (`:discard`).
  """
  @spec start({:write, reference()} | :discard) :: pid()
  def start(mode), do: spawn(fn -> init(mode) end)

  @doc "`start/1`, linked to the caller."
  @spec start_link({:write, reference()} | :discard) :: pid()
  def start_link(mode), do: spawn_link(fn -> init(mode) end)

  @doc """
  From now on, once this device has written `cap` bytes, counts what it is
  given rather than writing it (see the module's comment); `nil`: writes
  everything.
  """
  @spec cap(pid(), non_neg_integer() | nil) :: :ok
  def cap(device, cap) do
    send(device, {:sandbox_cap, cap})
    :ok
  end

  @doc "Serves reads from `input` (an I/O server, e.g. a `StringIO`) from now on."
  @spec set_input(pid(), pid()) :: :ok
  def set_input(device, input) do
    send(device, {:sandbox_input, input})
    :ok
  end

  @doc "Returns once everything sent to `device` before this call is in the pipe."
  @spec sync(pid()) :: :ok
  def sync(device) do
    ref = :erlang.monitor(:process, device)
    send(device, {:sandbox_sync, self(), ref})

    receive do
      {^ref, :synced} -> :erlang.demonitor(ref, [:flush])
      {:DOWN, ^ref, _, _, _} -> :ok
    end

    :ok
  end

  defp init({:write, unwritten}) do
    {:ok, fd} = open()
    loop(new_state(fd, unwritten))
  end

  defp init(:discard), do: loop(new_state(nil, nil))

  # `written`: bytes written since `cap` was set (what the boot and the
  # setup printed is not the code's); `quiet`: bytes counted unwritten
  # since the last write.
  defp new_state(fd, unwritten),
    do: %{
      fd: fd,
      unwritten: unwritten,
      cap: nil,
      written: 0,
      quiet: 0,
      encoding: :unicode,
      input: nil
    }

  # A strict run's box hands the VM a descriptor of its own (see
  # Sandbox.Protocol's fd_guest_output); elsewhere the VM opens one.
  defp open do
    case :init.get_argument(:sandbox_output_fd) do
      {:ok, [[fd]]} -> {:ok, :erlang.list_to_integer(fd)}
      :error -> Native.open()
    end
  end

  defp loop(state) do
    receive do
      {:io_request, from, reply_as, request} ->
        state
        |> serve_batch(collect([{from, reply_as, request}], 1))
        |> loop()

      {:sandbox_input, input} ->
        loop(%{state | input: input})

      {:sandbox_cap, cap} ->
        loop(%{state | cap: cap})

      {:sandbox_sync, from, ref} ->
        # Writes are done when they return: being here is being synced.
        send(from, {ref, :synced})
        loop(state)

      _other ->
        loop(state)
    end
  end

  # Takes the requests already waiting, up to a bound.
  defp collect(acc, count) when count >= @max_batch, do: :lists.reverse(acc)

  defp collect(acc, count) do
    receive do
      {:io_request, from, reply_as, request} ->
        collect([{from, reply_as, request} | acc], count + 1)
    after
      0 -> :lists.reverse(acc)
    end
  end

  defp serve_batch(state, batch) do
    {replies, data, state} = :lists.foldl(&serve_request/2, {[], [], state}, batch)
    state = put(state, data)

    :lists.foreach(
      fn
        {:forward, read} -> send(state.input, read)
        {from, reply_as, reply} -> send(from, {:io_reply, reply_as, reply})
      end,
      :lists.reverse(replies)
    )

    state
  end

  defp serve_request({from, reply_as, request}, {replies, data, state}) do
    case read_with_prompt(request, state) do
      {prompt, read} ->
        # The input device answers the read itself, once the prompt is out.
        {_reply, bytes, state} = handle(prompt, state)
        {[{:forward, {:io_request, from, reply_as, read}} | replies], [data | bytes], state}

      nil ->
        {reply, bytes, state} = handle(request, state)
        {[{from, reply_as, reply} | replies], [data | bytes], state}
    end
  end

  defp put(%{fd: nil} = state, _data), do: state
  defp put(%{cap: nil} = state, data), do: write(state, data)

  defp put(%{cap: cap, written: written, quiet: quiet} = state, data) do
    bytes = :erlang.iolist_size(data)

    if written >= cap and quiet + bytes <= @unwritten_span do
      :ok = Native.count_unwritten(state.unwritten, bytes)
      %{state | quiet: quiet + bytes}
    else
      %{write(state, data) | written: written + bytes, quiet: 0}
    end
  end

  defp write(state, data) do
    Native.write_all(state.fd, :erlang.iolist_to_binary(data))
    state
  end

  # A read, when there is an input device: its prompt as a put_chars
  # request, and the read without it.
  defp read_with_prompt(_request, %{input: nil}), do: nil

  defp read_with_prompt({:get_chars, enc, prompt, n}, _state) when is_atom(enc),
    do: {{:put_chars, enc, prompt}, {:get_chars, enc, "", n}}

  defp read_with_prompt({:get_chars, prompt, n}, _state),
    do: {{:put_chars, prompt}, {:get_chars, "", n}}

  defp read_with_prompt({:get_line, enc, prompt}, _state) when is_atom(enc),
    do: {{:put_chars, enc, prompt}, {:get_line, enc, ""}}

  defp read_with_prompt({:get_line, prompt}, _state),
    do: {{:put_chars, prompt}, {:get_line, ""}}

  defp read_with_prompt({:get_until, enc, prompt, m, f, a}, _state) when is_atom(enc),
    do: {{:put_chars, enc, prompt}, {:get_until, enc, "", m, f, a}}

  defp read_with_prompt({:get_until, prompt, m, f, a}, _state),
    do: {{:put_chars, prompt}, {:get_until, "", m, f, a}}

  defp read_with_prompt(_request, _state), do: nil

  # ---- the I/O protocol --------------------------------------------------

  defp handle({:put_chars, encoding, chars} = request, state),
    do: put_chars(encoding, chars, request, state)

  defp handle({:put_chars, encoding, module, function, args} = request, state) do
    put_chars(encoding, apply(module, function, args), request, state)
  catch
    _, _ -> {{:error, request}, [], state}
  end

  defp handle({:put_chars, chars} = request, state), do: put_chars(:latin1, chars, request, state)

  defp handle({:put_chars, module, function, args}, state),
    do: handle({:put_chars, :latin1, module, function, args}, state)

  defp handle(request, state)
       when elem(request, 0) in [:get_chars, :get_line, :get_until, :get_password],
       do: {:eof, [], state}

  defp handle({:get_geometry, _}, state), do: {{:error, :enotsup}, [], state}
  defp handle(:getopts, state), do: {[binary: true, encoding: state.encoding], [], state}
  defp handle({:setopts, opts}, state), do: setopts(opts, state)
  defp handle({:requests, requests}, state), do: requests(requests, {:ok, [], state})
  defp handle(_unknown, state), do: {{:error, :request}, [], state}

  defp put_chars(encoding, chars, request, state) do
    case :unicode.characters_to_binary(chars, encoding, state.encoding) do
      binary when is_binary(binary) -> {:ok, binary, state}
      _error_or_incomplete -> {{:error, {:no_translation, encoding, state.encoding}}, [], state}
    end
  rescue
    ArgumentError -> {{:error, request}, [], state}
  end

  # (`:proplists`, loaded anyway, rather than Keyword: see Sandbox.Guest's
  # @preload.)
  defp setopts(opts, state) do
    opts = :proplists.unfold(if is_list(opts), do: opts, else: [opts])
    known? = fn option -> match?({key, _} when key in [:encoding, :binary], option) end

    with true <- :lists.all(known?, opts),
         {encoding, true} when encoding in [:unicode, :utf8, :latin1] <-
           {:proplists.get_value(:encoding, opts, state.encoding),
            :proplists.get_value(:binary, opts, true)} do
      {:ok, [], %{state | encoding: if(encoding == :utf8, do: :unicode, else: encoding)}}
    else
      _ -> {{:error, :enotsup}, [], state}
    end
  end

  defp requests([], acc), do: acc

  defp requests([request | rest], {_reply, data, state}) do
    case handle(request, state) do
      {{:error, _} = error, bytes, state} -> {error, [data | bytes], state}
      {reply, bytes, state} -> requests(rest, {reply, [data | bytes], state})
    end
  end
end
