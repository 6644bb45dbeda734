# :slow tests take minutes: `make test-slow` runs them (CI does). :root
# tests need root (mounting a cgroup2 hierarchy); CI runs as root.
root? = File.read!("/proc/self/status") =~ ~r/^Uid:\s+0\s/m
ExUnit.start(exclude: [:slow] ++ if(root?, do: [], else: [:root]))
