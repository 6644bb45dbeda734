defmodule Sandbox.TestNative do
  @moduledoc "Calls to the C core for tests that drive it directly."

  @doc "The terms of a plain submit: a deadline and an output cap, nothing else."
  def terms(timeout, max_output) do
    %{
      timeout: timeout,
      max_output: max_output,
      output_limit: :infinity,
      report: false,
      stream_to: nil
    }
  end
end
