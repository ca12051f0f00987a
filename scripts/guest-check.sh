#!/bin/sh
# Boots a Debian ppc64el guest in Debian's qemu-system-ppc64 (pseries, TCG)
# through the drop-in layer, with emulated devices passed through by
# vfio-pci: the guest's own virtio drivers DMA through the emulated TCE
# hardware.  docs/guest.md describes what is checked and why.
# Usage: guest-check.sh BUILD_DIR check   the checks of `make check-guest`
#        guest-check.sh BUILD_DIR run     one boot for a person (`make run-guest`):
#                                         the console, then the emulator's statistics
set -u
B=$1
WHAT=${2:-check}
G=$B/guest
SEED=0x5eed5eed
RNG_WINDOW=65536	# the guest's bytes must be pieces of the stream's first RNG_WINDOW bytes
BOOT_TIMEOUT=${GUEST_TIMEOUT:-240}
FAULT_TIMEOUT=${GUEST_FAULT_TIMEOUT:-180}
EEH_TIMEOUT=${GUEST_EEH_TIMEOUT:-300}
BOOTS=${GUEST_BOOTS:-ddw noddw fault eeh}	# which of the checks' boots run
EEH_RNG_WINDOW=1048576	# the EEH boot's drivers (two probes) take more of the stream
fail=0

sh scripts/guest-fetch.sh "$B" || exit 1
sh scripts/guest-initramfs.sh "$B" tests/guest/init "$G/initramfs.gz" || exit 1

now() { date +%s.%N; }
secs() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", b - a }'; }
ok() { echo "  ok: $1"; }
bad() { echo "  FAIL: $1" >&2; fail=1; }

# boot NAME MACHINE APPEND TIMEOUT [DEVICES]: one boot; files $G/NAME.{out,stats,log},
# disk $G/disk.img; DEVICES the host addresses passed through (default both
# groups').  With $on_ready set, QEMU runs in the background and the
# command $on_ready runs once the guest printed GUEST-EEH-READY.
boot() {
	name=$1
	devs=""
	for d in ${5:-0000:00:01.0 0000:00:02.0}; do devs="$devs -device vfio-pci,host=$d"; done
	rm -f "$G/$name.out" "$G/$name.stats" "$G/$name.log"
	rm -f "$G/disk.img" && truncate -s 16M "$G/disk.img"
	t0=$(now)
	# shellcheck disable=SC2086
	SPAPRTCE_STATS=$G/$name.stats timeout -k 10 "$4" "$B/spaprtce" exec --machine "$2" --log "$G/$name.log" -- \
		qemu-system-ppc64 -M pseries -accel tcg -m 1G -nographic -nodefaults -serial stdio \
		-kernel "$G/vmlinux" -initrd "$G/initramfs.gz" \
		-append "console=hvc0 quiet rng_core.default_quality=0 $3" \
		$devs </dev/null >"$G/$name.out" 2>&1 &
	qpid=$!
	if [ -n "${on_ready:-}" ]; then
		while kill -0 "$qpid" 2>/dev/null && ! grep -a -q '^GUEST-EEH-READY' "$G/$name.out"; do
			sleep 0.5
		done
		kill -0 "$qpid" 2>/dev/null && $on_ready
	fi
	wait "$qpid"
	rc=$?
	elapsed=$(secs "$t0" "$(now)")
	tr -d '\r' <"$G/$name.out" | grep -a -o 'GUEST-[A-Z]*.*' | grep -v '^GUEST-DMESG .*EEH: \[' |
		sed 's/^/    guest: /' | cut -c1-200
	echo "    (qemu exit $rc after ${elapsed}s)"
}

result() {	# result CHECK: the guest's result line of CHECK (without the prefix)
	tr -d '\r' <"$G/$name.out" | grep -a -o "GUEST-RESULT $1 .*" | head -n 1
}
field() {	# field LINE KEY
	echo "$1" | tr ' ' '\n' | sed -n "s/^$2=//p" | head -n 1
}
stat_faults() { sed -n 's/^spaprtce-stats faults \([0-9]*\)$/\1/p' "$G/$name.stats" 2>/dev/null; }

