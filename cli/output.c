/* SPDX-License-Identifier: MIT */
/*
 * cli/output.c: how the steps of `demo` and `accounting` are printed: for
 * people, a line per step (status, name, locked_vm before and after, the
 * rate) and its detail under it, all within 80 columns; with --json, one
 * object per step in an array.  Also the clock and the progress bar.
 */
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli/cli.h"
#include "spapr/spapr.h"

static bool out_json;
static unsigned out_steps, out_failed;

#define NAME_W 36		/* the step's name column */
#define WIDTH 80		/* what a line for people may take */

void cli_output_init(bool json)
{
	out_json = json;
	if (json)
		printf("{\"steps\": [");
	else
		printf("%-4s %-*s %7s    %-7s %7s\n", "", NAME_W, "step (locked_vm in 4 KiB pages)", "before",
		       "after", "GB/s");
}

/* @s on lines of at most WIDTH columns, each indented by 5, cut at spaces. */
static void print_wrapped(const char *s)
{
	const int room = WIDTH - 5;

	while (*s) {
		int n = (int)strlen(s);

		if (n > room) {
			n = room;
			while (n > 0 && s[n] != ' ')
				n--;
			if (!n)
				n = room;	/* one word longer than a line: cut it */
		}
		printf("     %.*s\n", n, s);
		s += n;
		while (*s == ' ')
			s++;
	}
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
		/* at most 4 + 1 + NAME_W + 1 + 18 + 8 = 68 columns, then the detail below */
		printf("%-4s %-*.*s %7llu -> ", st->ok ? "ok" : "FAIL", NAME_W, NAME_W, st->name,
		       (unsigned long long)st->locked_before);
		if (st->rate_gbps >= 0)
			printf("%-7llu %7.2f\n", (unsigned long long)st->locked_after, st->rate_gbps);
		else
			printf("%llu\n", (unsigned long long)st->locked_after);
		print_wrapped(st->detail);
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
