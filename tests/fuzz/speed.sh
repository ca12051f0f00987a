#!/bin/sh
# tests/fuzz/speed.sh [SECONDS] [TARGET...]: how much slower each fuzz
# target is than its decode-only variant (the same harness, input decoding
# and model, no library call: tests/fuzz/decode_only.h), both under
# libFuzzer with ASan and UBSan, each fuzzing SECONDS (default 10) from the
# committed corpus and regressions into a fresh scratch corpus.
# FUZZ_SPEED_ROUNDS (default 3) rounds, the target and its variant
# alternated in each, so that a change of the machine's load hits both;
# prints the median exec/s of each with its spread (min-max), the ratio of
# the medians (the goal of issue 17: at most 5) and the load average, and
# writes them to build/fuzz-speed.json.  Needs the build of `make
# fuzz-build` plus the variants (built here: FUZZ_DECODE=1).  `make
# fuzz-speed` runs it.  The machine may be shared: do not loop it.
set -eu
cd "$(dirname "$0")/../.."
secs=${1:-10}
[ $# -gt 0 ] && shift
rounds=${FUZZ_SPEED_ROUNDS:-3}
targets=${*:-$(for s in tests/fuzz/fuzz_*.c; do basename "$s" .c; done)}
dir=build/fuzz
json=build/fuzz-speed.json
# The scratch corpus (libFuzzer writes every new input there) on tmpfs when
# there is one: on ext4, creating files in a directory the previous round
# emptied with rm -rf was 4-8% of a target's time (find_inode_bit,
# recently_deleted), a cost of the disk, paid more by the target, which
# finds more new inputs.
scratch=$(mktemp -d -p /dev/shm 2>/dev/null || mktemp -d)
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

# "median min max" of the numbers given.
stats() {
	printf '%s\n' "$@" | sort -n | awk '{ v[NR] = $1 } END {
		m = NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
		printf "%d %d %d\n", m, v[1], v[NR] }'
}

load() {
	cut -d' ' -f1-3 /proc/loadavg 2>/dev/null || echo "? ? ?"
}

printf '%-16s %20s %20s %8s   %s\n' target "exec/s (min-max)" "decode-only" ratio "load average"
entries=""
for t in $targets; do
	[ -x "$dir/$t" ] && [ -x "$dir/decode/$t" ] ||
		{ echo "speed: $dir/$t or $dir/decode/$t missing (make fuzz-speed builds them)" >&2; exit 1; }
	reals="" decs="" load0=$(load)
	r=0
	while [ "$r" -lt "$rounds" ]; do
		reals="$reals $(eps "$dir/$t" "$t")"
		decs="$decs $(eps "$dir/decode/$t" "$t")"
		r=$((r + 1))
	done
	load1=$(load)
	# shellcheck disable=SC2086
	set -- $(stats $reals) $(stats $decs)
	ratio=$(awk -v r="$1" -v d="$4" 'BEGIN { printf "%.1f", (r > 0 ? d / r : 0) }')
	met=$(awk -v x="$ratio" 'BEGIN { print (x <= 5) ? "true" : "false" }')
	printf '%-16s %20s %20s %7sx   %s .. %s\n' "$t" "$1 ($2-$3)" "$4 ($5-$6)" "$ratio" "$load0" "$load1"
	entries="$entries${entries:+,
}  {\"target\": \"$t\", \"seconds\": $secs, \"rounds\": $rounds, \"execs_per_sec\": $1, \"execs_per_sec_min\": $2, \"execs_per_sec_max\": $3, \"decode_only_execs_per_sec\": $4, \"decode_only_min\": $5, \"decode_only_max\": $6, \"ratio\": $ratio, \"goal\": \"<= 5\", \"met\": $met, \"load_before\": \"$load0\", \"load_after\": \"$load1\"}"
done
printf '[\n%s\n]\n' "$entries" >"$json"
echo "wrote $json (ratio = median decode-only exec/s / median target exec/s; goal at most 5)"
