#!/bin/sh
# check-install.sh BUILD SAN: builds and runs the examples out of the tree,
# the way a user does, through pkg-config, twice:
#   1. against the build tree (PKG_CONFIG_PATH=BUILD/pkgconfig, rpath), plus
#      a static link of examples/register.c from Libs.private;
#   2. against a prefix installed under BUILD/install-test with a multiarch
#      LIBDIR (lib/x86_64-linux-gnu), run with LD_LIBRARY_PATH; the drop-in
#      layer installed there and found by the installed `spaprtce exec`;
# and checks the installed layout (public headers only, SONAME and symlinks)
# and that DESTDIR staging and uninstall leave nothing behind.  Run by make
# check (target check-install); $MAKE is the make that runs it.
set -u
b=$(cd "$1" && pwd)
san=$2
top=$(pwd)
make=${MAKE:-make}
fail=0
cflags="-g -O2 -Wall -Wextra -Werror"
[ -n "$san" ] && cflags="$cflags -fsanitize=$san -fno-omit-frame-pointer"
out=$b/install-test
rm -rf "$out"
mkdir -p "$out/tree" "$out/static"

die() {
	echo "check-install: $*" >&2
	exit 1
}
run() { # name, then the command; prints one line per program
	name=$1
	shift
	if "$@" >"$out/$name.log" 2>&1; then
		echo "check-install: $name: ok"
	else
		echo "check-install: $name FAILED:" >&2
		tail -20 "$out/$name.log" >&2
		fail=1
	fi
}

# 1. The build tree.
PKG_CONFIG_PATH=$b/pkgconfig $make --no-print-directory -s -C examples O="$out/tree" \
	CFLAGS="$cflags" LDFLAGS="-Wl,-rpath,$b" || die "examples do not build against the build tree"
run tree-register "$out/tree/register"
run tree-ddw "$out/tree/ddw"
"$out/tree/check_accounting" || fail=1
pc="env PKG_CONFIG_PATH=$b/pkgconfig pkg-config"
# A static program: the archive plus what Libs.private / Requires.private add.
cc $cflags $($pc --cflags spaprtce) -o "$out/static/register" examples/register.c \
	"$($pc --variable=libdir spaprtce)/libspaprtce.a" \
	$($pc --static --libs spaprtce | sed 's/-lspaprtce\b//') || die "static link failed"
readelf -d "$out/static/register" | grep -q 'NEEDED.*libspaprtce' && die "static program needs libspaprtce.so"
run static-register "$out/static/register"

# 2. An installed prefix with a multiarch LIBDIR.
prefix=$out/prefix
libdir=$prefix/lib/x86_64-linux-gnu
$make --no-print-directory -s install SAN="$san" PREFIX="$prefix" LIBDIR="$libdir" >/dev/null ||
	die "make install failed"
headers=$(cd "$prefix/include" && find . -type f -o -type l | sort | tr '\n' ' ')
[ "$headers" = "./spaprtce/emu.h ./spaprtce/probe.h ./spaprtce/spapr.h ./spaprtce/testing.h " ] ||
	die "installed headers are: $headers"
for l in libspaprtce libspaprtce-fi; do
	[ "$(readlink "$libdir/$l.so")" = "$l.so.0" ] || die "$l.so does not point to $l.so.0"
	target=$(readlink "$libdir/$l.so.0")
	[ -f "$libdir/$target" ] && [ ! -L "$libdir/$target" ] || die "$l.so.0 -> $target is not the library"
	readelf -d "$libdir/$target" | grep -q "SONAME.*\[$l.so.0\]" || die "$l has no SONAME $l.so.0"
done
# The drop-in layer: installed in LIBDIR, and `spaprtce exec` finds it there:
# in ../lib/<multiarch> here, through LD_LIBRARY_PATH for a copy of the
# program elsewhere, in ../lib under DESTDIR (3. below).  Not with a
# sanitizer: the layer's runtime would have to come first in every program.
[ -f "$libdir/libspaprtce-preload.so" ] && [ ! -L "$libdir/libspaprtce-preload.so" ] ||
	die "libspaprtce-preload.so is not installed in $libdir"
readelf -d "$libdir/libspaprtce-preload.so" | grep -q 'NEEDED.*\[libspaprtce.so.0\]' ||
	die "libspaprtce-preload.so does not need libspaprtce.so.0"
exec_check() { # name, the spaprtce to run, then env assignments
	name=$1 prog=$2
	shift 2
	got=$(env -u SPAPRTCE_PRELOAD "$@" "$prog" exec --machine groups=2 -- \
		sh -c 'realpath "$LD_PRELOAD"; ls /dev/vfio' 2>&1 | tr '\n' ' ')
	if [ "$got" = "$(realpath "$libdir/libspaprtce-preload.so") 0 1 vfio " ]; then
		echo "check-install: $name: ok"
	else
		echo "check-install: $name FAILED: $got" >&2
		fail=1
	fi
}
if [ -z "$san" ]; then
	exec_check exec-multiarch-libdir "$prefix/bin/spaprtce"
	mkdir -p "$out/elsewhere"
	cp "$prefix/bin/spaprtce" "$out/elsewhere/"
	exec_check exec-ld-library-path "$out/elsewhere/spaprtce" LD_LIBRARY_PATH="/nonexistent:$libdir"
	env -u SPAPRTCE_PRELOAD "$out/elsewhere/spaprtce" exec -- true 2>"$out/exec-notfound.log" &&
		{ echo "check-install: exec without a layer to find did not fail" >&2; fail=1; }
	grep -q "libspaprtce-preload.so not found" "$out/exec-notfound.log" ||
		{ echo "check-install: exec without a layer: $(cat "$out/exec-notfound.log")" >&2; fail=1; }
