defmodule Sandbox.PeerCommand do
  @moduledoc """
  The command line and environment of a peer VM: `erl` from the host's own
  root, a unique node name with no distribution listener and no EPMD, no
  shell and no input, crash dumps off, and `Sandbox.Peer` as the entry point.
  """

  @typedoc "What the helper executes: argv (argv[0] is `erl`) and the environment."
  @type t :: %{argv: [String.t()], env: [String.t()]}

  # Variables that would change the peer VM's own arguments: the peer must
  # boot exactly as built here, whatever the host was started with.
  @vm_flag_variables ~w(ERL_FLAGS ERL_AFLAGS ERL_ZFLAGS ERL_CRASH_DUMP ERL_CRASH_DUMP_SECONDS)

  @doc "Builds the command for one fresh peer."
  @spec build() :: t()
  def build do
    %{argv: [erl_path() | vm_args()], env: environment()}
  end

  @doc "The `erl` of the running VM's own installation."
  @spec erl_path() :: String.t()
  def erl_path do
    root = List.to_string(:code.root_dir())
    in_bin = Path.join([root, "bin", "erl"])

    if File.exists?(in_bin),
      do: in_bin,
      else: Path.join([root, "erts-#{:erlang.system_info(:version)}", "bin", "erl"])
  end

  defp vm_args do
    [
      # No shell, nothing read from stdin (the peer's stdin is /dev/null).
      "-noshell",
      "-noinput",
      # No node name on the command line: `Sandbox.Peer` starts
      # distribution itself, without a listener (see there). Whatever it
      # may try, no EPMD, no global name traffic, and a cookie nobody knows
      # (also: no ~/.erlang.cookie written).
      "-start_epmd",
      "false",
      "-connect_all",
      "false",
      "-setcookie",
      random_token(),
      "-sandbox_node",
      node_name(),
      "-pa"
    ] ++
      host_paths() ++
      [
        "-s",
        "Elixir.Sandbox.Peer",
        "start"
      ]
  end

  defp environment do
    System.get_env()
    |> Map.drop(@vm_flag_variables)
    |> Map.put("ERL_CRASH_DUMP_SECONDS", "0")
    |> Enum.map(fn {key, value} -> key <> "=" <> value end)
  end

  # The host's code paths as they are now, minus OTP's own (the peer has
  # those), reversed because `-pa` adds them one by one at the front.
  # Paths added later travel with the request.
  defp host_paths do
    otp_lib = :code.lib_dir()
    own = [own_ebin(), List.to_string(:code.lib_dir(:elixir, :ebin))]

    :code.get_path()
    |> Enum.reject(&List.starts_with?(&1, otp_lib))
    |> Enum.map(&List.to_string/1)
    |> Kernel.++(own)
    |> Enum.uniq()
    |> Enum.reverse()
  end

  defp own_ebin, do: Path.dirname(List.to_string(:code.which(Sandbox.Peer)))

  defp node_name do
    "sandbox_#{System.pid()}_#{System.unique_integer([:positive])}_#{random_token()}"
  end

  defp random_token do
    Integer.to_string(:rand.uniform(0x3FFFFFFFFFFFFFFF), 36) |> String.downcase()
  end
end
