#!/bin/sh
# tests/fuzz/coverage.sh: line coverage reached by the fuzz corpus.
#
# Builds every target with clang's source-based coverage
# (-fprofile-instr-generate -fcoverage-mapping, no sanitizer, no engine
# instrumentation) into build/fuzz-cov/, replays the seed corpus, the
# regressions and what `make fuzz` found (build/fuzz/corpus/<target>/, when
# present) with libFuzzer's -runs=0, and prints llvm-cov's report for the
# library layers (util emu mmreg tce spapr); the full report goes to
# build/fuzz-cov/<target>.txt and an HTML view to build/fuzz-cov/<target>-html/.
set -eu
cd "$(dirname "$0")/../.."
OUT=build/fuzz-cov
tool() {
	for t in "$1" "$1-14" "$1-15" "$1-16" "$1-17" "$1-18"; do
		command -v "$t" >/dev/null 2>&1 && { echo "$t"; return; }
	done
	echo "coverage.sh: $1 not found (install llvm)" >&2
	exit 1
}
PROFDATA=$(tool llvm-profdata)
COV=$(tool llvm-cov)
CC=clang CXX=clang++ CFLAGS="-O0 -g -fprofile-instr-generate -fcoverage-mapping" \
	LIB_FUZZING_ENGINE=-fsanitize=fuzzer OUT=$OUT FUZZ_REBUILD=1 sh tests/fuzz/build.sh >/dev/null
for src in tests/fuzz/fuzz_*.c; do
	t=$(basename "$src" .c)
	dirs="tests/fuzz/corpus/$t"
	for d in tests/fuzz/regressions/$t build/fuzz/corpus/$t; do
		[ -d "$d" ] && dirs="$dirs $d"
	done
	rm -f "$OUT/$t".*.profraw
	LLVM_PROFILE_FILE="$OUT/$t.%p.profraw" "$OUT/$t" -runs=0 $dirs >/dev/null 2>&1
	$PROFDATA merge -sparse "$OUT/$t".*.profraw -o "$OUT/$t.profdata"
	echo "== $t: corpus $dirs"
	$COV report "$OUT/$t" -instr-profile="$OUT/$t.profdata" util emu mmreg tce spapr \
		>"$OUT/$t.txt"
	# Lines (columns 8 and 9 of llvm-cov's report) per layer, then per file of spapr/.
	awk '$1 ~ /^(util|emu|mmreg|tce|spapr)\// && $8 > 0 {
		split($1, p, "/"); l[p[1]] += $8; m[p[1]] += $9; tl += $8; tm += $9
		if (p[1] == "spapr") printf "  %-24s %5d lines  %5.1f%% covered\n", $1, $8, 100 * ($8 - $9) / $8
	} END {
		for (k in l) printf "%-26s %5d lines  %5.1f%% covered\n", k "/", l[k], 100 * (l[k] - m[k]) / l[k]
		printf "%-26s %5d lines  %5.1f%% covered\n", "all layers", tl, 100 * (tl - tm) / tl
	}' "$OUT/$t.txt"
	$COV show "$OUT/$t" -instr-profile="$OUT/$t.profdata" -format=html \
		-output-dir="$OUT/$t-html" util emu mmreg tce spapr tests/model >/dev/null 2>&1 || true
done
