#!/bin/sh
# Builds the guest's initramfs (newc cpio, gzip) from what guest-fetch.sh
# unpacked: the static busybox with its applet links, the virtio modules
# (virtio_pci, virtio-rng, virtio_blk and what they depend on, from the
# .modinfo "depends=" of the .deb's modules: it ships no modules.dep) in
# load order, and tests/guest/init as /init with the .sh files of its
# directory beside it (the parts /init sources).  No root-owned file or
# device node is needed: cpio writes owner 0:0 itself (-R), and /init
# mounts devtmpfs before it opens the console.
# Usage: guest-initramfs.sh BUILD_DIR INIT OUT.
set -eu
B=$1
INIT=$2
OUT=$3
G=$B/guest
KVER=$(cat "$G/kver")
MOD=$G/root/lib/modules/$KVER/kernel
T=$G/initramfs.d
WANT="virtio_pci virtio-rng virtio_blk"

rm -rf "$T"
mkdir -p "$T/bin" "$T/dev" "$T/proc" "$T/sys" "$T/tmp" "$T/lib/modules"
cp "$G/root/bin/busybox" "$T/bin/busybox"
for a in sh mount insmod cat echo head od tr dd md5sum sleep poweroff ls sed \
	 grep cmp seq printf timeout blockdev sync wc cut uname dmesg; do
	ln -sf busybox "$T/bin/$a"
done
cp "$INIT" "$T/init"
chmod 755 "$T/init"
# the parts /init sources (gmode=eeh: eeh.sh), from INIT's directory
for f in "$(dirname "$INIT")"/*.sh; do
	[ -f "$f" ] && cp "$f" "$T/$(basename "$f")"
done

# depends= of a module's .modinfo (NUL-separated key=value strings)
deps() {
	f=$(find "$MOD" -name "$1.ko" | head -n 1)
	[ -n "$f" ] || { echo "guest-initramfs: module $1 not in the package" >&2; exit 1; }
	tr '\0' '\n' <"$f" | sed -n 's/^depends=//p' | head -n 1 | tr ',' ' '
}
order=""
visit() {	# depth first: dependencies before the module
	case " $order " in *" $1 "*) return ;; esac
	for d in $(deps "$1"); do visit "$d"; done
	order="$order $1"
}
for m in $WANT; do visit "$m"; done
: >"$T/lib/modules/order"
for m in $order; do
	cp "$(find "$MOD" -name "$m.ko" | head -n 1)" "$T/lib/modules/$m.ko"
	echo "$m" >>"$T/lib/modules/order"
done
(cd "$T" && find . | LC_ALL=C sort | cpio -o -H newc -R 0:0 --quiet) >"$OUT.cpio"
gzip -1 -c "$OUT.cpio" >"$OUT.tmp"
rm -f "$OUT.cpio"
mv "$OUT.tmp" "$OUT"
echo "guest-initramfs: $OUT (modules:$order)" >&2
