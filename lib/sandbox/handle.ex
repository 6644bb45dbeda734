defmodule Sandbox.Handle do
  @moduledoc """
  A run started with `Sandbox.start/2`. Only the process that started it
  can `Sandbox.await/2` or `Sandbox.cancel/1` it, and the run is killed if
  that process dies. Await or cancel every handle: a run from a pool holds
  one of the pool's `:max_peers` until then.
  """

  @enforce_keys [:owner, :options, :report?, :request, :started_at]
  defstruct [
    :owner,
    :options,
    :report?,
    :request,
    :started_at,
    :ref,
    :run,
    :pool,
    :lease,
    :tmp_dir,
    warm?: false
  ]

  @opaque t :: %__MODULE__{}
end
