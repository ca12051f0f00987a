#!/bin/bash
# The guest boot-time benchmark (`make bench-guest`): wall-clock time from
# QEMU's start to the guest's /init (its "GUEST-INIT" line on the console),
# (A) plain qemu-system-ppc64, no layer and no device, versus (B) through
# `spaprtce exec` with a virtio-rng passed through by vfio-pci (no request
# log).  The guest runs tests/guest/init with gmode=boot: the marker, then
# power-off.  RUNS boots of each, alternated (A B C A B C ...) so that a
# change of the shared machine's load hits all; the figure is the ratio of
# the medians (goal: at most 1.3), the spread each one's min and max;
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
# the host kernel's zeroing of pinned pages, not the layer's.
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

A=() Bv=() Cv=() AT=() BT=() AC=() BC=() CC=()
for i in $(seq 1 "$RUNS"); do
	for k in A B C; do
		r=$(one $k)
		[ "$r" = fail ] && { echo "bench-guest: boot $k $i did not reach init" >&2; exit 1; }
		read -r ti tt tc <<<"$r"
		echo "  boot $k $i: to init $ti s, to power-off $tt s, cpu $tc s"
		case $k in
		A) A+=("$ti"); AT+=("$tt"); AC+=("$tc") ;;
		B) Bv+=("$ti"); BT+=("$tt"); BC+=("$tc") ;;
		C) Cv+=("$ti"); CC+=("$tc") ;;
		esac
	done
done

stats() {	# median min max of the arguments
	printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END {
		m = NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
		printf "%.3f %.3f %.3f\n", m, v[1], v[NR] }'
}
read -r am amin amax < <(stats "${A[@]}")
read -r bm bmin bmax < <(stats "${Bv[@]}")
read -r cm cmin cmax < <(stats "${Cv[@]}")
read -r atm _ _ < <(stats "${AT[@]}")
read -r acm acmin acmax < <(stats "${AC[@]}")
read -r bcm bcmin bcmax < <(stats "${BC[@]}")
read -r ccm ccmin ccmax < <(stats "${CC[@]}")
read -r btm _ _ < <(stats "${BT[@]}")
ratio=$(awk -v a="$am" -v b="$bm" 'BEGIN { printf "%.3f", b / a }')
met=$(awk -v r="$ratio" 'BEGIN { print (r <= 1.3) ? "true" : "false" }')
tratio=$(awk -v a="$atm" -v b="$btm" 'BEGIN { printf "%.3f", b / a }')
cratio=$(awk -v a="$cm" -v b="$bm" 'BEGIN { printf "%.3f", b / a }')
cpuratio=$(awk -v a="$acm" -v b="$bcm" 'BEGIN { printf "%.3f", b / a }')
cpucratio=$(awk -v a="$ccm" -v b="$bcm" 'BEGIN { printf "%.3f", b / a }')
echo "guest boot to init: plain QEMU median ${am} s (${amin}-${amax}), through the layer with a passed-through virtio-rng median ${bm} s (${bmin}-${bmax}), ratio ${ratio} (goal <= 1.3: $([ "$met" = true ] && echo met || echo NOT MET))"
echo "to power-off: ${atm} s vs ${btm} s, ratio ${tratio}"
echo "versus plain QEMU with its RAM locked (-overcommit mem-lock=on): median ${cm} s (${cmin}-${cmax}), ratio ${cratio}"
echo "cpu time of a boot (user + system): A ${acm} s (${acmin}-${acmax}), B ${bcm} s (${bcmin}-${bcmax}), C ${ccm} s (${ccmin}-${ccmax}); B / A ${cpuratio}, B / C ${cpucratio}"
{
	printf '{"name": "guest boot to init, through the layer with a passed-through device (%s runs, %s-%s s)", "value": %s, "unit": "s", "baseline": "plain QEMU, no device (median %s s, %s-%s)", "ratio": %s, "goal": "<= 1.3", "met": %s}\n' \
		"$RUNS" "$bmin" "$bmax" "$bm" "$am" "$amin" "$amax" "$ratio" "$met"
	printf '{"name": "guest boot to power-off, through the layer with a passed-through device", "value": %s, "unit": "s", "baseline": "plain QEMU, no device (median %s s)", "ratio": %s, "goal": "", "met": true}\n' \
		"$btm" "$atm" "$tratio"
	printf '{"name": "guest boot to init, through the layer with a passed-through device, vs RAM locked", "value": %s, "unit": "s", "baseline": "plain QEMU -overcommit mem-lock=on (median %s s, %s-%s)", "ratio": %s, "goal": "", "met": true}\n' \
		"$bm" "$cm" "$cmin" "$cmax" "$cratio"
	printf '{"name": "guest boot cpu time (user + system), through the layer with a passed-through device", "value": %s, "unit": "s", "baseline": "plain QEMU, no device (median %s s, %s-%s; B %s-%s)", "ratio": %s, "goal": "", "met": true}\n' \
		"$bcm" "$acm" "$acmin" "$acmax" "$bcmin" "$bcmax" "$cpuratio"
	printf '{"name": "guest boot cpu time (user + system), through the layer with a passed-through device, vs RAM locked", "value": %s, "unit": "s", "baseline": "plain QEMU -overcommit mem-lock=on (median %s s, %s-%s)", "ratio": %s, "goal": "", "met": true}\n' \
		"$bcm" "$ccm" "$ccmin" "$ccmax" "$cpucratio"
} >"$out"
echo "wrote $out"
