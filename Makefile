# spapr-tce build.
#
#   make                 build/libspaprtce.a, build/libspaprtce.so, build/spaprtce, and
#                        the fault-injection build libspaprtce-fi.{a,so}, the
#                        test-support library libspaprtce-testing.a, build/pkgconfig/
#   make run             the main job (build/spaprtce demo)
#   make check           every Check suite (tests/check_*.c, tests/check_cxx.cc), then
#                        check-abi (exports) and check-install (examples/ out of tree,
#                        install layout)
#   make check QUIRKS=kernel   every Check suite with the machine in kernel mode
#                        (SPAPRTCE_MACHINE=quirks=kernel; logs in build/tests/logs-kernel/)
#   make check-race      the concurrency suites only (tests/check_race_*.c)
#   make bench           the benchmark programs; table on stdout, build/bench.json
#   make install / uninstall   honour PREFIX, LIBDIR, INCLUDEDIR, BINDIR,
#                        PKGCONFIGDIR and DESTDIR (the ABI and install section)
#   make SAN=address,undefined check    sanitizer build in build/san-address-undefined
#   make SAN=thread check-race          ThreadSanitizer build in build/san-thread
#
# Sources are found by wildcard: a new .c file in a layer folder joins the
# library, tests/check_*.c is a suite, bench/bench_*.c a benchmark.
# The library is built twice: release objects (fault injection compiled out)
# for the installed library, the program and the benchmarks; test objects
# (SPAPRTCE_FAULT_INJECT, SPAPRTCE_DEBUG) for the suites.

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

# Another compiler than cc/gcc (make CC=clang) builds in its own folder
# (build/clang, build/san-address-undefined-clang): objects never mix.
CC_TAG := $(if $(filter cc gcc,$(notdir $(CC))),,$(notdir $(CC)))
ifneq ($(CC_TAG),)
B := $(if $(SAN),$(B)-$(CC_TAG),build/$(CC_TAG))
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

