defmodule Sandbox.BuildOutputTest do
  @moduledoc """
  Building the C core prints one short line a binary (in a consumer's
  `mix compile` too); `V=1` prints every command in full.
  """
  # Not async: the C compiler runs at the host's priority on both cores,
  # and other modules' VMs (under SCHED_IDLE) would get no CPU meanwhile.
  use ExUnit.Case, async: false

  @moduletag :tmp_dir
  @moduletag timeout: 180_000

  test "one short line a binary; V=1 prints the commands", %{tmp_dir: dir} do
    root = Path.expand("../..", __DIR__)

    for entry <- ~w(Makefile c_src scripts),
        do: File.cp_r!(Path.join(root, entry), Path.join(dir, entry))

    erts_include =
      Path.join([:code.root_dir(), "erts-#{:erlang.system_info(:version)}", "include"])

    make = fn args ->
      System.cmd(
        "make",
        ["-C", dir, "--no-print-directory", "ERTS_INCLUDE_DIR=#{erts_include}" | args],
        stderr_to_stdout: true
      )
    end

    assert {output, 0} = make.(["priv"])

    assert String.split(output, "\n", trim: true) ==
             for(
               binary <- ~w(sandbox_nif.so sandbox_guest_nif.so sandbox_helper sandbox_confine),
               do: "  built priv/#{binary}"
             )

    assert {verbose, 0} = make.(["priv", "V=1", "-B"])
    assert verbose =~ "-Wall -Wextra"
    assert verbose =~ "-o _build/native/priv/sandbox_helper.tmp"
    # Never a priv/ in the sources, which Mix would copy into a build.
    refute File.exists?(Path.join(dir, "priv"))
  end
end