# The checks of one full boot (rng and blk); $1 the mode's name, $2 ddw|noddw
full_checks() {
	[ "$rc" = 0 ] && ok "$1: the guest powered off (qemu exit 0, ${elapsed}s)" || bad "$1: qemu exit $rc ($G/$name.out)"
	l=$(result modules)
	[ "$(field "$l" status)" = ok ] && ok "$1: virtio modules loaded" || bad "$1: modules: $l"
	l=$(result rng)
	hex=$(field "$l" hex)
	if [ "$(field "$l" rng)" = virtio_rng.0 ] && [ "$(field "$l" bytes)" = 256 ] && [ ${#hex} = 512 ] &&
	   v=$("$B/tests/guest-rngstream" "$SEED" "$RNG_WINDOW" "$hex"); then
		ok "$1: virtio-rng: the guest's 256 bytes of /dev/hwrng are the device's stream, in order ($v)"
	else
		bad "$1: virtio-rng: not the device's bytes (${v:-}): $(echo "$l" | cut -c1-120)"
	fi
	l=$(result blk)
	md5=$(field "$l" md5)
	host=$(dd if="$G/disk.img" bs=4096 skip=8 count=8 2>/dev/null | md5sum | cut -d' ' -f1)
	lines=$(dd if="$G/disk.img" bs=4096 skip=8 count=8 2>/dev/null | grep -a -c "^spaprtce $token line ")
	if [ "$(field "$l" same)" = yes ] && [ "$(field "$l" write)" = 0 ] && [ -n "$md5" ] && [ "$md5" = "$host" ]; then
		ok "$1: virtio-blk: 32 KiB written and read back in the guest, the host file holds them ($lines lines of this run)"
	else
		bad "$1: virtio-blk: guest '$l', host md5 $host"
	fi
	if [ "$2" = ddw ]; then
		grep -q 'VFIO_IOMMU_SPAPR_TCE_CREATE .*) = 0 -> start_addr 0x800000000000000$' "$G/$name.log" &&
		n=$(grep -c 'VFIO_IOMMU_MAP_DMA .* size 0x1000000) = 0$' "$G/$name.log") && [ "$n" -ge 64 ] &&
			ok "$1: DDW: the 64-bit window at 1<<59, RAM mapped with $n 16 MiB MAP_DMAs" ||
			bad "$1: no dynamic DMA window in $G/$name.log"
	else
		n=$(grep -c 'VFIO_IOMMU_MAP_DMA .* size 0x1000) = 0$' "$G/$name.log")
		! grep -q 'start_addr 0x800000000000000$' "$G/$name.log" && [ "$n" -ge 1 ] &&
			ok "$1: disable_ddw: no 64-bit window, $n MAP_DMAs of 4 KiB (one per guest TCE)" ||
			bad "$1: expected 4 KiB MAP_DMAs and no DDW in $G/$name.log"
	fi
	f=$(stat_faults)
	w=$(grep -c '^spaprtce-stats group [01] .* dma_writes [1-9]' "$G/$name.stats" 2>/dev/null)
	[ "$f" = 0 ] && [ "$w" = 2 ] && ok "$1: the emulator's fault log is empty at exit; both devices wrote by DMA" ||
		bad "$1: stats at exit: faults '$f', groups with DMA writes $w ($G/$name.stats)"
}

# The checks of the EEH boot (docs/eeh.md, "The guest test")
eeh_checks() {
	[ "$rc" = 0 ] && ok "eeh: the guest powered off (qemu exit 0, ${elapsed}s)" || bad "eeh: qemu exit $rc ($G/$name.out)"
	l=$(result eeh-before)
	if [ "$(field "$l" bytes)" = 64 ] && v=$("$B/tests/guest-rngstream" "$SEED" "$EEH_RNG_WINDOW" "$(field "$l" hex)"); then
		ok "eeh: before the freeze the guest reads the device's stream ($v); its PE state $(field "$l" pe_state)"
	else
		bad "eeh: before the freeze: $(echo "$l" | cut -c1-160)"
	fi
	l=$(result eeh-stall)
	[ "$froze" = yes ] && [ "$(field "$l" stalled)" = yes ] &&
		ok "eeh: frozen from outside after the guest's $(field "$l" reads) reads; its next read of /dev/hwrng never completed" ||
		bad "eeh: froze '$froze', guest '$l'"
	l=$(result eeh-detect)
	[ "$(field "$l" status)" = 0x000000ff ] &&
		ok "eeh: the virtio status register read all ones (MMIO of a frozen PE)" ||
		bad "eeh: status read '$l'"
	for m in 'EEH: Frozen PHB#[0-9a-f]*-PE#[0-9a-f]* detected' 'EEH: Reset with hotplug activity' 'EEH: Recovery successful'; do
		g=$(tr -d '\r' <"$G/$name.out" | grep -a -m1 "^GUEST-DMESG .*$m" | sed 's/^GUEST-DMESG \[ *[0-9.]*\] //')
		[ -n "$g" ] && ok "eeh: the guest's kernel: \"$g\"" || bad "eeh: no \"$m\" in the guest's log"
	done
	l=$(result eeh-after)
	if [ "$(field "$l" removed)" = yes ] && [ "$(field "$l" bytes)" = 256 ] &&
	   v=$("$B/tests/guest-rngstream" "$SEED" "$EEH_RNG_WINDOW" "$(field "$l" hex)"); then
		ok "eeh: the driver was removed and re-added ($(field "$l" rng)); 256 bytes of /dev/hwrng are the device's stream again ($v)"
	else
		bad "eeh: after recovery: $(echo "$l" | cut -c1-160)"
	fi
	[ "$(field "$l" pe_state)" = 0x00000078,0x00000000 ] &&
		ok "eeh: the guest's PE state at the end: MMIO and DMA active and enabled, not isolated ($(field "$l" pe_state))" ||
		bad "eeh: the guest's PE state at the end: '$(field "$l" pe_state)'"
	l=$(result eeh-proc)
	[ "$(field "$l" eeh_slot_resets)" = 1 ] && ok "eeh: the guest counted one slot reset" || bad "eeh: guest /proc/powerpc/eeh '$l'"
	# The ops, in the order the recovery needs them: GET_STATE answering
	# STOPPED (2), a reset asserted (RESET_HOT 6 or RESET_FUNDAMENTAL 7),
	# RESET_DEACTIVATE (5), CONFIGURE (8); the last GET_STATE answers NORMAL
	# (0); no op failed.
	ops=$(grep -a 'VFIO_EEH_PE_OP' "$G/$name.log" | sed -n 's/.* op \([0-9]*\)) = \(.*\)$/\1=\2/p' | tr '\n' ' ')
	names=$(echo "$ops" | sed 's/\b0=/DISABLE=/g; s/\b1=/ENABLE=/g; s/\b2=/UNFREEZE_IO=/g; s/\b3=/UNFREEZE_DMA=/g;
		s/\b4=/GET_STATE=/g; s/\b5=/RESET_DEACTIVATE=/g; s/\b6=/RESET_HOT=/g; s/\b7=/RESET_FUNDAMENTAL=/g;
		s/\b8=/CONFIGURE=/g; s/\b9=/INJECT_ERR=/g')
	if echo " $ops" | grep -q ' 4=2 .* [67]=0 5=0 .* 8=0 ' && echo "$ops" | grep -q '4=0 $' &&
	   ! echo "$ops" | grep -q '=-'; then
		ok "eeh: the request log's VFIO_EEH_PE_OPs (op=result): $names"
	else
		bad "eeh: VFIO_EEH_PE_OPs in $G/$name.log: $names"
	fi
	# The emulator's own count (the layer's eeh line at exit): one freeze,
	# from outside, none by a DMA fault or injection; recovered, normal.
	e=$(grep -m1 '^spaprtce-stats group 0 eeh ' "$G/$name.stats" 2>/dev/null)
	if echo "$e" | grep -q ' enabled 1 state 0 freezes dma_fault 0 injected 0 external 1 recoveries [1-9]'; then
		ok "eeh: the emulator counted one external freeze and its recovery (${e#spaprtce-stats group 0 })"
	else
		bad "eeh: the emulator's PE at exit '$e' ($G/$name.stats)"
	fi
	# A DMA can be refused only when the freeze lands inside the device's
	# handling of a notify (the freeze waits for a DMA in flight, the next
	# one is refused): then its record says "PE frozen", never anything else.
	f=$(stat_faults)
	other=$(grep '^spaprtce-stats group .* fault ' "$G/$name.stats" 2>/dev/null | grep -c -v 'reason "PE frozen"$')
	if [ "$f" = 0 ]; then
		ok "eeh: the emulator's fault log is empty at exit"
	elif [ -n "$f" ] && [ "$other" = 0 ]; then
		ok "eeh: the emulator's fault log at exit: $f DMA(s) refused while frozen (\"PE frozen\"), nothing else"
	else
		bad "eeh: faults at exit '$f', $other not \"PE frozen\" ($G/$name.stats)"
	fi
}

if [ "$WHAT" = run ]; then
	token=run$$
	# GUEST_MODE=eeh with GUEST_DEVICES=0000:00:01.0 and SPAPRTCE_EEH_CTL=PATH:
	# the EEH boot by hand (freeze with `echo "freeze 0" >PATH` once the
	# guest printed GUEST-EEH-READY; docs/guest.md).
	devs=""
	for d in ${GUEST_DEVICES:-0000:00:01.0 0000:00:02.0}; do devs="$devs -device vfio-pci,host=$d"; done
	echo "== booting (dev0=virtio-rng, dev1=virtio-blk;$devs); the console follows"
	rm -f "$G/disk.img" && truncate -s 16M "$G/disk.img"
	# shellcheck disable=SC2086
	SPAPRTCE_STATS=- timeout -k 10 "$BOOT_TIMEOUT" "$B/spaprtce" exec \
		--machine "dev0=virtio-rng:seed=$SEED,dev1=virtio-blk:file=$G/disk.img" --log "$G/requests.log" -- \
		qemu-system-ppc64 -M pseries -accel tcg -m 1G -nographic -nodefaults -serial stdio \
		-kernel "$G/vmlinux" -initrd "$G/initramfs.gz" \
		-append "console=hvc0 rng_core.default_quality=0 gmode=${GUEST_MODE:-full} gtoken=$token ${GUEST_APPEND:-}" \
		$devs
	rc=$?
	echo "== qemu exit $rc; requests in $G/requests.log; the statistics are the spaprtce-stats lines above"
	exit $rc
fi

T0=$(now)

want() { case " $BOOTS " in *" $1 "*) return 0 ;; esac; return 1; }
nboots=0

if want ddw; then
nboots=$((nboots + 1))
echo "== guest with DDW (dev0=virtio-rng, dev1=virtio-blk)"
name=requests
token=ddw$$
boot requests "dev0=virtio-rng:seed=$SEED,dev1=virtio-blk:file=$G/disk.img" "gmode=full gtoken=$token" "$BOOT_TIMEOUT"
full_checks ddw ddw
fi

if want noddw; then
nboots=$((nboots + 1))
echo "== guest with disable_ddw"
token=noddw$$
boot noddw "dev0=virtio-rng:seed=$SEED,dev1=virtio-blk:file=$G/disk.img" "disable_ddw gmode=full gtoken=$token" "$BOOT_TIMEOUT"
full_checks disable_ddw noddw
fi

if want fault; then
nboots=$((nboots + 1))
echo "== a virtio-rng without ACCESS_PLATFORM (platform=0)"
token=fault$$
boot fault "dev0=virtio-rng:platform=0:seed=$SEED,dev1=virtio-blk:file=$G/disk.img" "gmode=fault gtoken=$token" "$FAULT_TIMEOUT"
l=$(result rng-fault)
if [ -n "$l" ] && [ "$(field "$l" bytes)" = 0 ] && [ "$(field "$l" rc)" != 0 ]; then
	ok "platform=0: the guest's read of /dev/hwrng got nothing and ended by its timeout (rc $(field "$l" rc))"
elif [ -z "$l" ] && [ "$rc" = 124 ]; then
	ok "platform=0: the guest never finished; the host's timeout ended it after ${elapsed}s"
else
	bad "platform=0: guest '$l', qemu exit $rc"
fi
f=$(stat_faults)
rec=$(grep -c '^spaprtce-stats group 0 fault .* access [a-z]* reason "\(no window\|no translation\)"$' "$G/$name.stats" 2>/dev/null)
[ -n "$f" ] && [ "$f" -ge 1 ] && [ "$rec" -ge 1 ] &&
	ok "platform=0: $f fault(s) in the emulator's log at exit (group 0: $(grep -m1 '^spaprtce-stats group 0 fault' "$G/$name.stats" | cut -d' ' -f5-))" ||
	bad "platform=0: no fault recorded (faults '$f', records $rec, $G/$name.stats)"
grep -q '^spaprtce-stats group 1 .* faults 0 ' "$G/$name.stats" &&
	ok "platform=0: the well-behaved virtio-blk beside it has no fault" ||
	bad "platform=0: group 1's faults ($G/$name.stats)"
fi

if want eeh; then
nboots=$((nboots + 1))
echo "== EEH: the virtio-rng's PE frozen from outside while the guest reads it"
# One device: QEMU offers EEH to the guest only when the PHB's address
# space has one container holding one group (spapr_phb_eeh_available).
token=eeh$$
ctl=$G/eeh.ctl
rm -f "$ctl"
freeze() {	# the host's side: freeze group 0's PE through the layer's FIFO
	timeout 10 sh -c "echo 'freeze 0' >'$ctl'" && froze=yes
	echo "    host: froze group 0's PE at $(secs "$t0" "$(now)")s"
}
froze=no
export SPAPRTCE_EEH_CTL=$ctl
on_ready=freeze boot eeh "dev0=virtio-rng:seed=$SEED" "gmode=eeh gtoken=$token" "$EEH_TIMEOUT" 0000:00:01.0
unset SPAPRTCE_EEH_CTL on_ready
eeh_checks
rm -f "$ctl"
fi

[ "$nboots" -gt 0 ] || bad "GUEST_BOOTS '$BOOTS' names none of: ddw noddw fault eeh"
echo "check-guest: $nboots boots in $(secs "$T0" "$(now)")s"
[ $fail = 0 ] && echo "check-guest: PASS" || { echo "check-guest: FAIL" >&2; exit 1; }
