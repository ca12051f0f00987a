#!/bin/sh
# tests/fuzz/build.sh: builds every fuzz target tests/fuzz/fuzz_*.c the way
# OSS-Fuzz builds C projects, so a fuzzing cluster can run it unchanged.
#
#   CC, CXX             compilers (clang, clang++; afl-clang-fast{,++} for AFL++)
#   CFLAGS              instrumentation and sanitizers, e.g.
#                       "-fsanitize=address,undefined,fuzzer-no-link"
#   LIB_FUZZING_ENGINE  what to link the targets with, e.g. -fsanitize=fuzzer
#                       or /usr/lib/afl/libAFLDriver.a
#   OUT                 where the binaries go (default build/fuzz)
#   FUZZ_DECODE=1       also the decode-only variant of each target, into
#                       $OUT/decode/<target> (-DFZ_DECODE_ONLY: same harness
#                       and decoding, no library call; tests/fuzz/decode_only.h),
#                       the baseline of tests/fuzz/speed.sh
#
# The library sources (util emu mmreg tce spapr) are compiled as the test
# build (SPAPRTCE_FAULT_INJECT, SPAPRTCE_DEBUG: debug assertions on), with
# the model of tests/model/ and the targets' shared harness
# (tests/fuzz/harness.c), and the trace language of the spaprtce program
# (cli/trace_*.c, for fuzz_replay).  Each target gets a seed corpus zip
# $OUT/<target>_seed_corpus.zip (corpus + regressions) when zip exists.
set -eu
cd "$(dirname "$0")/../.."
CC=${CC:-clang}
CXX=${CXX:-clang++}
CFLAGS=${CFLAGS:-}
LIB_FUZZING_ENGINE=${LIB_FUZZING_ENGINE:--fsanitize=fuzzer}
OUT=${OUT:-build/fuzz}
NUMA_CFLAGS=$(pkg-config --cflags numa 2>/dev/null || true)
NUMA_LIBS=$(pkg-config --libs numa 2>/dev/null || echo -lnuma)
DEFS="-DSPAPRTCE_FAULT_INJECT -DSPAPRTCE_DEBUG"
# Fuzz-friendly warnings: the tree's -Werror set applies to `make`; here a
# newer compiler's new warning must not stop a fuzzing cluster.
COMMON="-std=gnu11 -g -pthread -I. $DEFS $NUMA_CFLAGS"
# The invariant checkers are left out of coverage instrumentation
# (tests/fuzz/nocov.txt says why); only where the compiler knows the flag
# (clang; AFL++'s wrappers pass it on).
case "$CFLAGS" in
*fsanitize=*fuzzer*)
	if echo 'int x;' | $CC -x c -fsanitize=fuzzer-no-link -fsanitize-coverage-ignorelist=tests/fuzz/nocov.txt \
		-c -o /dev/null - 2>/dev/null; then
		COMMON="$COMMON -fsanitize-coverage-ignorelist=tests/fuzz/nocov.txt"
	fi
	;;
esac

mkdir -p "$OUT/obj"
objs=""
for src in util/*.c emu/*.c mmreg/*.c tce/*.c spapr/*.c tests/model/*.c tests/fuzz/harness.c cli/trace_*.c; do
	obj="$OUT/obj/$(echo "$src" | tr / _ | sed 's/\.c$/.o/')"
	if [ ! -e "$obj" ] || [ "$src" -nt "$obj" ] || [ -n "${FUZZ_REBUILD:-}" ]; then
		$CC $COMMON $CFLAGS -c "$src" -o "$obj"
	fi
	objs="$objs $obj"
done
# Headers change too: the cheap answer is FUZZ_REBUILD=1 (make fuzz sets it).

for src in tests/fuzz/fuzz_*.c; do
	t=$(basename "$src" .c)
	$CC $COMMON $CFLAGS -c "$src" -o "$OUT/obj/$t.o"
	$CXX $CFLAGS "$OUT/obj/$t.o" $objs $LIB_FUZZING_ENGINE $NUMA_LIBS -lpthread -o "$OUT/$t"
	if command -v zip >/dev/null 2>&1; then
		rm -f "$OUT/${t}_seed_corpus.zip"
		for d in tests/fuzz/corpus/$t tests/fuzz/regressions/$t; do
			[ -d "$d" ] && zip -q -j "$OUT/${t}_seed_corpus.zip" "$d"/* 2>/dev/null || true
		done
	fi
	echo "built $OUT/$t"
done

[ -n "${FUZZ_DECODE:-}" ] || exit 0
mkdir -p "$OUT/decode"
dobjs=$(echo "$objs" | sed "s|$OUT/obj/tests_fuzz_harness.o|$OUT/obj/decode_harness.o|")
$CC $COMMON $CFLAGS -DFZ_DECODE_ONLY -c tests/fuzz/harness.c -o "$OUT/obj/decode_harness.o"
for src in tests/fuzz/fuzz_*.c; do
	t=$(basename "$src" .c)
	$CC $COMMON $CFLAGS -DFZ_DECODE_ONLY -c "$src" -o "$OUT/obj/decode_$t.o"
	$CXX $CFLAGS "$OUT/obj/decode_$t.o" $dobjs $LIB_FUZZING_ENGINE $NUMA_LIBS -lpthread -o "$OUT/decode/$t"
	echo "built $OUT/decode/$t (decode-only)"
done
