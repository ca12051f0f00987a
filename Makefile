# spapr-tce build.
#
#   make                 build/libspaprtce.a, build/libspaprtce.so, build/spaprtce
#   make run             the main job (build/spaprtce demo)
#   make check           every Check suite (tests/check_*.c)
#   make check-race      the concurrency suites only (tests/check_race_*.c)
#   make bench           the benchmark programs; table on stdout, build/bench.json
#   make install / uninstall   honour PREFIX and DESTDIR
#   make SAN=address,undefined check    sanitizer build in build/san-address-undefined
#   make SAN=thread check-race          ThreadSanitizer build in build/san-thread
#
# Sources are found by wildcard: a new .c file in a layer folder joins the
# library, tests/check_*.c is a suite, bench/bench_*.c a benchmark.
# The library is built twice: release objects (fault injection compiled out)
# for the installed library, the program and the benchmarks; test objects
# (SPAPRTCE_FAULT_INJECT, SPAPRTCE_DEBUG) for the suites.

PREFIX ?= /usr/local
DESTDIR ?=
SAN ?=
CC ?= cc
VERSION := 0.1.0

comma := ,
ifeq ($(SAN),)
B := build
SANFLAGS :=
OPT := -O2
else
B := build/san-$(subst $(comma),-,$(SAN))
SANFLAGS := -fsanitize=$(SAN) -fno-sanitize-recover=all -fno-omit-frame-pointer
OPT := -O1
endif

# Evaluated when a recipe runs, i.e. after 'deps' has installed pkg-config.
DEP_CFLAGS = $(shell pkg-config --cflags numa)
DEP_LIBS = $(shell pkg-config --libs numa)
CHECK_CFLAGS = $(shell pkg-config --cflags check)
CHECK_LIBS = $(shell pkg-config --libs check)

WARN := -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wmissing-prototypes
BASE_CFLAGS := -std=gnu11 -g $(OPT) -fPIC -pthread -I. $(WARN) $(SANFLAGS) $(CFLAGS)
TEST_DEFS := -DSPAPRTCE_FAULT_INJECT -DSPAPRTCE_DEBUG
LDLIBS_ALL = $(DEP_LIBS) -lpthread $(SANFLAGS)

