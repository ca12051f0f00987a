#!/bin/bash
# The guest boot-time benchmark (`make bench-guest`): wall-clock time from
# QEMU's start to the guest's /init (its "GUEST-INIT" line on the console),
# (A) plain qemu-system-ppc64, no layer and no device, versus (B) through
# `spaprtce exec` with a virtio-rng passed through by vfio-pci (no request
# log).  The guest runs tests/guest/init with gmode=boot: the marker, then
# power-off.  RUNS boots of each, in two host-memory states (cold, and
# warmed right before the boot; see below), alternated (A B C cold, A B C
# warm, A B C cold ...) so that a change of the shared machine's load hits
# all; the figure is the ratio of the medians, the goal's (at most 1.3)
# the warm one, the spread each one's min and max;
# the CPU time of each boot (user + system of QEMU and its children) is
# reported too: on a shared machine it moves far less than the wall clock.
# (C) is plain QEMU with -overcommit mem-lock=on: its guest RAM faulted in
# and locked at start, which is what VFIO's REGISTER_MEMORY of the guest's
# RAM costs on any host (the kernel pins, so faults in and zeroes, every
# page; the emulator mlocks them).  B / C is what passing a device
# through costs beyond that pinning: QEMU's per-TCE VFIO requests, the
# layer, the emulator.
# Before the boots it prints what making 1 GiB present and writable costs
# this host by itself (build/tests/guest-pincost): the part of B that is
# the host kernel's zeroing of pinned pages, not the layer's; and how long
# memory just freed stays cheap to write again (guest-pincost delay), which
# is what the warm state relies on (docs/guest.md, "Cold and warm host
# memory").
# Writes BUILD_DIR/bench/guest_boot.jsonl, lines in build/bench.json's
# style (scripts/run-benches.sh merges the file into bench.json when it
# exists).
# Usage: bench-guest.sh BUILD_DIR [RUNS].
set -u
B=$1
RUNS=${2:-3}
G=$B/guest
out=$B/bench/guest_boot.jsonl

sh scripts/guest-fetch.sh "$B" || exit 1
sh scripts/guest-initramfs.sh "$B" tests/guest/init "$G/initramfs.gz" || exit 1
mkdir -p "$B/bench"

# What pinning 1 GiB costs this host by itself, before any boot: the first
# run gets memory that may have to be found (a virtual machine's hypervisor
# takes freed memory back), the others reuse it (tests/guest/pincost.c).
echo "host: making 1 GiB present and writable (method, pages, first/again, seconds):"
"$B/tests/guest-pincost" 1024 | sed 's/^pincost /  /'
echo "host: how long freed memory stays cheap to write again (mlock of 1 GiB after a pause):"
"$B/tests/guest-pincost" delay 1024 | sed 's/^pincost /  /'
echo "load: $(uptime | sed 's/.*load average: //') (1, 5, 15 min)"

QEMU=(qemu-system-ppc64 -M pseries -accel tcg -m 1G -nographic -nodefaults -serial stdio
      -kernel "$G/vmlinux" -initrd "$G/initramfs.gz" -append "console=hvc0 quiet gmode=boot")

# one NAME: prints "to_init total cpu" in seconds (cpu: user + system time
# of QEMU and everything it ran, from the shell's `times`), or "fail"
one() {
	local t0 tinit="" line
	t0=$(date +%s.%N)
	{
		if [ "$1" = A ]; then
			timeout -k 5 180 "${QEMU[@]}"
		elif [ "$1" = C ]; then
			timeout -k 5 180 "${QEMU[@]}" -overcommit mem-lock=on
		else
			timeout -k 5 180 "$B/spaprtce" exec --machine "dev0=virtio-rng" -- \
				"${QEMU[@]}" -device vfio-pci,host=0000:00:01.0
		fi
		times >"$G/bench-times"	# not in a pipe: a pipe's subshell has no children
	} </dev/null 2>&1 | {
		while IFS= read -r line; do
			case $line in *GUEST-INIT*) [ -n "$tinit" ] || tinit=$(date +%s.%N) ;; esac
		done
		tend=$(date +%s.%N)
		cpu=$(sed -n 2p "$G/bench-times" | sed 's/m/ /g; s/s//g' | awk '{ printf "%.3f", $1 * 60 + $2 + $3 * 60 + $4 }')
		[ -n "$tinit" ] && awk -v a="$t0" -v i="$tinit" -v e="$tend" -v c="$cpu" \
			'BEGIN { printf "%.3f %.3f %.3f\n", i - a, e - a, c }' || echo fail
	}
}

# Every boot, of A, B and C alike, in two host-memory states, interleaved:
# "cold", the boot as it comes (boots are seconds apart, so on a virtual
# machine whose balloon reports free pages the memory a pin takes has been
# handed back to the hypervisor), and "warm": right before the boot, outside
# its timing, `guest-pincost warm` writes and frees the guest's RAM plus a
# margin (WARM_MIB), so that the boot finds memory the host already backs,
# as on a host whose freed memory stays in the OS.  The same step for all
# three; nothing in their configuration differs between the two states.
WARM_MIB=1280
declare -A W T C	# [state.config] = the values, one boot each, space-separated
for i in $(seq 1 "$RUNS"); do
	for s in cold warm; do
		for k in A B C; do
			[ "$s" = warm ] && "$B/tests/guest-pincost" warm "$WARM_MIB" >/dev/null
			r=$(one $k)
			[ "$r" = fail ] && { echo "bench-guest: boot $k $i ($s) did not reach init" >&2; exit 1; }
			read -r ti tt tc <<<"$r"
			echo "  boot $k $i $s: to init $ti s, to power-off $tt s, cpu $tc s"
			W[$s.$k]+="$ti " T[$s.$k]+="$tt " C[$s.$k]+="$tc "
		done
	done
