#!/bin/sh
# Runs tests/clients/dpdk_client (DPDK 22.11, Debian's shared libraries)
# through `spaprtce exec --log` and checks the program's own verdict and the
# container requests of the log (docs/dropin.md, "Real clients").
# Usage: clients-dpdk.sh BUILD_DIR.  Modes: --no-huge (always), hugepages
# (skipped with a message when no 2 MiB hugepage is free).
set -u
B=$1
out=$B/clients
mkdir -p "$out"
fail=0

check() {	# check LOG WHAT PATTERN [COUNT]
	n=$(cat "$1" 2>/dev/null | grep -c -- "$3")
	if [ $# -ge 4 ]; then
		[ "$n" = "$4" ] || { echo "  FAIL: $2: $n lines, expected $4" >&2; fail=1; return; }
	else
		[ "$n" -ge 1 ] || { echo "  FAIL: $2: not in the log" >&2; fail=1; return; }
	fi
	echo "  ok: $2"
}

run() {	# run MODE EAL_ARGS...
	mode=$1; shift
	log=$out/dpdk-$mode.log
	rm -f "$log"
	echo "== dpdk_client ($mode)"
	"$B/spaprtce" exec --log "$log" --trace "$out/dpdk-$mode.trace" -- "$B/clients/dpdk_client" "$@" \
		>"$out/dpdk-$mode.out" 2>&1
	rc=$?
	grep '^dpdk_client' "$out/dpdk-$mode.out"
	[ $rc = 0 ] || { echo "  FAIL: dpdk_client exit $rc (output: $out/dpdk-$mode.out)" >&2; fail=1; }
	check "$log" "/dev/vfio/vfio opened" 'open("/dev/vfio/vfio") = [0-9]* container#1$'
	check "$log" "API version" 'VFIO_GET_API_VERSION) = 0$'
	check "$log" "type1 not offered" 'VFIO_CHECK_EXTENSION 1) = 0$'
	check "$log" "sPAPR v2 offered" 'VFIO_CHECK_EXTENSION 7) = 1$'
	check "$log" "group 0 opened" 'open("/dev/vfio/0") = [0-9]* group#1$'
	check "$log" "group attached" 'VFIO_GROUP_SET_CONTAINER container fd [0-9]*) = 0$'
	check "$log" "SET_IOMMU type1 refused (ENODEV, vfio_ioctl_set_iommu)" 'VFIO_SET_IOMMU 1) = -1 ENODEV$'
	check "$log" "SET_IOMMU sPAPR v2" 'VFIO_SET_IOMMU 7) = 0$'
	check "$log" "default window removed" 'VFIO_IOMMU_SPAPR_TCE_REMOVE argsz 16 flags 0x0 start_addr 0x0) = 0$'
	check "$log" "window created at 0" "VFIO_IOMMU_SPAPR_TCE_CREATE .* page_shift $SHIFT .* levels 1) = 0 -> start_addr 0x0$"
	check "$log" "GET_DEVICE_FD gives a device fd" 'VFIO_GROUP_GET_DEVICE_FD "0000:00:01.0") = [0-9]* device$' 1
	check "$log" "DEVICE_GET_INFO" 'VFIO_DEVICE_GET_INFO argsz [0-9]*) = 0 -> flags 0x3 num_regions 10 num_irqs 5$'
	check "$log" "bus mastering on (config write)" 'pwrite([0-9]* device#1, len 0x2, offset 0x70000000004) = 2$' 1
	check "$log" "dma-engine doorbells (BAR0 writes)" 'pwrite([0-9]* device#1, len 0x4, offset 0x24) = 4$' 4
	# The malformed unmap: argsz 24, iova 0, size = the region's iova (the client printed it); then EBUSY.
	iova=$(sed -n 's/^dpdk_client: region at iova \(0x[0-9a-f]*\) .*/\1/p' "$out/dpdk-$mode.out")
	check "$log" "type1-layout UNMAP_DMA (iova 0, size = the region's iova ${iova:-?})" \
		"VFIO_IOMMU_UNMAP_DMA argsz 24 flags 0x0 iova 0x0 size ${iova:-none}) = 0\$" 1
	check "$log" "UNREGISTER refused" "VFIO_IOMMU_SPAPR_UNREGISTER_MEMORY .* size $PAGE) = -1 EBUSY\$" 1
	check "$log" "device released" '^close([0-9]* device#1) = 0 released' 1
	check "$log" "group's last close releases the container: locked_vm 0" \
		'^close([0-9]* group#1) = 0 released; locked_vm 0 pages$' 1
}

SHIFT=12 PAGE=0x1000
run nohuge --no-huge -m 64 --no-pci --no-shconf --iova-mode=va -l 0 --log-level=lib.eal:debug
# The recorded run replays here as it ran (the recorder's promise).
if "$B/spaprtce" replay "$out/dpdk-nohuge.trace" > "$out/dpdk-nohuge.replay" 2>&1; then
	echo "  ok: the recorded trace replays: $(tail -1 "$out/dpdk-nohuge.replay")"
else
	echo "  FAIL: the recorded trace does not replay: $(tail -3 "$out/dpdk-nohuge.replay")" >&2
	fail=1
fi
# 64 MiB of 4 KiB pages: 16,384 REGISTER + MAP pairs, plus the program's region.
check "$out/dpdk-nohuge.log" "16,384 + 1 REGISTER" 'VFIO_IOMMU_SPAPR_REGISTER_MEMORY .*) = 0$' 16385
check "$out/dpdk-nohuge.log" "16,384 + 1 MAP" 'VFIO_IOMMU_MAP_DMA .*) = 0$' 16385

free=$(awk '/^HugePages_Free:/ {print $2}' /proc/meminfo)
hps=$(awk '/^Hugepagesize:/ {print $2}' /proc/meminfo)
# As root, raise the default (2 MiB) pool by what is missing, restored after the run.
nr=$(cat /proc/sys/vm/nr_hugepages 2>/dev/null || echo 0)
if [ "${free:-0}" -lt 64 ] && [ "$hps" = 2048 ] && [ "$(id -u)" = 0 ]; then
	echo $((nr + 64 - free)) > /proc/sys/vm/nr_hugepages 2>/dev/null
	trap 'echo '"$nr"' > /proc/sys/vm/nr_hugepages' EXIT
	free=$(awk '/^HugePages_Free:/ {print $2}' /proc/meminfo)
fi
if [ "${free:-0}" -ge 64 ] && [ "$hps" = 2048 ]; then
	SHIFT=21 PAGE=0x200000
	run huge -m 64 --in-memory --no-pci --iova-mode=va -l 0 --log-level=lib.eal:debug
else
	echo "== dpdk_client (hugepages): skipped: ${free:-0} free hugepages of ${hps:-?} kB (64 of 2048 kB needed)"
fi
exit $fail
