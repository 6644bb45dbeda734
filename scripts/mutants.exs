# The mutant runner behind `make mutants`: each entry of test/mutants.exs
# is a one-line change to the source that breaks a guarantee the README
# makes. Each is applied to a scratch copy of this tree, the copy is
# rebuilt, and the tests the entry names are run; they must fail. A mutant
# they let through (it "survives") means the guarantee is not really tested.
#
#   elixir scripts/mutants.exs [--jobs N] [--only id,id] [--timeout S] [--keep]
#
#   --jobs N      scratch copies that run mutants at once (default 2);
#                 entries marked `alone: true` run after the rest, one at a time
#   --only ids    run only these entries
#   --timeout S   seconds one mutant's tests may take before they count as
#                 failed (default 300; a hung test is a failing one)
#   --keep        leave the scratch copies in place
#
# Every test run is wrapped in the reaper (c_src/test_tools/reaper.c) with
# --kill-leftovers: a mutant that breaks the tree kill must not leave its
# processes on the machine. Exits 0 only if every mutant was killed.

defmodule Mutants do
  @root Path.expand("..", __DIR__)
  @list Path.join(@root, "test/mutants.exs")
  @reaper Path.join(@root, "_build/native/reaper")
  @c_tests "_build/native/c_tests"

  def main(args) do
    {opts, _, invalid} =
      OptionParser.parse(args,
        strict: [jobs: :integer, only: :string, timeout: :integer, keep: :boolean]
      )

    if invalid != [], do: fail!("unknown arguments: #{inspect(invalid)}")

    mutants = @list |> Code.eval_file() |> elem(0) |> Enum.map(&check_entry!/1) |> select(opts)
    check_unique_ids!(mutants)
    jobs = Keyword.get(opts, :jobs, 2)
    timeout = Keyword.get(opts, :timeout, 300)

    shell!("make", ["-s", "-C", @root, "_build/native/reaper"])

    scratch = Path.join(System.tmp_dir!(), "sandbox-mutants-#{System.pid()}")

    {together, alone} = Enum.split_with(mutants, &(not Map.get(&1, :alone, false)))
    workers = max(1, min(jobs, max(length(together), 1)))

    IO.puts(
      "mutants: #{length(mutants)} (#{length(alone)} alone), #{workers} copies in #{scratch}"
    )

    started = System.monotonic_time(:millisecond)
    copies = for i <- 1..workers, do: make_copy!(scratch, i)
    {:ok, free} = Agent.start_link(fn -> copies end)

    results = run_all(together, free, workers, timeout) ++ run_all(alone, free, 1, timeout)

    unless opts[:keep], do: File.rm_rf!(scratch)
    report(results, System.monotonic_time(:millisecond) - started)
  end

  defp select(mutants, opts) do
    case opts[:only] do
      nil ->
        mutants

      ids ->
        wanted = String.split(ids, ",", trim: true)
        unknown = wanted -- Enum.map(mutants, & &1.id)
        if unknown != [], do: fail!("no such mutants: #{Enum.join(unknown, ", ")}")
        Enum.filter(mutants, &(&1.id in wanted))
    end
  end

  # ---- the list ------------------------------------------------------------

  defp check_entry!(%{id: id, file: file, from: from, to: to, breaks: breaks, tests: tests} = m)
       when is_binary(id) and is_binary(file) and is_binary(from) and is_binary(to) and
              is_binary(breaks) and is_list(tests) and tests != [] do
    path = Path.join(@root, file)
    unless File.regular?(path), do: fail!("#{id}: no file #{file}")

    if String.contains?(from, "\n") or String.contains?(to, "\n"),
      do: fail!("#{id}: a mutant changes one line; :from and :to hold no newline")

    if from == to, do: fail!("#{id}: :to is :from")

    case count(File.read!(path), from) do
      1 -> :ok
      n -> fail!("#{id}: #{inspect(from)} is in #{file} #{n} times, not once")
    end

    Map.put(m, :tests, Enum.map(tests, &parse_test!(id, &1)))
  end

  defp check_entry!(other), do: fail!("malformed entry: #{inspect(other)}")

  defp check_unique_ids!(mutants) do
    dups = mutants |> Enum.frequencies_by(& &1.id) |> Enum.filter(fn {_, n} -> n > 1 end)
    if dups != [], do: fail!("ids used twice: #{inspect(Keyword.keys(dups))}")
  end

  defp count(text, part), do: length(String.split(text, part)) - 1

  # "c: suite/name" is a Criterion test; "test/x_test.exs: name" an ExUnit
  # test, named as ExUnit names it (the describe block first, if any).
  defp parse_test!(_id, "c: " <> filter), do: {:c, filter}

  defp parse_test!(id, spec) do
    case String.split(spec, ".exs: ", parts: 2) do
      [file, name] ->
        file = file <> ".exs"
        unless File.regular?(Path.join(@root, file)), do: fail!("#{id}: no test file #{file}")
        {:exunit, file, name}

      _ ->
        fail!("#{id}: a test is \"c: suite/name\" or \"test/..._test.exs: name\": #{spec}")
    end
  end

  # ---- scratch copies --------------------------------------------------------

  defp make_copy!(scratch, i) do
    dir = Path.join(scratch, "copy#{i}")
    File.mkdir_p!(dir)
    # tar keeps modification times, so make and mix rebuild nothing at first.
    shell!("sh", [
      "-c",
      "tar -C \"$1\" --exclude=./.git -cf - . | tar -C \"$2\" -xf -",
      "copy",
      @root,
      dir
    ])

    # The C core's objects are rebuilt in the copy: their dependency files
    # name the original tree's absolute paths, so a header changed here
    # would rebuild nothing.
    File.rm_rf!(Path.join(dir, "_build/test/lib/sandbox/native"))
    shell!("make", ["-s", "-C", dir | c_core_places(dir)] ++ ["priv", @c_tests])
    shell!("mix", ["compile"], cd: dir, env: [{"MIX_ENV", "test"}])
    dir
  end

  # The C core where `mix test` finds it (the compiler's PRIV and OBJ): a
  # mutant built there is up to date for mix, which then builds nothing.
  defp c_core_places(dir) do
    app = Path.join(dir, "_build/test/lib/sandbox")
    ["PRIV=#{app}/priv", "OBJ=#{app}/native"]
  end

  # ---- running ----------------------------------------------------------------

  defp run_all([], _free, _workers, _timeout), do: []

  defp run_all(mutants, free, workers, timeout) do
    mutants
    |> Task.async_stream(
      fn m ->
        dir = Agent.get_and_update(free, fn [dir | rest] -> {dir, rest} end)

        try do
          result = run_one(m, dir, timeout)
          print(result)
          result
        after
          Agent.update(free, &[dir | &1])
        end
      end,
      max_concurrency: workers,
      timeout: :infinity,
      ordered: false
    )
    |> Enum.map(fn {:ok, result} -> result end)
  end

  defp run_one(m, dir, timeout) do
    started = System.monotonic_time(:millisecond)
    path = Path.join(dir, m.file)
    original = File.read!(path)
    File.write!(path, String.replace(original, m.from, m.to))

    verdict =
      try do
        with :ok <- build(dir, m), do: run_tests(dir, m, timeout)
      after
        # Mix sees a source as changed only when its modification time, in
        # whole seconds, is past its last build's: a restore (or the next
        # mutant) written in the second of that build would go unbuilt, and
        # the next run would test the wrong code.
        Process.sleep(1_100)
        File.write!(path, original)
      end

    {m, verdict, (System.monotonic_time(:millisecond) - started) / 1000}
  end

  defp build(dir, m) do
    c_tests = if Enum.any?(m.tests, &match?({:c, _}, &1)), do: [@c_tests], else: []

    args = ["-s", "-C", dir, "WERROR=" | c_core_places(dir)] ++ ["priv" | c_tests]

    case System.cmd("make", args, stderr_to_stdout: true) do
      {_, 0} -> :ok
      {out, _} -> {:error, "the mutant does not build:\n" <> tail(out)}
    end
  end

  defp run_tests(dir, m, timeout) do
    {c, exunit} = Enum.split_with(m.tests, &match?({:c, _}, &1))

    with :survived <- run_c(dir, c, timeout) do
      run_exunit(dir, exunit, timeout)
    end
  end

  defp run_c(_dir, [], _timeout), do: :survived

  defp run_c(dir, [{:c, filter} | rest], timeout) do
    args = [
      "--kill-leftovers",
      "timeout",
      "-k",
      "10",
      "#{timeout}",
      Path.join(dir, @c_tests),
      "--jobs",
      "1",
      "--filter",
      filter
    ]

    {out, status} = System.cmd(@reaper, args, stderr_to_stdout: true, cd: dir)

    cond do
      status != 0 ->
        {:killed, "c: #{filter}"}

      not (out =~ ~r/Tested: [1-9]/) ->
        {:error, "the Criterion test #{filter} does not exist:\n" <> tail(out)}

      true ->
        run_c(dir, rest, timeout)
    end
  end

  defp run_exunit(_dir, [], _timeout), do: :survived

  defp run_exunit(dir, tests, timeout) do
    files = tests |> Enum.map(fn {:exunit, file, _} -> file end) |> Enum.uniq()
    only = Enum.flat_map(tests, fn {:exunit, _, name} -> ["--only", "test:test " <> name] end)

    args =
      ["--kill-leftovers", "timeout", "-k", "10", "#{timeout}", "mix", "test"] ++
        files ++ only ++ ["--max-failures", "1", "--color", "false"]

    # WERROR empty for the compiler's make too, should it build anything.
    env = [{"MIX_ENV", "test"}, {"WERROR", ""}]
    {out, status} = System.cmd(@reaper, args, stderr_to_stdout: true, cd: dir, env: env)

    case summary(out) do
      _ when status in [124, 137] ->
        {:killed, "timed out after #{timeout} s"}

      nil ->
        {:error, "the tests did not run:\n" <> tail(out)}

      {_ran, failures} when failures > 0 ->
        {:killed, first_failure(out)}

      {ran, 0} when ran < length(tests) ->
        {:error, "only #{ran} of the #{length(tests)} named tests exist:\n" <> tail(out)}

      {_ran, 0} when status != 0 ->
        {:error, "mix test exited with #{status} and no failure:\n" <> tail(out)}

      {_ran, 0} ->
        :survived
    end
  end

  # "24 tests, 1 failure, 23 excluded": tests run and failures.
  defp summary(out) do
    case Regex.run(~r/(\d+) tests?, (\d+) failures?(.*)$/m, out) do
      [_, total, failures, rest] ->
        not_run =
          Regex.scan(~r/(\d+) (?:excluded|skipped|invalid)/, rest)
          |> Enum.map(fn [_, n] -> String.to_integer(n) end)
          |> Enum.sum()

        {String.to_integer(total) - not_run, String.to_integer(failures)}

      nil ->
        nil
    end
  end

  defp first_failure(out) do
    case Regex.run(~r/^\s+1\) (test .*)$/m, out) do
      [_, name] -> name
      nil -> "a failure"
    end
  end

  # ---- reporting ----------------------------------------------------------------

  defp print({m, verdict, seconds}) do
    time = :io_lib.format("~6.1fs", [seconds])

    line =
      case verdict do
        {:killed, by} -> "killed   #{time}  #{m.id}: by #{by}"
        :survived -> "SURVIVED #{time}  #{m.id}: #{m.file}: #{m.breaks}"
        {:error, why} -> "ERROR    #{time}  #{m.id}: #{why}"
      end

    IO.puts(line)
  end

  defp report(results, elapsed_ms) do
    survivors = for {m, :survived, _} <- results, do: m.id
    errors = for {m, {:error, _}, _} <- results, do: m.id
    killed = length(results) - length(survivors) - length(errors)

    IO.puts(
      "\nmutants: #{killed} killed, #{length(survivors)} survived, #{length(errors)} errors " <>
        "in #{div(elapsed_ms, 1000)} s"
    )

    if survivors != [], do: IO.puts("survived: #{Enum.join(survivors, ", ")}")
    if errors != [], do: IO.puts("errors: #{Enum.join(errors, ", ")}")
    System.halt(if survivors == [] and errors == [], do: 0, else: 1)
  end

  defp tail(out), do: out |> String.split("\n") |> Enum.take(-30) |> Enum.join("\n")

  defp shell!(command, args, opts \\ []) do
    case System.cmd(command, args, [stderr_to_stdout: true] ++ opts) do
      {_, 0} -> :ok
      {out, status} -> fail!("#{command} #{Enum.join(args, " ")} exited with #{status}:\n#{out}")
    end
  end

  defp fail!(message) do
    IO.puts(:stderr, "mutants: " <> message)
    System.halt(2)
  end
end

Mutants.main(System.argv())
