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
{
	echo "["
	for n in "$@"; do cat "$b/bench/$n.jsonl" 2>/dev/null; done | sed '$!s/$/,/'
	echo "]"
} > "$b/bench.json"
echo "wrote $b/bench.json"
exit $rc
