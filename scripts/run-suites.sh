#!/bin/sh
# Runs each Check suite binary of $1 named by the other arguments and
# prints one line per suite, which starts with Check's own summary line:
#
#   100%: Checks: 25, Failures: 0, Errors: 0   check_emu  1 skipped  2.1 s
#
# then a total.  Every suite runs even when an earlier one fails; the exit
# status is 1 when any failed (its failure lines and the path of its full
# output follow its line).  A suite's full output (what its tests print:
# figures, expected warnings marked "expected:", skips) goes to
# $1/logs/<suite>.log (or $SUITES_LOGS/<suite>.log: make check
# QUIRKS=kernel keeps its own); SUITES_VERBOSE=1 prints it as well.
#
# Skips: a test that cannot run prints "SKIP <test>: <reason>" and returns;
# Check counts it as passed, this script counts it as skipped (and the
# passes without it).  A step skipped inside a test that otherwise
# ran ("SKIP-STEP <test> (<step>): <reason>", make check QUIRKS=kernel) is
# shown under its suite and not counted.
#
# TAP: with TAP=1 (make check TAP=1) each suite also writes TAP (Check's
# CK_TAP_LOG_FILE_NAME) to $1/tap/<suite>.tap, where a skipped test's line
# carries "# SKIP <reason>".
set -u
dir=$1; shift
failed=""
total=0 fails=0 skips=0 nsuites=0
logs=${SUITES_LOGS:-$dir/logs}
mkdir -p "$logs"
[ -n "${TAP:-}" ] && mkdir -p "$dir/tap"
t_all=$(date +%s.%N)

# Check's summary line in log $1 (the last one).
summary() {
	grep -E '^[0-9]+%: Checks: [0-9]+, Failures: [0-9]+, Errors: [0-9]+' "$1" | tail -1
}

for s in "$@"; do
	log=$logs/$s.log
	tap=""
	[ -n "${TAP:-}" ] && tap=$dir/tap/$s.tap
	t0=$(date +%s.%N)
	if [ -n "$tap" ]; then
		CK_TAP_LOG_FILE_NAME=$tap "$dir/$s" >"$log" 2>&1
	else
		"$dir/$s" >"$log" 2>&1
	fi
	rc=$?
	secs=$(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }')
	[ -n "${SUITES_VERBOSE:-}" ] && sed "s/^/  $s: /" "$log"
	line=$(summary "$log")
	n=$(echo "$line" | sed -n 's/.*Checks: \([0-9]*\), Failures: \([0-9]*\), Errors: \([0-9]*\).*/\1 \2 \3/p')
	checks=$(echo "$n" | cut -d' ' -f1) f=$(echo "$n" | cut -d' ' -f2) e=$(echo "$n" | cut -d' ' -f3)
	sk=$(grep -c '^SKIP ' "$log")
	nsuites=$((nsuites + 1))
	total=$((total + ${checks:-0}))
	fails=$((fails + ${f:-0} + ${e:-0}))
	skips=$((skips + sk))
	note=""
	[ "$sk" != 0 ] && note="  $sk skipped"
	if [ "$rc" != 0 ] || [ -z "$line" ]; then
		failed="$failed $s"
		echo "${line:-no summary line (exit $rc)}   $s$note  $secs s  FAILED"
		grep -E '^[^ ]+:[0-9]+:[FE]:' "$log" | head -20 | sed 's/^/    /'
		echo "    full output: $log"
	else
		echo "$line   $s$note  $secs s"
	fi
	grep -E '^SKIP(-STEP)? ' "$log" | sed 's/^/    /'
	if [ -n "$tap" ] && [ -s "$tap" ]; then
		# Each skipped test's TAP line gets TAP's skip directive.
		grep '^SKIP ' "$log" | sed -n 's/^SKIP \([A-Za-z0-9_]*\): \(.*\)$/\1 \2/p' |
			while read -r name why; do
				why=$(echo "$why" | tr -d '#/\\&')
				sed -i "/^ok [0-9]* - .*:\\(t_\\)\\{0,1\\}$name: /s/\$/ # SKIP $why/" "$tap"
			done
	fi
done
secs=$(awk -v a="$t_all" -v b="$(date +%s.%N)" 'BEGIN { printf "%.0f", b - a }')
echo "total: $nsuites suites, $total checks: $((total - fails - skips)) passed, $skips skipped, $fails failed ($secs s; output in $logs/${TAP:+, TAP in $dir/tap/})"
if [ -n "$failed" ]; then
	echo "FAILED suites:$failed" >&2
	exit 1
fi
echo "all $nsuites suites passed"
