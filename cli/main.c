/* SPDX-License-Identifier: MIT */
/* spaprtce: the command-line program of spapr-tce. */
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"

int cli_exec(int argc, char **argv);	/* cli/exec.c: runs a program with the drop-in layer */

static void usage(FILE *f)
{
	fprintf(f,
		"usage: spaprtce COMMAND [--json] [--help]\n"
		"\n"
		"commands:\n"
		"  demo        a 1 GiB guest registers its RAM, creates a 64-bit window,\n"
		"              maps all RAM, and a device writes and reads it back\n"
		"  accounting  preregistration and locked_vm accounting at the region layer:\n"
		"              adoption, the emulated RLIMIT_MEMLOCK, the used/mapped protocol\n"
		"  replay FILE run a trace of requests and report the first divergence\n"
		"              (docs/replay.md); --keep-going reports every one\n"
		"  stats       per group: windows, TCEs mapped, DMA, kills, faults; pinned\n"
		"              pages per node; --after FILE shows the machine a trace left\n"
		"  exec -- PROG  runs an unmodified program with the drop-in layer (/dev/vfio)\n"
		"\n"
		"  --json  machine-readable output (one JSON object)\n"
		"  --help  this text, or a command's own help after the command\n");
}

int main(int argc, char **argv)
{
	if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
		usage(stdout);
		return argc < 2 ? 2 : 0;
	}
	if (!strcmp(argv[1], "demo"))
		return cli_demo(argc - 1, argv + 1);
	if (!strcmp(argv[1], "accounting"))
		return cli_accounting(argc - 1, argv + 1);
	if (!strcmp(argv[1], "replay"))
		return cli_replay(argc - 1, argv + 1);
	if (!strcmp(argv[1], "exec"))
		return cli_exec(argc - 1, argv + 1);
	if (!strcmp(argv[1], "stats"))
		return cli_stats(argc - 1, argv + 1);
	fprintf(stderr, "spaprtce: unknown command '%s'\n", argv[1]);
	usage(stderr);
	return 2;
}
