#!/bin/sh
# Runs each Check suite binary of $1 named by the other arguments.  Every
# suite runs even when an earlier one fails; the exit status is 1 when any
# failed.  Check prints each suite's summary line itself.
set -u
dir=$1; shift
failed=""
for s in "$@"; do
	echo "== $s"
	"$dir/$s" || failed="$failed $s"
done
if [ -n "$failed" ]; then
	echo "FAILED suites:$failed" >&2
	exit 1
fi
echo "all $# suites passed"