done

stats() {	# median min max of the arguments
	printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END {
		m = NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
		printf "%.3f %.3f %.3f\n", m, v[1], v[NR] }'
}
div() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", a / b }'; }

# summary STATE: the figures of one host-memory state, on stdout and as
# jsonl lines; the goal's line is the warm state's (see above).
summary() {
	local s=$1 k tag goal met
	local -A m lo hi tm cm clo chi
	for k in A B C; do
		# shellcheck disable=SC2086
		read -r "m[$k]" "lo[$k]" "hi[$k]" < <(stats ${W[$s.$k]})
		# shellcheck disable=SC2086
		read -r "tm[$k]" _ _ < <(stats ${T[$s.$k]})
		# shellcheck disable=SC2086
		read -r "cm[$k]" "clo[$k]" "chi[$k]" < <(stats ${C[$s.$k]})
	done
	local ratio cratio tratio cpuratio cpucratio
	ratio=$(div "${m[B]}" "${m[A]}") cratio=$(div "${m[B]}" "${m[C]}")
	tratio=$(div "${tm[B]}" "${tm[A]}")
	cpuratio=$(div "${cm[B]}" "${cm[A]}") cpucratio=$(div "${cm[B]}" "${cm[C]}")
	if [ "$s" = warm ]; then
		tag="host memory warmed before each boot" goal="<= 1.3"
		met=$(awk -v r="$ratio" 'BEGIN { print (r <= 1.3) ? "true" : "false" }')
	else
		tag="cold host memory, no warm-up" goal="" met=true
	fi
	echo "== $s: $tag"
	echo "guest boot to init: plain QEMU (A) median ${m[A]} s (${lo[A]}-${hi[A]}), through the layer with a passed-through virtio-rng (B) median ${m[B]} s (${lo[B]}-${hi[B]}), B / A ${ratio}$([ -n "$goal" ] && { [ "$met" = true ] && echo " (goal <= 1.3: met)" || echo " (goal <= 1.3: NOT MET)"; })"
	echo "plain QEMU with its RAM locked (C, -overcommit mem-lock=on): median ${m[C]} s (${lo[C]}-${hi[C]}), B / C ${cratio}"
	echo "to power-off: A ${tm[A]} s, B ${tm[B]} s, B / A ${tratio}"
	echo "cpu time of a boot (user + system): A ${cm[A]} s (${clo[A]}-${chi[A]}), B ${cm[B]} s (${clo[B]}-${chi[B]}), C ${cm[C]} s (${clo[C]}-${chi[C]}); B / A ${cpuratio}, B / C ${cpucratio}"
	{
		printf '{"name": "guest boot to init, through the layer with a passed-through device, %s (%s runs, %s-%s s)", "value": %s, "unit": "s", "baseline": "plain QEMU, no device (median %s s, %s-%s)", "ratio": %s, "goal": "%s", "met": %s}\n' \
			"$tag" "$RUNS" "${lo[B]}" "${hi[B]}" "${m[B]}" "${m[A]}" "${lo[A]}" "${hi[A]}" "$ratio" "$goal" "$met"
		printf '{"name": "guest boot to power-off, through the layer with a passed-through device, %s", "value": %s, "unit": "s", "baseline": "plain QEMU, no device (median %s s)", "ratio": %s, "goal": "", "met": true}\n' \
			"$tag" "${tm[B]}" "${tm[A]}" "$tratio"
		printf '{"name": "guest boot to init, through the layer with a passed-through device, vs RAM locked, %s", "value": %s, "unit": "s", "baseline": "plain QEMU -overcommit mem-lock=on (median %s s, %s-%s)", "ratio": %s, "goal": "", "met": true}\n' \
			"$tag" "${m[B]}" "${m[C]}" "${lo[C]}" "${hi[C]}" "$cratio"
		printf '{"name": "guest boot cpu time (user + system), through the layer with a passed-through device, %s", "value": %s, "unit": "s", "baseline": "plain QEMU, no device (median %s s, %s-%s; B %s-%s)", "ratio": %s, "goal": "", "met": true}\n' \
			"$tag" "${cm[B]}" "${cm[A]}" "${clo[A]}" "${chi[A]}" "${clo[B]}" "${chi[B]}" "$cpuratio"
		printf '{"name": "guest boot cpu time (user + system), through the layer with a passed-through device, vs RAM locked, %s", "value": %s, "unit": "s", "baseline": "plain QEMU -overcommit mem-lock=on (median %s s, %s-%s)", "ratio": %s, "goal": "", "met": true}\n' \
			"$tag" "${cm[B]}" "${cm[C]}" "${clo[C]}" "${chi[C]}" "$cpucratio"
	} >>"$out"
}
: >"$out"
summary warm
summary cold
echo "load: $(uptime | sed 's/.*load average: //') (1, 5, 15 min)"
echo "wrote $out"
