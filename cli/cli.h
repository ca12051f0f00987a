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

/* Seconds on a monotonic clock. */
double cli_now(void);
/* A progress bar on stderr when it is a terminal and the step has run for over a second. */
void cli_progress(const char *what, double start, uint64_t done, uint64_t total);
void cli_progress_end(void);

#endif
