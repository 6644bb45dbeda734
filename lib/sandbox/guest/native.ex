defmodule Sandbox.Guest.Native do
  @moduledoc false
  # What a peer asks of the OS directly, through a small NIF
  # (`priv/sandbox_guest_nif.so`). Internal: loaded only in a peer.
  #
  # Its own descriptor of the output pipe, written synchronously: OTP's fd
  # driver writes to pipes from an async thread, so a port cannot say when
  # printed bytes are in the pipe. Here a write has happened when it
  # returns, so output printed before a crash or a deadline is never lost.
  #
  # A count of what is printed past the cap, kept in memory the host reads
  # rather than written (see Sandbox.Guest.OutputDevice).
  #
  # And SIGXFSZ ignored, for a run with `:max_file_size`: a write past the
  # limit then fails with `:efbig` instead of killing the whole VM; and
  # SIGCHLD at its default, so the run's report counts what the VM started.

  @on_load :load

  @doc false
  def load do
    :erlang.load_nif(:filename.join(:code.priv_dir(:sandbox), ~c"sandbox_guest_nif"), 0)
  end

  @doc "Opens a fresh non-blocking descriptor of the peer's stdout pipe."
  @spec open() :: {:ok, non_neg_integer()} | {:error, :eagain | integer()}
  def open, do: :erlang.nif_error(:not_loaded)

  @doc "Writes what the pipe takes now, without blocking."
  @spec write(non_neg_integer(), binary()) ::
          {:ok, non_neg_integer()} | {:error, :eagain | integer()}
  def write(_fd, _data), do: :erlang.nif_error(:not_loaded)

  @doc """
  Ignores SIGXFSZ from now on, in this VM and in what it starts later
  (except through `:os.cmd/1` and ports: ERTS's forker was started at boot).
  """
  @spec ignore_file_size_signal() :: :ok
  def ignore_file_size_signal, do: :erlang.nif_error(:not_loaded)

  @doc """
  Puts SIGCHLD back to its default, which ERTS sets to ignored: a child
  of the VM that ends before it (its forker) then stays for the helper to
  reap, so the CPU and memory of what the code ran are counted in the
  run's report rather than dropped by the kernel.
  """
  @spec reap_children_normally() :: :ok | {:error, integer()}
  def reap_children_normally, do: :erlang.nif_error(:not_loaded)

  @doc """
  The VM's CPU time so far in microseconds: user and system, all its
  threads (`:erlang.statistics(:runtime)` counts no system time).
  """
  @spec cpu_us() :: {:ok, non_neg_integer()} | {:error, integer()}
  def cpu_us, do: :erlang.nif_error(:not_loaded)

  @doc """
  Maps the page shared with the host where output devices count what they
  print past the cap without writing it (`c_src/common/unwritten.h`), and
  closes `fd`.
  """
  @spec open_unwritten(non_neg_integer()) :: {:ok, reference()} | {:error, integer()}
  def open_unwritten(_fd), do: :erlang.nif_error(:not_loaded)

  @doc "Adds `bytes` to the page's count: the host reads it at once, however the VM ends."
  @spec count_unwritten(reference(), non_neg_integer()) :: :ok
  def count_unwritten(_counter, _bytes), do: :erlang.nif_error(:not_loaded)

  @doc "Writes all of `data`, waiting while the pipe is full (the host is draining it)."
  @spec write_all(non_neg_integer(), binary()) :: :ok | {:error, integer()}
  def write_all(_fd, <<>>), do: :ok

  def write_all(fd, data) do
    case write(fd, data) do
      {:ok, written} ->
        write_all(fd, binary_part(data, written, byte_size(data) - written))

      {:error, :eagain} ->
        receive do
        after
          1 -> write_all(fd, data)
        end

      {:error, _errno} = error ->
        error
    end
  end
end