LAYERS := util emu mmreg tce spapr
LIB_SRCS := $(wildcard $(addsuffix /*.c,$(LAYERS)))
LIB_OBJS := $(patsubst %.c,$(B)/obj/%.o,$(LIB_SRCS))
TLIB_OBJS := $(patsubst %.c,$(B)/tobj/%.o,$(LIB_SRCS))
HEADERS := spapr/spapr.h emu/emu.h emu/mem.h mmreg/mmreg.h tce/tce.h
PUB_HEADERS := $(wildcard $(HEADERS))

CLI_SRCS := $(wildcard cli/*.c)
CLI_OBJS := $(patsubst %.c,$(B)/obj/%.o,$(CLI_SRCS))

SUITES := $(patsubst tests/%.c,%,$(wildcard tests/check_*.c))
RACE_SUITES := $(filter check_race_%,$(SUITES))
TEST_UTIL_SRCS := $(filter-out tests/check_%.c,$(wildcard tests/*.c))
TEST_UTIL_OBJS := $(patsubst %.c,$(B)/tobj/%.o,$(TEST_UTIL_SRCS))
SUITE_BINS := $(addprefix $(B)/tests/,$(SUITES))

BENCHES := $(patsubst bench/%.c,%,$(filter-out bench/bench_util.c,$(wildcard bench/bench_*.c)))
BENCH_BINS := $(addprefix $(B)/bench/,$(BENCHES))

.PHONY: all deps run check check-race bench install uninstall clean tests
.DEFAULT_GOAL := all
# Keep the objects of suites and benchmarks (intermediate through the pattern
# rules) for incremental builds; library objects are explicit prerequisites.
.SECONDARY: $(patsubst tests/%.c,$(B)/tobj/tests/%.o,$(wildcard tests/*.c)) \
	$(patsubst bench/%.c,$(B)/obj/bench/%.o,$(wildcard bench/*.c))

# The archives also depend on the list of their sources, so that adding or
# removing a file (or building once with LAYERS=...) rebuilds them.
SRCLIST := $(B)/.lib-sources
$(shell mkdir -p $(B); echo '$(LIB_SRCS)' | cmp -s - $(SRCLIST) 2>/dev/null || echo '$(LIB_SRCS)' > $(SRCLIST))

all: $(B)/libspaprtce.a $(B)/libspaprtce.so $(B)/spaprtce

deps:
	@sh scripts/deps.sh

$(B)/obj/%.o: %.c | deps
	@mkdir -p $(dir $@)
	$(CC) $(BASE_CFLAGS) $(DEP_CFLAGS) -MMD -MP -c $< -o $@

$(B)/tobj/tests/%.o: tests/%.c | deps
	@mkdir -p $(dir $@)
	$(CC) $(BASE_CFLAGS) $(TEST_DEFS) $(DEP_CFLAGS) $(CHECK_CFLAGS) -MMD -MP -c $< -o $@

$(B)/tobj/%.o: %.c | deps
	@mkdir -p $(dir $@)
	$(CC) $(BASE_CFLAGS) $(TEST_DEFS) $(DEP_CFLAGS) -MMD -MP -c $< -o $@

$(B)/libspaprtce.a: $(LIB_OBJS) $(SRCLIST)
	@rm -f $@
	ar rcs $@ $(LIB_OBJS)

$(B)/libspaprtce-test.a: $(TLIB_OBJS) $(SRCLIST)
	@rm -f $@
	ar rcs $@ $(TLIB_OBJS)

$(B)/libspaprtce.so: $(LIB_OBJS) $(SRCLIST)
	$(CC) -shared -Wl,-soname,libspaprtce.so.0 -o $@ $(LIB_OBJS) $(LDLIBS_ALL)

$(B)/obj/cli/main.o: BASE_CFLAGS += -DSPAPRTCE_VERSION='"$(VERSION)"'
$(B)/spaprtce: $(CLI_OBJS) $(B)/libspaprtce.a
	$(CC) -o $@ $(CLI_OBJS) $(B)/libspaprtce.a $(LDLIBS_ALL)

$(B)/tests/%: $(B)/tobj/tests/%.o $(TEST_UTIL_OBJS) $(B)/libspaprtce-test.a
	@mkdir -p $(dir $@)
	$(CC) -o $@ $< $(TEST_UTIL_OBJS) $(B)/libspaprtce-test.a $(CHECK_LIBS) $(LDLIBS_ALL)

# tests/check_fuzz_corpus.c replays every fuzz target: the list of
# tests/fuzz/fuzz_*.c goes into $(B)/gen/fuzz_targets.h (rewritten only when
# the list changes, so adding a target rebuilds the suite).
FUZZ_TARGETS_H := $(B)/gen/fuzz_targets.h
$(shell sh tests/fuzz/gen_targets.sh $(FUZZ_TARGETS_H))
$(B)/tobj/tests/check_fuzz_corpus.o: $(FUZZ_TARGETS_H)
$(B)/tobj/tests/check_fuzz_corpus.o: CHECK_CFLAGS += -I$(B)/gen
# tests/fuzz/fuzz_replay.c drives the program's trace parser and runner:
# the corpus suite links cli/trace_*.c (test objects) as well.
CLI_TRACE_TOBJS := $(patsubst %.c,$(B)/tobj/%.o,$(wildcard cli/trace_*.c))
$(B)/tests/check_fuzz_corpus: $(CLI_TRACE_TOBJS)
$(B)/tests/check_fuzz_corpus: TEST_UTIL_OBJS += $(CLI_TRACE_TOBJS)

$(B)/bench/%: $(B)/obj/bench/%.o $(B)/obj/bench/bench_util.o $(B)/libspaprtce.a
	@mkdir -p $(dir $@)
	$(CC) -o $@ $< $(B)/obj/bench/bench_util.o $(B)/libspaprtce.a $(LDLIBS_ALL) -lm

tests: $(SUITE_BINS)

# Each suite prints Check's summary line; the loop fails if any suite fails
# but runs them all first, so one failure does not hide another.
check: deps
	@$(MAKE) --no-print-directory tests $(B)/spaprtce
	@sh scripts/run-suites.sh $(B)/tests $(SUITES)

check-race: deps
	@$(MAKE) --no-print-directory $(addprefix $(B)/tests/,$(RACE_SUITES))
	@sh scripts/run-suites.sh $(B)/tests $(RACE_SUITES)

run: deps
	@$(MAKE) --no-print-directory $(B)/spaprtce
	$(B)/spaprtce demo

bench: deps
	@$(MAKE) --no-print-directory $(BENCH_BINS) $(B)/spaprtce
	@sh scripts/run-benches.sh $(B) $(BENCHES)

$(B)/spaprtce.pc: spaprtce.pc.in
	@mkdir -p $(B)
	sed -e 's|@PREFIX@|$(PREFIX)|' -e 's|@VERSION@|$(VERSION)|' $< > $@

install: all $(B)/spaprtce.pc
	install -d $(DESTDIR)$(PREFIX)/lib $(DESTDIR)$(PREFIX)/bin \
		$(DESTDIR)$(PREFIX)/lib/pkgconfig $(DESTDIR)$(PREFIX)/include/spaprtce
	install -m 644 $(B)/libspaprtce.a $(DESTDIR)$(PREFIX)/lib/
	install -m 755 $(B)/libspaprtce.so $(DESTDIR)$(PREFIX)/lib/libspaprtce.so.$(VERSION)
	ln -sf libspaprtce.so.$(VERSION) $(DESTDIR)$(PREFIX)/lib/libspaprtce.so.0
	ln -sf libspaprtce.so.0 $(DESTDIR)$(PREFIX)/lib/libspaprtce.so
	install -m 755 $(B)/spaprtce $(DESTDIR)$(PREFIX)/bin/
	for h in $(PUB_HEADERS) util/fail.h util/range.h util/rcu.h; do \
		install -D -m 644 $$h $(DESTDIR)$(PREFIX)/include/spaprtce/$$h || exit 1; done
	install -m 644 $(B)/spaprtce.pc $(DESTDIR)$(PREFIX)/lib/pkgconfig/

uninstall:
	rm -f $(DESTDIR)$(PREFIX)/lib/libspaprtce.a $(DESTDIR)$(PREFIX)/lib/libspaprtce.so* \
		$(DESTDIR)$(PREFIX)/bin/spaprtce $(DESTDIR)$(PREFIX)/lib/pkgconfig/spaprtce.pc
	rm -rf $(DESTDIR)$(PREFIX)/include/spaprtce

clean:
	rm -rf build

-include $(shell find $(B) -name '*.d' 2>/dev/null)

# ------------------------------------------------------------------ fuzzing
# make fuzz      libFuzzer + ASan + UBSan build of tests/fuzz/fuzz_*.c into
#                build/fuzz/ (tests/fuzz/build.sh, OSS-Fuzz style), then each
#                target runs FUZZ_SECONDS (60) from its seed corpus and
#                regressions; new inputs go to build/fuzz/corpus/<target>/,
#                crashes to build/fuzz/artifacts/<target>/.
# make fuzz-afl  the same targets built with AFL++'s afl-clang-fast into
#                build/fuzz-afl/ (installs Debian's afl++ when missing and
#                root), then afl-fuzz runs each for FUZZ_SECONDS.
# make fuzz-cov  line coverage of the fuzz corpus (clang source-based coverage).
# See docs/fuzzing.md.
FUZZ_SECONDS ?= 60
FUZZ_TARGETS := $(patsubst tests/fuzz/%.c,%,$(wildcard tests/fuzz/fuzz_*.c))
FUZZ_SAN := -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer

.PHONY: fuzz fuzz-build fuzz-afl fuzz-cov

fuzz-build: deps
	@CC=clang CXX=clang++ CFLAGS="-O1 -g $(FUZZ_SAN) -fsanitize=fuzzer-no-link" \
		LIB_FUZZING_ENGINE=-fsanitize=fuzzer OUT=build/fuzz FUZZ_REBUILD=1 \
		sh tests/fuzz/build.sh

fuzz: fuzz-build
	@for t in $(FUZZ_TARGETS); do \
		mkdir -p build/fuzz/corpus/$$t build/fuzz/artifacts/$$t; \
		echo "== $$t for $(FUZZ_SECONDS) s"; \
		build/fuzz/$$t -max_total_time=$(FUZZ_SECONDS) -print_final_stats=1 \
			-artifact_prefix=build/fuzz/artifacts/$$t/ build/fuzz/corpus/$$t \
			tests/fuzz/corpus/$$t $$(ls -d tests/fuzz/regressions/$$t 2>/dev/null) || exit 1; \
	done

fuzz-afl: deps
	@if ! command -v afl-clang-fast >/dev/null 2>&1 && [ "$$(id -u)" = 0 ]; then \
		echo "fuzz-afl: installing afl++ (Debian package)"; \
		apt-get install -y afl++ >/dev/null 2>&1 || \
			{ apt-get update >/dev/null 2>&1 && apt-get install -y afl++ >/dev/null 2>&1; }; \
	fi; \
	command -v afl-clang-fast >/dev/null 2>&1 || { echo "fuzz-afl: afl-clang-fast is not installed and" \
		"Debian's afl++ could not be installed (needs root and apt); nothing done" >&2; exit 1; }
	@CC=afl-clang-fast CXX=afl-clang-fast++ CFLAGS="-O1 -g" LIB_FUZZING_ENGINE=-fsanitize=fuzzer \
		OUT=build/fuzz-afl FUZZ_REBUILD=1 sh tests/fuzz/build.sh
	@for t in $(FUZZ_TARGETS); do \
		echo "== $$t under afl-fuzz for $(FUZZ_SECONDS) s"; \
		AFL_NO_UI=1 AFL_SKIP_CPUFREQ=1 AFL_I_DONT_CARE_ABOUT_MISSING_CRASHES=1 \
			afl-fuzz -V $(FUZZ_SECONDS) -i tests/fuzz/corpus/$$t -o build/fuzz-afl/out-$$t \
			-- build/fuzz-afl/$$t >build/fuzz-afl/$$t.log 2>&1 || { tail -20 build/fuzz-afl/$$t.log; exit 1; }; \
		grep -h "execs_per_sec\|saved_crashes\|edges_found" build/fuzz-afl/out-$$t/default/fuzzer_stats; \
		if ls build/fuzz-afl/out-$$t/default/crashes/id* >/dev/null 2>&1; then \
			echo "fuzz-afl: $$t crashed: build/fuzz-afl/out-$$t/default/crashes/" >&2; exit 1; fi; \
	done

fuzz-cov: deps
	@sh tests/fuzz/coverage.sh
