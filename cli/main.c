/* SPDX-License-Identifier: MIT */
/*
 * spaprtce: the command-line program of spapr-tce.  The commands are one
 * table: a row is a name, its synopsis and lines in the usage text, and its
 * entry point (called with argv[0] the command's name); adding a command
 * is adding a row.
 */
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"

#ifndef SPAPRTCE_VERSION
#define SPAPRTCE_VERSION "unknown"
#endif

static const struct {
	const char *name;
	const char *synopsis;	/* the name and its arguments, in the usage text */
	int (*run)(int argc, char **argv);
	const char *help;	/* after the name in the usage text; "\n" + 14 spaces between lines */
} commands[] = {
	{ "demo", "demo", cli_demo,
	  "a 1 GiB guest registers its RAM, creates a 64-bit window,\n"
	  "              maps all RAM, and a device writes and reads it back" },
	{ "accounting", "accounting", cli_accounting,
	  "preregistration and locked_vm accounting at the region layer:\n"
	  "              adoption, the emulated RLIMIT_MEMLOCK, the used/mapped protocol" },
	{ "replay", "replay FILE", cli_replay,
	  "run a trace of requests (FILE, or - for stdin) and report the\n"
	  "              first divergence (docs/replay.md); --keep-going reports every one" },
	{ "exec", "exec -- PROG", cli_exec,
	  "runs an unmodified program with the drop-in layer (/dev/vfio,\n"
	  "              the VFIO sysfs); docs/dropin.md" },
	{ "stats", "stats", cli_stats,
	  "per group: windows, TCEs mapped, DMA, kills, faults; pinned\n"
	  "              pages per node; --after FILE shows the machine a trace left" },
};

static void usage(FILE *f)
{
	fprintf(f, "usage: spaprtce COMMAND [--json] [--help]\n"
		   "       spaprtce --version\n"
		   "\n"
		   "commands:\n");
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		fprintf(f, "  %-11s %s\n", commands[i].synopsis, commands[i].help);
	fprintf(f, "\n"
		   "  --json     machine-readable output (one JSON object)\n"
		   "  --help     this text, or a command's own help after the command\n"
		   "  --version  the version of spaprtce (also -V)\n"
		   "\n"
		   "Environment variables: docs/environment.md, or man spaprtce.\n");
}

int main(int argc, char **argv)
{
	if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
		usage(stdout);
		return argc < 2 ? 2 : 0;
	}
	if (!strcmp(argv[1], "--version") || !strcmp(argv[1], "-V")) {
		printf("spaprtce %s\n", SPAPRTCE_VERSION);
		return 0;
	}
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		if (!strcmp(argv[1], commands[i].name))
			return commands[i].run(argc - 1, argv + 1);
	fprintf(stderr, "spaprtce: unknown command '%s'\n", argv[1]);
	usage(stderr);
	return 2;
}
