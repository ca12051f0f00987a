/* SPDX-License-Identifier: MIT */
/* spaprtce: the command-line program of spapr-tce. */
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"

static void usage(FILE *f)
{
	fprintf(f,
		"usage: spaprtce COMMAND [--json] [--help]\n"
		"\n"
		"commands:\n"
		"  demo    register real memory, show locked_vm accounting, the emulated\n"
		"          RLIMIT_MEMLOCK, the used/mapped protocol, and release it all\n"
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
	fprintf(stderr, "spaprtce: unknown command '%s'\n", argv[1]);
	usage(stderr);
	return 2;
}
