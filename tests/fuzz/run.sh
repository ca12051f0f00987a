#!/bin/sh
# tests/fuzz/run.sh DIR SECONDS [TARGET...]: runs each libFuzzer binary
# DIR/<target> (default: every tests/fuzz/fuzz_*.c) for SECONDS from its
# committed seed corpus and regressions, and prints one summary line per
# target instead of libFuzzer's progress output:
#
#   fuzz_container   30 s   1510 runs   50 exec/s  cov 2071  ft 6412  corpus 58 (+4)  crashes 0  ok
#
# libFuzzer's own output goes to DIR/logs/<target>.log; new inputs to
# DIR/corpus/<target>/ (kept: the next run starts from them too), a crash
# or divergence to DIR/artifacts/<target>/.  On a crash the line says
# CRASH, the log's divergence comment or sanitizer report follows, and the
# exit status is 1 (after every target has run).  `make fuzz` and CI's
# smoke run use it.
#
# Environment: FUZZ_ARGS, extra libFuzzer flags (e.g. -jobs=2).
set -u
cd "$(dirname "$0")/../.."
dir=$1 secs=$2
shift 2
targets=${*:-$(for s in tests/fuzz/fuzz_*.c; do basename "$s" .c; done)}
failed=""

# The value of libFuzzer's final statistic $2 in log $1.
stat() {
	sed -n "s/^stat::$2: *\([0-9]*\).*/\1/p" "$1" | tail -1
}
# The last progress line's field $2 (cov, ft, corp).
progress() {
	grep ' cov: ' "$1" | tail -1 | sed -n "s/.* $2: \([0-9]*\).*/\1/p"
}

mkdir -p "$dir/logs"
for t in $targets; do
	bin=$dir/$t log=$dir/logs/$t.log
	if [ ! -x "$bin" ]; then
		echo "$t: $bin is not built (make fuzz-build)" >&2
		failed="$failed $t"
		continue
	fi
	mkdir -p "$dir/corpus/$t" "$dir/artifacts/$t"
	seeds=""
	for d in tests/fuzz/corpus/$t tests/fuzz/regressions/$t; do
		[ -d "$d" ] && seeds="$seeds $d"
	done
	# shellcheck disable=SC2086  # word lists on purpose
	"$bin" -max_total_time="$secs" -print_final_stats=1 -artifact_prefix="$dir/artifacts/$t/" \
		${FUZZ_ARGS:-} "$dir/corpus/$t" $seeds >"$log" 2>&1
	rc=$?
	runs=$(stat "$log" number_of_executed_units)
	eps=$(stat "$log" average_exec_per_sec)
	new=$(stat "$log" new_units_added)
	crashes=$(ls "$dir/artifacts/$t" 2>/dev/null | grep -c '^crash-\|^timeout-\|^oom-\|^leak-')
	verdict=ok
	if [ "$rc" != 0 ]; then
		verdict="CRASH (exit $rc)"
		failed="$failed $t"
	fi
	printf '%-16s %4s s %8s runs %6s exec/s  cov %s  ft %s  corpus %s (+%s)  crashes %s  %s\n' \
		"$t" "$secs" "${runs:-?}" "${eps:-?}" "$(progress "$log" cov)" "$(progress "$log" ft)" \
		"$(progress "$log" corp)" "${new:-0}" "$crashes" "$verdict"
	if [ "$rc" != 0 ]; then
		# What went wrong: the divergence comment, or the sanitizer's report.
		if grep -q '^# DIVERGENCE' "$log"; then
			grep -m1 '^# DIVERGENCE' "$log" | sed 's/^/    /'
		else
			grep -m1 '^==[0-9]*== *ERROR' "$log" | sed 's/^/    /'
			grep -m1 '^SUMMARY: ' "$log" | sed 's/^/    /'
		fi
		grep -m1 'Test unit written to' "$log" | sed 's/^/    /'
		echo "    full output: $log"
	fi
done
if [ -n "$failed" ]; then
	echo "fuzz: FAILED:$failed" >&2
	exit 1
fi
