defmodule Sandbox.AtomLimitError do
  @moduledoc """
  Raised when decoding a run's result created more atoms in the host than
  `:max_new_atoms` allows. Atoms are never garbage collected, and a VM that
  runs out of them crashes: a result that creates many is refused loudly
  rather than handed back, so a loop of such runs stops at the first one.
  The atoms it did create stay.
  """

  defexception [:created, :limit]

  @type t :: %__MODULE__{created: non_neg_integer(), limit: non_neg_integer()}

  @impl true
  def message(%__MODULE__{created: created, limit: limit}) do
    "the sandbox result created #{created} atoms in the host, over :max_new_atoms (#{limit}); " <>
      "atoms are never garbage collected: return strings instead"
  end
end
