/* SPDX-License-Identifier: MIT */
/*
 * cli/cli.h: shared pieces of the spaprtce program.
 *
 * Every subcommand reports steps: a name, a free-form detail, locked_vm
 * before and after, an optional rate, and whether the step met its
 * expectation.  cli_step() prints a line for people, or with --json appends
 * an object to the JSON array the program prints at the end.
 */
#ifndef SPAPRTCE_CLI_H
#define SPAPRTCE_CLI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct cli_step {
	const char *name;
	char detail[256];
	uint64_t locked_before;		/* pages */
	uint64_t locked_after;		/* pages */
	double rate_gbps;		/* < 0: not a transfer */
	bool ok;
	double t0;			/* when the step began */
};

void cli_output_init(bool json);
/* Starts a step: name, locked_vm now, the clock, ok until the step says otherwise. */
void cli_step_begin(struct cli_step *st, const char *name);
/* Ends it: locked_vm now, the rate when @bytes moved (unless the step set one), and reports it. */
void cli_step_end(struct cli_step *st, uint64_t bytes);
void cli_step(const struct cli_step *st);
/* Prints the verdict (and closes the JSON array); returns the exit status. */
int cli_finish(const char *what);

int cli_demo(int argc, char **argv);
int cli_accounting(int argc, char **argv);
int cli_replay(int argc, char **argv);
int cli_stats(int argc, char **argv);
int cli_exec(int argc, char **argv);	/* cli/exec.c: runs a program with the drop-in layer */

/* Trace replay (cli/trace_run.c, format in docs/replay.md). */
struct cli_trace_div {
	const char *file;
	unsigned line;
	const char *request;		/* the request's tokens, one space apart */
	const char *expected, *got;
};
typedef void (*cli_trace_report_fn)(void *ctx, const struct cli_trace_div *d);
/* An error in the trace itself ("FILE:LINE: syntax error: ...") or in reading it. */
typedef void (*cli_trace_error_fn)(void *ctx, const char *msg);
/*
 * Reads trace @path ("-": standard input) whole, parses it, then runs it;
 * @report is called for each divergence, @error for each error in the
 * trace (the first only, unless @keep_going).  *nrun counts the requests
 * run.  Returns 0 (all as expected), 1 (divergences), 2 (the trace cannot
 * be read or parsed, or has no request: nothing ran).  What the trace made
 * stays until cli_trace_release().
 */
int cli_trace_replay(const char *path, bool keep_going, cli_trace_report_fn report,
		     cli_trace_error_fn error, void *ctx, unsigned *nrun);
/* Closes what the trace left open, frees its memory, restores the hugetlbfs pool. */
void cli_trace_release(void);
/* Prints @s as a JSON string (quoted, escaped) on stdout. */
void cli_json_str(const char *s);

/* Seconds on a monotonic clock. */
double cli_now(void);
/* A progress bar on stderr when it is a terminal and the step has run for over a second. */
void cli_progress(const char *what, double start, uint64_t done, uint64_t total);
void cli_progress_end(void);

#endif
