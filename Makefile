# sandbox: build, test and check. Run `make help` for the targets.
#
# `make run` and `make test` work on a fresh Debian machine: they first
# install whatever system packages are missing (scripts/ensure-system-deps).

ifneq ($(shell uname -s),Linux)
$(error sandbox runs on Linux only: its C core relies on prctl, pidfd, signalfd and epoll)
endif

SHELL := /bin/bash
MIX ?= mix

# mix's compiler passes this; computed here only when make runs by hand.
ERTS_INCLUDE_DIR ?= $(shell erl -noshell -eval 'io:format("~ts/erts-~ts/include", [code:root_dir(), erlang:system_info(version)]), halt().')

# Mutants (make mutants) build with WERROR= : a one-line change may leave
# a parameter unused without being any less of a mutant.
WERROR ?= -Werror
WARNINGS := -Wall -Wextra $(WERROR) -Wshadow -Wstrict-prototypes -Wmissing-prototypes \
            -Wformat=2 -Wvla -Wpointer-arith
CFLAGS ?= -O2
ALL_CFLAGS := -std=c11 -D_GNU_SOURCE $(WARNINGS) -fstack-protector-strong $(CFLAGS)

# Quiet by default, in a consumer's `mix compile` too: one short line a
# binary built. V=1 prints every command in full.
ifeq ($(V),1)
Q :=
built := @true
else
Q := @
built := @echo "  built"
endif

BUILD := _build/native
# Where the C core's binaries and their objects go: _build/native/priv and
# _build/native by hand. The Mix compiler gives its application's build
# directory (_build/<env>/lib/sandbox), as elixir_make does: a dependency's
# sources (deps/sandbox, maybe read-only) are never written to. Never a
# top-level priv/: Mix would copy it, older binaries and all, over the
# ones it builds.
PRIV ?= $(BUILD)/priv
OBJ ?= $(BUILD)
NIF := $(PRIV)/sandbox_nif.so
GUEST_NIF := $(PRIV)/sandbox_guest_nif.so
HELPER := $(PRIV)/sandbox_helper
CONFINE := $(PRIV)/sandbox_confine

# One folder a binary (c_src/nif, c_src/helper, c_src/guest), and what more
# than one of them links (c_src/common, c_src/protocol.h).
COMMON_SRC := $(wildcard c_src/common/*.c)
NIF_SRC := $(wildcard c_src/nif/*.c) $(COMMON_SRC)
GUEST_NIF_SRC := $(wildcard c_src/guest/*.c) c_src/common/fdio.c c_src/common/unwritten.c
HELPER_SRC := $(wildcard c_src/helper/*.c) $(COMMON_SRC)
CONFINE_SRC := $(wildcard c_src/confine/*.c) c_src/common/fdio.c c_src/common/decimal.c
# What the C unit tests and the fuzz targets link: everything but the
# three entry points and the NIF's ERTS-bound files.
TESTED_SRC := $(COMMON_SRC) $(filter-out c_src/helper/sandbox_helper.c,$(wildcard c_src/helper/*.c)) \
              c_src/nif/output.c c_src/nif/frame.c c_src/nif/deadline.c c_src/nif/run_fsm.c \
              c_src/confine/landlock.c c_src/confine/syscall_filter.c
TEST_SRC := $(wildcard c_src/test/*.c)
C_HEADERS := $(wildcard c_src/*.h c_src/*/*.h)

NIF_OBJ := $(NIF_SRC:c_src/%.c=$(OBJ)/pic/%.o)
GUEST_NIF_OBJ := $(GUEST_NIF_SRC:c_src/%.c=$(OBJ)/pic/%.o)
HELPER_OBJ := $(HELPER_SRC:c_src/%.c=$(OBJ)/exe/%.o)
CONFINE_OBJ := $(CONFINE_SRC:c_src/%.c=$(OBJ)/exe/%.o)
TEST_BIN := $(BUILD)/c_tests

