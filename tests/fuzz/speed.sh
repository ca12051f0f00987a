#!/bin/sh
# tests/fuzz/speed.sh [SECONDS] [TARGET...]: how much slower each fuzz
# target is than its decode-only variant (the same harness, input decoding
# and model, no library call: tests/fuzz/decode_only.h), both under
# libFuzzer with ASan and UBSan, each fuzzing SECONDS (default 20) from the
# committed corpus and regressions into a fresh scratch corpus.  Prints
# exec/s of each and the ratio real / decode-only (the goal of issue 17:
# at most 5), and writes them to build/fuzz-speed.json.  Needs the build
# of `make fuzz-build` plus the variants (built here: FUZZ_DECODE=1).
# `make fuzz-speed` runs it.  One measurement per pair: the machine is
# shared, do not loop it.
set -eu
cd "$(dirname "$0")/../.."
secs=${1:-20}
[ $# -gt 0 ] && shift
targets=${*:-$(for s in tests/fuzz/fuzz_*.c; do basename "$s" .c; done)}
dir=build/fuzz
json=build/fuzz-speed.json
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT

# exec/s of binary $1 fuzzing $secs seconds on target $2's seeds.
eps() {
	seeds=""
	for d in tests/fuzz/corpus/$2 tests/fuzz/regressions/$2; do
		[ -d "$d" ] && seeds="$seeds $d"
	done
	rm -rf "$scratch/corpus" && mkdir -p "$scratch/corpus"
	# shellcheck disable=SC2086
	"$1" -max_total_time="$secs" -print_final_stats=1 -artifact_prefix="$scratch/" \
		"$scratch/corpus" $seeds >"$scratch/log" 2>&1 ||
		{ echo "speed: $1 failed:" >&2; tail -20 "$scratch/log" >&2; exit 1; }
	sed -n 's/^stat::average_exec_per_sec: *\([0-9]*\).*/\1/p' "$scratch/log" | tail -1
}

printf '%-16s %14s %14s %8s\n' target "exec/s" "decode-only" ratio
entries=""
for t in $targets; do
	[ -x "$dir/$t" ] && [ -x "$dir/decode/$t" ] ||
		{ echo "speed: $dir/$t or $dir/decode/$t missing (make fuzz-speed builds them)" >&2; exit 1; }
	real=$(eps "$dir/$t" "$t")
	dec=$(eps "$dir/decode/$t" "$t")
	ratio=$(awk -v r="$real" -v d="$dec" 'BEGIN { printf "%.1f", (r > 0 ? d / r : 0) }')
	met=$(awk -v x="$ratio" 'BEGIN { print (x <= 5) ? "true" : "false" }')
	printf '%-16s %14s %14s %7sx\n' "$t" "$real" "$dec" "$ratio"
	entries="$entries${entries:+,
}  {\"target\": \"$t\", \"seconds\": $secs, \"execs_per_sec\": $real, \"decode_only_execs_per_sec\": $dec, \"ratio\": $ratio, \"goal\": \"<= 5\", \"met\": $met}"
done
printf '[\n%s\n]\n' "$entries" >"$json"
echo "wrote $json (ratio = decode-only exec/s / target exec/s; goal at most 5)"
