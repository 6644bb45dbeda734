defmodule Sandbox.LeanVMTest do
  @moduledoc """
  A run's VM starts fewer threads and allocator instances than a default
  one (see Sandbox.Launcher), and still does what a default VM does.
  """
  use ExUnit.Case, async: true

  @moduletag :tmp_dir

  test "each memory allocator has one instance, shared by the VM's threads; :erlang.memory/0 still answers" do
    code = "{length(:erlang.system_info({:allocator, :eheap_alloc})), :erlang.memory(:total)}"

    for pool <- [false, :default] do
      assert {:ok, %{result: {1, total}}} = Sandbox.run(code, pool: pool)
      assert is_integer(total) and total > 0
    end

    # The host, a default VM, has one per scheduler and one more.
    assert length(:erlang.system_info({:allocator, :eheap_alloc})) > 1
  end

  test "two dirty I/O schedulers: code blocked reading a FIFO does not stop the VM loading modules",
       %{tmp_dir: dir} do
    fifo = Path.join(dir, "fifo")
    {_, 0} = System.cmd("mkfifo", [fifo])

    # Opening a FIFO nobody writes to blocks a dirty I/O scheduler; the
    # run then calls a module it has not loaded yet (Version is in no boot
    # file), which a file read on a dirty I/O scheduler loads.
    code = """
    spawn(fn -> File.read(#{inspect(fifo)}) end)
    Process.sleep(200)
    {:erlang.system_info(:dirty_io_schedulers), Version.parse!("1.2.3").minor}
    """

    assert {:ok, %{result: {2, 2}}} = Sandbox.run(code, pool: false, timeout: 10_000)
  end
end
