defmodule Sandbox.Handle do
  @moduledoc """
  A run started with `Sandbox.start/2`. Only the process that started it
  can `Sandbox.await/2` or `Sandbox.cancel/1` it, and the run is killed if
  that process dies. Await or cancel every handle: a run from a pool holds
  one of the pool's `:max_peers` until then.

  A run on another node (`:node`, or a cluster pool's choice) is owned
  there by a proxy process; the handle then holds the node, the proxy and
  the caller's monitor of it.
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
    # set in a proxy: the caller's {:sandbox_cancel, tag} cancels the run
    :cancel_tag,
    # a run on another node
    :node,
    :proxy,
    :proxy_monitor,
    warm?: false
  ]

  @opaque t :: %__MODULE__{}
end
