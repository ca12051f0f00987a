/* SPDX-License-Identifier: MIT */
/*
 * spaprtce replay FILE: runs a trace of requests (docs/replay.md) and
 * reports the first divergence, "FILE:LINE: REQUEST: expected X, got Y"
 * (every one with --keep-going).  Exit status: 0 as expected, 1 diverged,
 * 2 the trace itself is wrong (syntax error, unknown name) or cannot be read.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"

struct report {
	bool json;
	unsigned n;
	char *errs[128];	/* --json: the trace's errors (at most 101), printed at the end */
	unsigned nerrs;
};

void cli_json_str(const char *s)
{
	putchar('"');
	for (; *s; s++) {
		if (*s == '"' || *s == '\\')
			printf("\\%c", *s);
		else if ((unsigned char)*s < 0x20)
			printf("\\u%04x", (unsigned char)*s);
		else
			putchar(*s);
	}
	putchar('"');
}

static void report_div(void *ctx, const struct cli_trace_div *d)
{
	struct report *rp = ctx;

	if (rp->json) {
		printf("%s\n  {\"line\": %u, \"request\": ", rp->n ? "," : "", d->line);
		cli_json_str(d->request);
		printf(", \"expected\": ");
		cli_json_str(d->expected);
		printf(", \"got\": ");
		cli_json_str(d->got);
		printf("}");
	} else {
		printf("%s:%u: %s: expected %s, got %s\n", d->file, d->line, d->request, d->expected, d->got);
	}
	rp->n++;
}

static void report_err(void *ctx, const char *msg)
{
	struct report *rp = ctx;

	fprintf(stderr, "%s\n", msg);
	if (rp->json && rp->nerrs < sizeof(rp->errs) / sizeof(rp->errs[0]))
		rp->errs[rp->nerrs++] = strdup(msg);
}

static void usage(FILE *f)
{
	fprintf(f, "usage: spaprtce replay [--keep-going] [--json] FILE\n"
		   "\n"
		   "Runs the trace FILE (one request per line, each ending in '=> EXPECT';\n"
		   "the format is docs/replay.md; '-' reads standard input) against the\n"
		   "emulated VFIO sPAPR backend, and reports the first request whose result\n"
		   "differs from its expectation as 'FILE:LINE: REQUEST: expected X, got Y'.\n"
		   "\n"
		   "  --keep-going  report every divergence instead of stopping at the first\n"
		   "                (and every syntax error, if the trace has any)\n"
		   "  --json        one JSON object: file, requests, divergences (line,\n"
		   "                request, expected, got), verdict (PASS, FAIL, ERROR)\n"
		   "\n"
		   "Exit status: 0 every request as expected, 1 a divergence, 2 an error in\n"
		   "the trace itself (reported as 'FILE:LINE: syntax error: ...') or usage.\n");
}

int cli_replay(int argc, char **argv)
{
	struct report rp = { .json = false };
	bool keep_going = false;
	const char *file = NULL;
	unsigned nrun;
	int rc;

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--json")) {
			rp.json = true;
		} else if (!strcmp(argv[i], "--keep-going")) {
			keep_going = true;
		} else if (!strcmp(argv[i], "--help")) {
			usage(stdout);
			return 0;
		} else if ((argv[i][0] == '-' && argv[i][1]) || file) {
			fprintf(stderr, "spaprtce replay: unexpected '%s'\n", argv[i]);
			usage(stderr);
			return 2;
		} else {
			file = argv[i];
		}
	}
	if (!file) {
		usage(stderr);
		return 2;
	}
	if (rp.json) {
		printf("{\"file\": ");
		cli_json_str(file);
		printf(", \"divergences\": [");
	}
	rc = cli_trace_replay(file, keep_going, report_div, report_err, &rp, &nrun);
	cli_trace_release();
	if (rp.json) {
		printf("%s], \"requests\": %u, \"verdict\": \"%s\"", rp.n ? "\n" : "", nrun,
		       rc == 2 ? "ERROR" : rc ? "FAIL" : "PASS");
		if (rc == 2 && rp.nerrs) {
			printf(", \"error\": ");
			cli_json_str(rp.errs[0] ? rp.errs[0] : "");
			printf(", \"errors\": [");
			for (unsigned i = 0; i < rp.nerrs; i++) {
				printf("%s", i ? ", " : "");
				cli_json_str(rp.errs[i] ? rp.errs[i] : "");
				free(rp.errs[i]);
			}
			printf("]");
		}
		printf("}\n");
	} else if (rc != 2) {
		printf("%s: %u requests, %u divergence%s: %s\n", strcmp(file, "-") ? file : "<stdin>", nrun, rp.n, rp.n == 1 ? "" : "s",
		       rc ? "FAIL" : "PASS");
	}
	return rc;
}
