#!/bin/bash
# DPDK's set-up through the drop-in layer versus the same requests replayed
# directly, plus DPDK's own start-up (`make bench-dpdk`; issue 14's second
# figure, goal at most 1.2).
#
#   A  tests/clients/dpdk_client under `spaprtce exec` in --no-huge mode:
#      rte_eal_init (64 MiB of 4 KiB pages: 16,384 REGISTER + MAP), then
#      rte_vfio_setup_device, one dma-engine transfer and the release; the
#      whole process, wall clock, no log and no trace.
#   B  `spaprtce replay` of the trace recorded from one such run: the same
#      memory areas (DPDK's memfd as a memfd mapped MAP_SHARED, `mem ...
#      shared`: the emulator pins shared memory through an alias and
#      private memory by frame numbers, so the kind must be the same), the
#      same 32,787 requests through spapr_ioctl, the same results checked;
#      the whole process, wall clock.
#   P  `spaprtce replay` of the same trace with one bad line added at its
#      end: the replay parses a trace whole before it runs a request, so
#      this is B's own start-up and the parsing of 32,791 lines, which are
#      not requests (nothing runs: exit status 2).
#   D  the same dpdk_client without the layer, DPDK_CLIENT_EAL_ONLY=1:
#      rte_eal_init and rte_eal_cleanup with the same arguments, VFIO absent.
#      DPDK's own start-up: its memory, its threads, and a 100 ms sleep to
#      calibrate the TSC (get_tsc_freq), about 0.2 s of wall clock that is
#      neither the layer nor the requests.
#
# A is what a DPDK user's start-up takes through the layer; B - P + D is
# the same start-up if the requests cost what direct calls cost and the
# layer cost nothing (one process start on each side).  The figure is
# A / (B - P + D), each a median of RUNS runs alternated (A B P D A B P D
# ...), with each one's spread (min-max); A / B alone is written too, the
# figure's first definition (it charges DPDK's own start-up to the layer
# and counts the trace's parsing as requests).  Writes
# BUILD_DIR/bench/dpdk_setup.jsonl (merged into bench.json by
# scripts/run-benches.sh when it exists).
# Usage: bench-dpdk.sh BUILD_DIR [RUNS].
set -u
B=$1
RUNS=${2:-5}
out=$B/bench
mkdir -p "$out" "$B/clients"
ARGS=(--no-huge -m 64 --no-pci --no-shconf --iova-mode=va -l 0)
trace=$B/clients/dpdk-bench.trace
parse=$B/clients/dpdk-bench-parse.trace

"$B/spaprtce" exec --trace "$trace" -- "$B/clients/dpdk_client" "${ARGS[@]}" >/dev/null 2>&1 ||
	{ echo "bench-dpdk: the recording run failed" >&2; exit 1; }
grep -q '^mem m0 0x4000000 shared ' "$trace" ||
	{ echo "bench-dpdk: the trace does not start with DPDK's 64 MiB of shared memory" >&2; exit 1; }
"$B/spaprtce" replay "$trace" >/dev/null 2>&1 ||
	{ echo "bench-dpdk: the recorded trace does not replay" >&2; exit 1; }
{ cat "$trace"; echo "not_a_request => ok"; } > "$parse"
"$B/spaprtce" replay "$parse" >/dev/null 2>&1
[ $? = 2 ] || { echo "bench-dpdk: the parse-only trace did not stop at its last line" >&2; exit 1; }
DPDK_CLIENT_EAL_ONLY=1 "$B/clients/dpdk_client" "${ARGS[@]}" >/dev/null 2>&1 ||
	{ echo "bench-dpdk: DPDK alone (DPDK_CLIENT_EAL_ONLY=1) failed" >&2; exit 1; }

now() { date +%s.%N; }
a=() b=() p=() d=()
for ((i = 0; i < RUNS; i++)); do
	t0=$(now)
	"$B/spaprtce" exec -- "$B/clients/dpdk_client" "${ARGS[@]}" >/dev/null 2>&1 ||
		{ echo "bench-dpdk: dpdk_client failed" >&2; exit 1; }
	t1=$(now)
	"$B/spaprtce" replay "$trace" >/dev/null 2>&1 || { echo "bench-dpdk: replay failed" >&2; exit 1; }
	t2=$(now)
	"$B/spaprtce" replay "$parse" >/dev/null 2>&1
	[ $? = 2 ] || { echo "bench-dpdk: parse-only replay" >&2; exit 1; }
	t2p=$(now)
	DPDK_CLIENT_EAL_ONLY=1 "$B/clients/dpdk_client" "${ARGS[@]}" >/dev/null 2>&1 ||
		{ echo "bench-dpdk: DPDK alone failed" >&2; exit 1; }
	t3=$(now)
	a+=("$(awk -v x="$t0" -v y="$t1" 'BEGIN { printf "%.4f", y - x }')")
	b+=("$(awk -v x="$t1" -v y="$t2" 'BEGIN { printf "%.4f", y - x }')")
	p+=("$(awk -v x="$t2" -v y="$t2p" 'BEGIN { printf "%.4f", y - x }')")
	d+=("$(awk -v x="$t2p" -v y="$t3" 'BEGIN { printf "%.4f", y - x }')")
done
stats() { printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END { printf "%s %s %s", v[int((NR + 1) / 2)], v[1], v[NR] }'; }
read -r am amin amax <<<"$(stats "${a[@]}")"
read -r bm bmin bmax <<<"$(stats "${b[@]}")"
read -r pm pmin pmax <<<"$(stats "${p[@]}")"
read -r dm dmin dmax <<<"$(stats "${d[@]}")"
ratio=$(awk -v a="$am" -v b="$bm" -v p="$pm" -v d="$dm" 'BEGIN { printf "%.3f", a / (b - p + d) }')
raw=$(awk -v a="$am" -v b="$bm" 'BEGIN { printf "%.3f", a / b }')
met=$(awk -v r="$ratio" 'BEGIN { print (r <= 1.2) ? "true" : "false" }')
load=$(cut -d' ' -f1-3 /proc/loadavg)
printf '{"name": "DPDK 22.11 --no-huge set-up through the layer (%s runs, %s-%s s)", "value": %s, "unit": "s", "baseline": "the same requests replayed by spaprtce replay on the same kind of memory (median %s s, %s-%s) less its start-up and parsing (median %s s, %s-%s) plus DPDK alone without the layer (median %s s, %s-%s)", "ratio": %s, "ratio_to_replay_alone": %s, "load": "%s", "goal": "<= 1.2", "met": %s}\n' \
	"$RUNS" "$amin" "$amax" "$am" "$bm" "$bmin" "$bmax" "$pm" "$pmin" "$pmax" "$dm" "$dmin" "$dmax" "$ratio" "$raw" "$load" "$met" > "$out/dpdk_setup.jsonl"
echo "DPDK --no-huge set-up through the layer: median $am s ($amin-$amax); replayed directly: median $bm s ($bmin-$bmax), of which start-up and parsing $pm s ($pmin-$pmax); DPDK alone: median $dm s ($dmin-$dmax); A / (B - P + D) $ratio (goal <= 1.2; A / B $raw); load $load"
