/* SPDX-License-Identifier: MIT */
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli/cli.h"
#include "spapr/spapr.h"

static bool out_json;
static unsigned out_steps, out_failed;

void cli_output_init(bool json)
{
	out_json = json;
	if (json)
		printf("{\"steps\": [");
}

void cli_step(const struct cli_step *st)
{
	out_failed += !st->ok;
	if (out_json) {
		printf("%s\n  {\"step\": \"%s\", \"detail\": \"%s\", \"locked_vm_before\": %llu, "
		       "\"locked_vm_after\": %llu, \"rate_gbps\": %.3f, \"ok\": %s}",
		       out_steps ? "," : "", st->name, st->detail,
		       (unsigned long long)st->locked_before, (unsigned long long)st->locked_after,
		       st->rate_gbps < 0 ? 0.0 : st->rate_gbps, st->ok ? "true" : "false");
	} else {
		printf("%-4s %-37s locked_vm %7llu -> %-7llu", st->ok ? "ok" : "FAIL", st->name,
		       (unsigned long long)st->locked_before, (unsigned long long)st->locked_after);
		if (st->rate_gbps >= 0)
			printf(" %7.2f GB/s", st->rate_gbps);
		printf("  %s\n", st->detail);
	}
	out_steps++;
}

int cli_finish(const char *what)
{
	if (out_json)
		printf("\n], \"what\": \"%s\", \"steps_failed\": %u, \"verdict\": \"%s\"}\n", what,
		       out_failed, out_failed ? "FAIL" : "PASS");
	else
		printf("\n%s: %u steps, %u failed: %s\n", what, out_steps, out_failed,
		       out_failed ? "FAIL" : "PASS");
	return out_failed ? 1 : 0;
}

double cli_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static bool progress_shown;

void cli_progress(const char *what, double start, uint64_t done, uint64_t total)
{
	int width = 40, fill;

	if (out_json || !isatty(STDERR_FILENO) || cli_now() - start < 1.0 || !total)
		return;
	fill = (int)((double)done / (double)total * width);
	fprintf(stderr, "\r%-30s [%.*s%*s] %3d%%", what, fill, "########################################",
		width - fill, "", (int)(100.0 * (double)done / (double)total));
	progress_shown = true;
}

void cli_progress_end(void)
{
	if (progress_shown)
		fprintf(stderr, "\r%*s\r", 80, "");
	progress_shown = false;
}

void cli_step_begin(struct cli_step *st, const char *name)
{
	memset(st, 0, sizeof(*st));
	st->name = name;
	st->locked_before = spapr_mm_locked_vm();
	st->rate_gbps = -1;
	st->ok = true;
	st->t0 = cli_now();
}

void cli_step_end(struct cli_step *st, uint64_t bytes)
{
	st->locked_after = spapr_mm_locked_vm();
	if (bytes && st->rate_gbps < 0)
		st->rate_gbps = (double)bytes / (cli_now() - st->t0) / 1e9;
	cli_step(st);
}
