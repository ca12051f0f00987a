#!/bin/sh
# Installs what the clang fuzz build needs when it is missing: clang and
# compiler-rt's libFuzzer and sanitizer runtimes (Debian: clang,
# libclang-rt-dev, i.e. libclang-rt-14-dev on Debian 12; with `cov`, also
# llvm for llvm-profdata and llvm-cov).  The test is a real one: a tiny
# libFuzzer program must compile and link with ASan and UBSan.  As root it
# runs apt-get; otherwise it says what to run and fails.
#
#   scripts/deps-fuzz.sh [cov]
set -u
PKGS="clang libclang-rt-dev"
[ "${1:-}" = cov ] && PKGS="$PKGS llvm"

tool() {
	for t in "$1" "$1-14" "$1-15" "$1-16" "$1-17" "$1-18"; do
		command -v "$t" >/dev/null 2>&1 && return 0
	done
	return 1
}

have() {
	command -v clang >/dev/null 2>&1 && command -v clang++ >/dev/null 2>&1 || return 1
	if [ "${1:-}" = cov ]; then tool llvm-profdata && tool llvm-cov || return 1; fi
	dir=$(mktemp -d) || return 1
	printf '#include <stddef.h>\n#include <stdint.h>\nint LLVMFuzzerTestOneInput(const uint8_t *d, size_t n) { (void)d; (void)n; return 0; }\n' >"$dir/t.c"
	clang -fsanitize=address,undefined,fuzzer "$dir/t.c" -o "$dir/t" >/dev/null 2>&1
	rc=$?
	rm -rf "$dir"
	return $rc
}

have "${1:-}" && exit 0

if [ "$(id -u)" != 0 ]; then
	echo "the fuzz build needs clang with libFuzzer and the sanitizer runtimes (Debian: $PKGS)" >&2
	echo "run:  sudo apt-get update && sudo apt-get install -y $PKGS" >&2
	exit 1
fi

echo "deps-fuzz: installing $PKGS" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get -o DPkg::Lock::Timeout=900 install -y -qq --no-install-recommends $PKGS >/dev/null 2>&1 || {
	apt-get update -qq >/dev/null &&
		apt-get -o DPkg::Lock::Timeout=900 install -y -qq --no-install-recommends $PKGS >/dev/null
} || { echo "deps-fuzz: apt-get install $PKGS failed" >&2; exit 1; }
have "${1:-}" || { echo "deps-fuzz: clang still cannot link a libFuzzer program with ASan and UBSan" >&2; exit 1; }
echo "deps-fuzz: done" >&2
