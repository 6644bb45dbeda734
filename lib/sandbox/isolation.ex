defmodule Sandbox.Isolation do
  @moduledoc false
  # isolation: :strict. The VM's command is wrapped in a box:
  #
  #   bwrap (bubblewrap): new user, PID, mount, network, IPC, UTS and
  #     cgroup namespaces, no further user namespaces, a root of read-only
  #     binds (the system, Erlang and Elixir, the code paths, :read_paths)
  #     plus :write_paths and a size-bounded tmpfs of the run's own (its
  #     working directory, HOME and TMPDIR), a fresh /proc, a minimal /dev,
  #     an environment of its own; it dies with the helper.
  #   sandbox_confine (c_src/confine): Landlock on the same paths, the
  #     seccomp filter, then a check that every step took effect (not root,
  #     no capabilities, no_new_privs, the filter on, none of the host's
  #     namespaces) before it executes erl.
  #
  # On a root host the helper drops to an unprivileged uid and gid (and no
  # groups) before it executes bwrap, so nothing in the box is ever root,
  # even outside its namespaces. The helper itself stays outside, as ever:
  # it owns the tree (cgroup, subreaper, limits, reports).

  alias Sandbox.{Launcher, Options, Protocol}

  # The box's own directory: its working directory, HOME and TMPDIR.
  @home "/sandbox"
  # Its host name: the host's own does not show in the box.
  @hostname "sandbox.box"

  # The user a root host's runs become: nobody's ids by default.
  @default_user {65534, 65534}

  # What programs need of /etc: the loader's cache, names of users and
  # groups, certificates, the time zone. Nothing else of the host's.
  @etc ~w(/etc/ld.so.cache /etc/ld.so.conf /etc/ld.so.conf.d /etc/passwd /etc/group
          /etc/nsswitch.conf /etc/ssl /etc/ca-certificates /etc/localtime /etc/alternatives)

  # The system's programs and libraries, where merged /usr links them.
  @system ~w(/usr /bin /sbin /lib /lib32 /lib64 /libx32)

  @namespaces ~w(user pid net ipc uts mnt cgroup)

  @doc "The box on this machine: whether strict runs can be had, and how."
  @spec info() :: map()
  def info do
    bwrap = System.find_executable("bwrap")
    confine = confine_path()

    missing =
      if(bwrap, do: [], else: ["bubblewrap (bwrap)"]) ++
        if(File.exists?(confine), do: [], else: ["#{confine} (build it: make priv)"]) ++
        List.wrap(user_namespaces_refused())

    abi = landlock_abi(confine)

    %{
      available: missing == [],
      missing: missing,
      mechanisms: ~w(user_namespace pid_namespace mount_namespace network_namespace ipc_namespace
           uts_namespace seccomp)a ++ if(abi > 0, do: [:landlock], else: []),
      landlock_abi: abi,
      user: if(root?(), do: user(), else: :own),
      bwrap: bwrap
    }
  end

  @doc """
  The helper's flags and the command that runs `argv` (erl's) in the box
  for `options`; `{:error, {:isolation, why}}` when the box cannot be had
  here, or a path given for it does not exist.
  """
  @spec wrap([String.t()], Options.t()) ::
          {:ok, {[String.t()], [String.t()]}} | {:error, {:isolation, String.t()}}
  def wrap(argv, %Options{} = options) do
    {:ok, box(argv, options)}
  catch
    {:unavailable, why} -> {:error, {:isolation, why}}
  end

  defp box(argv, options) do
    bwrap = System.find_executable("bwrap") || unavailable!("bubblewrap (bwrap) is not installed")
    confine = confine_path()
    unless File.exists?(confine), do: unavailable!("#{confine} is missing (make priv)")
    if why = user_namespaces_refused(), do: unavailable!(why)

    {uid, gid} = user()
    drop = ["--guest-output" | if(root?(), do: ["--user", "#{uid}:#{gid}"], else: [])]
    {ro, rw} = view(options)

    box =
      [
        bwrap,
        "--unshare-all",
        "--unshare-user",
        "--disable-userns",
        "--die-with-parent",
        "--new-session",
        # With a domain in the name, the VM's kernel need not look its own
        # name up to find one: no resolver program started, 5 to 10 ms off
        # each boot.
        "--hostname",
        @hostname,
        "--uid",
        "#{uid}",
        "--gid",
        "#{gid}",
        "--clearenv"
      ] ++
        Enum.flat_map(env(), fn {name, value} -> ["--setenv", name, value] end) ++
        binds(ro, "--ro-bind") ++
        ["--proc", "/proc", "--dev", "/dev"] ++
        binds(rw, "--bind") ++
        ["--size", "#{disk_bytes(options)}", "--tmpfs", @home, "--chdir", @home, "--"]

    confined =
      [confine] ++
        Enum.flat_map(["/proc" | Enum.map(ro, &elem(&1, 1))], &["--ro", &1]) ++
        Enum.flat_map(["/dev", @home | Enum.map(rw, &elem(&1, 1))], &["--rw", &1]) ++
        Enum.flat_map(host_namespaces(), &["--not-ns", &1]) ++ ["--"]

    output_fd = ["-sandbox_output_fd", "#{Protocol.fd_guest_output()}"]
    {drop, box ++ confined ++ argv ++ output_fd}
  end

  # {source, destination} pairs: what the box sees where. A path given
  # through a link is bound at the link's path, from where it leads.
  defp view(options) do
    required =
      Enum.map(options.read_paths, &{:read_paths, &1}) ++
        Enum.map(options.write_paths, &{:write_paths, &1})

    for {key, path} <- required, not File.exists?(path) do
      unavailable!("#{inspect(key)}: #{path} does not exist")
    end

    ro =
      (@system ++ @etc ++ erlang_and_elixir() ++ code_paths() ++ boot_dir() ++ options.read_paths)
      |> Enum.filter(&File.exists?/1)
      |> Enum.reject(&(&1 in options.write_paths))
      |> pairs()

    {ro, pairs(options.write_paths)}
  end

  defp pairs(paths) do
    paths
    |> Enum.uniq()
    |> Enum.reject(&covered_by_other?(&1, paths))
    |> Enum.map(&{resolve(&1), &1})
  end

  # /usr/lib/erlang/lib/x/ebin needs no bind of its own under /usr.
  defp covered_by_other?(path, paths) do
    Enum.any?(paths, &(&1 != path and String.starts_with?(path, &1 <> "/") and not link?(&1)))
  end

  defp link?(path), do: match?({:ok, %File.Stat{type: :symlink}}, File.lstat(path))

  defp resolve(path) do
    case :file.read_link_all(path) do
      {:ok, target} -> target |> List.to_string() |> Path.expand(Path.dirname(path))
      {:error, _} -> path
    end
  end

  # Where erl and Elixir are, when they are not under /usr.
  defp erlang_and_elixir do
    [List.to_string(:code.root_dir()), Path.dirname(List.to_string(:code.lib_dir(:elixir)))]
  end

  # The code paths the VM boots with, and each application's priv.
  defp code_paths do
    for path <- :code.get_path(),
        path = List.to_string(path),
        Path.type(path) == :absolute,
        dir <- [path, Path.join(Path.dirname(path), "priv")],
        do: dir
  end

  # Where the peers' boot files are (see Sandbox.BootFile).
  defp boot_dir do
    for kind <- [:run, :common],
        path = Sandbox.BootFile.path(kind),
        uniq: true,
        do: Path.dirname(path)
  end

  defp binds(pairs, flag), do: Enum.flat_map(pairs, fn {src, dest} -> [flag, src, dest] end)

  defp env do
    {_exec, exec_env} = Launcher.vm_executable()

    [
      {"PATH", "/usr/local/bin:/usr/bin:/bin"},
      {"HOME", @home},
      {"TMPDIR", @home},
      {"LANG", "C.UTF-8"}
    ] ++ Enum.sort(exec_env)
  end

  defp disk_bytes(%Options{disk_limit: :infinity}), do: Protocol.max_resource_limit()
  defp disk_bytes(%Options{disk_limit: bytes}), do: max(bytes, 4096)

  defp host_namespaces do
    for kind <- @namespaces,
        {:ok, %File.Stat{inode: inode}} <- [File.stat("/proc/self/ns/#{kind}")],
        do: "#{kind}:#{inode}"
  end

  defp confine_path, do: Path.join(:code.priv_dir(:sandbox), "sandbox_confine")

  defp user do
    case Application.get_env(:sandbox, :strict_user, @default_user) do
      {uid, gid} when is_integer(uid) and uid > 0 and is_integer(gid) and gid > 0 ->
        {uid, gid}

      other ->
        raise ArgumentError,
              "config :sandbox, :strict_user must be {uid, gid}, both above 0, got: " <>
                inspect(other)
    end
  end

  defp root?, do: File.read!("/proc/self/status") =~ ~r/^Uid:\s+0\s/m

  # The kernel's Landlock ABI, as sandbox_confine finds it (0: none; it
  # applies Landlock where there is one). Asked once.
  defp landlock_abi(confine) do
    Sandbox.Once.get({__MODULE__, :landlock_abi}, fn ->
      case File.exists?(confine) && System.cmd(confine, ["--landlock-abi"]) do
        {text, 0} -> String.to_integer(String.trim(text))
        _ -> 0
      end
    end)
  end

  defp unavailable!(why), do: throw({:unavailable, why})

  # The box is made by an unprivileged user (a root host's helper drops
  # first), so it needs the kernel to give users namespaces. These
  # settings refuse them outright; a refusal they do not show (a
  # container's seccomp profile, say) is bwrap's to report, see refusal/1.
  @userns_settings [
    {"/proc/sys/user/max_user_namespaces", "0",
     "user namespaces are off (user.max_user_namespaces is 0)"},
    {"/proc/sys/kernel/unprivileged_userns_clone", "0",
     "user namespaces are off for users (kernel.unprivileged_userns_clone is 0)"},
    {"/proc/sys/kernel/apparmor_restrict_unprivileged_userns", "1",
     "AppArmor keeps users from user namespaces (kernel.apparmor_restrict_unprivileged_userns is 1)"}
  ]

  defp user_namespaces_refused do
    Enum.find_value(@userns_settings, fn {path, refused, why} ->
      with {:ok, text} <- File.read(path),
           ^refused <- String.trim(text),
           do: why,
           else: (_ -> nil)
    end)
  end

  @doc """
  What the box's own tools said when they refused to make it (bwrap's
  or sandbox_confine's line in the output of a VM that never started),
  or `nil` when they said nothing: the VM failed for another reason.
  """
  @spec refusal(binary()) :: String.t() | nil
  def refusal(output) do
    output
    |> String.split("\n")
    |> Enum.find(
      &(String.starts_with?(&1, "bwrap: ") or String.starts_with?(&1, "sandbox_confine: "))
    )
  end
end
