#!/bin/bash
# DPDK's set-up through the drop-in layer versus the same requests replayed
# directly (`make bench-dpdk`; issue 14's second figure, goal at most 1.2).
#
#   A  tests/clients/dpdk_client under `spaprtce exec` in --no-huge mode:
#      rte_eal_init (64 MiB of 4 KiB pages: 16,384 REGISTER + MAP), then
#      rte_vfio_setup_device, one dma-engine transfer and the release; the
#      whole process, wall clock, no log and no trace.
#   B  `spaprtce replay` of the trace recorded from one such run: the same
#      memory areas (mapped and touched), the same 32,787 requests through
#      spapr_ioctl, the same results checked; the whole process, wall clock.
#
# Both include a process start and exit; A also includes what EAL does
# besides VFIO (its memory set-up, hugepage probing, threads), which is the
# point: the figure is what a DPDK user's start-up pays for the layer.
# RUNS runs of each, alternated (A B A B ...); the figure is the ratio of
# the medians, the spread each one's min and max.  Writes
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

"$B/spaprtce" exec --trace "$trace" -- "$B/clients/dpdk_client" "${ARGS[@]}" >/dev/null 2>&1 ||
	{ echo "bench-dpdk: the recording run failed" >&2; exit 1; }
"$B/spaprtce" replay "$trace" >/dev/null 2>&1 ||
	{ echo "bench-dpdk: the recorded trace does not replay" >&2; exit 1; }

now() { date +%s.%N; }
a=() b=()
for ((i = 0; i < RUNS; i++)); do
	t0=$(now)
	"$B/spaprtce" exec -- "$B/clients/dpdk_client" "${ARGS[@]}" >/dev/null 2>&1 ||
		{ echo "bench-dpdk: dpdk_client failed" >&2; exit 1; }
	t1=$(now)
	"$B/spaprtce" replay "$trace" >/dev/null 2>&1 || { echo "bench-dpdk: replay failed" >&2; exit 1; }
	t2=$(now)
	a+=("$(awk -v x="$t0" -v y="$t1" 'BEGIN { printf "%.4f", y - x }')")
	b+=("$(awk -v x="$t1" -v y="$t2" 'BEGIN { printf "%.4f", y - x }')")
done
stats() { printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END { printf "%s %s %s", v[int((NR + 1) / 2)], v[1], v[NR] }'; }
read -r am amin amax <<<"$(stats "${a[@]}")"
read -r bm bmin bmax <<<"$(stats "${b[@]}")"
ratio=$(awk -v a="$am" -v b="$bm" 'BEGIN { printf "%.3f", a / b }')
met=$(awk -v r="$ratio" 'BEGIN { print (r <= 1.2) ? "true" : "false" }')
printf '{"name": "DPDK 22.11 --no-huge set-up through the layer (%s runs, %s-%s s)", "value": %s, "unit": "s", "baseline": "the same requests replayed by spaprtce replay (median %s s, %s-%s)", "ratio": %s, "goal": "<= 1.2", "met": %s}\n' \
	"$RUNS" "$amin" "$amax" "$am" "$bm" "$bmin" "$bmax" "$ratio" "$met" > "$out/dpdk_setup.jsonl"
echo "DPDK --no-huge set-up through the layer: median $am s ($amin-$amax); replayed directly: median $bm s ($bmin-$bmax); ratio $ratio (goal <= 1.2)"
