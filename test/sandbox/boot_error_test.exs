defmodule Sandbox.BootErrorTest do
  @moduledoc "A VM that cannot boot raises Sandbox.BootError saying what failed, with its output."
  use ExUnit.Case, async: true

  alias Sandbox.{BootError, Native}

  test "a VM that does not boot within :boot_timeout" do
    error = assert_raise BootError, fn -> Sandbox.run("1", boot_timeout: 0) end
    assert error.reason == :timeout
    assert Exception.message(error) =~ "did not start within :boot_timeout"
  end

  test "an erl that cannot be executed: the helper's report and the exit status reach the caller" do
    ref = make_ref()
    helper = Path.join(:code.priv_dir(:sandbox), "sandbox_helper")
    {:ok, run} = Native.spawn(helper, ["-", "/nonexistent/erl"], [], ref, 10_000)
    :ok = Native.submit(run, "request", Sandbox.TestNative.terms(1_000, 1_000))

    assert_receive {:sandbox, ^ref,
                    {:boot_failed, :exited, output, {:exit_status, 127}} = outcome},
                   5_000

    assert output =~ "cannot start /nonexistent/erl: No such file or directory"

    {:boot_failed, reason, output, exit} = outcome
    message = Exception.message(%BootError{reason: reason, output: output, exit: exit})
    assert message =~ "it exited with status 127 before starting"
    assert message =~ "cannot start /nonexistent/erl"
  end

  test "a helper that cannot be spawned is refused with its reason" do
    assert {:error, {"posix_spawn", 2, "No such file or directory"}} =
             Native.spawn("/nonexistent/helper", ["-", "/bin/true"], [], make_ref(), 1_000)
  end
end