.PHONY: all priv deps run bench test test-slow c-test test-asan test-valgrind fuzz mutants check check-musl dialyzer clean help

all: priv

help:
	@echo "make run CODE='IO.puts(1 + 1)'  evaluate code in the sandbox (installs, builds)"
	@echo "make test                       C unit tests and the ExUnit suite (installs, builds)"
	@echo "make test-slow                  the ExUnit tests tagged :slow (minutes)"
	@echo "make bench [BENCH_ARGS=--quick] package vs pure-Elixir baseline; writes bench/RESULTS.md"
	@echo "make check                      formatting, warnings, clang-format, cppcheck, clang build, dialyzer"
	@echo "make test-asan                  C unit tests under AddressSanitizer and UBSan"
	@echo "make test-valgrind              C unit tests under valgrind memcheck"
	@echo "make fuzz [FUZZ_SECONDS=10]     libFuzzer on every parser of peer input and on output capping"
	@echo "make mutants [MUTANTS_ARGS=...]  each mutant of test/mutants.exs must fail its tests"
	@echo "make priv                       build the C core into _build/native/priv"
	@echo "make clean                      remove C build products"

priv: $(NIF) $(GUEST_NIF) $(HELPER) $(CONFINE)

# Linked aside and renamed into place: a running VM may have the old .so
# loaded or the old helper executing, and must never see a half-written file.
$(NIF): $(NIF_OBJ)
	@mkdir -p $(@D)
	$(Q)$(CC) -shared -o $@.tmp $^ $(LDFLAGS) && mv -f $@.tmp $@
	$(built) priv/$(@F)

$(GUEST_NIF): $(GUEST_NIF_OBJ)
	@mkdir -p $(@D)
	$(Q)$(CC) -shared -o $@.tmp $^ $(LDFLAGS) && mv -f $@.tmp $@
	$(built) priv/$(@F)

$(HELPER): $(HELPER_OBJ)
	@mkdir -p $(@D)
	$(Q)$(CC) -o $@.tmp $^ $(LDFLAGS) && mv -f $@.tmp $@
	$(built) priv/$(@F)

# Inside a strict run's box: Landlock and the seccomp filter (libseccomp).
$(CONFINE): $(CONFINE_OBJ)
	@mkdir -p $(@D)
	$(Q)$(CC) -o $@.tmp $^ $(LDFLAGS) -lseccomp && mv -f $@.tmp $@
	$(built) priv/$(@F)

$(OBJ)/pic/%.o: c_src/%.c
	@mkdir -p $(@D)
	$(Q)$(CC) $(ALL_CFLAGS) -Ic_src -fPIC -fvisibility=hidden -isystem "$(ERTS_INCLUDE_DIR)" -MMD -MP -c $< -o $@

$(OBJ)/exe/%.o: c_src/%.c
	@mkdir -p $(@D)
	$(Q)$(CC) $(ALL_CFLAGS) -Ic_src -MMD -MP -c $< -o $@

-include $(NIF_OBJ:.o=.d) $(GUEST_NIF_OBJ:.o=.d) $(HELPER_OBJ:.o=.d) $(CONFINE_OBJ:.o=.d)

# ---- set-up --------------------------------------------------------------

deps:
	@scripts/ensure-system-deps $(DEPS_FOR)

run: DEPS_FOR := build
# $(value ...): the code reaches the shell untouched by make's own expansion.
run: export SANDBOX_CODE := $(value CODE)
run: deps
	@if [ -z "$$SANDBOX_CODE" ]; then echo "usage: make run CODE='IO.puts(1 + 1)'" >&2; exit 2; fi
	@$(MIX) sandbox.run -- "$$SANDBOX_CODE"

# The host gets 2 dirty IO schedulers: the concurrency figure is defined
# for that. The table goes to bench/RESULTS.md (--quick runs print only).
BENCH_ARGS ?= --output bench/RESULTS.md
bench: DEPS_FOR := build
bench: deps
	elixir --erl "+SDio 2" -S $(MIX) sandbox.bench $(BENCH_ARGS)

