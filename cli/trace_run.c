/* SPDX-License-Identifier: MIT */
/*
 * cli/trace_run.c: the runner of `spaprtce replay` and `stats --after`:
 * reads a trace file whole, has it parsed (cli/trace_parse.c), runs each
 * request through its row's executor, has the judge (cli/trace_judge.c)
 * compare, and reports divergences through the caller's callback.
 *
 * Reading is strict: a read error is an error, never the end of the file
 * (a directory, an I/O error, memory running out while reading), and a
 * trace over MAX_TRACE bytes is refused rather than read without end
 * (/dev/zero).  `-` is standard input.
 *
 * The program runs one trace per process; what it creates stays until
 * cli_trace_release(), so that `stats --after` can look at the machine as
 * the trace left it.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "cli/trace.h"

#define MAX_TRACE (64u << 20)	/* bytes */

static struct cli_trace trace;

void cli_trace_exec(struct cli_trace *t, const struct cli_req *r, struct cli_result *res)
{
	memset(res, 0, sizeof(*res));
	r->op->exec(t, r, res);
}

/* The whole of @fd into *buf (malloc'd), *len bytes: 0, or an errno (EFBIG over MAX_TRACE). */
static int read_all(int fd, char **buf, size_t *len)
{
	size_t cap = 0;
	char *b = NULL;

	*len = 0;
	for (;;) {
		ssize_t n;

		if (*len == cap) {
			char *nb;

			if (cap >= MAX_TRACE) {
				free(b);
				return EFBIG;
			}
			cap = cap ? cap * 2 : 65536;
			nb = realloc(b, cap);
			if (!nb) {
				free(b);
				return ENOMEM;
			}
			b = nb;
		}
		n = read(fd, b + *len, cap - *len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			int e = errno;

			free(b);
			return e;
		}
		if (!n)
			break;
		*len += (size_t)n;
	}
	*buf = b;
	return 0;
}

/* Reads and parses @path into the trace; false (errors reported) when it cannot run. */
static bool load(const char *path, bool all_errors, cli_trace_error_fn error, void *ctx)
{
	bool is_stdin = !strcmp(path, "-");
	int fd = is_stdin ? STDIN_FILENO : open(path, O_RDONLY | O_CLOEXEC);
	char msg[600], *buf = NULL;
	size_t len;
	int e;

	cli_trace_init(&trace, is_stdin ? "<stdin>" : path);
	if (fd < 0) {
		snprintf(msg, sizeof(msg), "%s: %s", path, strerror(errno));
		error(ctx, msg);
		return false;
	}
	e = read_all(fd, &buf, &len);
	if (!is_stdin)
		close(fd);
	if (e) {
		snprintf(msg, sizeof(msg), "%s: read error: %s", trace.file,
			 e == EFBIG ? "larger than 64 MiB" : strerror(e));
		error(ctx, msg);
		return false;
	}
	cli_trace_parse(&trace, buf, len, all_errors);
	free(buf);
	for (unsigned i = 0; i < trace.nerrs && i < CLI_MAX_ERRS; i++)
		error(ctx, trace.errs[i] ? trace.errs[i] : "syntax error (out of memory to say more)");
	if (trace.nerrs > CLI_MAX_ERRS) {
		snprintf(msg, sizeof(msg), "%s: %u more syntax errors", trace.file, trace.nerrs - CLI_MAX_ERRS);
		error(ctx, msg);
	}
	return !trace.nerrs;
}

int cli_trace_replay(const char *path, bool keep_going, cli_trace_report_fn report,
		     cli_trace_error_fn error, void *ctx, unsigned *nrun)
{
	unsigned diverged = 0;

	*nrun = 0;
	if (!load(path, keep_going, error, ctx))
		return 2;
	for (unsigned i = 0; i < trace.nreqs; i++) {
		const struct cli_req *r = &trace.reqs[i];
		struct cli_result res;
		char exp[200], got[200];

		cli_trace_exec(&trace, r, &res);
		(*nrun)++;
		if (!cli_trace_judge(&trace, r, &res, exp, got, sizeof(got))) {
			struct cli_trace_div d = { trace.file, r->line, r->text, exp, got };

			diverged++;
			if (report)
				report(ctx, &d);
			if (!keep_going)
				break;
		}
	}
	return diverged ? 1 : 0;
}

void cli_trace_release(void)
{
	cli_trace_free(&trace);
}
