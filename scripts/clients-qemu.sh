#!/bin/sh
# Runs Debian's qemu-system-ppc64 (7.2) unmodified through `spaprtce exec
# --log` with a vfio-pci device on group 0, `system_reset` then `quit` on the
# monitor, and checks the container requests of the log (docs/dropin.md).
# Until the library has device fds, VFIO_GROUP_GET_DEVICE_FD fails and QEMU
# exits with its error: the script then checks QEMU's unwinding instead of
# the reset (TCE_CREATE), and says so.
# Usage: clients-qemu.sh BUILD_DIR.
set -u
B=$1
out=$B/clients
log=$out/qemu.log
mkdir -p "$out"
rm -f "$log"
fail=0

check() {	# check WHAT PATTERN [COUNT]
	n=$(cat "$log" 2>/dev/null | grep -c -- "$2")
	if [ $# -ge 3 ]; then
		[ "$n" = "$3" ] || { echo "  FAIL: $1: $n lines, expected $3" >&2; fail=1; return; }
	else
		[ "$n" -ge 1 ] || { echo "  FAIL: $1: not in the log" >&2; fail=1; return; }
	fi
	echo "  ok: $1"
}

echo "== qemu-system-ppc64 -M pseries -device vfio-pci,host=0000:00:01.0"
(printf 'system_reset\n'; sleep 3; printf 'quit\n') |
	timeout 120 "$B/spaprtce" exec --log "$log" -- qemu-system-ppc64 -M pseries -accel tcg -m 1G \
		-nodefaults -nographic -S -monitor stdio -device vfio-pci,host=0000:00:01.0 \
		>"$out/qemu.out" 2>&1
rc=$?
check "group 0 opened first" '^open("/dev/vfio/0") = [0-9]* group#1$'
check "group viable" 'VFIO_GROUP_GET_STATUS argsz 8) = 0 -> flags 0x1$'
check "container opened" '^open("/dev/vfio/vfio") = [0-9]* container#1$'
check "API version" 'VFIO_GET_API_VERSION) = 0$'
check "sPAPR v2 offered" 'VFIO_CHECK_EXTENSION 7) = 1$'
check "group attached" 'VFIO_GROUP_SET_CONTAINER container fd [0-9]*) = 0$'
check "SET_IOMMU sPAPR v2" 'VFIO_SET_IOMMU 7) = 0$'
check "guest RAM registered (1 GiB)" 'VFIO_IOMMU_SPAPR_REGISTER_MEMORY argsz 24 flags 0x0 vaddr 0x[0-9a-f]* size 0x40000000) = 0$' 1
check "GET_INFO" 'VFIO_IOMMU_SPAPR_TCE_GET_INFO argsz 32) = 0 -> flags 0x1 dma32 start 0x0 size 0x80000000'
check "default window removed" 'VFIO_IOMMU_SPAPR_TCE_REMOVE argsz 16 flags 0x0 start_addr 0x0) = 0$'
check "GET_DEVICE_FD asked" 'VFIO_GROUP_GET_DEVICE_FD "0000:00:01.0")'
if grep -q 'VFIO_GROUP_GET_DEVICE_FD "0000:00:01.0") = -1' "$log"; then
	echo "  (no device fd yet: QEMU stops at vfio_realize; checking its unwinding)"
	grep -q 'error getting device from group 0' "$out/qemu.out" &&
		echo "  ok: QEMU reports the missing device" ||
		{ echo "  FAIL: QEMU's error message not seen (exit $rc)" >&2; fail=1; }
	check "guest RAM unregistered" 'VFIO_IOMMU_SPAPR_UNREGISTER_MEMORY .* size 0x40000000) = 0$' 1
	check "group detached" 'VFIO_GROUP_UNSET_CONTAINER) = 0$'
	check "released, locked_vm 0" 'released; locked_vm 0 pages$'
else
	[ $rc = 0 ] || { echo "  FAIL: qemu exit $rc ($out/qemu.out)" >&2; fail=1; }
	check "windows created at reset" 'VFIO_IOMMU_SPAPR_TCE_CREATE .*) = 0 -> start_addr'
fi
exit $fail