# ---- tests ---------------------------------------------------------------

test: DEPS_FOR := test
test: deps c-test
	MIX_ENV=test $(MIX) test $(TEST_ARGS)

# The tests tagged :slow (minutes each); CI runs them.
test-slow: DEPS_FOR := test
test-slow: deps
	MIX_ENV=test $(MIX) test --only slow $(TEST_ARGS)

c-test: $(TEST_BIN)
	$(TEST_BIN) --jobs 1

$(TEST_BIN): $(TEST_SRC) $(TESTED_SRC) $(C_HEADERS)
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) -O1 -g -Ic_src -o $@ $(TEST_SRC) $(TESTED_SRC) -lcriterion -lseccomp

# Used by the ExUnit host-death test (built on demand there too) and by
# the mutant runner.
REAPER := $(BUILD)/reaper
REAPER_SRC := c_src/test_tools/reaper.c c_src/helper/tree.c c_src/common/pids.c \
              c_src/common/decimal.c c_src/common/fdio.c

$(REAPER): $(REAPER_SRC) $(C_HEADERS)
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) -Ic_src -o $@ $(REAPER_SRC)

# Used by the ExUnit test of a VM traced by a process of its run.
TRACER := $(BUILD)/tracer

$(TRACER): c_src/test_tools/tracer.c
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) -o $@ $<

ASAN_BIN := $(BUILD)/c_tests_asan
SANITIZE := -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer

test-asan: DEPS_FOR := test
test-asan: deps $(ASAN_BIN)
	ASAN_OPTIONS=detect_leaks=1 $(ASAN_BIN) --jobs 1

$(ASAN_BIN): $(TEST_SRC) $(TESTED_SRC) $(C_HEADERS)
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) -O1 -g $(SANITIZE) -Ic_src -o $@ $(TEST_SRC) $(TESTED_SRC) -lcriterion -lseccomp

# Not the confine suite: valgrind runs every system call itself and knows
# neither Landlock's nor a seccomp filter's (nor garbage arguments to the
# calls the filter refuses); ASan runs that suite.
test-valgrind: DEPS_FOR := valgrind
test-valgrind: deps $(TEST_BIN)
	valgrind --quiet --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite,indirect \
	  --trace-children=yes $(TEST_BIN) --jobs 1 --filter '!(confine/*)'

# ---- mutants -------------------------------------------------------------

# Each one-line change in test/mutants.exs breaks a guarantee; the tests it
# names must fail on it (scripts/mutants.exs: --jobs N, --only id,id).
MUTANTS_ARGS ?=
mutants: DEPS_FOR := test
mutants: deps $(TEST_BIN) $(REAPER)
	MIX_ENV=test $(MIX) compile
	elixir scripts/mutants.exs $(MUTANTS_ARGS)

# ---- fuzzing -------------------------------------------------------------

FUZZ_TARGETS := frame helper_line output tree
FUZZ_SECONDS ?= 10
FUZZ_BIN := $(FUZZ_TARGETS:%=$(BUILD)/fuzz/fuzz_%)

# New inputs go to a scratch corpus; the committed seeds stay as they are.
fuzz: DEPS_FOR := fuzz
fuzz: deps $(FUZZ_BIN)
	@for target in $(FUZZ_TARGETS); do \
	  mkdir -p $(BUILD)/fuzz/corpus_$$target; \
	  echo "fuzz_$$target: $(FUZZ_SECONDS) s"; \
	  $(BUILD)/fuzz/fuzz_$$target -max_total_time=$(FUZZ_SECONDS) -print_final_stats=1 \
	    -artifact_prefix=$(BUILD)/fuzz/ $(BUILD)/fuzz/corpus_$$target c_src/fuzz/corpus/$$target \
	    2>&1 | grep -E "^(stat::number_of_executed_runs|==|SUMMARY|INFO: Running)|ERROR|Done" ; \
	  test $${PIPESTATUS[0]} -eq 0 || exit 1; \
	done

