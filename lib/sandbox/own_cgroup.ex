defmodule Sandbox.OwnCgroup do
  @moduledoc false
  # The host's own cgroup in one hierarchy, as a directory where that
  # hierarchy is mounted: its path in /proc/self/cgroup, below the mount
  # whose root holds it (/proc/self/mountinfo). Nil where the hierarchy is
  # not there or not mounted where the host can see it (a mount of a
  # subtree the host is outside of, as in some containers).

  @typedoc "cgroup v2's single hierarchy, or the cgroup v1 hierarchy with this controller."
  @type hierarchy :: :v2 | {:v1, String.t()}

  @doc "The host's own cgroup directory in `hierarchy`, or nil."
  @spec dir(hierarchy()) :: String.t() | nil
  def dir(hierarchy) do
    with {:ok, cgroups} <- File.read("/proc/self/cgroup"),
         own when is_binary(own) <- own_path(cgroups, hierarchy),
         {:ok, mounts} <- File.read("/proc/self/mountinfo"),
         {root, point} <- mount(mounts, hierarchy),
         true <- String.starts_with?(own, root) do
      Path.join(point, String.replace_prefix(own, root, ""))
    else
      _ -> nil
    end
  end

  # /proc/self/cgroup: hierarchy-id:controllers:path, a line a hierarchy;
  # cgroup v2's is "0::path".
  defp own_path(cgroups, hierarchy) do
    cgroups
    |> String.split("\n", trim: true)
    |> Enum.find_value(fn line ->
      case String.split(line, ":", parts: 3) do
        ["0", "", path] when hierarchy == :v2 -> path
        [_id, controllers, path] -> if in_v1?(controllers, hierarchy), do: path
        _ -> nil
      end
    end)
  end

  # mountinfo: id parent dev root mount-point options ... - fstype source super-options
  defp mount(mounts, hierarchy) do
    mounts
    |> String.split("\n", trim: true)
    |> Enum.find_value(fn line ->
      with [fields, " " <> rest] <- String.split(line, " -", parts: 2),
           [fstype, _source, options] <- String.split(rest, " ", parts: 3),
           true <- mounts?(fstype, String.trim(options), hierarchy),
           [_id, _parent, _dev, root, point | _] <- String.split(fields, " ") do
        {root, point}
      else
        _ -> nil
      end
    end)
  end

  defp mounts?("cgroup2", _options, :v2), do: true
  defp mounts?("cgroup", options, hierarchy), do: in_v1?(options, hierarchy)
  defp mounts?(_fstype, _options, _hierarchy), do: false

  defp in_v1?(list, {:v1, controller}), do: controller in String.split(list, ",")
  defp in_v1?(_list, :v2), do: false
end
