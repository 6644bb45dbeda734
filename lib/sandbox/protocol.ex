defmodule Sandbox.Protocol do
  @moduledoc false
  # What the host, the helper and the peer VM must agree on, read when this
  # module compiles from the one place it is written:
  # c_src/common/protocol.h. Each `#define SANDBOX_<NAME> <value>` there
  # (a decimal or a character literal) becomes a function `name/0` here,
  # usable in patterns through a module attribute, and `all/0` has them all.

  @header Path.expand("../../c_src/common/protocol.h", __DIR__)
  @external_resource @header

  @values (for line <- File.read!(@header) |> String.split("\n"),
               [_, name, value] <-
                 [Regex.run(~r/^#define SANDBOX_([A-Z0-9_]+) ('.'|\d+)(?:\s|$)/, line)] do
             value =
               case value do
                 <<?', char, ?'>> -> char
                 digits -> String.to_integer(digits)
               end

             {name |> String.downcase() |> String.to_atom(), value}
           end)

  if length(@values) < 20 do
    raise CompileError, description: "#{@header}: only #{length(@values)} values read"
  end

  for {name, value} <- @values do
    @doc false
    def unquote(name)(), do: unquote(value)
  end

  @doc "Every value, by name."
  @spec all() :: %{atom() => integer()}
  def all, do: unquote(Macro.escape(Map.new(@values)))
end