$(BUILD)/fuzz/fuzz_%: c_src/fuzz/fuzz_%.c $(TESTED_SRC) $(C_HEADERS)
	@mkdir -p $(@D)
	clang -std=c11 -D_GNU_SOURCE $(WARNINGS) -g -O1 -fsanitize=fuzzer,address,undefined \
	  -fno-sanitize-recover=all -Ic_src -o $@ $< $(TESTED_SRC) -lseccomp

# ---- checks --------------------------------------------------------------

C_FILES := $(wildcard c_src/*.h c_src/*/*.c c_src/*/*.h)

check: DEPS_FOR := check
check: deps
	$(MIX) format --check-formatted
	MIX_ENV=test $(MIX) compile --warnings-as-errors --force
	clang-format --dry-run --Werror $(C_FILES)
	cppcheck --quiet --error-exitcode=1 --enable=warning,style,portability,performance \
	  --std=c11 -D_GNU_SOURCE --suppress=missingIncludeSystem \
	  -I c_src -I "$(ERTS_INCLUDE_DIR)" c_src
	$(MAKE) --no-print-directory clean-native
	$(MAKE) --no-print-directory priv CC=clang
	$(MAKE) --no-print-directory clean-native
	$(MAKE) --no-print-directory priv
	scripts/check-glibc-symbols $(NIF) $(GUEST_NIF) $(HELPER) $(CONFINE)
	$(MAKE) --no-print-directory check-musl
	$(MAKE) --no-print-directory dialyzer

# The sources build with musl too (Alpine): each one compiled (not linked:
# this machine's libseccomp is glibc's), musl's headers first, then the
# system's kernel and libseccomp headers, which musl does not ship.
MUSL_SRC := $(sort $(NIF_SRC) $(GUEST_NIF_SRC) $(HELPER_SRC) $(CONFINE_SRC))

.PHONY: check-musl
check-musl:
	@mkdir -p $(BUILD)/musl
	$(Q)for source in $(MUSL_SRC); do \
	  musl-gcc $(ALL_CFLAGS) -Ic_src -isystem "$(ERTS_INCLUDE_DIR)" -idirafter /usr/include \
	    -idirafter /usr/include/$$(gcc -dumpmachine) -c $$source \
	    -o $(BUILD)/musl/$$(echo $$source | tr / _).o || exit 1; \
	done
	@echo "musl: all $(words $(MUSL_SRC)) sources compile"

# Dialyzer (Debian's erlang-dialyzer) on the package as users build it.
# The PLT of OTP and Elixir takes a minute to build: it is kept under
# _build, one per OTP and Elixir version.
ELIXIR_LIB = $(shell elixir -e 'IO.puts(:code.lib_dir(:elixir) |> Path.dirname() |> Path.expand())')
PLT = _build/dialyzer/otp-$(shell erl -noshell -eval 'io:format("~s", [erlang:system_info(otp_release)]), halt().')-elixir-$(shell elixir -e 'IO.write(System.version())').plt

.PHONY: dialyzer
dialyzer:
	$(MIX) compile --warnings-as-errors
	@mkdir -p _build/dialyzer
	@[[ -f $(PLT) ]] || dialyzer -pa $(ELIXIR_LIB)/elixir/ebin --build_plt --output_plt $(PLT) \
	  --apps erts kernel stdlib compiler crypto \
	  $(ELIXIR_LIB)/elixir/ebin $(ELIXIR_LIB)/logger/ebin $(ELIXIR_LIB)/mix/ebin
	dialyzer -pa $(ELIXIR_LIB)/elixir/ebin --plt $(PLT) --no_check_plt _build/dev/lib/sandbox/ebin

.PHONY: clean-native
clean-native:
	rm -rf $(BUILD) $(OBJ) $(NIF) $(GUEST_NIF) $(HELPER) $(CONFINE)

clean: clean-native