fi
pc="env PKG_CONFIG_PATH=$libdir/pkgconfig pkg-config"
[ "$($pc --cflags spaprtce)" = "-I$prefix/include " ] || [ "$($pc --cflags spaprtce)" = "-I$prefix/include" ] ||
	die "pkg-config --cflags spaprtce: $($pc --cflags spaprtce)"
mkdir -p "$out/installed"
PKG_CONFIG_PATH=$libdir/pkgconfig $make --no-print-directory -s -C examples O="$out/installed" \
	CFLAGS="$cflags" || die "examples do not build against the installed prefix"
LD_LIBRARY_PATH=$libdir run installed-register "$out/installed/register"
LD_LIBRARY_PATH=$libdir run installed-ddw "$out/installed/ddw"

# 3. DESTDIR staging, then uninstall from it.
stage=$out/stage
$make --no-print-directory -s install SAN="$san" DESTDIR="$stage" PREFIX=/opt/spaprtce >/dev/null ||
	die "make install with DESTDIR failed"
[ -f "$stage/opt/spaprtce/include/spaprtce/spapr.h" ] && [ -x "$stage/opt/spaprtce/bin/spaprtce" ] &&
	grep -q '^libdir=/opt/spaprtce/lib$' "$stage/opt/spaprtce/lib/pkgconfig/spaprtce.pc" ||
	die "DESTDIR staging is not /opt/spaprtce under $stage"
[ -f "$stage/opt/spaprtce/lib/libspaprtce-preload.so" ] || die "DESTDIR staging has no libspaprtce-preload.so"
if [ -z "$san" ]; then
	libdir=$stage/opt/spaprtce/lib
	exec_check exec-lib "$stage/opt/spaprtce/bin/spaprtce"
fi
$make --no-print-directory -s uninstall SAN="$san" DESTDIR="$stage" PREFIX=/opt/spaprtce >/dev/null ||
	die "make uninstall with DESTDIR failed"
left=$(find "$stage" -type f -o -type l)
[ -z "$left" ] || die "uninstall left: $left"

# 4. The user's fuzz target (examples/fuzz_scenario.c): with clang, built
# with libFuzzer against the build tree and run for 300 inputs; without
# clang it is left to 'make -C examples fuzz'.
if command -v clang >/dev/null 2>&1 && [ -z "$san" ]; then
	PKG_CONFIG_PATH=$b/pkgconfig $make --no-print-directory -s -C examples fuzz \
		O="$out/tree" LDFLAGS="-Wl,-rpath,$b" >"$out/fuzz-build.log" 2>&1 ||
		{ cat "$out/fuzz-build.log" >&2; die "examples/fuzz_scenario.c does not build"; }
	run fuzz-scenario "$out/tree/fuzz_scenario" -runs=300 -seed=1
else
	echo "check-install: fuzz-scenario: not built (needs clang, and no SAN)"
fi

# 5. SPAPRTCE_MEMLOCK for a user without CAP_IPC_LOCK (root runs it as
# nobody): 1 MiB is less than register's 256 pages plus the default
# window's table (ENOMEM), 16 MiB is enough, a bad value is reported.
as=""
if [ "$(id -u)" = 0 ]; then
	command -v setpriv >/dev/null 2>&1 && as="setpriv --reuid=65534 --regid=65534 --clear-groups"
fi
if [ "$(id -u)" != 0 ] || [ -n "$as" ]; then
	reg=$out/tree/register
	if $as env SPAPRTCE_MEMLOCK=1m "$reg" >"$out/memlock-1m.log" 2>&1 ||
		! grep -q "Cannot allocate memory" "$out/memlock-1m.log"; then
		echo "check-install: SPAPRTCE_MEMLOCK=1m did not make register fail with ENOMEM" >&2
		fail=1
	fi
	run memlock-16m $as env SPAPRTCE_MEMLOCK=16m "$reg"
	$as env SPAPRTCE_MEMLOCK=lots "$reg" >"$out/memlock-bad.log" 2>&1
	grep -q "SPAPRTCE_MEMLOCK=lots ignored" "$out/memlock-bad.log" ||
		{ echo "check-install: a bad SPAPRTCE_MEMLOCK is not reported" >&2; fail=1; }
	[ $fail = 0 ] && echo "check-install: SPAPRTCE_MEMLOCK: 1m ENOMEM, 16m ok, bad value reported"
else
	echo "check-install: SPAPRTCE_MEMLOCK: not tested (root without setpriv)"
fi

[ $fail = 0 ] && echo "check-install: build tree, static, installed prefix, DESTDIR: all ok"
exit $fail
