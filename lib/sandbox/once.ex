defmodule Sandbox.Once do
  @moduledoc false
  # Values found once per host VM (an installation's paths, the kernel's
  # Landlock ABI, the cgroup parent): the first call computes, every later
  # one reads a persistent term. Two first callers may both compute; both
  # get the same value, as each computation finds the same.

  @doc "The value kept under `key`, from `compute` on the first call."
  @spec get(term(), (() -> value)) :: value when value: term()
  def get(key, compute) do
    case :persistent_term.get(key, __MODULE__) do
      __MODULE__ ->
        value = compute.()
        :persistent_term.put(key, value)
        value

      value ->
        value
    end
  end
end