# -------------------------------------------- ABI and install: variables
# (rules in the "ABI, install, test-support library" section further down)
PREFIX ?= /usr/local
LIBDIR ?= $(PREFIX)/lib
INCLUDEDIR ?= $(PREFIX)/include
BINDIR ?= $(PREFIX)/bin
PKGCONFIGDIR ?= $(LIBDIR)/pkgconfig
MANDIR ?= $(PREFIX)/share/man
DESTDIR ?=
SOVERSION := 0
CXX ?= g++
# Library objects are compiled with hidden visibility: the shared libraries
# export exactly the declarations the public headers mark SPAPRTCE_API
# (scripts/check-abi.sh enforces it in make check).
VISFLAGS := -fvisibility=hidden
# The public headers, installed flat as $(INCLUDEDIR)/spaprtce/<name>; in the
# tree include/spaprtce/ holds them too (symlinks), so <spaprtce/spapr.h>
# works both against the build tree (-I<repo>/include) and installed.
API_HEADERS := spapr/spapr.h emu/emu.h include/spaprtce/probe.h include/spaprtce/testing.h
# The test-support library for users' tests (include/spaprtce/testing.h):
# testing/probe.c is compiled into libspaprtce itself (it reads internals);
# the other testing/*.c, which use Check, make libspaprtce-testing.a.
TESTING_LIB_SRCS := testing/probe.c
TESTING_SRCS := $(filter-out $(TESTING_LIB_SRCS),$(wildcard testing/*.c))
# util/errno_name.c is hidden inside libspaprtce.so: the testing library
# carries its own copy of the one table (tu_errname prints through it).
TESTING_OBJS := $(patsubst %.c,$(B)/tobj/%.o,$(TESTING_SRCS) util/errno_name.c)
# Built by 'make' next to the historical three outputs.
LIB_EXTRA := $(B)/libspaprtce.so.$(SOVERSION) $(B)/libspaprtce-fi.so.$(SOVERSION) $(B)/libspaprtce-fi.a \
	$(B)/libspaprtce-testing.a $(B)/pkgconfig/spaprtce.pc
# What make check runs besides tests/check_*.c: the C++ suite (public headers
# from C++, linked against the .so), then the export and install checks.
CHECK_EXTRA_SUITES := check_cxx
CHECK_EXTRA_DEPS := $(B)/tests/check_cxx $(LIB_EXTRA)
CHECK_EXTRA := check-abi check-install

LAYERS := util emu mmreg tce spapr
LIB_SRCS := $(wildcard $(addsuffix /*.c,$(LAYERS))) $(TESTING_LIB_SRCS)
LIB_OBJS := $(patsubst %.c,$(B)/obj/%.o,$(LIB_SRCS))
TLIB_OBJS := $(patsubst %.c,$(B)/tobj/%.o,$(LIB_SRCS))
$(LIB_OBJS) $(TLIB_OBJS): BASE_CFLAGS += $(VISFLAGS)
# A change of the library's compile flags (e.g. VISFLAGS) rebuilds its objects.
LIB_FLAGSTAMP := $(B)/.lib-cflags
$(shell mkdir -p $(B); echo '$(BASE_CFLAGS) $(VISFLAGS)' | cmp -s - $(LIB_FLAGSTAMP) 2>/dev/null || \
	echo '$(BASE_CFLAGS) $(VISFLAGS)' > $(LIB_FLAGSTAMP))
$(LIB_OBJS) $(TLIB_OBJS): $(LIB_FLAGSTAMP)

CLI_SRCS := $(wildcard cli/*.c)
CLI_OBJS := $(patsubst %.c,$(B)/obj/%.o,$(CLI_SRCS))

SUITES := $(patsubst tests/%.c,%,$(wildcard tests/check_*.c))
RACE_SUITES := $(filter check_race_%,$(SUITES))
TEST_UTIL_SRCS := $(filter-out tests/check_%.c,$(wildcard tests/*.c))
TEST_UTIL_OBJS := $(patsubst %.c,$(B)/tobj/%.o,$(TEST_UTIL_SRCS))
SUITE_BINS := $(addprefix $(B)/tests/,$(SUITES))

BENCHES := $(patsubst bench/%.c,%,$(filter-out bench/bench_util.c,$(wildcard bench/bench_*.c)))
BENCH_BINS := $(addprefix $(B)/bench/,$(BENCHES))

.PHONY: all deps run check check-race bench install uninstall clean tests check-abi check-install
.DEFAULT_GOAL := all
# Keep the objects of suites and benchmarks (intermediate through the pattern
# rules) for incremental builds; library objects are explicit prerequisites.
.SECONDARY: $(patsubst tests/%.c,$(B)/tobj/tests/%.o,$(wildcard tests/*.c)) \
	$(patsubst bench/%.c,$(B)/obj/bench/%.o,$(wildcard bench/*.c))

# The archives also depend on the list of their sources, so that adding or
# removing a file (or building once with LAYERS=...) rebuilds them.
SRCLIST := $(B)/.lib-sources
$(shell mkdir -p $(B); echo '$(LIB_SRCS)' | cmp -s - $(SRCLIST) 2>/dev/null || echo '$(LIB_SRCS)' > $(SRCLIST))

all: $(B)/libspaprtce.a $(B)/libspaprtce.so $(B)/spaprtce $(LIB_EXTRA)

deps:
	@sh scripts/deps.sh

$(B)/obj/%.o: %.c | deps
	@mkdir -p $(dir $@)
	$(CC) $(BASE_CFLAGS) $(DEP_CFLAGS) -MMD -MP -c $< -o $@

# The tests build VFIO's variable-sized requests (vfio_irq_set with its
# eventfds, vfio_pci_hot_reset with its group fds) as a struct followed by
# its payload, as QEMU does: a GNU extension clang warns about (gcc ignores
# the unknown -Wno- option).
TEST_WARN := -Wno-gnu-variable-sized-type-not-at-end

$(B)/tobj/tests/%.o: tests/%.c | deps
	@mkdir -p $(dir $@)
	$(CC) $(BASE_CFLAGS) $(TEST_WARN) $(TEST_DEFS) $(DEP_CFLAGS) $(CHECK_CFLAGS) -MMD -MP -c $< -o $@

$(B)/tobj/testing/%.o: testing/%.c | deps
	@mkdir -p $(dir $@)
	$(CC) $(BASE_CFLAGS) $(TEST_DEFS) $(DEP_CFLAGS) $(CHECK_CFLAGS) -MMD -MP -c $< -o $@

$(B)/tobj/%.o: %.c | deps
	@mkdir -p $(dir $@)
	$(CC) $(BASE_CFLAGS) $(TEST_DEFS) $(DEP_CFLAGS) -MMD -MP -c $< -o $@

$(B)/obj/cli/main.o: BASE_CFLAGS += -DSPAPRTCE_VERSION='"$(VERSION)"'
$(B)/spaprtce: $(CLI_OBJS) $(B)/libspaprtce.a
	$(CC) -o $@ $(CLI_OBJS) $(B)/libspaprtce.a $(LDLIBS_ALL)

$(B)/tests/%: $(B)/tobj/tests/%.o $(TEST_UTIL_OBJS) $(B)/libspaprtce-testing.a $(B)/libspaprtce-fi.a
	@mkdir -p $(dir $@)
	$(CC) -o $@ $< $(TEST_UTIL_OBJS) $(B)/libspaprtce-testing.a $(B)/libspaprtce-fi.a \
		$(CHECK_LIBS) $(LDLIBS_ALL)

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
#
# QUIRKS=kernel: every suite (the C++ one too) runs with the machine in
# kernel mode, quirks=kernel added to SPAPRTCE_MACHINE (docs/quirks.md,
# docs/testing.md); a test whose answer a quirk changes states both
# expectations.  The export and install checks do not depend on the mode
# and are not run again.  Logs go to $(B)/tests/logs-kernel/.
QUIRKS ?=
ifeq ($(QUIRKS),kernel)
CHECK_ENV = SPAPRTCE_MACHINE="$${SPAPRTCE_MACHINE:+$$SPAPRTCE_MACHINE,}quirks=kernel" \
	SUITES_LOGS=$(B)/tests/logs-kernel
CHECK_AFTER :=
else ifeq ($(filter-out fixed,$(QUIRKS)),)
CHECK_ENV :=
CHECK_AFTER = $(CHECK_EXTRA)
else
$(error QUIRKS must be fixed (the default) or kernel, not "$(QUIRKS)")
endif
check: deps
	@$(MAKE) --no-print-directory tests $(B)/spaprtce $(CHECK_EXTRA_DEPS)
	@$(if $(CHECK_ENV),echo "== every suite with SPAPRTCE_MACHINE's quirks=kernel";) \
		$(CHECK_ENV) sh scripts/run-suites.sh $(B)/tests $(SUITES) $(CHECK_EXTRA_SUITES)
	@for t in $(CHECK_AFTER); do $(MAKE) --no-print-directory $$t || exit 1; done

check-race: deps
	@$(MAKE) --no-print-directory $(addprefix $(B)/tests/,$(RACE_SUITES))
	@sh scripts/run-suites.sh $(B)/tests $(RACE_SUITES)

run: deps
	@$(MAKE) --no-print-directory $(B)/spaprtce
	$(B)/spaprtce demo

bench: deps
	@$(MAKE) --no-print-directory $(BENCH_BINS) $(B)/spaprtce
	@sh scripts/run-benches.sh $(B) $(BENCHES)

clean:
	rm -rf build

-include $(shell find $(B) -path $(B)/guest -prune -o -name '*.d' -type f -print 2>/dev/null)

# ------------------------------------- ABI, install, test-support library
# libspaprtce.{a,so}: release objects.  libspaprtce-fi.{a,so}: the test
# objects (SPAPRTCE_FAULT_INJECT, SPAPRTCE_DEBUG), which the suites link and
# which users link for fail-nth sweeps.  Each .so has its SONAME
# (lib<name>.so.$(SOVERSION)); the build tree gets the SONAME symlink too, so
# a program linked against build/ runs with LD_LIBRARY_PATH=build.
$(B)/libspaprtce.a: $(LIB_OBJS) $(SRCLIST)
	@rm -f $@
	ar rcs $@ $(LIB_OBJS)

$(B)/libspaprtce-fi.a: $(TLIB_OBJS) $(SRCLIST)
	@rm -f $@
	ar rcs $@ $(TLIB_OBJS)

$(B)/libspaprtce.so: $(LIB_OBJS) $(SRCLIST)
	$(CC) -shared -Wl,-soname,libspaprtce.so.$(SOVERSION) -o $@ $(LIB_OBJS) $(LDLIBS_ALL)

$(B)/libspaprtce-fi.so: $(TLIB_OBJS) $(SRCLIST)
	$(CC) -shared -Wl,-soname,libspaprtce-fi.so.$(SOVERSION) -o $@ $(TLIB_OBJS) $(LDLIBS_ALL)

$(B)/%.so.$(SOVERSION): $(B)/%.so
	ln -sf $*.so $@

$(B)/libspaprtce-testing.a: $(TESTING_OBJS)
	@rm -f $@
	ar rcs $@ $(TESTING_OBJS)

# pkg-config: $(B)/pkgconfig/ describes the build tree (PKG_CONFIG_PATH=
# <repo>/build/pkgconfig), $(B)/pkgconfig-install/ the installed prefix.
PC_NAMES := spaprtce spaprtce-fi spaprtce-testing
pc_sed = sed -e 's|@PREFIX@|$(1)|' -e 's|@LIBDIR@|$(2)|' -e 's|@INCLUDEDIR@|$(3)|' \
	-e 's|@VERSION@|$(VERSION)|' -e 's|@LIB@|$(4)|'
pc_template = $(if $(filter spaprtce-testing,$(1)),spaprtce-testing.pc.in,spaprtce.pc.in)

$(B)/pkgconfig/%.pc: spaprtce.pc.in spaprtce-testing.pc.in
	@mkdir -p $(dir $@)
	$(call pc_sed,$(CURDIR),$(abspath $(B)),$(CURDIR)/include,$*) $(call pc_template,$*) > $@

$(B)/pkgconfig-install/%.pc: spaprtce.pc.in spaprtce-testing.pc.in FORCE
	@mkdir -p $(dir $@)
	$(call pc_sed,$(PREFIX),$(LIBDIR),$(INCLUDEDIR),$*) $(call pc_template,$*) > $@.tmp
	@cmp -s $@.tmp $@ 2>/dev/null && rm -f $@.tmp || mv $@.tmp $@

.PHONY: FORCE
FORCE:

$(B)/pkgconfig/spaprtce.pc: $(addprefix $(B)/pkgconfig/,spaprtce-fi.pc spaprtce-testing.pc)

# The C++ suite: every public header compiled as C++11, linked against the
# shared library (rpath to the build tree) and the test-support library.
$(B)/tests/check_cxx: tests/check_cxx.cc $(API_HEADERS) $(B)/libspaprtce.so $(B)/libspaprtce-testing.a | deps
	@mkdir -p $(dir $@)
	$(CXX) -std=c++11 -Wall -Wextra -Werror -pedantic -g $(SANFLAGS) -Iinclude $(CHECK_CFLAGS) \
		-o $@ $< $(B)/libspaprtce-testing.a -L$(B) -lspaprtce \
		-Wl,-rpath,$(abspath $(B)) $(CHECK_LIBS) $(LDLIBS_ALL)

check-abi: $(B)/libspaprtce.so $(B)/libspaprtce-fi.so
	@sh scripts/check-abi.sh "$(CC)" $(B) $(API_HEADERS)

check-install: $(LIB_EXTRA) $(B)/spaprtce
	@MAKE="$(MAKE)" sh scripts/check-install.sh $(B) "$(SAN)"

INSTALL_PC := $(addprefix $(B)/pkgconfig-install/,$(addsuffix .pc,$(PC_NAMES)))
install: all $(INSTALL_PC)
	install -d $(DESTDIR)$(LIBDIR) $(DESTDIR)$(BINDIR) $(DESTDIR)$(PKGCONFIGDIR) \
		$(DESTDIR)$(INCLUDEDIR)/spaprtce
	install -m 644 $(B)/libspaprtce.a $(B)/libspaprtce-fi.a $(B)/libspaprtce-testing.a \
		$(DESTDIR)$(LIBDIR)/
	for l in libspaprtce libspaprtce-fi; do \
		install -m 755 $(B)/$$l.so $(DESTDIR)$(LIBDIR)/$$l.so.$(VERSION) && \
		ln -sf $$l.so.$(VERSION) $(DESTDIR)$(LIBDIR)/$$l.so.$(SOVERSION) && \
		ln -sf $$l.so.$(SOVERSION) $(DESTDIR)$(LIBDIR)/$$l.so || exit 1; done
	install -m 755 $(B)/spaprtce $(DESTDIR)$(BINDIR)/
	install -m 755 $(DROPIN_SO) $(DESTDIR)$(LIBDIR)/
	install -m 644 $(API_HEADERS) $(DESTDIR)$(INCLUDEDIR)/spaprtce/
	install -m 644 $(INSTALL_PC) $(DESTDIR)$(PKGCONFIGDIR)/
	install -D -m 644 man/spaprtce.1 $(DESTDIR)$(MANDIR)/man1/spaprtce.1

uninstall:
	for l in libspaprtce libspaprtce-fi; do \
		rm -f $(DESTDIR)$(LIBDIR)/$$l.a $(DESTDIR)$(LIBDIR)/$$l.so \
			$(DESTDIR)$(LIBDIR)/$$l.so.$(SOVERSION) $(DESTDIR)$(LIBDIR)/$$l.so.$(VERSION); done
	rm -f $(DESTDIR)$(LIBDIR)/libspaprtce-testing.a $(DESTDIR)$(BINDIR)/spaprtce \
		$(DESTDIR)$(LIBDIR)/libspaprtce-preload.so
	rm -f $(DESTDIR)$(MANDIR)/man1/spaprtce.1
	rm -f $(addprefix $(DESTDIR)$(PKGCONFIGDIR)/,$(addsuffix .pc,$(PC_NAMES)))
	rm -f $(addprefix $(DESTDIR)$(INCLUDEDIR)/spaprtce/,$(notdir $(API_HEADERS)))
	-rmdir $(DESTDIR)$(INCLUDEDIR)/spaprtce 2>/dev/null

# ------------------------------------------------------------------ fuzzing
# make fuzz      libFuzzer + ASan + UBSan build of tests/fuzz/fuzz_*.c into
#                build/fuzz/ (tests/fuzz/build.sh, OSS-Fuzz style), then each
#                target runs FUZZ_SECONDS (60) from its seed corpus and
#                regressions (tests/fuzz/run.sh: one summary line per target,
#                libFuzzer's output in build/fuzz/logs/); new inputs go to
#                build/fuzz/corpus/<target>/, crashes to
#                build/fuzz/artifacts/<target>/.  CI runs it with FUZZ_SECONDS=30.
# make fuzz-build  the build alone (scripts/deps-fuzz.sh installs clang and
#                compiler-rt when missing, as root).
# make fuzz-afl  the same targets built with AFL++'s afl-clang-fast into
#                build/fuzz-afl/ (installs Debian's afl++ when missing and
#                root), then afl-fuzz runs each for FUZZ_SECONDS.
# make fuzz-cov  line coverage of the fuzz corpus (clang source-based coverage).
# See docs/fuzzing.md.
FUZZ_SECONDS ?= 60
FUZZ_TARGETS := $(patsubst tests/fuzz/%.c,%,$(wildcard tests/fuzz/fuzz_*.c))
FUZZ_SAN := -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer

.PHONY: fuzz fuzz-build fuzz-deps fuzz-speed fuzz-afl fuzz-cov

fuzz-deps: deps
	@sh scripts/deps-fuzz.sh

fuzz-build: fuzz-deps
	@CC=clang CXX=clang++ CFLAGS="-O1 -g $(FUZZ_SAN) -fsanitize=fuzzer-no-link" \
		LIB_FUZZING_ENGINE=-fsanitize=fuzzer OUT=build/fuzz FUZZ_REBUILD=1 \
		sh tests/fuzz/build.sh

fuzz: fuzz-build
	@sh tests/fuzz/run.sh build/fuzz $(FUZZ_SECONDS) $(FUZZ_TARGETS)

# make fuzz-speed  each target against its decode-only variant (same harness
#                and decoding, no library call), FUZZ_SPEED_ROUNDS (3) rounds of
#                FUZZ_SPEED_SECONDS (10) each, alternated: median exec/s, spread,
#                ratio on stdout and in build/fuzz-speed.json.
FUZZ_SPEED_SECONDS ?= 10
FUZZ_SPEED_ROUNDS ?= 3
fuzz-speed: fuzz-deps
	@CC=clang CXX=clang++ CFLAGS="-O1 -g $(FUZZ_SAN) -fsanitize=fuzzer-no-link" \
		LIB_FUZZING_ENGINE=-fsanitize=fuzzer OUT=build/fuzz FUZZ_REBUILD=1 FUZZ_DECODE=1 \
		sh tests/fuzz/build.sh >/dev/null
	@FUZZ_SPEED_ROUNDS=$(FUZZ_SPEED_ROUNDS) sh tests/fuzz/speed.sh $(FUZZ_SPEED_SECONDS) $(FUZZ_TARGETS)

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
	@sh scripts/deps-fuzz.sh cov
	@sh tests/fuzz/coverage.sh

# ------------------------------------------------------- drop-in layer, clients
# build/libspaprtce-preload.so  the drop-in layer (dropin/*.c): preloaded into
#                an unmodified program, it serves /dev/vfio and the VFIO sysfs
#                from the shared libspaprtce.so (found next to it: rpath
#                $ORIGIN), one emulator per process.  See docs/dropin.md.
# make check-clients   real clients (DPDK 22.11, QEMU 7.2) through `spaprtce exec`.
DROPIN_SRCS := $(wildcard dropin/*.c)
# spapr/record_fmt.c, the trace lines, serves the library's recorder and the layer's.
DROPIN_OBJS := $(patsubst %.c,$(B)/obj/%.o,$(DROPIN_SRCS)) $(B)/obj/spapr/record_fmt.o
DROPIN_SO := $(B)/libspaprtce-preload.so

all: $(DROPIN_SO)
tests: $(DROPIN_SO) $(B)/spaprtce

# The layer exports only its hooks (EXPORT in dropin/hooks_*.c).
# -Wno-missing-attributes: the 64 aliases need not repeat libc's nothrow/leaf
# (gcc's warning; -Wno-unknown-warning-option lets clang, which lacks it, build too).
$(B)/obj/dropin/%.o: BASE_CFLAGS += -fvisibility=hidden -Wno-missing-attributes -Wno-unknown-warning-option

$(DROPIN_SO): $(DROPIN_OBJS) $(B)/libspaprtce.so $(B)/libspaprtce.so.0
	$(CC) -shared -Wl,-soname,libspaprtce-preload.so -Wl,-rpath,'$$ORIGIN' -o $@ $(DROPIN_OBJS) \
		$(B)/libspaprtce.so -ldl $(LDLIBS_ALL)

# `spaprtce exec` finds the layer next to itself, in ../lib, ../lib64,
# ../lib/<multiarch triplet> (the compiler's, fixed: Debian's LIBDIR), then
# in the directories of LD_LIBRARY_PATH (any other LIBDIR).
MULTIARCH := $(shell $(CC) -print-multiarch 2>/dev/null)
$(B)/obj/cli/exec.o: BASE_CFLAGS += -DSPAPRTCE_MULTIARCH='"$(MULTIARCH)"'

# `spaprtce exec --list` prints the machine's devices with the layer's own table.
$(B)/spaprtce: $(B)/obj/dropin/machine.o
$(B)/spaprtce: CLI_OBJS += $(B)/obj/dropin/machine.o

# The suite runs under the layer (it re-executes itself with LD_PRELOAD) and
# links the shared library, so its emu_* calls see the layer's machine.
$(B)/tests/check_dropin: $(B)/tobj/tests/check_dropin.o $(B)/libspaprtce.so.0 $(DROPIN_SO) $(B)/spaprtce \
		$(B)/tests/libdropin-standin.so
	@mkdir -p $(dir $@)
	$(CC) -o $@ $< -Wl,-rpath,'$$ORIGIN/..' $(B)/libspaprtce.so $(CHECK_LIBS) -ldl $(LDLIBS_ALL)

# The record mode's stand-in "kernel" for check_dropin (dropin/backend.c).
$(B)/tests/libdropin-standin.so: tests/clients/dropin_standin.c $(B)/libspaprtce.so.0
	@mkdir -p $(dir $@)
	$(CC) $(BASE_CFLAGS) -shared -o $@ $< -Wl,-rpath,'$$ORIGIN/..' $(B)/libspaprtce.so $(LDLIBS_ALL)

# Real clients: built against Debian's dpdk-dev (pkg-config libdpdk) and the
# shared libspaprtce.so; scripts/clients-deps.sh installs the packages.
$(B)/clients/dpdk_client: tests/clients/dpdk_client.c $(B)/libspaprtce.so.0
	@mkdir -p $(dir $@)
	$(CC) -std=gnu11 -g -O2 -I. $$(pkg-config --cflags libdpdk) -o $@ $< \
		-Wl,-rpath,'$$ORIGIN/..' $(B)/libspaprtce.so $$(pkg-config --libs libdpdk)

.PHONY: check-clients clients-deps
clients-deps:
	@sh scripts/clients-deps.sh

check-clients: deps clients-deps
	@$(MAKE) --no-print-directory $(DROPIN_SO) $(B)/spaprtce $(B)/clients/dpdk_client
	@sh scripts/clients-dpdk.sh $(B); d=$$?; sh scripts/clients-qemu.sh $(B); q=$$?; \
		[ $$d = 0 ] && [ $$q = 0 ] && echo "check-clients: PASS" || { echo "check-clients: FAIL" >&2; exit 1; }

# DPDK's --no-huge set-up through the layer versus its recorded requests
# replayed directly plus DPDK alone (scripts/bench-dpdk.sh): build/bench/dpdk_setup.jsonl,
# merged into build/bench.json by the next `make bench`.
.PHONY: bench-dpdk
bench-dpdk: deps clients-deps
	@$(MAKE) --no-print-directory $(DROPIN_SO) $(B)/spaprtce $(B)/clients/dpdk_client
	@bash scripts/bench-dpdk.sh $(B)

# ------------------------------------------------------------- the guest
# make check-guest   a Debian ppc64el guest booted by Debian's qemu-system-ppc64
#                    (pseries, TCG) through `spaprtce exec`, its virtio-rng and
#                    virtio-blk passed through with vfio-pci: four boots
#                    (DDW, disable_ddw, a device without ACCESS_PLATFORM, and
#                    an EEH recovery of the virtio-rng's frozen PE).
# make run-guest     one such boot for a person: the console, then the
#                    emulator's statistics.  docs/guest.md.
# scripts/guest-fetch.sh installs qemu-system-ppc and cpio when missing and
# fetches the kernel and busybox (ppc64el) with private apt lists, cached in
# build/guest/.
GUEST_DEPS := $(DROPIN_SO) $(B)/spaprtce $(B)/tests/guest-rngstream

# The virtio-rng stream of a seed (the model's own function): the checker's
# expected bytes.
$(B)/tests/guest-rngstream: tests/guest/rngstream.c $(B)/libspaprtce.a
	@mkdir -p $(dir $@)
	$(CC) $(BASE_CFLAGS) -o $@ $< $(B)/libspaprtce.a $(LDLIBS_ALL)

# What making guest RAM present and writable costs this host (the pinning
# part of bench-guest), and bench-guest's warm-up before every boot
# (`guest-pincost warm`; tests/guest/pincost.c).
$(B)/tests/guest-pincost: tests/guest/pincost.c
	@mkdir -p $(dir $@)
	$(CC) $(BASE_CFLAGS) -o $@ $<

# guest-deps: only the fetch (QEMU, the kernel, busybox), so that CI can
# keep the download out of check-guest's time budget.
.PHONY: check-guest run-guest guest-deps
guest-deps:
	@sh scripts/guest-fetch.sh $(B)

check-guest: deps
	@$(MAKE) --no-print-directory $(GUEST_DEPS)
	@sh scripts/guest-check.sh $(B) check

run-guest: deps
	@$(MAKE) --no-print-directory $(GUEST_DEPS)
	@sh scripts/guest-check.sh $(B) run

# Guest boot time to /init, through the layer with a passed-through device
# versus plain QEMU (scripts/bench-guest.sh): build/bench/guest_boot.jsonl,
# merged into build/bench.json by the next `make bench`.
.PHONY: bench-guest
bench-guest: deps
	@$(MAKE) --no-print-directory $(GUEST_DEPS) $(B)/tests/guest-pincost
	@bash scripts/bench-guest.sh $(B)

# The layer's cost (bench/bench_dropin.c): it preloads itself, so it links the
# shared library like the layer does.
$(B)/bench/bench_dropin: $(B)/obj/bench/bench_dropin.o $(B)/obj/bench/bench_util.o $(B)/libspaprtce.so.0 $(DROPIN_SO)
	@mkdir -p $(dir $@)
	$(CC) -o $@ $< $(B)/obj/bench/bench_util.o -Wl,-rpath,'$$ORIGIN/..' $(B)/libspaprtce.so -ldl $(LDLIBS_ALL) -lm
