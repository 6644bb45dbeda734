defmodule Sandbox.ProtocolTest do
  @moduledoc """
  c_src/common/protocol.h is the one place the host, the helper and the
  peer agree on: the C core compiles it, Sandbox.Protocol reads it.
  """
  use ExUnit.Case, async: true

  test "the C core and Sandbox.Protocol read the same values from protocol.h" do
    from_c = Map.drop(Sandbox.Native.constants(), [:eperm, :einval, :enospc])
    assert Sandbox.Protocol.all() == from_c
  end

  test "the defaults and bounds of the options come from it" do
    defaults = Sandbox.Options.validate!("1", [])
    assert defaults.boot_timeout == Sandbox.Protocol.boot_timeout_ms()

    assert_raise ArgumentError, ~r/:memory_limit/, fn ->
      Sandbox.Options.validate!("1", memory_limit: Sandbox.Protocol.max_resource_limit() + 1)
    end

    assert %{memory_limit: limit} =
             Sandbox.Options.validate!("1", memory_limit: Sandbox.Protocol.max_resource_limit())

    assert limit == Sandbox.Protocol.max_resource_limit()
  end
end
