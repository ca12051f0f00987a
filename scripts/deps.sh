#!/bin/sh
# Installs the Debian packages the build needs when pkg-config cannot find
# them: libnuma-dev, check, pkg-config, and g++ (make check compiles the
# public headers as C++).  As root it runs apt-get; otherwise it says exactly
# what to run and fails.
set -u
PKGS="libnuma-dev check pkg-config g++"

have() {
	command -v pkg-config >/dev/null 2>&1 && pkg-config --exists numa check &&
		command -v "${CXX:-g++}" >/dev/null 2>&1
}

have && exit 0

if [ "$(id -u)" != 0 ]; then
	echo "spapr-tce needs the Debian packages: $PKGS" >&2
	echo "run:  sudo apt-get update && sudo apt-get install -y $PKGS" >&2
	exit 1
fi

echo "deps: installing $PKGS" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq >/dev/null || { echo "deps: apt-get update failed" >&2; exit 1; }
apt-get install -y -qq --no-install-recommends $PKGS >/dev/null ||
	{ echo "deps: apt-get install $PKGS failed" >&2; exit 1; }
have || { echo "deps: pkg-config still cannot find numa and check" >&2; exit 1; }
echo "deps: done" >&2
