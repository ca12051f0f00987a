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
fail=0

sh scripts/guest-fetch.sh "$B" || exit 1
sh scripts/guest-initramfs.sh "$B" tests/guest/init "$G/initramfs.gz" || exit 1

now() { date +%s.%N; }
secs() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", b - a }'; }
ok() { echo "  ok: $1"; }
bad() { echo "  FAIL: $1" >&2; fail=1; }

# boot NAME MACHINE APPEND TIMEOUT: one boot; files $G/NAME.{out,stats,log}, disk $G/disk.img
boot() {
	name=$1
	rm -f "$G/$name.out" "$G/$name.stats" "$G/$name.log"
	rm -f "$G/disk.img" && truncate -s 16M "$G/disk.img"
	t0=$(now)
	SPAPRTCE_STATS=$G/$name.stats timeout -k 10 "$4" "$B/spaprtce" exec --machine "$2" --log "$G/$name.log" -- \
		qemu-system-ppc64 -M pseries -accel tcg -m 1G -nographic -nodefaults -serial stdio \
		-kernel "$G/vmlinux" -initrd "$G/initramfs.gz" \
		-append "console=hvc0 quiet rng_core.default_quality=0 $3" \
		-device vfio-pci,host=0000:00:01.0 -device vfio-pci,host=0000:00:02.0 \
		</dev/null >"$G/$name.out" 2>&1
	rc=$?
	elapsed=$(secs "$t0" "$(now)")
	tr -d '\r' <"$G/$name.out" | grep -a -o 'GUEST-[A-Z]*.*' | sed 's/^/    guest: /' | cut -c1-200
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

if [ "$WHAT" = run ]; then
	token=run$$
	echo "== booting (dev0=virtio-rng, dev1=virtio-blk); the console follows"
	rm -f "$G/disk.img" && truncate -s 16M "$G/disk.img"
	SPAPRTCE_STATS=- timeout -k 10 "$BOOT_TIMEOUT" "$B/spaprtce" exec \
		--machine "dev0=virtio-rng:seed=$SEED,dev1=virtio-blk:file=$G/disk.img" --log "$G/requests.log" -- \
		qemu-system-ppc64 -M pseries -accel tcg -m 1G -nographic -nodefaults -serial stdio \
		-kernel "$G/vmlinux" -initrd "$G/initramfs.gz" \
		-append "console=hvc0 rng_core.default_quality=0 gmode=full gtoken=$token ${GUEST_APPEND:-}" \
		-device vfio-pci,host=0000:00:01.0 -device vfio-pci,host=0000:00:02.0
	rc=$?
	echo "== qemu exit $rc; requests in $G/requests.log; the statistics are the spaprtce-stats lines above"
	exit $rc
fi

T0=$(now)

echo "== guest with DDW (dev0=virtio-rng, dev1=virtio-blk)"
name=requests
token=ddw$$
boot requests "dev0=virtio-rng:seed=$SEED,dev1=virtio-blk:file=$G/disk.img" "gmode=full gtoken=$token" "$BOOT_TIMEOUT"
full_checks ddw ddw

echo "== guest with disable_ddw"
token=noddw$$
boot noddw "dev0=virtio-rng:seed=$SEED,dev1=virtio-blk:file=$G/disk.img" "disable_ddw gmode=full gtoken=$token" "$BOOT_TIMEOUT"
full_checks disable_ddw noddw

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

echo "check-guest: three boots in $(secs "$T0" "$(now)")s"
[ $fail = 0 ] && echo "check-guest: PASS" || { echo "check-guest: FAIL" >&2; exit 1; }
