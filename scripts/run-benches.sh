#!/bin/sh
# Runs each benchmark of $1/bench named by the other arguments; each writes
# its figures, one JSON object per line, to $1/bench/NAME.jsonl.  The lines
# are merged into the array $1/bench.json.
set -u
b=$1; shift
rc=0
for n in "$@"; do
	rm -f "$b/bench/$n.jsonl"
	BENCH_JSONL="$b/bench/$n.jsonl" "$b/bench/$n" || rc=1
done
# The main job's steps as figures: every step of 'spaprtce demo' that moves
# bytes, with its rate (no baseline: the step's own figure, ratio 1).
rm -f "$b/bench/demo.jsonl"
if "$b/spaprtce" demo --json > "$b/bench/demo.json"; then
	grep '"step"' "$b/bench/demo.json" | grep -v '"rate_gbps": 0.000' |
	sed -e 's/^ *{"step": "\([^"]*\)".*"rate_gbps": \([0-9.]*\).*/{"name": "demo: \1", "value": \2, "unit": "GB\/s", "baseline": "none", "ratio": 1, "goal": "", "met": true}/' \
		> "$b/bench/demo.jsonl"
	echo
	echo "spaprtce demo (1 GiB guest): steps as figures"
	sed -e 's/.*"name": "\([^"]*\)", "value": \([0-9.]*\).*/  \1: \2 GB\/s/' "$b/bench/demo.jsonl"
else
	echo "spaprtce demo failed: its steps are not reported" >&2
	rc=1
fi
{
	echo "["
	# guest_boot, dpdk_setup: `make bench-guest`'s and `make bench-dpdk`'s
	# figures (scripts/bench-guest.sh, bench-dpdk.sh), when they ran
	for n in "$@" demo guest_boot dpdk_setup; do cat "$b/bench/$n.jsonl" 2>/dev/null; done | sed '$!s/$/,/'
	echo "]"
} > "$b/bench.json"
echo "wrote $b/bench.json"
exit $rc
