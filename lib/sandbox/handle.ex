defmodule Sandbox.Handle do
  @moduledoc """
  A run started with `Sandbox.start/2`. Only the process that started it
  can `Sandbox.await/2` or `Sandbox.cancel/1` it, and the run is killed if
  that process dies. Await or cancel every handle: a run from a pool holds
  one of the pool's `:max_peers` until then.

  A run on this node is a `Sandbox.Handle.Local`; one on another node
  (`:node`, or a cluster pool's choice), owned there by a proxy process, a
  `Sandbox.Handle.Remote`. Both are opaque.
  """

  @type t :: Sandbox.Handle.Local.t() | Sandbox.Handle.Remote.t()

  @doc "Whether `term` is a handle."
  defguard is_handle(term)
           when is_struct(term, Sandbox.Handle.Local) or is_struct(term, Sandbox.Handle.Remote)
end

defmodule Sandbox.Handle.Local do
  @moduledoc false
  # A run on this node: the VM (a pool's or its own), the code it runs, and what must be given back when it is over (a pool's lease,
  # a private directory).

  @enforce_keys [:owner, :options, :report?, :code, :started_at]
  defstruct [
    :owner,
    :options,
    :report?,
    :code,
    :started_at,
    :ref,
    :vm,
    :pool,
    :lease,
    :tmp_dir,
    # set in a proxy: the caller's {:sandbox_cancel, tag} cancels the run
    :cancel_tag,
    warm?: false,
    # a VM killed while it booted was replaced once already
    rebooted?: false
  ]

  @type t :: %__MODULE__{}
end

defmodule Sandbox.Handle.Remote do
  @moduledoc false
  # A run on another node: the proxy that owns it there, and the caller's
  # monitor of that proxy.

  @enforce_keys [:owner, :options, :report?, :started_at, :ref, :node]
  defstruct [:owner, :options, :report?, :started_at, :ref, :node, :proxy, :proxy_monitor]

  @type t :: %__MODULE__{}
end
