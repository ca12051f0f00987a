/* SPDX-License-Identifier: MIT */
/*
 * spaprtce exec: run an unmodified program on the emulated machine.
 *
 * The program is exec'd in place of this one (its exit status is ours,
 * signals reach it directly) with libspaprtce-preload.so first in
 * LD_PRELOAD and the layer's settings in its environment: SPAPRTCE_MACHINE
 * (--machine), SPAPRTCE_LOG (--log), SPAPRTCE_TRACE (--trace), SPAPRTCE_REAL
 * (--real: record mode, dropin/backend.c).  The layer is
 * looked up next to this program (build/ or PREFIX/bin's ../lib), unless
 * SPAPRTCE_PRELOAD names it.  --list prints the machine's groups and
 * devices, as the program will find them under /dev/vfio and /sys.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "dropin/dropin.h"


static void usage(FILE *f)
{
	fprintf(f,
		"usage: spaprtce exec [--machine SPEC] [--log FILE] [--trace FILE] [--real] [--] PROG [ARGS...]\n"
		"       spaprtce exec [--machine SPEC] --list\n"
		"\n"
		"Runs PROG with the drop-in layer (libspaprtce-preload.so): /dev/vfio, the\n"
		"IOMMU groups and their PCI devices in /sys are the emulated machine's.\n"
		"The exit status is PROG's (127: PROG not found, 126: not executable).\n"
		"\n"
		"  --machine SPEC  the machine, in SPAPRTCE_MACHINE's syntax (groups=2,...)\n"
		"  --log FILE      one line per VFIO request with its result (SPAPRTCE_LOG)\n"
		"  --trace FILE    the requests as a `spaprtce replay` trace (SPAPRTCE_TRACE)\n"
		"  --real          record mode: the requests go to the real kernel's VFIO\n"
		"                  unchanged (no emulator, no generated files); with --log\n"
		"                  and --trace, a trace that replays here (SPAPRTCE_REAL=1)\n"
		"  --list          print the machine's groups and devices, run nothing\n"
		"  --help          this text\n");
}

#ifndef SPAPRTCE_MULTIARCH
#define SPAPRTCE_MULTIARCH ""
#endif

/* @dir (@dirlen bytes) + @sub + "/libspaprtce-preload.so" into @out, when it is readable. */
static bool layer_in(char *out, size_t n, const char *dir, size_t dirlen, const char *sub)
{
	return (size_t)snprintf(out, n, "%.*s%s/libspaprtce-preload.so", (int)dirlen, dir, sub) < n &&
	       !access(out, R_OK);
}

/*
 * The layer: $SPAPRTCE_PRELOAD, else next to this program (the build
 * tree), else in ../lib, ../lib64 or ../lib/<multiarch triplet> (an
 * installed prefix, Debian's multiarch LIBDIR), else in a directory of
 * LD_LIBRARY_PATH (an installed prefix with another LIBDIR).
 */
static int find_layer(char *out, size_t n)
{
	static const char *const subs[] = { "", "/../lib", "/../lib64",
						   ("/../lib/" SPAPRTCE_MULTIARCH) };	/* parenthesised: one element, meant */
	static const char multiarch[] = SPAPRTCE_MULTIARCH;	/* "" when the build knew no triplet */
	const char *env = getenv("SPAPRTCE_PRELOAD"), *p;
	char exe[PATH_MAX];
	ssize_t len;
	char *slash;

	if (env && *env) {
		snprintf(out, n, "%s", env);
		return access(out, R_OK) ? -errno : 0;
	}
	len = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	if (len < 0)
		return -errno;
	exe[len] = 0;
	slash = strrchr(exe, '/');
	if (!slash)
		return -ENOENT;
	*slash = 0;
	for (size_t i = 0; i < sizeof(subs) / sizeof(subs[0]); i++)
		if ((i < 3 || multiarch[0]) && layer_in(out, n, exe, strlen(exe), subs[i]))
			return 0;
	for (p = getenv("LD_LIBRARY_PATH"); p && *p; p += *p == ':') {
		size_t l = strcspn(p, ":");

		if (l && layer_in(out, n, p, l, ""))
			return 0;
		p += l;
	}
	return -ENOENT;
}

int cli_exec(int argc, char **argv)
{
	const char *machine = NULL, *log = NULL, *trace = NULL;
	char layer[PATH_MAX], *preload;
	bool list = false, real = false;
	int i, rc;

	for (i = 1; i < argc; i++) {
		const char *a = argv[i];

		if (!strcmp(a, "--")) {
			i++;
			break;
		}
		if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
			usage(stdout);
			return 0;
		}
		if (!strcmp(a, "--list")) {
			list = true;
			continue;
		}
		if (!strcmp(a, "--real")) {
			real = true;
			continue;
		}
		if (!strcmp(a, "--machine") || !strcmp(a, "--log") || !strcmp(a, "--trace")) {
			if (i + 1 >= argc) {
				fprintf(stderr, "spaprtce exec: %s needs a value\n", a);
				return 2;
			}
			*(a[2] == 'm' ? &machine : a[3] == 'o' ? &log : &trace) = argv[++i];
			continue;
		}
		if (a[0] == '-') {
			fprintf(stderr, "spaprtce exec: unknown option '%s'\n", a);
			usage(stderr);
			return 2;
		}
		break;
	}
	if (machine && setenv("SPAPRTCE_MACHINE", machine, 1))
		return 2;
	if (list) {
		rc = dropin_machine_print(stdout);
		if (rc)
			fprintf(stderr, "spaprtce exec: the machine cannot start: %s\n", strerror(-rc));
		return rc ? 1 : 0;
	}
	if (i >= argc) {
		fprintf(stderr, "spaprtce exec: no program given\n");
		usage(stderr);
		return 2;
	}
	rc = find_layer(layer, sizeof(layer));
	if (rc) {
		fprintf(stderr, "spaprtce exec: libspaprtce-preload.so not found (set SPAPRTCE_PRELOAD): %s\n",
			strerror(-rc));
		return 2;
	}
	const char *old = getenv("LD_PRELOAD");

	if (asprintf(&preload, "%s%s%s", layer, old && *old ? ":" : "", old && *old ? old : "") < 0)
		return 2;
	if (setenv("LD_PRELOAD", preload, 1) || (log && setenv("SPAPRTCE_LOG", log, 1)) ||
	    (trace && setenv("SPAPRTCE_TRACE", trace, 1)) || (real && setenv("SPAPRTCE_REAL", "1", 1))) {
		perror("spaprtce exec: setenv");
		return 2;
	}
	free(preload);
	execvp(argv[i], argv + i);
	rc = errno;
	fprintf(stderr, "spaprtce exec: %s: %s\n", argv[i], strerror(rc));
	return rc == ENOENT ? 127 : 126;
}
