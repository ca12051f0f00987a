# gmode=eeh, sourced by /init (busybox sh): the guest's side of the EEH
# acceptance test (docs/eeh.md, "The guest test").  The only device is a
# virtio-rng (its PE alone in QEMU's container, so QEMU offers EEH).
#  1. read the device's stream, then print GUEST-EEH-READY: the host
#     freezes the PE (SPAPRTCE_EEH_CTL) when it sees that line;
#  2. go on reading 16 bytes a second: the read that does not complete
#     within 10 s is the freeze (the driver's request can no longer reach
#     the device: its notify write is dropped, its DMA refused);
#  3. read the virtio device's status register through the virtio core
#     (sysfs "status": an MMIO load of the frozen BAR): all ones, which
#     Linux's MMIO accessor hands to eeh_check_failure -> the PE is found
#     frozen (ibm,read-slot-reset-state2) and recovery starts;
#  4. wait for the driver to go away (virtio_pci has no error handlers:
#     Linux removes the device, resets the PE, and adds it back) and to
#     come back, then read the stream again;
#  5. print the PE's state as the guest sees it and the kernel's EEH lines.
# One GUEST-RESULT line per step, read by scripts/guest-check.sh.

hexof() { od -An -v -tx1 "$1" | tr -d ' \n'; }
rngnow() { cat /sys/class/misc/hw_random/rng_current 2>/dev/null; }

pcidev=
for d in /sys/bus/pci/devices/*; do
	[ "$(cat "$d/vendor" 2>/dev/null)" = 0x1af4 ] && pcidev=$d
done
pestate() { tr ' ' , <"$pcidev/eeh_pe_state" 2>/dev/null; }

waitfor /dev/hwrng 10
head -c 64 /dev/hwrng >/tmp/r0
echo "GUEST-RESULT eeh-before rng=$(rngnow) dev=${pcidev##*/} bytes=$(wc -c </tmp/r0) pe_state=$(pestate) hex=$(hexof /tmp/r0)"
echo "GUEST-EEH-READY"

n=0
stalled=no
while [ $n -lt 90 ]; do
	timeout 10 head -c 16 /dev/hwrng >/tmp/r1 2>/dev/null
	[ "$(wc -c </tmp/r1)" = 16 ] || { stalled=yes; break; }
	n=$((n + 1))
	sleep 1
done
echo "GUEST-RESULT eeh-stall stalled=$stalled reads=$n"
[ $stalled = yes ] || return 0	# never frozen: nothing to recover (the host's checks fail)

vdev=$(ls -d "$pcidev"/virtio* 2>/dev/null | head -n 1)
echo "GUEST-RESULT eeh-detect virtio=${vdev##*/} status=$(cat "$vdev/status" 2>/dev/null)"

# the driver goes away (rng_current "none"), then comes back
i=0
while [ $i -lt 60 ] && [ "$(rngnow)" != none ]; do sleep 0.5; i=$((i + 1)); done
removed=$([ "$(rngnow)" = none ] && echo yes || echo no)
i=0
got=0
: >/tmp/r2
while [ $removed = yes ] && [ $i -lt 90 ]; do
	if [ "$(rngnow)" != none ] && [ -n "$(rngnow)" ]; then
		timeout 5 head -c 256 /dev/hwrng >/tmp/r2 2>/dev/null
		got=$(wc -c </tmp/r2)
		[ "$got" = 256 ] && break
	fi
	sleep 1
	i=$((i + 1))
done
echo "GUEST-RESULT eeh-after rng=$(rngnow) removed=$removed waited=$i bytes=$got pe_state=$(pestate) hex=$(hexof /tmp/r2)"
dmesg | grep 'EEH' | sed 's/^/GUEST-DMESG /'
grep -E '^(EEH|eeh_slot_resets|eeh_total)' /proc/powerpc/eeh 2>/dev/null | tr '\n' ' ' | sed 's/^/GUEST-RESULT eeh-proc /; s/$/\n/'
