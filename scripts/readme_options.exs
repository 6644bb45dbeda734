# Rewrites the option table in README.md from Sandbox.Options.doc_table/0,
# the one place the options are documented (a test checks the two agree):
#
#   MIX_ENV=test mix run scripts/readme_options.exs
readme = Path.expand("../README.md", __DIR__)
text = File.read!(readme)
[before, rest] = String.split(text, "| option | default | meaning |\n", parts: 2)
[_old, after_table] = String.split(rest, "\n\n", parts: 2)
File.write!(readme, before <> Sandbox.Options.doc_table() <> "\n" <> after_table)
IO.puts("README.md: option table rewritten")
