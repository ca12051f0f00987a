#!/bin/sh
# check-abi.sh CC BUILD HEADER...: the shared libraries of BUILD export
# exactly the functions that the public HEADERs mark SPAPRTCE_API, no
# internal (<layer>__) symbol and nothing else; and every function that a
# public header other than testing.h declares is marked (testing.h's own
# functions live in libspaprtce-testing.a, not in the shared library).
# Run by make check (target check-abi).  Exit 1 with the differences.
set -u
cc=$1 b=$2
shift 2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail=0

# The names marked SPAPRTCE_API (a declaration's first line holds its name).
for h in "$@"; do
	sed -n 's/^SPAPRTCE_API[^(]*[ *]\([A-Za-z_][A-Za-z0-9_]*\)(.*/\1/p' "$h"
done | sort -u >"$tmp/marked"

# Every function the headers declare, with its header, as the compiler sees
# it (-aux-info): no declaration can hide from a regular expression.
for h in "$@"; do printf '#include "%s"\n' "$PWD/$h"; done >"$tmp/all.c"
# -aux-info is gcc's (clang has none): a clang build asks gcc, which
# build-essential always brings, for this syntax-only pass.
case $($cc --version 2>/dev/null | head -n 1) in *clang*) cc=gcc ;; esac
$cc -fsyntax-only -aux-info "$tmp/aux" -I. $(pkg-config --cflags check) -x c "$tmp/all.c" || exit 1
for h in "$@"; do
	case $h in */testing.h) continue ;; esac
	grep -F "$(basename "$h"):" "$tmp/aux" | grep -v "^/\* /usr/" |
		sed -E 's|^/\*[^*]*\*/ *||; s/^([^(]*[ *])([A-Za-z_][A-Za-z0-9_]*) \(.*/\2/'
done | sort -u >"$tmp/declared"
unmarked=$(comm -23 "$tmp/declared" "$tmp/marked")
if [ -n "$unmarked" ]; then
	echo "check-abi: declared in a public header without SPAPRTCE_API:" $unmarked >&2
	fail=1
fi

for lib in libspaprtce.so libspaprtce-fi.so; do
	nm -D --defined-only "$b/$lib" | awk '{print $3}' | sort -u >"$tmp/exported"
	internal=$(grep "__" "$tmp/exported")
	if [ -n "$internal" ]; then
		echo "check-abi: $lib exports internals:" $internal >&2
		fail=1
	fi
	if ! cmp -s "$tmp/exported" "$tmp/marked"; then
		echo "check-abi: $lib exports (>) / misses (<) against the SPAPRTCE_API list:" >&2
		diff "$tmp/marked" "$tmp/exported" | grep '^[<>]' >&2
		fail=1
	fi
	[ $fail = 0 ] && echo "check-abi: $lib exports exactly the $(wc -l <"$tmp/marked") public functions, no __ symbol"
done
exit $fail
