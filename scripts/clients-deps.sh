#!/bin/sh
# Installs what `make check-clients` needs when it is missing: Debian's
# dpdk-dev (22.11: pkg-config libdpdk) and qemu-system-ppc (7.2:
# qemu-system-ppc64).  As root it runs apt-get (waiting up to 15 minutes for
# another apt to release the dpkg lock); otherwise it says what to run.
set -u
PKGS="dpdk-dev qemu-system-ppc"

have() {
	pkg-config --exists libdpdk 2>/dev/null && command -v qemu-system-ppc64 >/dev/null 2>&1
}

have && exit 0
if [ "$(id -u)" != 0 ]; then
	echo "check-clients needs the Debian packages: $PKGS" >&2
	echo "run:  sudo apt-get update && sudo apt-get install -y $PKGS" >&2
	exit 1
fi
echo "clients-deps: installing $PKGS" >&2
export DEBIAN_FRONTEND=noninteractive
APT="apt-get -o DPkg::Lock::Timeout=900"
$APT install -y -qq --no-install-recommends $PKGS >/dev/null 2>&1 ||
	{ $APT update -qq >/dev/null && $APT install -y -qq --no-install-recommends $PKGS >/dev/null; } ||
	{ echo "clients-deps: apt-get install $PKGS failed" >&2; exit 1; }
have || { echo "clients-deps: libdpdk or qemu-system-ppc64 still missing" >&2; exit 1; }
echo "clients-deps: done" >&2
