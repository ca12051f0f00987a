#!/bin/sh
# Fetches what `make check-guest` boots, cached under BUILD_DIR/guest:
#   - Debian's qemu-system-ppc (the host's own package, through apt as root,
#     only when qemu-system-ppc64 is missing);
#   - the ppc64el kernel (linux-image-*-powerpc64le of Debian 12) and
#     busybox-static (ppc64el), through PRIVATE apt lists: a configuration
#     directory under BUILD_DIR/guest/apt whose state, cache and source list
#     are its own, with the architecture given in apt's options.  The host's
#     apt configuration is never changed (no foreign architecture is added).
# The packages are unpacked into BUILD_DIR/guest/root.  A second run with
# everything in place downloads nothing.
# Usage: guest-fetch.sh BUILD_DIR.
set -eu
mkdir -p "$1"; B=$(cd "$1" && pwd)
G=$B/guest
A=$G/apt
CACHE=$G/cache
ROOT=$G/root
PKGS="linux-image-powerpc64le busybox-static"

mkdir -p "$G"

# 1. the host's QEMU, and cpio for the initramfs
HOSTPKGS=""
command -v qemu-system-ppc64 >/dev/null 2>&1 || HOSTPKGS="qemu-system-ppc"
command -v cpio >/dev/null 2>&1 || HOSTPKGS="$HOSTPKGS cpio"
if [ -n "$HOSTPKGS" ]; then
	if [ "$(id -u)" != 0 ]; then
		echo "guest-fetch: run: sudo apt-get install -y $HOSTPKGS" >&2
		exit 1
	fi
	echo "guest-fetch: installing$HOSTPKGS" >&2
	APT="apt-get -o DPkg::Lock::Timeout=900"
	# shellcheck disable=SC2086
	DEBIAN_FRONTEND=noninteractive $APT install -y -qq --no-install-recommends $HOSTPKGS >/dev/null 2>&1 ||
		{ DEBIAN_FRONTEND=noninteractive $APT update -qq >/dev/null &&
		  DEBIAN_FRONTEND=noninteractive $APT install -y -qq --no-install-recommends $HOSTPKGS >/dev/null; }
fi

# 2. cached: the unpacked kernel, its modules and busybox
if [ -f "$G/stamp" ] && [ -f "$G/vmlinux" ] && [ -x "$ROOT/bin/busybox" ]; then
	exit 0
fi

# 3. private apt: the host's Debian mirror and suites, ppc64el only
mkdir -p "$A/etc/sources.list.d" "$A/etc/preferences.d" "$A/etc/apt.conf.d" \
	"$A/state/lists/partial" "$A/cache/archives/partial" "$CACHE" "$ROOT"
: >"$A/state/status"
src=$A/etc/sources.list
: >"$src"
# one-line entries of the host's (classic or deb822) sources: Debian's own
# only, each marked arch=ppc64el (its other options, signed-by, kept)
for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
	[ -f "$f" ] || continue
	grep -E '^[[:space:]]*deb[[:space:]]' "$f" | grep -E 'debian' |
		sed -E -e 's/^[[:space:]]*deb[[:space:]]+\[([^]]*)\]/deb [arch=ppc64el \1]/' \
		       -e 's/^[[:space:]]*deb[[:space:]]+([^[])/deb [arch=ppc64el] \1/' >>"$src" || true
done
for f in /etc/apt/sources.list.d/*.sources; do
	[ -f "$f" ] || continue
	awk '
	function flush() {
		if (uris != "" && suites != "" && types ~ /(^| )deb( |$)/ && uris ~ /debian/ && !disabled) {
			opt = "arch=ppc64el" (signed != "" ? " signed-by=" signed : "")
			n = split(uris, u, " "); m = split(suites, s, " ")
			for (i = 1; i <= n; i++) for (j = 1; j <= m; j++)
				print "deb [" opt "] " u[i] " " s[j] " " comps
		}
		types = uris = suites = comps = signed = ""; disabled = 0
	}
	/^[[:space:]]*#/ { next }
	/^[[:space:]]*$/ { flush(); next }
	/^Types:/ { sub(/^Types:[[:space:]]*/, ""); types = $0 }
	/^URIs:/ { sub(/^URIs:[[:space:]]*/, ""); uris = $0 }
	/^Suites:/ { sub(/^Suites:[[:space:]]*/, ""); suites = $0 }
	/^Components:/ { sub(/^Components:[[:space:]]*/, ""); comps = $0 }
	/^Signed-By:[[:space:]]*\// { sub(/^Signed-By:[[:space:]]*/, ""); signed = $0 }
	/^Enabled:[[:space:]]*no/ { disabled = 1 }
	END { flush() }' "$f" >>"$src"
done
[ -s "$src" ] || { echo "guest-fetch: no Debian source in the host's apt configuration" >&2; exit 1; }

APTOPT="-o Dir::State=$A/state -o Dir::State::status=$A/state/status
	-o Dir::Cache=$A/cache -o Dir::Etc::SourceList=$src
	-o Dir::Etc::SourceParts=$A/etc/sources.list.d -o Dir::Etc::Preferences=$A/etc/preferences
	-o Dir::Etc::PreferencesParts=$A/etc/preferences.d
	-o APT::Architecture=ppc64el -o APT::Architectures=ppc64el
	-o Debug::NoLocking=1 -o APT::Sandbox::User=root -qq"

if [ ! -f "$A/stamp-update" ]; then
	echo "guest-fetch: private apt lists (ppc64el) in $A" >&2
	# shellcheck disable=SC2086
	apt-get $APTOPT update >&2
	touch "$A/stamp-update"
fi

# The kernel image: the metapackage names the current ABI's package.
if ! ls "$CACHE"/linux-image-*-powerpc64le_*.deb >/dev/null 2>&1 ||
   ! ls "$CACHE"/busybox-static_*.deb >/dev/null 2>&1; then
	# shellcheck disable=SC2086
	kpkg=$(apt-cache $APTOPT depends linux-image-powerpc64le 2>/dev/null |
		sed -n 's/^ *Depends: \(linux-image-[0-9][^ ]*-powerpc64le\).*/\1/p' | head -n 1)
	[ -n "$kpkg" ] || { echo "guest-fetch: no linux-image-*-powerpc64le in the ppc64el lists" >&2; exit 1; }
	echo "guest-fetch: downloading $kpkg busybox-static (ppc64el)" >&2
	# shellcheck disable=SC2086
	(cd "$CACHE" && apt-get $APTOPT download "$kpkg:ppc64el" "busybox-static:ppc64el" >&2)
fi

rm -rf "$ROOT" && mkdir -p "$ROOT"
for d in "$CACHE"/linux-image-*-powerpc64le_*.deb "$CACHE"/busybox-static_*.deb; do
	dpkg-deb -x "$d" "$ROOT"
done
k=$(ls "$ROOT"/boot/vmlinux-* | head -n 1)
[ -n "$k" ] || { echo "guest-fetch: no vmlinux in the kernel package" >&2; exit 1; }
ln -sf "root/boot/$(basename "$k")" "$G/vmlinux"
ls "$ROOT"/lib/modules >"$G/kver"
touch "$G/stamp"
echo "guest-fetch: kernel $(cat "$G/kver"), busybox in $ROOT" >&2
