#!/bin/sh
# Runs Debian's qemu-system-ppc64 (7.2) unmodified through `spaprtce exec
# --log` with a vfio-pci device on group 0 (-S: no guest code runs),
# `system_reset` then `quit` on the monitor, and checks that QEMU realized
# the device and exited 0, said nothing about VFIO but the EEH warning
# (VFIO_EEH_PE_OP is not served yet), and that the request log holds, in
# order, the sequence of tests/clients/qemu-7.2.expect (docs/dropin.md).
# Usage: clients-qemu.sh BUILD_DIR.
set -u
B=$1
here=$(dirname "$0")
out=$B/clients
log=$out/qemu.log
mkdir -p "$out"
rm -f "$log"
fail=0

echo "== qemu-system-ppc64 -M pseries -device vfio-pci,host=0000:00:01.0"
(printf 'system_reset\n'; sleep 3; printf 'quit\n') |
	timeout 120 "$B/spaprtce" exec --log "$log" -- qemu-system-ppc64 -M pseries -accel tcg -m 1G \
		-nodefaults -nographic -S -monitor stdio -device vfio-pci,host=0000:00:01.0 \
		>"$out/qemu.out" 2>&1
rc=$?
if [ $rc = 0 ]; then
	echo "  ok: QEMU realized the device, reset the machine twice and quit (exit 0)"
else
	echo "  FAIL: qemu exit $rc ($out/qemu.out)" >&2
	fail=1
fi
# QEMU's VFIO messages: only the EEH warning at each reset is expected.
other=$(grep -i 'vfio' "$out/qemu.out" | grep -v 'vfio/eeh: EEH_PE_OP 0x1 failed')
if [ -z "$other" ]; then
	echo "  ok: no VFIO error or warning from QEMU (but EEH_PE_OP's: $(grep -c 'vfio/eeh' "$out/qemu.out"))"
else
	echo "  FAIL: QEMU says: $other" >&2
	fail=1
fi
# The request log against the expected sequence, as an ordered subsequence.
if res=$(awk 'NR == FNR { if ($0 !~ /^#/ && $0 != "") pat[++np] = $0; next }
	k < np && $0 ~ pat[k + 1] { k++; at[k] = FNR }
	END { if (k < np) { printf "missing after log line %d: %s\n", at[k], pat[k + 1]; exit 1 }
	      printf "%d expected requests in order (%d log lines)\n", np, FNR }' \
	"$here/../tests/clients/qemu-7.2.expect" "$log"); then
	echo "  ok: $res"
else
	echo "  FAIL: the log ($log) does not follow tests/clients/qemu-7.2.expect: $res" >&2
	fail=1
fi
# Nothing the expected sequence leaves out may fail, but EEH_PE_OP (not served yet).
bad=$(grep -- ') = -1 ' "$log" | grep -v 'VFIO_EEH_PE_OP')
if [ -z "$bad" ]; then
	echo "  ok: no request failed but VFIO_EEH_PE_OP"
else
	echo "  FAIL: failed requests: $bad" >&2
	fail=1
fi
exit $fail
